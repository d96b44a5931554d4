import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, rm } from 'node:fs/promises';
import type { Logger } from 'pino';
import type {
  CreateSessionBody,
  ExecBody,
  ExecResult,
  ListSessionsQuery,
  LogsResponse,
  Message,
  MessageContent,
  SendMessageBody,
  Session,
  SessionConfig,
  SessionEvent,
  StreamEvent,
} from '@ash-ai/shared';
import { SESSION_CONFIG_KEYS } from '@ash-ai/shared';
import type { AgentRecord, EventRecord, MessageRecord, Repos, SessionRecord } from '../../db/repos/index.js';
import { AppError, notFound } from '../../errors.js';
import { monotonicIso } from '../../util/clock.js';
import { redactConfigSecrets } from '../../util/redact.js';
import type { AgentStore } from '../../storage/agent-store.js';
import type { CredentialResolver } from '../auth/credential-service.js';
import type { TurnScheduler, TurnStream } from './turn-scheduler.js';
import { bindableMcpServers, resolveBindings } from './egress.js';
import { inheritedSessionSettings, resolveSdkOptions, validateSdkOptions } from './session-options.js';
import type { SessionOwnership } from './session-ownership.js';
import type { SessionPaths } from './session-paths.js';
import type { SessionRuntime } from './session-runtime.js';

export interface SessionServiceDeps {
  repos: Repos;
  runtime: SessionRuntime;
  agents: AgentStore;
  paths: SessionPaths;
  log: Logger;
  /** Warm sandboxes per agent unless its config says otherwise. */
  defaultPrewarmCount: number;
  /**
   * Delay (ms) before a taken warm sandbox is replaced at session creation: the replacement's
   * Claude start would compete with the new session's first turn. 0 = at once.
   */
  poolRefillDelayMs?: number;
  /** Extension points (object storage snapshots...). */
  hooks?: SessionHooks;
  /** Checks a `credentialId` at creation (400 `invalid_credential` when unusable). */
  credentials: CredentialResolver;
  /** Busy policy (`onBusy`) of messages. */
  turns: TurnScheduler;
  /** The single-owner rule between servers sharing the database. */
  ownership: SessionOwnership;
}

/** Optional steps other subsystems add to the lifecycle. */
export interface SessionHooks {
  /**
   * When this server, the session's owner, stopped it and is about to release it (pause, stop):
   * e.g. store a snapshot of its workspace for other servers. A failure keeps it owned here.
   */
  beforeRelease?: (session: SessionRecord) => Promise<void>;
  /** Before a session (or its fork) starts again here (e.g. restore its workspace when missing). */
  beforeResume?: (session: SessionRecord) => Promise<void>;
  /** Tries to bring back a missing agent folder; true when it did. */
  restoreAgentFolder?: (session: SessionRecord) => Promise<boolean>;
  /** Before a session is created: brings back the agent's current folder when missing; true when it did. */
  ensureAgentFolder?: (agent: AgentRecord) => Promise<boolean>;
  /** Before a turn: e.g. restore the workspace when this server does not have it. */
  beforeTurn?: (session: SessionRecord) => Promise<void>;
  /** Resolves attachment references of message content into blocks the model receives. */
  resolveContent?: (session: SessionRecord, content: MessageContent) => Promise<MessageContent>;
  /**
   * Copies what else belongs to a forked session (its attachments) from `parent` to `child`,
   * while the fork is being made: a failure fails the fork.
   */
  copyForkData?: (parent: SessionRecord, child: SessionRecord) => Promise<void>;
}

/** The create-body keys kept as the session's config: every session config option (`askTools` and `customTools` included). */
const CONFIG_KEYS = SESSION_CONFIG_KEYS;

