import { type Static, Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import './formats.js';
import { parseUntrustedJson, UntrustedJsonError } from './json-safety.js';
import { MessageContentSchema, TurnOptionsSchema } from './rest/messages.js';
import { SessionConfigSchema } from './rest/sessions.js';
import { TurnOutcomeSchema } from './stream-events.js';

/**
 * The bridge protocol: newline-delimited JSON over the per-session Unix socket between the host
 * (`@ash-ai/sandbox` BridgeClient) and the bridge process (`@ash-ai/bridge`). Commands flow
 * host → bridge (discriminator `cmd`), events bridge → host (discriminator `ev`). Every line is
 * validated on decode on both ends: size cap, prototype-polluting keys, schema.
 */
export const BRIDGE_PROTOCOL_VERSION = 1;

/** Largest accepted line, in bytes (UTF-16 units): 64 MiB (a turn prompt may hold base64 images). */
export const BRIDGE_MAX_LINE_BYTES = 64 * 1024 * 1024;

/**
 * The whole environment of the sandbox launcher (cgroup join, prlimit, bwrap, setpriv). These
 * run with host privileges before any sandboxing, so nothing a tenant chooses may reach them:
 * `LD_PRELOAD`, `LD_AUDIT`, `BASH_ENV`… in the launcher would run tenant code as the server's
 * user (root). The agent's own environment travels on fd 3 instead (see {@link encodeLaunchEnv}).
 */
export const LAUNCHER_ENV: Readonly<Record<string, string>> = Object.freeze({
  PATH: '/usr/local/bin:/usr/bin:/bin',
});

/** File descriptor of the launcher that carries the Claude process's environment. */
export const LAUNCH_ENV_FD = 3;

/** Environment variable names that can be exported from sh (POSIX name rule). */
const SHELL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Encodes an environment as POSIX sh text, one `export NAME='value'` line per variable (single
 * quotes, `'` written as `'\''`), for {@link launchEnvTrampoline} to evaluate. Names that are not
 * POSIX shell names are left out (the REST schemas already refuse them).
 * @param env variable → value; values may hold any character but NUL.
 * @returns the script text, ending in a newline (empty for an empty environment).
 */
export function encodeLaunchEnv(env: Record<string, string | undefined>): string {
  let out = '';
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || !SHELL_NAME.test(name) || value.includes('\0')) continue;
    out += `export ${name}='${value.replaceAll("'", "'\\''")}'\n`;
  }
  return out;
}

/**
 * The last launcher stage, as argv: a `/bin/sh -c` that reads the environment script from fd 3
 * (written by the bridge), closes it, and `exec`s its arguments (`<claude> <SDK args>`). It runs
 * inside the sandbox as the sandbox user, so a tenant's variables never touch a privileged step.
 * @param sh the shell as seen at that stage (`/bin/sh`).
 */
export function launchEnvTrampoline(sh = '/bin/sh'): string[] {
  return [sh, '-c', `eval "$(cat <&${LAUNCH_ENV_FD})" && exec ${LAUNCH_ENV_FD}<&- && exec "$@"`, 'sh'];
}

/** SDK options for a query: the session config merged with the turn options. */
export const BridgeSdkOptionsSchema = Type.Object(
  { ...SessionConfigSchema.properties, ...TurnOptionsSchema.properties },
  { additionalProperties: false },
);
export type BridgeSdkOptions = Static<typeof BridgeSdkOptionsSchema>;

/**
 * Which SDK conversation a query belongs to. The bridge resumes `sessionId` when its transcript
 * exists, else starts it fresh with that id; with `forkFrom`, a new conversation starts as a copy
 * of that one (SDK `forkSession`).
 */
export const ConversationSchema = Type.Object(
  {
    sessionId: Type.String({ format: 'uuid' }),
    forkFrom: Type.Optional(Type.String({ format: 'uuid' })),
  },
  { additionalProperties: false },
);
export type Conversation = Static<typeof ConversationSchema>;

