import { readdirSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import type { Writable } from 'node:stream';
import { randomUUID } from 'node:crypto';
import {
  createSdkMcpServer,
  query,
  tool,
  type CanUseTool,
  type Options,
  type Query,
  type SDKMessage,
  type SDKUserMessage,
  type SpawnOptions,
  type SpawnedProcess,
} from '@anthropic-ai/claude-agent-sdk';
import {
  type BridgeEvent,
  type BridgeProcessConfig,
  type BridgeSdkOptions,
  type Conversation,
  CUSTOM_TOOL_SERVER,
  type CustomTool,
  type ToolAnswer,
  type ToolRequestEvent,
  encodeLaunchEnv,
  LAUNCH_ENV_FD,
  LAUNCHER_ENV,
  type MessageContent,
  type TurnOutcome,
} from '@ash-ai/shared';
import { z } from 'zod';
import { InputQueue } from './input-queue.js';
import { claudeAgentSdkVersion } from './sdk-info.js';

type Send = (ev: BridgeEvent) => void;

interface LiveQuery {
  q: Query;
  input: InputQueue<SDKUserMessage>;
  /** Options that need a new process to change (everything but the model). */
  key: string;
  /**
   * The model the process runs with: a name given explicitly (at start or by `setModel`);
   * undefined = the SDK's built-in default; null = unknown (a resumed conversation without an
   * explicit model: the CLI goes back to the transcript's last model, maybe a past turn's).
   */
  model: string | undefined | null;
  abort: AbortController;
  dead: boolean;
  /** Resolves when the output pump has finished. */
  pumped: Promise<void>;
}

interface ActiveTurn {
  id: string;
  interrupted: boolean;
  finished: boolean;
}

/** Error codes the bridge reports in `turn_end.error.code` (subset of the API's codes). */
type TurnErrorCode =
  | 'turn_failed'
  | 'model_error'
  | 'sandbox_crashed'
  | 'budget_exceeded'
  | 'turn_interrupted';

/**
 * Runs one session's conversation on the Claude Agent SDK.
 *
 * The SDK is used in streaming-input mode: one long-lived `query()` (one Claude process) serves
 * every turn, each turn pushing one user message and ending at the SDK's `result` message. The
 * process is restarted (resuming the same conversation from its transcript) only when options
 * that cannot change live do change, or after it died.
 */
export class AgentRunner {
  private live: LiveQuery | undefined;
  private turn: ActiveTurn | undefined;
  private readonly sdkVersion: string;
  /** Tool requests waiting for the host's `tool_answer`, by request id (the tool-use id). */
  private readonly pending = new Map<string, (answer: ToolAnswer) => void>();

  constructor(
    private readonly config: BridgeProcessConfig,
    private readonly send: Send,
  ) {
    this.sdkVersion = claudeAgentSdkVersion();
  }

  /**
   * Starts the Claude process ahead of the first turn. A warm-up never replaces a process that
   * is already there (a turn that arrived first may be using it, with its own options): it then
   * only waits for that one to be up.
   */
  async warm(options: BridgeSdkOptions, conversation: Conversation): Promise<void> {
    try {
      const current = this.live && !this.live.dead ? this.live : undefined;
      const live = current ?? (await this.ensureLive(options, conversation));
      await live.q.initializationResult();
      this.send({ ev: 'warmed', ok: true });
    } catch (err) {
      this.send({ ev: 'warmed', ok: false, error: { message: errorMessage(err), code: 'sandbox_crashed' } });
    }
  }

  /** Runs one turn. Emits `message` events and exactly one `turn_end`. */
  async runTurn(
    turnId: string,
    prompt: MessageContent,
    options: BridgeSdkOptions,
    conversation: Conversation,
  ): Promise<void> {
    if (this.turn && !this.turn.finished) {
      this.send({
        ev: 'turn_end',
        turnId,
        outcome: 'error',
        error: { message: 'a turn is already running', code: 'turn_failed' },
      });
      return;
    }
    const turn: ActiveTurn = { id: turnId, interrupted: false, finished: false };
    this.turn = turn;
    try {
      const live = await this.ensureLive(options, conversation);
      // Every turn states its model, so a turn's own model ends with it: the next turn goes back
      // to the session's / agent's model, or the folder settings', or the SDK's default.
      const model = this.modelFor(options);
      if (model !== live.model) {
        await live.q.setModel(model);
        live.model = model;
      }
      live.input.push({
        type: 'user',
        message: { role: 'user', content: prompt as SDKUserMessage['message']['content'] },
        parent_tool_use_id: null,
        session_id: conversation.sessionId,
      } as SDKUserMessage);
    } catch (err) {
      this.finishTurn(turn, 'error', { message: errorMessage(err), code: 'sandbox_crashed' });
    }
  }

  /** Asks the SDK to stop the running turn (soft interrupt; the host escalates if needed). */
  async interrupt(turnId: string): Promise<void> {
    const turn = this.turn;
    if (!turn || turn.finished || turn.id !== turnId) return;
    turn.interrupted = true;
    this.dropPending('the turn was interrupted');
    const live = this.live;
    if (!live || live.dead) {
      this.finishTurn(turn, 'interrupted');
      return;
    }
    try {
      await live.q.interrupt();
    } catch {
      // The process may already be gone; the pump reports the end of the turn.
    }
  }

  /** Forgets the current turn silently and drops the Claude process (the host already ended the turn). */
  async reset(): Promise<void> {
    if (this.turn) this.turn.finished = true;
    this.dropPending('the turn was ended by the host');
    const live = this.live;
    this.live = undefined;
    if (live) await this.stopLive(live);
  }

  /** Ends the Claude process. */
  async shutdown(): Promise<void> {
    this.dropPending('the session stopped');
    const live = this.live;
    this.live = undefined;
    if (live) await this.stopLive(live);
    if (this.turn && !this.turn.finished) this.finishTurn(this.turn, 'interrupted');
  }

  /** Delivers the host's answer to a waiting tool request (unknown ids are ignored: already over). */
  answer(requestId: string, answer: ToolAnswer): void {
    const resolve = this.pending.get(requestId);
    if (!resolve) return;
    this.pending.delete(requestId);
    resolve(answer);
  }

  /**
   * Asks the host about a tool call and waits for its answer with no timeout (a pending approval
   * may wait for days); an interrupt, reset or shutdown answers `deny`.
   */
  private ask(
    kind: ToolRequestEvent['kind'],
    requestId: string,
    name: string,
    input: Record<string, unknown>,
  ): Promise<ToolAnswer> {
    const turn = this.turn;
    if (!turn || turn.finished || turn.interrupted)
      return Promise.resolve({ type: 'deny', message: 'the turn is over' });
    return new Promise((resolve) => {
      this.pending.set(requestId, resolve);
      this.send({ ev: 'tool_request', turnId: turn.id, requestId, kind, name, input });
    });
  }

  private dropPending(message: string): void {
    const waiting = [...this.pending.values()];
    this.pending.clear();
    for (const resolve of waiting) resolve({ type: 'deny', message });
  }

  /** `canUseTool`: a call of an `askTools` tool waits for the host's decision; other calls run. */
  private canUseTool(askTools: ReadonlySet<string>): CanUseTool {
    return async (toolName, input, opts) => {
      // `mcp__<server>` stands for every tool of that server.
      const server = /^(mcp__.+?)__/.exec(toolName)?.[1];
      if (!askTools.has(toolName) && !(server && askTools.has(server)))
        return { behavior: 'allow', updatedInput: input };
      const answer = await this.ask('permission', opts.toolUseID || `perm_${randomUUID()}`, toolName, input);
      return answer.type === 'allow'
        ? { behavior: 'allow', updatedInput: input }
        : { behavior: 'deny', message: answer.type === 'deny' ? answer.message : 'denied' };
    };
  }

  /**
   * The custom tools as an in-process MCP server: a call sends a `custom_tool` request to the host
   * and returns the client's result to the model.
   */
  private customToolServer(tools: readonly CustomTool[]): NonNullable<Options['mcpServers']>[string] {
    return createSdkMcpServer({
      name: CUSTOM_TOOL_SERVER,
      // Always in the prompt (never deferred behind tool search): the agent defined them to be used.
      alwaysLoad: true,
      tools: tools.map((t) =>
        tool(
          t.name,
          t.description,
          zodShape(t.inputSchema) as z.ZodRawShape,
          async (args: unknown, extra: unknown) => {
            const id = toolUseIdOf(extra) ?? `custom_${randomUUID()}`;
            const input = (args && typeof args === 'object' ? args : {}) as Record<string, unknown>;
            const answer = await this.ask('custom_tool', id, t.name, input);
            if (answer.type === 'result')
              return { content: mcpContent(answer.content), isError: answer.isError };
            return {
              content: [
                { type: 'text' as const, text: answer.type === 'deny' ? answer.message : 'no result' },
              ],
              isError: true,
            };
          },
        ),
      ),
    });
  }

  private async ensureLive(options: BridgeSdkOptions, conversation: Conversation): Promise<LiveQuery> {
    const key = optionsKey(options, conversation);
    const current = this.live;
    if (current && !current.dead && current.key === key) return current;
    if (current) {
      this.live = undefined;
      await this.stopLive(current);
    }
    const live = this.startLive(options, conversation, key);
    this.live = live;
    return live;
  }

  private startLive(options: BridgeSdkOptions, conversation: Conversation, key: string): LiveQuery {
    const input = new InputQueue<SDKUserMessage>();
    const abort = new AbortController();
    const sdkOptions = this.sdkOptions(options, conversation, abort);
    const q = query({ prompt: input, options: sdkOptions });
    const live: LiveQuery = {
      q,
      input,
      key,
      model: sdkOptions.model ?? (sdkOptions.resume ? null : undefined),
      abort,
      dead: false,
      pumped: Promise.resolve(),
    };
    live.pumped = this.pump(live);
    return live;
  }

  private async stopLive(live: LiveQuery): Promise<void> {
    live.dead = true;
    live.input.close();
    try {
      live.q.close();
    } catch {
      // already closed
    }
    await Promise.race([live.pumped, new Promise((r) => setTimeout(r, 3000))]);
  }

  /** Reads SDK messages for the lifetime of one Claude process and routes them to the active turn. */
  private async pump(live: LiveQuery): Promise<void> {
    try {
      for await (const msg of live.q) {
        const turn = this.turn;
        if (!turn || turn.finished) continue;
        this.send({ ev: 'message', turnId: turn.id, data: msg as unknown as Record<string, unknown> });
        if (msg.type === 'result') this.finishFromResult(turn, msg);
      }
      live.dead = true;
      const turn = this.turn;
      if (turn && !turn.finished && this.live === live) {
        if (turn.interrupted) this.finishTurn(turn, 'interrupted');
        else
          this.finishTurn(turn, 'error', {
            message: 'the Claude process exited during the turn',
            code: 'sandbox_crashed',
          });
      }
    } catch (err) {
      live.dead = true;
      const turn = this.turn;
      if (turn && !turn.finished && this.live === live) {
        if (turn.interrupted) this.finishTurn(turn, 'interrupted');
        else this.finishTurn(turn, 'error', { message: errorMessage(err), code: 'sandbox_crashed' });
      }
    } finally {
      if (this.live === live) this.live = undefined;
    }
  }

  private finishFromResult(turn: ActiveTurn, msg: Extract<SDKMessage, { type: 'result' }>): void {
    if (turn.interrupted) {
      this.finishTurn(turn, 'interrupted');
      return;
    }
    if (msg.subtype === 'success' && !msg.is_error) {
      this.finishTurn(turn, 'completed');
      return;
    }
    let code: TurnErrorCode = 'turn_failed';
    let message: string;
    if (msg.subtype === 'error_max_budget_usd') {
      code = 'budget_exceeded';
      message = 'the turn reached its budget (maxBudgetUsd)';
    } else if (msg.subtype === 'success') {
      code = 'model_error';
      message = msg.result || 'the model API returned an error';
    } else {
      message = msg.errors?.join('; ') || msg.subtype;
    }
    this.finishTurn(turn, 'error', { message, code });
  }

  private finishTurn(
    turn: ActiveTurn,
    outcome: TurnOutcome,
    error?: { message: string; code: TurnErrorCode },
  ): void {
    if (turn.finished) return;
    turn.finished = true;
    this.send(
      error
        ? { ev: 'turn_end', turnId: turn.id, outcome, error }
        : { ev: 'turn_end', turnId: turn.id, outcome },
    );
  }

  private sdkOptions(options: BridgeSdkOptions, conversation: Conversation, abort: AbortController): Options {
    const cfg = this.config;
    const sdk: Options = {
      cwd: cfg.cwd,
      env: { ...cfg.claudeEnv },
      abortController: abort,
      includePartialMessages: true,
      settingSources: cfg.settingSources,
      persistSession: true,
      // Folder settings rank below every API layer, above our unattended default.
      // `permissionsByAgent` (upstream Ash): the folder's settings decide, with the SDK's `default`.
      permissionMode:
        options.permissionMode === 'permissionsByAgent'
          ? (folderPermissionMode(cfg.hostCwd) ?? 'default')
          : (options.permissionMode ?? folderPermissionMode(cfg.hostCwd) ?? 'bypassPermissions'),
      stderr: (data: string) => this.send({ ev: 'log', level: 'debug', text: truncate(data, 4000) }),
    };
    // Tools that need the client's approval: the SDK must ask (`canUseTool`), so no bypass mode.
    const askTools = new Set(options.askTools ?? []);
    if (askTools.size > 0) {
      sdk.canUseTool = this.canUseTool(askTools);
      if (sdk.permissionMode === 'bypassPermissions') sdk.permissionMode = 'default';
      // Claude Code runs read-only tools without asking in `default` mode: force the question.
      sdk.hooks = {
        PreToolUse: [
          {
            matcher: askMatcher(askTools),
            hooks: [
              async () => ({
                hookSpecificOutput: {
                  hookEventName: 'PreToolUse' as const,
                  permissionDecision: 'ask' as const,
                  permissionDecisionReason: 'this tool needs the client approval (always_ask)',
                },
              }),
            ],
          },
        ],
      };
    }
    if (sdk.permissionMode === 'bypassPermissions') sdk.allowDangerouslySkipPermissions = true;
    // Conversation: resume it when its transcript exists; else fork or start it under our id.
    if (this.transcriptExists(conversation.sessionId)) sdk.resume = conversation.sessionId;
    else if (conversation.forkFrom && this.transcriptExists(conversation.forkFrom)) {
      sdk.resume = conversation.forkFrom;
      sdk.forkSession = true;
      sdk.sessionId = conversation.sessionId;
    } else sdk.sessionId = conversation.sessionId;
    const model = this.modelFor(options);
    if (model) sdk.model = model;
    // Not recorded in the transcript (snapshot: false), so a session's changed prompt applies on
    // resume; the SDK otherwise replays the first launch's prompt for the whole conversation.
    if (options.systemPrompt)
      sdk.systemPrompt = { type: 'custom', prompt: options.systemPrompt, snapshot: false };
    if (options.mcpServers) sdk.mcpServers = options.mcpServers as Options['mcpServers'];
    if (options.customTools?.length)
      sdk.mcpServers = {
        ...sdk.mcpServers,
        [CUSTOM_TOOL_SERVER]: this.customToolServer(options.customTools),
      };
    if (options.allowedTools) sdk.allowedTools = options.allowedTools;
    if (options.disallowedTools) sdk.disallowedTools = options.disallowedTools;
    if (options.betas) sdk.betas = options.betas as Options['betas'];
    if (options.subagents) sdk.agents = options.subagents;
    if (options.initialAgent) sdk.agent = options.initialAgent;
    if (options.maxTurns !== undefined) sdk.maxTurns = options.maxTurns;
    if (options.maxBudgetUsd !== undefined) sdk.maxBudgetUsd = options.maxBudgetUsd;
    if (options.effort) sdk.effort = options.effort;
    if (options.thinking) sdk.thinking = options.thinking;
    if (options.outputFormat) sdk.outputFormat = options.outputFormat;
    const launch = cfg.launch;
    if (launch) sdk.spawnClaudeCodeProcess = (o: SpawnOptions) => this.spawnInSandbox(o, launch);
    return sdk;
  }

  /** Starts the Claude process through the sandbox launcher (bubblewrap, cgroups...). */
  private spawnInSandbox(
    o: SpawnOptions,
    launch: NonNullable<BridgeProcessConfig['launch']>,
  ): SpawnedProcess {
    // The launcher steps run with host privileges: they get a fixed environment, and the
    // agent's (tenant-chosen) variables reach only the sandboxed last stage, through fd 3.
    const child = spawn(launch.command, [...launch.args, launch.claudePath, ...o.args], {
      cwd: this.config.hostCwd,
      env: { ...LAUNCHER_ENV },
      stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
      signal: o.signal,
    });
    const envPipe = child.stdio[LAUNCH_ENV_FD] as Writable | null;
    envPipe?.on('error', () => undefined);
    envPipe?.end(encodeLaunchEnv(o.env));
    child.stderr?.on('data', (d: Buffer) =>
      this.send({ ev: 'log', level: 'debug', text: truncate(d.toString(), 4000) }),
    );
    return child as unknown as SpawnedProcess;
  }

  private transcriptExists(sessionId: string): boolean {
    const projects = join(this.config.claudeConfigDir, 'projects');
    if (!existsSync(projects)) return false;
    for (const dir of readdirSync(projects)) {
      if (existsSync(join(projects, dir, `${sessionId}.jsonl`))) return true;
    }
    return false;
  }

  /**
   * The model of a turn: its options' (turn > session > agent config, resolved by the server),
   * else the agent folder's settings, else undefined (the SDK's default). Stated explicitly because
   * `setModel(undefined)` and a resumed process do not re-read the settings.
   */
  private modelFor(options: BridgeSdkOptions): string | undefined {
    return options.model ?? folderModel(this.config.hostCwd, this.config.settingSources);
  }

  get version(): string {
    return this.sdkVersion;
  }
}

const PERMISSION_MODES = new Set(['default', 'acceptEdits', 'bypassPermissions', 'plan', 'dontAsk']);

/**
 * `permissions.defaultMode` of the agent folder's `.claude/settings.local.json` or
 * `.claude/settings.json` (the local file wins, as in Claude Code), if set to a known mode.
 */
export function folderPermissionMode(workspace: string): Options['permissionMode'] | undefined {
  for (const name of ['settings.local.json', 'settings.json']) {
    try {
      const settings = JSON.parse(readFileSync(join(workspace, '.claude', name), 'utf8')) as {
        permissions?: { defaultMode?: unknown };
      };
      const mode = settings.permissions?.defaultMode;
      if (typeof mode === 'string' && PERMISSION_MODES.has(mode)) return mode as Options['permissionMode'];
    } catch {
      // no such file, or not JSON: the SDK reports unreadable settings itself
    }
  }
  return undefined;
}

/**
 * `model` of the agent folder's `.claude/settings.local.json` or `.claude/settings.json` (the local
 * file wins, as in Claude Code), each only when its setting source is enabled.
 */
export function folderModel(
  workspace: string,
  sources: ReadonlyArray<'user' | 'project' | 'local'>,
): string | undefined {
  for (const [name, source] of [
    ['settings.local.json', 'local'],
    ['settings.json', 'project'],
  ] as const) {
    if (!sources.includes(source)) continue;
    try {
      const settings = JSON.parse(readFileSync(join(workspace, '.claude', name), 'utf8')) as {
        model?: unknown;
      };
      if (typeof settings.model === 'string' && settings.model.trim()) return settings.model;
    } catch {
      // no such file, or not JSON: the SDK reports unreadable settings itself
    }
  }
  return undefined;
}

function optionsKey(options: BridgeSdkOptions, conversation: Conversation): string {
  const { model: _model, ...rest } = options;
  return stableStringify({ rest, conversation });
}

/** JSON with sorted object keys, so equal option sets compare equal. */
export function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (value && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    return `{${Object.keys(obj)
      .filter((k) => obj[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableStringify(obj[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

/** A hook matcher (anchored regex) for the `askTools` names; `mcp__<server>` stands for all its tools. */
export function askMatcher(askTools: ReadonlySet<string>): string {
  const esc = (x: string) => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const parts = [...askTools].map((n) =>
    n.startsWith('mcp__') && !n.slice(5).includes('__') ? `${esc(n)}__.*` : esc(n),
  );
  return `^(${parts.join('|')})$`;
}

/** A JSON Schema as the Zod raw shape the SDK's `tool()` takes (empty when it is not an object schema). */
function zodShape(schema: Record<string, unknown>): Record<string, z.ZodType> {
  try {
    const parsed = z.fromJSONSchema(schema as Parameters<typeof z.fromJSONSchema>[0]);
    if (parsed instanceof z.ZodObject) return parsed.shape as Record<string, z.ZodType>;
  } catch {
    // not convertible: the tool takes any input
  }
  return {};
}

/** The tool-use id the CLI puts on an MCP tool call (`_meta["claudecode/toolUseId"]`). */
function toolUseIdOf(extra: unknown): string | undefined {
  const meta = (extra as { _meta?: Record<string, unknown> } | undefined)?._meta;
  const id = meta?.['claudecode/toolUseId'];
  return typeof id === 'string' && id ? id : undefined;
}

type McpContent = Array<{ type: 'text'; text: string } | { type: 'image'; data: string; mimeType: string }>;

/** Messages API content blocks (text, base64 image) as MCP tool-result content. */
function mcpContent(blocks: ReadonlyArray<Record<string, unknown>>): McpContent {
  const out: McpContent = [];
  for (const b of blocks) {
    const src = b.source as Record<string, unknown> | undefined;
    if (b.type === 'text' && typeof b.text === 'string') out.push({ type: 'text', text: b.text });
    else if (b.type === 'image' && src?.type === 'base64' && typeof src.data === 'string')
      out.push({ type: 'image', data: src.data, mimeType: String(src.media_type ?? 'image/png') });
    else out.push({ type: 'text', text: JSON.stringify(b) });
  }
  return out.length > 0 ? out : [{ type: 'text', text: '' }];
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function truncate(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}