/** The API view of a session (never includes `extraEnv`; MCP server env/headers redacted). */
export function sessionToApi(s: SessionRecord): Session {
  return {
    id: s.id,
    tenantId: s.tenantId,
    agentName: s.agentName,
    agentVersion: s.agentVersion,
    status: s.status,
    sandboxId: s.id,
    runnerId: s.runnerId,
    parentSessionId: s.parentSessionId,
    model: s.config.model ?? s.model,
    config: redactConfigSecrets(s.config),
    budgetUsd: s.budgetUsd,
    activeTurnId: s.activeTurnId,
    createdAt: s.createdAt,
    lastActiveAt: s.lastActiveAt,
    endedAt: s.endedAt,
  };
}

export function messageToApi(m: MessageRecord): Message {
  return {
    id: m.id,
    sessionId: m.sessionId,
    role: m.role,
    type: m.type,
    content: m.content,
    text: m.text,
    sequence: m.sequence,
    turnId: m.turnId,
    createdAt: m.createdAt,
  };
}

export function eventToApi(e: EventRecord): SessionEvent {
  return {
    id: e.id,
    sessionId: e.sessionId,
    type: e.type,
    data: e.data,
    sequence: e.sequence,
    turnId: e.turnId,
    createdAt: e.createdAt,
  };
}

/**
 * Event type names of the upstream Ash's timeline that differ from ours (`?type=` filter):
 * `text` = our `text_delta`, `tool_start` = `tool_use`, `reasoning` = `thinking_delta`.
 */
export const UPSTREAM_EVENT_TYPES: Readonly<Record<string, string>> = Object.freeze({
  text: 'text_delta',
  tool_start: 'tool_use',
  reasoning: 'thinking_delta',
});

/**
 * The upstream Ash's timeline (`GET …/events?view=timeline`): its row types, each with the type
 * of our persisted events it is made of. Our other events (session_start, message, done, …) are
 * not part of it.
 */
const TIMELINE_TYPES: Readonly<Record<string, string>> = Object.freeze({
  text_delta: 'text',
  tool_use: 'tool_start',
  thinking_delta: 'reasoning',
  tool_result: 'tool_result',
  turn_complete: 'turn_complete',
  error: 'error',
  lifecycle: 'lifecycle',
});

/**
 * True for the published upstream Python client (`ash-ai-sdk` 0.0.x, generated on httpx): it
 * sends httpx's own User-Agent and rejects every row of `GET …/events` outside the timeline's
 * types, so it gets the timeline view unless it asks otherwise. Our SDKs send their own agent.
 */
export function isUpstreamPythonClient(userAgent: string | undefined): boolean {
  return userAgent !== undefined && /^python-httpx\/\d/.test(userAgent);
}

/** Session lifecycle and history for a tenant. */
export class SessionService {
  constructor(private readonly deps: SessionServiceDeps) {}