/**
 * How the host starts a bridge: passed as JSON in the bridge's `ASH_BRIDGE_CONFIG` environment
 * variable, or later in a `configure` command to a bridge started ahead of time. Paths are host
 * paths unless said otherwise.
 */
export const BridgeProcessConfigSchema = Type.Object(
  {
    /** Unix socket the host listens on; the bridge connects to it. */
    socketPath: Type.String({ minLength: 1 }),
    /** The working directory as the Claude process sees it (`/workspace` inside a sandbox). */
    cwd: Type.String({ minLength: 1 }),
    /** The workspace on the host (the spawn cwd of the Claude process's launcher). */
    hostCwd: Type.String({ minLength: 1 }),
    /** Host path of the session's CLAUDE_CONFIG_DIR (where transcripts live). */
    claudeConfigDir: Type.String({ minLength: 1 }),
    /** The complete environment of the Claude process (nothing else is inherited). */
    claudeEnv: Type.Record(Type.String(), Type.String()),
    /**
     * Wrapper that runs the Claude process inside the sandbox: the bridge spawns
     * `command ...args <claudePath> <SDK args>` with the fixed {@link LAUNCHER_ENV} and writes
     * the Claude process's environment to the launcher's fd 3 as {@link encodeLaunchEnv} text;
     * `args` end with {@link launchEnvTrampoline}, which applies it only after the sandbox and
     * uid drop are in place. Absent: the Claude process is spawned directly.
     */
    launch: Type.Optional(
      Type.Object({
        command: Type.String({ minLength: 1 }),
        args: Type.Array(Type.String()),
        /** Path of the Claude executable as seen inside the sandbox. */
        claudePath: Type.String({ minLength: 1 }),
      }),
    ),
    /** SDK `settingSources`. */
    settingSources: Type.Array(
      Type.Union([Type.Literal('user'), Type.Literal('project'), Type.Literal('local')]),
    ),
  },
  { additionalProperties: false },
);
/** Configures a bridge that was started ahead of time, without a session (must come first). */
export const ConfigureCommandSchema = Type.Object(
  { cmd: Type.Literal('configure'), config: BridgeProcessConfigSchema },
  { additionalProperties: false },
);

export const QueryCommandSchema = Type.Object(
  {
    cmd: Type.Literal('query'),
    turnId: Type.String({ minLength: 1, maxLength: 64 }),
    prompt: MessageContentSchema,
    options: BridgeSdkOptionsSchema,
    conversation: ConversationSchema,
  },
  { additionalProperties: false },
);
/** Start the SDK (and its Claude process) ahead of the first message. */
export const WarmCommandSchema = Type.Object(
  { cmd: Type.Literal('warm'), options: BridgeSdkOptionsSchema, conversation: ConversationSchema },
  { additionalProperties: false },
);
export const InterruptCommandSchema = Type.Object(
  { cmd: Type.Literal('interrupt'), turnId: Type.String({ minLength: 1, maxLength: 64 }) },
  { additionalProperties: false },
);
export const ShutdownCommandSchema = Type.Object(
  { cmd: Type.Literal('shutdown') },
  { additionalProperties: false },
);

/**
 * The host gave up on the current turn (watchdog, limit, forced interrupt) and killed the Claude
 * process: forget the turn without reporting it and drop the query, so the next turn starts a
 * fresh Claude process that resumes the conversation.
 */
export const ResetCommandSchema = Type.Object(
  { cmd: Type.Literal('reset') },
  { additionalProperties: false },
);

/** The in-process MCP server that carries custom tools: the model sees `mcp__ash_custom__<name>`. */
export const CUSTOM_TOOL_SERVER = 'ash_custom';

/**
 * The host's answer to a {@link ToolRequestEventSchema}: `allow`/`deny` a permission request, or
 * the `result` of a custom tool (content blocks as the Messages API's `tool_result` takes them).
 */