  /**
   * Creates a session on an agent's current version: a fresh workspace copied from the agent
   * folder, then its sandbox starts in the background. When the request sets nothing of its own
   * (no env, credential or SDK options), a pre-warmed sandbox of the agent is used if one is ready:
   * the session takes over its id, workspace and running Claude process.
   * @throws AppError 404 `agent_not_found`, 422 `agent_folder_missing`, 400 `invalid_credential`,
   * 503 `feature_unavailable` (a credential without ASH_CREDENTIAL_KEY), 503 `capacity_reached`.
   */
  async create(tenantId: string, body: CreateSessionBody): Promise<Session> {
    const { repos, agents, paths, runtime } = this.deps;
    const agent = await repos.agents.get(tenantId, body.agent);
    if (!agent) throw notFound('agent_not_found', 'Agent', body.agent);
    if (
      !agents.hasVersion(tenantId, agent.name, agent.version) &&
      !(await this.deps.hooks?.ensureAgentFolder?.(agent))
    ) {
      throw new AppError(
        'agent_folder_missing',
        `the files of agent '${agent.name}' are missing on the server; redeploy the agent`,
      );
    }
    if (body.credentialId) await this.deps.credentials.resolve(tenantId, body.credentialId);
    if (body.network?.inject)
      await resolveBindings(
        this.deps.credentials,
        tenantId,
        body.network.inject,
        bindableMcpServers(agent.config, body as Record<string, unknown>),
        '/body/network/inject',
      );
    const config: SessionConfig = {};
    for (const k of CONFIG_KEYS) if (body[k] !== undefined) (config as Record<string, unknown>)[k] = body[k];
    // The agent's active prompt version (upstream Ash versions) is the default system prompt.
    if (config.systemPrompt === undefined) {
      const active = await repos.agentVersions.active(tenantId, agent.name);
      if (active?.systemPrompt) config.systemPrompt = active.systemPrompt;
    }
    validateSdkOptions(
      config,
      resolveSdkOptions(agent.config, { config, model: null }, {}),
      agents.versionDir(tenantId, agent.name, agent.version),
    );
    const plain =
      Object.keys(config).length === 0 && !body.extraEnv && !body.credentialId && !body.runnerLabels;
    const spare = plain ? await runtime.takeSpare(tenantId, agent.name, agent.version) : undefined;
    if (!spare) await runtime.ensureCapacity();
    const id = spare?.id ?? randomUUID();
    let session = await repos.sessions.insert({
      id,
      tenantId,
      agentName: agent.name,
      agentVersion: agent.version,
      status: spare ? 'active' : 'starting',
      parentSessionId: null,
      model: body.model ?? null,
      config,
      extraEnv: body.extraEnv ?? {},
      credentialId: body.credentialId ?? null,
      budgetUsd: body.budgetUsd ?? null,
      runnerLabels: body.runnerLabels ?? null,
      lastEventSeq: 0,
      lastMessageSeq: 0,
      ownerId: this.deps.ownership.ownerId,
      now: monotonicIso(),
    });
    this.deps.ownership.noteClaimed(id);
    // A spare on a runner in another process (or one that died) is not the session's sandbox
    // yet: this server's copy of the files is made as for any session, and the start claims it.
    if (!spare || !runtime.adoptSpare(spare, session, agent)) {
      try {
        if (!spare || !existsSync(paths.workspace(id)))
          await agents.copyToWorkspace(tenantId, agent.name, agent.version, paths.workspace(id));
      } catch (err) {
        await repos.sessions.update(tenantId, id, { status: 'error' });
        this.deps.log.error({ err, sessionId: id }, 'could not create the workspace');
        throw new AppError(
          'agent_folder_missing',
          `the files of agent '${agent.name}' could not be copied; redeploy the agent`,
        );
      }
      session = (await repos.sessions.update(tenantId, id, { status: 'active' }))!;
      runtime.prewarm(session);
    }
    await this.lifecycle(session, 'created', {
      agent: agent.name,
      agentVersion: agent.version,
      prewarmed: !!spare,
    });
    // Keep (or bring back, after the idle sweep took them) the agent's warm sandboxes.
    if (plain) {
      const count = this.prewarmCount(agent);
      const refill = () => void runtime.replenishSpares(agent, count).catch(() => undefined);
      const delay = this.deps.poolRefillDelayMs ?? 0;
      if (delay > 0) setTimeout(refill, delay).unref();
      else refill();
    }
    return sessionToApi(session);
  }

  /** How many warm sandboxes an agent keeps: its `config.preWarmCount`, else the server default. */
  prewarmCount(agent: { config: Record<string, unknown> }): number {
    const n = agent.config.preWarmCount;
    return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 16
      ? n
      : this.deps.defaultPrewarmCount;
  }

  /**
   * Pauses a session: its process tree stops (a running turn ends as interrupted); workspace and
   * transcript stay. The session is released: when this server owned it, its files are stored
   * first (`beforeRelease`: the snapshot another server resumes from). Pausing a paused session
   * returns it unchanged. `action` `stopped` (`POST …/stop`) does the same and reports status
   * `stopped`, the upstream Ash's name.
   * @throws AppError 404, 409 `session_owned_elsewhere`, 410 `session_ended`, 503 `storage_unavailable`.
   */
  async pause(tenantId: string, id: string, action: 'paused' | 'stopped' = 'paused'): Promise<Session> {
    const s = await this.record(tenantId, id);
    if (s.status === 'ended')
      throw new AppError('session_ended', 'the session has ended; it cannot be paused');
    const { ownership } = this.deps;
    ownership.assertNotOwnedElsewhere(s);
    await this.deps.runtime.stop(id, 'paused');
    await ownership.closeDeadOwnersTurn(s);
    if (s.ownerId === ownership.ownerId) await this.deps.hooks?.beforeRelease?.(s);
    const wasReleased = s.status === 'paused' || s.status === 'stopped';
    const updated = (await this.deps.repos.sessions.update(tenantId, id, {
      // `stop` reports `stopped` as the upstream Ash does; both are resumable alike.
      status: action,
      pausedAt: wasReleased ? s.pausedAt : new Date().toISOString(),
      ownerId: null,
      ownerHeartbeatAt: null,
    }))!;
    if (s.status !== action) await this.lifecycle(updated, action, {});
    return sessionToApi(updated);
  }