export const ToolAnswerSchema = Type.Union([
  Type.Object({ type: Type.Literal('allow') }, { additionalProperties: false }),
  Type.Object(
    { type: Type.Literal('deny'), message: Type.String({ maxLength: 100_000 }) },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      type: Type.Literal('result'),
      content: Type.Array(Type.Record(Type.String(), Type.Unknown()), { maxItems: 100 }),
      isError: Type.Boolean(),
    },
    { additionalProperties: false },
  ),
]);
export type ToolAnswer = Static<typeof ToolAnswerSchema>;
export const ToolAnswerCommandSchema = Type.Object(
  {
    cmd: Type.Literal('tool_answer'),
    requestId: Type.String({ minLength: 1, maxLength: 256 }),
    answer: ToolAnswerSchema,
  },
  { additionalProperties: false },
);

export const BridgeCommandSchema = Type.Union([
  ConfigureCommandSchema,
  QueryCommandSchema,
  WarmCommandSchema,
  InterruptCommandSchema,
  ShutdownCommandSchema,
  ResetCommandSchema,
  ToolAnswerCommandSchema,
]);
export type BridgeCommand = Static<typeof BridgeCommandSchema>;
export type QueryCommand = Static<typeof QueryCommandSchema>;

const BridgeErrorSchema = Type.Object(
  {
    message: Type.String(),
    code: Type.String(),
    /** For `limit_exceeded`: the limit that was hit (added by the host's limit watcher). */
    limit: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

export const ReadyEventSchema = Type.Object(
  {
    ev: Type.Literal('ready'),
    protocol: Type.Integer(),
    pid: Type.Integer(),
    sdkVersion: Type.String(),
  },
  { additionalProperties: false },
);
/** One SDK message of a turn, untranslated. */
export const MessageEventSchema = Type.Object(
  { ev: Type.Literal('message'), turnId: Type.String(), data: Type.Record(Type.String(), Type.Unknown()) },
  { additionalProperties: false },
);
/** The turn is over: the SDK sent its result, failed, or was interrupted. Always the turn's last event. */
export const TurnEndEventSchema = Type.Object(
  {
    ev: Type.Literal('turn_end'),
    turnId: Type.String(),
    outcome: TurnOutcomeSchema,
    error: Type.Optional(BridgeErrorSchema),
  },
  { additionalProperties: false },
);
/** The SDK process is up (answer to `warm`). */
export const WarmedEventSchema = Type.Object(
  { ev: Type.Literal('warmed'), ok: Type.Boolean(), error: Type.Optional(BridgeErrorSchema) },
  { additionalProperties: false },
);
/** A diagnostic line (e.g. the Claude process's stderr). */
export const LogEventSchema = Type.Object(
  {
    ev: Type.Literal('log'),
    level: Type.Union([
      Type.Literal('debug'),
      Type.Literal('info'),
      Type.Literal('warn'),
      Type.Literal('error'),
    ]),
    text: Type.String(),
  },
  { additionalProperties: false },
);

/**
 * The bridge asks the host during a turn and waits (no timeout) for a `tool_answer` with the same
 * `requestId` (the model's tool-use id): `permission` = may this call of an `askTools` tool run;
 * `custom_tool` = the client's result of a custom tool call.
 */
export const ToolRequestEventSchema = Type.Object(
  {
    ev: Type.Literal('tool_request'),
    turnId: Type.String(),
    requestId: Type.String({ minLength: 1, maxLength: 256 }),
    kind: Type.Union([Type.Literal('permission'), Type.Literal('custom_tool')]),
    name: Type.String(),
    input: Type.Record(Type.String(), Type.Unknown()),
  },
  { additionalProperties: false },
);
export type ToolRequestEvent = Static<typeof ToolRequestEventSchema>;

export const BridgeEventSchema = Type.Union([
  ReadyEventSchema,
  MessageEventSchema,
  TurnEndEventSchema,
  WarmedEventSchema,
  LogEventSchema,
  ToolRequestEventSchema,
]);
export type BridgeEvent = Static<typeof BridgeEventSchema>;
export type TurnEndEvent = Static<typeof TurnEndEventSchema>;

const commandCheck = TypeCompiler.Compile(BridgeCommandSchema);
const eventCheck = TypeCompiler.Compile(BridgeEventSchema);

/** Thrown when a bridge line is rejected. */
export class BridgeProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BridgeProtocolError';
  }
}