  /**
   * Resumes a session: warm when its process is still alive here, cold otherwise (a new sandbox
   * on the same workspace; the SDK resumes the conversation from its transcript). Returns as soon
   * as the session is `active`; the process starts in the background.
   * Another server's session is taken over only when it was released or its owner is dead: its
   * files and transcript come from the stored snapshot.
   * @throws AppError 404 (`workspace_not_found`: taking over, but no snapshot anywhere), 409
   * `session_owned_elsewhere`, 410 `session_ended`, 422 `agent_folder_missing`, 503 `capacity_reached`.
   */
  async resume(tenantId: string, id: string): Promise<Session> {
    let s = await this.record(tenantId, id);
    if (s.status === 'ended')
      throw new AppError('session_ended', 'the session has ended; fork it to continue its conversation');
    s = await this.deps.ownership.claim(s);
    const { runtime } = this.deps;
    if (runtime.hasLiveSandbox(id)) {
      runtime.noteResume('warm');
      if (s.status === 'active') return sessionToApi(s);
      const warm = (await this.deps.repos.sessions.update(tenantId, id, {
        status: 'active',
        pausedAt: null,
      }))!;
      await this.lifecycle(warm, 'resumed', { path: 'warm' });
      return sessionToApi(warm);
    }
    await this.requireAgentFolder(s);
    await this.deps.hooks?.beforeResume?.(s);
    await runtime.ensureCapacity();
    runtime.noteResume('cold');
    const updated = (await this.deps.repos.sessions.update(tenantId, id, {
      status: 'active',
      pausedAt: null,
    }))!;
    // The sandbox starts now, so the next message finds it started (or ready); the lifecycle
    // event is written meanwhile.
    runtime.prewarm(updated);
    await this.lifecycle(updated, 'resumed', { path: 'cold' });
    return sessionToApi(updated);
  }

  /**
   * Forks a session: a new session with a copy of the parent's messages, events, SDK transcript,
   * workspace and attachments, and its config; from then on the two are independent. A session
   * budget is carried: the fork's `budgetUsd` is what the parent has left of its own (so forking
   * does not reset what was spent). The parent's credential must still be usable.
   * @throws AppError 400 `invalid_credential` (the parent's credential was deleted or
   * deactivated), 404 (`workspace_not_found`), 409 `session_busy` (a turn is running), 409
   * `session_owned_elsewhere` (the parent is live on another server), 422 `agent_folder_missing`.
   */
  async fork(tenantId: string, id: string): Promise<Session> {
    const parent = await this.record(tenantId, id);
    // The parent's files must be the latest: not live elsewhere, and restored here when newer.
    await this.deps.ownership.forFiles(parent, 'read');
    if (parent.activeTurnId) {
      throw new AppError('session_busy', 'the session is running a turn; fork it after the turn ends', {
        headers: { 'Retry-After': '1' },
      });
    }
    if (parent.credentialId) {
      try {
        await this.deps.credentials.resolve(tenantId, parent.credentialId);
      } catch (err) {
        if (!(err instanceof AppError && err.code === 'invalid_credential')) throw err;
        throw new AppError(
          'invalid_credential',
          `the session's credential cannot be used (${err.detail}); a fork inherits it, so the session was not forked: reactivate the credential, or create a new session`,
        );
      }
    }
    await this.requireAgentFolder(parent);
    await this.deps.hooks?.beforeResume?.(parent);
    const { repos, paths } = this.deps;
    if (!existsSync(paths.workspace(parent.id)))
      throw new AppError(
        'workspace_not_found',
        `session '${parent.id}' has no workspace on this server or in storage`,
      );
    await this.deps.runtime.ensureCapacity();
    const childId = randomUUID();
    await repos.sessions.insert({
      id: childId,
      tenantId,
      agentName: parent.agentName,
      agentVersion: parent.agentVersion,
      status: 'starting',
      parentSessionId: parent.id,
      ...inheritedSessionSettings(parent),
      budgetUsd: await this.remainingBudget(parent),
      lastEventSeq: 0,
      lastMessageSeq: 0,
      ownerId: this.deps.ownership.ownerId,
      now: monotonicIso(),
    });
    this.deps.ownership.noteClaimed(childId);
    try {
      await cp(paths.workspace(parent.id), paths.workspace(childId), {
        recursive: true,
        verbatimSymlinks: true,
        force: true,
      });
      await cp(paths.claudeConfig(parent.id), paths.claudeConfig(childId), {
        recursive: true,
        verbatimSymlinks: true,
        force: true,
      }).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err; // a parent that never ran a turn has no transcript yet
      });
      const counters = await repos.history.copySession(tenantId, parent.id, childId, randomUUID);
      const copied = await repos.sessions.get(tenantId, childId);
      if (copied) await this.deps.hooks?.copyForkData?.(parent, copied);
      await repos.sessions.update(tenantId, childId, { ...counters, status: 'active' });
    } catch (err) {
      await repos.sessions.update(tenantId, childId, { status: 'error' });
      this.deps.log.error({ err, sessionId: childId }, 'fork failed');
      if (err instanceof AppError && err.code === 'storage_unavailable') throw err;
      throw new AppError('internal_error', 'the session could not be forked');
    }
    const child = (await repos.sessions.get(tenantId, childId))!;
    this.deps.runtime.prewarm(child);
    await this.lifecycle(child, 'forked', { from: parent.id });
    await this.lifecycle(parent, 'fork_created', { child: childId });
    return sessionToApi(child);
  }

  /** What is left of a session's budget (null: none): its `budgetUsd` minus what it has spent. */
  private async remainingBudget(s: SessionRecord): Promise<number | null> {
    if (s.budgetUsd === null) return null;
    const spent = await this.deps.repos.usage.spentUsd(s.tenantId, s.id);
    return Math.max(0, s.budgetUsd - spent);
  }

  /** 422 when the session's agent version is gone from disk (after trying to restore it). */
  private async requireAgentFolder(s: SessionRecord): Promise<void> {
    if (this.deps.agents.hasVersion(s.tenantId, s.agentName, s.agentVersion)) return;
    if (await this.deps.hooks?.restoreAgentFolder?.(s)) return;
    throw new AppError(
      'agent_folder_missing',
      `the files of agent '${s.agentName}' (version ${s.agentVersion}) are missing on the server; redeploy the agent and create a new session`,
    );
  }

  async list(
    tenantId: string,
    q: ListSessionsQuery,
  ): Promise<{ sessions: Session[]; total: number; hasMore: boolean }> {
    const limit = q.limit ?? 50;
    const offset = q.offset ?? 0;
    const { rows, total } = await this.deps.repos.sessions.list(tenantId, {
      ...(q.agent ? { agent: q.agent } : {}),
      ...(q.status ? { status: q.status } : {}),
      limit,
      offset,
    });
    return { sessions: rows.map(sessionToApi), total, hasMore: offset + rows.length < total };
  }

  /** @throws AppError 404 `session_not_found` (same for other tenants' ids and unknown ids). */
  async record(tenantId: string, id: string): Promise<SessionRecord> {
    const s = await this.deps.repos.sessions.get(tenantId, id);
    if (!s) throw notFound('session_not_found', 'Session', id);
    return s;
  }

  async get(tenantId: string, id: string): Promise<Session> {
    return sessionToApi(await this.record(tenantId, id));
  }

  /**
   * Ends a session: stops its process tree (interrupting a running turn) and marks it `ended`.
   * History and workspace stay readable. Ending an ended session returns it unchanged.
   */
  async end(tenantId: string, id: string): Promise<Session> {
    const s = await this.record(tenantId, id);
    if (s.status === 'ended') return sessionToApi(s);
    // Allowed from any server: the owner (if another) stops its sandbox at its next lease renewal.
    await this.deps.ownership.closeDeadOwnersTurn(s);
    // Ended first, so no turn can claim the slot between the stop and the update (a queued
    // message waiting for the running turn would otherwise start on the ending session).
    const updated = await this.deps.repos.sessions.update(tenantId, id, {
      status: 'ended',
      endedAt: new Date().toISOString(),
      ownerId: null,
      ownerHeartbeatAt: null,
    });
    await this.deps.runtime.stop(id, 'ended');
    await this.lifecycle(updated!, 'ended', {});
    return sessionToApi(updated!);
  }

  /**
   * Interrupts the session's running turn on this server.
   * @throws AppError 404, 409 `session_owned_elsewhere` (the turn runs on another server).
   */
  async interrupt(tenantId: string, id: string): Promise<boolean> {
    const s = await this.record(tenantId, id);
    this.deps.ownership.assertNotOwnedElsewhere(s);
    return this.deps.runtime.interrupt(id);
  }

  /**
   * Starts a turn (following `onBusy`) and returns its event stream.
   * @throws AppError 400/404/409 (`session_busy`, `session_owned_elsewhere`)/410.
   */
  async sendMessage(tenantId: string, id: string, body: SendMessageBody): Promise<TurnStream> {
    let s = await this.record(tenantId, id);
    const hooks = this.deps.hooks;
    if (s.status !== 'ended') {
      // Runs only on the session's owner: claim it (a takeover restores its files).
      s = await this.deps.ownership.claim(s);
      await hooks?.beforeTurn?.(s);
    }
    const prompt = hooks?.resolveContent ? await hooks.resolveContent(s, body.content) : body.content;
    return this.deps.turns.start(s, body, prompt);
  }

  /**
   * Events with sequence > `after` from history, then the live rest of the running turn (if
   * this server runs one). Ends after the turn's `done`, or at the end of history. A turn a dead
   * server left open is closed first (`error` + `done`).
   */
  async *stream(tenantId: string, id: string, after: number): AsyncGenerator<StreamEvent> {
    const s = await this.record(tenantId, id);
    let turn = this.deps.runtime.turnFor(id);
    // A turn left open by a dead server (its lease ran out; a live owner's requests are forwarded
    // before they get here) is taken over when its runner still runs it (the stream then follows
    // it here), else ends with `error` + `done` first, so a client reconnecting here with
    // Last-Event-ID reads the turn through its end instead of a stream that stops short.
    if (!turn && s.activeTurnId) {
      await this.deps.ownership.takeOverDeadOwnersTurn(s);
      turn = this.deps.runtime.turnFor(id);
    }
    let cursor = after;
    const upTo = turn ? turn.firstSeq - 1 : Number.POSITIVE_INFINITY;
    for (;;) {
      const { rows, hasMore } = await this.deps.repos.history.listEvents(tenantId, id, {
        after: cursor,
        limit: 500,
      });
      for (const r of rows) {
        if (r.sequence > upTo) break;
        if (r.type === 'lifecycle') {
          cursor = r.sequence;
          continue;
        }
        yield { id: r.sequence, event: r.type, data: JSON.parse(r.data) } as StreamEvent;
        cursor = r.sequence;
      }
      if (!hasMore || cursor >= upTo) break;
    }
    if (turn) yield* turn.subscribe(Math.max(cursor, after));
  }

  async messages(
    tenantId: string,
    id: string,
    after: number,
    limit: number,
  ): Promise<{ messages: Message[]; hasMore: boolean }> {
    await this.record(tenantId, id);
    const { rows, hasMore } = await this.deps.repos.history.listMessages(tenantId, id, after, limit);
    return { messages: rows.map(messageToApi), hasMore };
  }

  async events(
    tenantId: string,
    id: string,
    q: { after: number; limit: number; type?: string; turnId?: string; view?: 'log' | 'timeline' },
  ): Promise<{ events: SessionEvent[]; hasMore: boolean }> {
    await this.record(tenantId, id);
    const { history } = this.deps.repos;
    if (q.view === 'timeline') {
      // The timeline's names select our events of the same meaning, renamed.
      const ours = Object.keys(TIMELINE_TYPES);
      const wanted = q.type === undefined ? ours : ours.filter((t) => TIMELINE_TYPES[t] === q.type);
      if (wanted.length === 0) return { events: [], hasMore: false };
      const { rows, hasMore } = await history.listEvents(tenantId, id, { ...q, type: wanted });
      return { events: rows.map((r) => ({ ...eventToApi(r), type: TIMELINE_TYPES[r.type]! })), hasMore };
    }
    // The upstream Ash's timeline names select our events of the same meaning; the rows then
    // carry the name asked for, as upstream clients compare it.
    const ours = q.type !== undefined ? UPSTREAM_EVENT_TYPES[q.type] : undefined;
    const { rows, hasMore } = await history.listEvents(tenantId, id, ours ? { ...q, type: ours } : q);
    const events = rows.map(eventToApi);
    return { events: ours ? events.map((e) => ({ ...e, type: q.type! })) : events, hasMore };
  }

  /**
   * Runs a shell command in an active session's sandbox (upstream Ash `exec`).
   * @throws AppError 404, 409 `invalid_session_state` (not active: resume it first),
   * `session_owned_elsewhere`, 410 `session_ended`, 503 `sandbox_unavailable`.
   */
  async exec(tenantId: string, id: string, body: ExecBody): Promise<ExecResult> {
    const s = await this.record(tenantId, id);
    if (s.status === 'ended')
      throw new AppError('session_ended', 'the session has ended; commands cannot run in it');
    if (s.status !== 'active' && s.status !== 'starting')
      throw new AppError('invalid_session_state', `the session is ${s.status}; resume it first`);
    this.deps.ownership.assertNotOwnedElsewhere(s);
    return this.deps.runtime.exec(s, body.command, body.timeout ?? 30_000);
  }

  /** The session's sandbox output after `after` (upstream Ash `logs`). @throws AppError 404. */
  async logs(tenantId: string, id: string, after: number): Promise<LogsResponse> {
    await this.record(tenantId, id);
    return { logs: await this.deps.runtime.logs(id, after), source: 'sandbox' };
  }

  /** Ends every live session of an agent (before the agent is deleted). */
  async endAgentSessions(tenantId: string, agentName: string): Promise<void> {
    const sessions = await this.deps.repos.sessions.listByAgent(tenantId, agentName, [
      'starting',
      'active',
      'paused',
      'stopped',
      'error',
    ]);
    for (const s of sessions) await this.end(tenantId, s.id);
  }

  /** Deletes a session's files (used when creation fails half-way). */
  async removeFiles(id: string): Promise<void> {
    await rm(this.deps.paths.sessionDir(id), { recursive: true, force: true });
  }

  /**
   * Records a lifecycle event (`created`, `ended`, `paused`...). Skipped while a turn holds the
   * session's sequence (the turn's own events tell the story then).
   */
  async lifecycle(session: SessionRecord, action: string, data: Record<string, unknown>): Promise<void> {
    const seq = await this.deps.repos.sessions.reserveEventSeq(session.id, 1);
    if (seq === undefined) return;
    await this.deps.repos.history.insertEvents([
      {
        id: randomUUID(),
        tenantId: session.tenantId,
        sessionId: session.id,
        type: 'lifecycle',
        data: JSON.stringify({ action, ...data }),
        sequence: seq,
        turnId: null,
        createdAt: new Date().toISOString(),
      },
    ]);
  }
}