/** Encodes a command or event as one NDJSON line (with the trailing `\n`). */
export function encodeBridgeMessage(msg: BridgeCommand | BridgeEvent): string {
  return `${JSON.stringify(msg)}\n`;
}

function decodeWith<T>(line: string, check: typeof commandCheck | typeof eventCheck, what: string): T {
  let value: unknown;
  try {
    value = parseUntrustedJson(line, BRIDGE_MAX_LINE_BYTES);
  } catch (err) {
    throw new BridgeProtocolError(err instanceof UntrustedJsonError ? err.message : 'unreadable line');
  }
  if (!check.Check(value)) {
    const first = check.Errors(value).First();
    throw new BridgeProtocolError(`invalid ${what}${first ? `: ${first.path || '/'} ${first.message}` : ''}`);
  }
  return value as T;
}

/**
 * Decodes and validates one command line (bridge side).
 * @throws BridgeProtocolError when the line is oversized, not JSON, polluting, or not a known command.
 */
export function decodeBridgeCommand(line: string): BridgeCommand {
  return decodeWith<BridgeCommand>(line, commandCheck, 'bridge command');
}

/**
 * Decodes and validates one event line (host side).
 * @throws BridgeProtocolError when the line is oversized, not JSON, polluting, or not a known event.
 */
export function decodeBridgeEvent(line: string): BridgeEvent {
  return decodeWith<BridgeEvent>(line, eventCheck, 'bridge event');
}

/**
 * Splits a byte stream into lines, refusing lines longer than `maxBytes`.
 * Feed chunks; it returns complete lines (without `\n`).
 */
export class LineSplitter {
  private pieces: string[] = [];
  private pendingLength = 0;
  constructor(private readonly maxBytes = BRIDGE_MAX_LINE_BYTES) {}

  /** @throws BridgeProtocolError when a line grows beyond the cap before its newline. */
  push(chunk: string): string[] {
    const lines: string[] = [];
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf('\n', start);
      if (nl === -1) break;
      this.pieces.push(chunk.slice(start, nl));
      const line = this.pieces.join('');
      this.pieces = [];
      this.pendingLength = 0;
      if (line.length > this.maxBytes) throw new BridgeProtocolError(`line exceeds ${this.maxBytes} bytes`);
      if (line.length > 0) lines.push(line);
      start = nl + 1;
    }
    if (start < chunk.length) {
      const rest = chunk.slice(start);
      this.pieces.push(rest);
      this.pendingLength += rest.length;
      if (this.pendingLength > this.maxBytes) {
        this.pieces = [];
        this.pendingLength = 0;
        throw new BridgeProtocolError(`line exceeds ${this.maxBytes} bytes`);
      }
    }
    return lines;
  }
}

export type BridgeProcessConfig = Static<typeof BridgeProcessConfigSchema>;

const processConfigCheck = TypeCompiler.Compile(BridgeProcessConfigSchema);

/**
 * Parses the bridge's process config.
 * @throws BridgeProtocolError when it is missing or invalid.
 */
export function parseBridgeProcessConfig(text: string | undefined): BridgeProcessConfig {
  if (!text) throw new BridgeProtocolError('ASH_BRIDGE_CONFIG is not set');
  const value = decodeUntrusted(text);
  if (!processConfigCheck.Check(value)) {
    const first = processConfigCheck.Errors(value).First();
    throw new BridgeProtocolError(
      `invalid ASH_BRIDGE_CONFIG${first ? `: ${first.path} ${first.message}` : ''}`,
    );
  }
  return value;
}

function decodeUntrusted(text: string): unknown {
  try {
    return parseUntrustedJson(text, BRIDGE_MAX_LINE_BYTES);
  } catch (err) {
    throw new BridgeProtocolError(err instanceof Error ? err.message : 'unreadable config');
  }
}
