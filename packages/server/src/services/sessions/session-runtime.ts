import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import {
  sdkMessageText,
  type BridgeSdkOptions,
  type Conversation,
  type ErrorCode,
  type MessageContent,
  type SendMessageBody,
  type ToolAnswer,
  type ToolRequestEvent,
  type TurnOutcome,
} from '@ash-ai/shared';
import type { ExecResult, LogEntry, PoolStats } from '@ash-ai/shared';
import { SandboxStartError, type EgressRules, type ModelCallUsage } from '@ash-ai/sandbox';
import {
  RunnerCapacityError,
  RunnerClosedError,
  type EvictionReason,
  type ModelCallHooks,
  type PoolCounters,
  type RunnerClient,
  type SandboxSpec,
  type SandboxStarter,
  type SandboxTurn,
  type SlotReservation,
} from '@ash-ai/runner';
import type { Config } from '../../config.js';
import type { AgentRecord, Repos, SessionRecord } from '../../db/repos/index.js';
import { AppError, isStorageFull, notFound } from '../../errors.js';
import type { AgentStore } from '../../storage/agent-store.js';
import type { CredentialResolver } from '../auth/credential-service.js';
import { resolveSdkOptions } from './session-options.js';
import {
  bindableMcpServers,
  bindingPlaceholders,
  bindingsOf,
  egressSpec,
  resolveBindings,
  sessionEgressRules,
  type ResolvedBinding,
} from './egress.js';
import type { PathScrubber } from './text-safety.js';
import { TurnLog } from './turn-log.js';
import type { DiskGuard } from '../files/disk-guard.js';
import { ownedElsewhere, ownedElsewhereError } from './session-ownership.js';
import type { Telemetry } from '../../telemetry/telemetry.js';
import { TurnTelemetry, type TracedTurn } from './turn-telemetry.js';
import { applyTurnEvent } from './turn-events.js';
import type { TurnEndError, TurnHooks } from './turn-hooks.js';

/** How long a new turn waits for the previous turn's pending release (full disk), ms. */
const RELEASE_WAIT_MS = 2000;

/** How long a finished turn stays in memory for late reconnects, ms. */
const FINISHED_TURN_TTL_MS = 5 * 60_000;

/** What the session engine holds for a session with a sandbox, a start or a turn here. */
interface LiveSession {
  sessionId: string;
  tenantId: string;
  credentialId: string | null;
  turn: RunningTurn | undefined;
  lastTurn: TurnLog | undefined;
  /** Place of this session's sandbox start in the start queue (0: not waiting). */
  queuePosition: number;
  /** A finished turn's slot release still being retried (its end not stored yet: full disk). */
  releasing: Promise<void> | undefined;
  /** Effective network policy (agent ∩ session), refreshed at each sandbox start and turn. */
  egressRules?: EgressRules;
  /** Credentials bound to hosts (decrypted; host memory only), refreshed like `egressRules`. */
  egressBindings?: ResolvedBinding[];
}

export type { SlotReservation, TurnEndError, TurnHooks };

interface RunningTurn extends TracedTurn {
  log: TurnLog;
  /** Resolves when the turn has ended and released its slot. */
  ended: Promise<void>;
  interruptRequested: boolean;
  /** Why the host ended the turn, when it did. */
  hostEnd?: { outcome: TurnOutcome; error?: { message: string; code: ErrorCode } };
}

export interface SessionRuntimeDeps {
  repos: Repos;
  /** Where sessions' sandboxes run (the embedded server: an in-process runner). */
  runner: RunnerClient;
  agents: AgentStore;
  config: Config;
  log: Logger;
  version: string;
  /** Stable id of this server (owner of the sandboxes it starts). */
  ownerId: string;
  scrubber: PathScrubber;
  /** Called when the runtime pauses a session on its own (idle sweep, eviction). */
  onSessionEvicted?: (
    session: { id: string; tenantId: string },
    reason: 'idle' | 'capacity' | 'credential_revoked',
  ) => Promise<void>;
  /** Free space of the data dir: new turns are refused with 507 below the threshold. */
  diskGuard?: DiskGuard;
  /** Decrypts a session's credential when its sandbox starts. */
  credentials: CredentialResolver;
  /** Usage metering and budgets (issue 6). */
  hooks?: TurnHooks;
  /** Traces, metrics and log ids (issue 16); none without it. */
  telemetry?: Telemetry;
  /**
   * Before the runtime releases a session it stopped on its own (idle sweep, eviction, revoked
   * credential): e.g. store its files where other servers find them. A failure keeps the session
   * owned by this server (its files are only here).
   */
  beforeRelease?: (session: { id: string; tenantId: string }) => Promise<void>;
  /**
   * A running turn's tool call waits for the client (an `askTools` approval or a custom tool):
   * the handler keeps the request and calls `answer` when the client replies (`answer` returns
   * false when the turn is already over, else the sequence of the recorded answer). It may instead
   * return an answer at once (a decision recorded earlier): the call then goes on without a
   * request event. Without a handler every request is denied.
   */
  onToolRequest?: (req: ToolRequestHook) => ToolAnswer | undefined;
}

/** What {@link SessionRuntimeDeps.onToolRequest} receives. */
export interface ToolRequestHook {
  session: SessionRecord;
  turnId: string;
  request: ToolRequestEvent;
  /**
   * Delivers the answer to the waiting call and records it as a `tool_answer` event.
   * @returns that event's sequence number (0 if it could not be stored), or false when the turn is over.
   */
  answer: (answer: ToolAnswer) => number | false;
}

/** Pool counters of the runner plus the resume counters the session engine keeps. */
export type SessionCounters = PoolCounters & { resumeWarmHits: number; resumeColdHits: number };

/**
 * The session engine of this server: runs one turn at a time per session in the session's
 * sandbox (hosted by a {@link RunnerClient}), records every event, meters model calls, owns the
 * session's claim and release in the database. HTTP-free: routes call it. The sandbox pool
 * (capacity, spares, eviction, start queue) is the runner's.
 */
export class SessionRuntime {
  private readonly live = new Map<string, LiveSession>();
  /** Finished turns whose end is not stored yet (given up at shutdown). */
  private readonly unsettled = new Set<TurnLog>();
  private closed = false;
  private readonly resumes = { warm: 0, cold: 0 };
  private readonly traces: TurnTelemetry;
  /** Takeovers of turns left by dead servers under way, by session. */
  private readonly adopting = new Map<string, Promise<boolean>>();

  constructor(private readonly deps: SessionRuntimeDeps) {
    this.traces = new TurnTelemetry(deps.telemetry);
    deps.runner.listen({ evicted: (sessionId, reason) => this.onEvicted(sessionId, reason) });
  }

  /** Sandboxes alive or being started here (sessions and warm spares). */
  get liveSandboxCount(): number {
    return this.deps.runner.stats().live;
  }

  /** The runner's pool counters and the resume counters, for /metrics. */
  get counters(): Readonly<SessionCounters> {
    return {
      ...this.deps.runner.stats().counters,
      resumeWarmHits: this.resumes.warm,
      resumeColdHits: this.resumes.cold,
    };
  }

  /** Counts a resume: `warm` (its sandbox still ran) or `cold` (a new sandbox). */
  noteResume(path: 'warm' | 'cold'): void {
    this.resumes[path]++;
  }

  /** Pool figures for /health and /metrics. */
  stats(): PoolStats {
    const r = this.deps.runner.stats();
    const running = this.runningTurnCount;
    const idle = Math.max(0, r.live - running - r.warm);
    return {
      live: r.live,
      running,
      idle,
      warm: r.warm,
      starting: r.reserved,
      startsRunning: r.startsRunning,
      startsQueued: r.startsQueued,
      maxCapacity: r.maxCapacity,
      preWarmHits: r.counters.preWarmHits,
      resumeWarmHits: this.resumes.warm,
      resumeColdHits: this.resumes.cold,
      evictions: r.counters.evictions,
      total: r.live,
      cold: 0,
      warming: r.reserved,
      waiting: idle,
    };
  }

  /** Resident memory of each live sandbox's processes, bytes (cgroup accounting). */
  memoryBySandbox(): Array<{ id: string; bytes: number }> {
    return this.deps.runner.memoryBySandbox();
  }

  /**
   * Makes sure a new sandbox can start: a free slot, or one made by evicting a warm spare or the
   * least recently used idle session (which is paused).
   * @throws AppError 503 `capacity_reached` (with Retry-After) when every sandbox is busy.
   */
  async ensureCapacity(): Promise<void> {
    try {
      await this.deps.runner.ensureCapacity();
    } catch (err) {
      throw asAppError(err);
    }
  }

  /**
   * Reserves a slot for a sandbox about to start, atomically with the check (so concurrent starts
   * never exceed ASH_MAX_SANDBOXES), evicting as {@link ensureCapacity} does. Release it once the
   * sandbox is started (it then counts itself) or when the start is given up.
   * @throws AppError 503 `capacity_reached` (with Retry-After) when every sandbox is busy.
   */
  async reserveSlot(sessionId?: string): Promise<SlotReservation> {
    try {
      return await this.deps.runner.reserve(sessionId);
    } catch (err) {
      throw asAppError(err);
    }
  }

  /** The runner stopped a session's sandbox on its own (idle, capacity): the session is paused. */
  private async onEvicted(sessionId: string, reason: EvictionReason): Promise<void> {
    const l = this.live.get(sessionId);
    this.live.delete(sessionId);
    if (!l || !(await this.releaseStopped(l))) return;
    await this.deps.onSessionEvicted?.({ id: l.sessionId, tenantId: l.tenantId }, reason);
  }

  /**
   * After the runtime stopped a session on its own: stores its files (`beforeRelease`), then marks
   * it paused and gives up its ownership. False when storing failed (the session stays owned here).
   */
  private async releaseStopped(l: { sessionId: string; tenantId: string }): Promise<boolean> {
    try {
      await this.deps.beforeRelease?.({ id: l.sessionId, tenantId: l.tenantId });
    } catch (err) {
      this.deps.log.error(
        { err: errText(err), sessionId: l.sessionId },
        'could not store the session files; the session stays owned by this server',
      );
      return false;
    }
    await this.deps.repos.sessions.update(l.tenantId, l.sessionId, {
      status: 'paused',
      pausedAt: new Date().toISOString(),
      ownerId: null,
      ownerHeartbeatAt: null,
    });
    return true;
  }

  /**
   * Pauses every live session of the tenant that uses this credential (deleted or deactivated):
   * no process keeps a revoked key. Their next start fails with `invalid_credential`.
   */
  async stopSessionsUsingCredential(tenantId: string, credentialId: string): Promise<number> {
    let n = 0;
    for (const l of [...this.live.values()]) {
      if (l.tenantId !== tenantId || l.credentialId !== credentialId || !this.deps.runner.hosts(l.sessionId))
        continue;
      await this.stop(l.sessionId, 'paused because its credential was revoked');
      if (!(await this.releaseStopped(l))) continue;
      await this.deps.onSessionEvicted?.({ id: l.sessionId, tenantId: l.tenantId }, 'credential_revoked');
      n++;
    }
    return n;
  }

  /** Stops the sandboxes of sessions (and spares) idle for longer than the idle timeout. */
  sweepIdle(now = Date.now()): Promise<number> {
    return this.deps.runner.sweepIdle(now);
  }

  /**
   * Keeps `count` pre-warmed sandboxes for an agent's current version: each has its workspace
   * copied and its Claude process started under an id the next session of that agent will take.
   * Spares of other versions are stopped. Failures are logged.
   */
  async replenishSpares(agent: AgentRecord, count: number): Promise<void> {
    if (this.closed) return;
    const { agents, repos, config } = this.deps;
    const agentRules = sessionEgressRules(agent.config);
    await this.deps.runner.replenishSpares(
      {
        tenantId: agent.tenantId,
        name: agent.name,
        version: agent.version,
        env: { ...agent.env, ...bindingPlaceholders(bindingsOf(agent.config)) },
        limits: limitOverrides(agent),
        warmOptions: resolveSdkOptions(agent.config, { config: {}, model: null }, {}),
        ...(isLabels(agent.config.runnerLabels) ? { labels: agent.config.runnerLabels } : {}),
      },
      count,
      {
        prepareWorkspace: (_id, dir) =>
          agents.copyToWorkspace(agent.tenantId, agent.name, agent.version, dir),
        isCurrent: async () =>
          (await repos.agents.get(agent.tenantId, agent.name))?.version === agent.version,
        model: { resolveApiKey: () => config.anthropicApiKey },
        // The agent's network until a session takes the spare (metrics only: no turn streams).
        egress: egressSpec(
          () => agentRules,
          () => undefined,
          this.deps.telemetry?.metrics,
        ),
      },
    );
  }

  /**
   * Stops every spare of an agent (on delete, and before replacing them) and resolves only once
   * they are gone, folders included (see {@link RunnerClient.dropSpares}).
   */
  dropSpares(tenantId: string, agentName: string): Promise<void> {
    return this.deps.runner.dropSpares(tenantId, agentName);
  }

  /**
   * Takes a ready spare of this agent version, if any. The caller must create the session with
   * the spare's id and then call {@link adoptSpare}.
   */
  async takeSpare(
    tenantId: string,
    agentName: string,
    agentVersion: number,
  ): Promise<{ id: string } | undefined> {
    const id = await this.deps.runner.takeSpare(tenantId, agentName, agentVersion).catch(() => undefined);
    return id === undefined ? undefined : { id };
  }

  /**
   * Attaches a taken spare's sandbox to its (now created) session of `agent`: its model calls and
   * its network (the agent's policy narrowed by the session's, each connection an `egress` event of
   * the session's running turn) are the session's.
   * @returns true when the spare's sandbox is the session's now; false when it is gone, or runs
   *   on a runner in another process (the session's start there completes the claim): the caller
   *   starts the session as usual.
   */
  adoptSpare(spare: { id: string }, session: SessionRecord, agent: AgentRecord): boolean {
    const live = this.entry(session);
    return this.deps.runner.adoptSpare(
      spare.id,
      this.modelHooks(live, session, () => this.deps.config.anthropicApiKey),
      this.egressFor(live, session, sessionEgressRules(agent.config, session.config)),
    );
  }

  /** Ids of sessions running a turn here. */
  get runningTurnCount(): number {
    let n = 0;
    for (const l of this.live.values()) if (l.turn) n++;
    return n;
  }

  /** Sessions with a sandbox, a start or a turn (running or kept for reconnects) on this server. */
  localSessionIds(): string[] {
    return [...this.live.keys()];
  }

  /**
   * Runs a shell command in the session's sandbox (started first when it has none), in its
   * workspace, killed after `timeoutMs`; stdout and stderr are cut at 1 MiB each.
   * @throws AppError 503 `sandbox_unavailable` (the sandbox cannot start, or the server is closing).
   */
  async exec(session: SessionRecord, command: string, timeoutMs: number): Promise<ExecResult> {
    if (this.closed) throw new AppError('sandbox_unavailable', 'the server is shutting down');
    const { runner } = this.deps;
    // A start made for the command starts no Claude process: its permit goes back once the
    // sandbox is up (held until the next turn's first event, it kept other sessions' starts and
    // background refills waiting). A start under way for a prewarm or a turn keeps its own.
    const startsHere = !runner.hasLiveSandbox(session.id) && !runner.isStarting(session.id);
    const live = this.entry(session);
    try {
      await this.ensureSandbox(live, session);
    } catch (err) {
      throw asAppError(err);
    }
    if (startsHere && !live.turn) runner.settleStart(session.id);
    try {
      return await this.deps.runner.exec(session.id, command, {
        timeoutMs,
        maxOutputBytes: EXEC_MAX_OUTPUT_BYTES,
      });
    } catch (err) {
      this.deps.log.warn({ sessionId: session.id, err: errText(err) }, 'exec failed');
      throw new AppError(
        'sandbox_unavailable',
        'the command could not run in the sandbox (it is not running, or it stopped meanwhile); retry',
        { headers: { 'Retry-After': '1' } },
      );
    }
  }

  /** The session's sandbox output ring after `after` (empty when it has no sandbox here). */
  logs(sessionId: string, after: number): Promise<LogEntry[]> {
    return this.deps.runner.logs(sessionId, after);
  }

  hasLiveSandbox(sessionId: string): boolean {
    return this.deps.runner.hasLiveSandbox(sessionId);
  }

  /**
   * Starts a session's sandbox in the background (and its Claude process), so the first message
   * does not wait for it. Failures are logged; the first message retries.
   */
  prewarm(session: SessionRecord): void {
    if (this.closed) return;
    this.deps.runner.prewarm(session.id, this.starter(this.entry(session), session));
  }

  /** Records a session's place in the start queue and tells its running turn's clients. */
  private onQueuePosition(live: LiveSession, position: number): void {
    live.queuePosition = position;
    const log = live.turn?.log;
    if (log && !log.finished) log.notice(position > 0 ? `queued position=${position}` : 'starting');
  }

  /**
   * Starts a turn: claims the session's turn slot, records the user message and `session_start`,
   * and runs the turn in the background. The returned log streams the turn's events.
   * @throws AppError 410 `session_ended`, 409 `session_busy`, 404 `session_not_found`.
   */
  async startTurn(session: SessionRecord, body: SendMessageBody, prompt: MessageContent): Promise<TurnLog> {
    if (this.closed) throw new AppError('sandbox_unavailable', 'the server is shutting down');
    if (session.status === 'ended')
      throw new AppError('session_ended', 'the session has ended; create a new session or fork this one');
    // From here the session's sandbox is about to be used: no eviction may take it meanwhile.
    const known = this.live.get(session.id);
    if (known) this.deps.runner.pin(session.id);
    try {
      return await this.startTurnClaimed(session, body, prompt, known);
    } finally {
      if (known) this.deps.runner.unpin(session.id);
    }
  }

  private async startTurnClaimed(
    session: SessionRecord,
    body: SendMessageBody,
    prompt: MessageContent,
    known: LiveSession | undefined,
  ): Promise<TurnLog> {
    const { runner } = this.deps;
    await this.deps.diskGuard?.assertRoom('a new turn');
    // The last turn's end may still wait for the store (full disk): give it a moment.
    if (known?.releasing)
      await Promise.race([known.releasing, new Promise((r) => setTimeout(r, RELEASE_WAIT_MS).unref())]);
    // A session without a process needs a slot: reserved now (503 before any byte of the stream),
    // unless a start is already under way (the prewarm at creation holds one).
    if (known) await runner.awaitPrewarm(session.id);
    let slot: SlotReservation | undefined;
    if (!runner.hasLiveSandbox(session.id) && !runner.isStarting(session.id)) {
      if (!runner.canQueueStart())
        throw new AppError('capacity_reached', 'too many sandboxes are waiting to start; retry later', {
          headers: { 'Retry-After': '5' },
        });
      slot = await this.reserveSlot(session.id);
    }
    try {
      return await this.claimTurn(session, body, prompt, slot);
    } catch (err) {
      slot?.release();
      throw err;
    }
  }

  private async claimTurn(
    session: SessionRecord,
    body: SendMessageBody,
    prompt: MessageContent,
    slot: SlotReservation | undefined,
  ): Promise<TurnLog> {
    const turnId = randomUUID();
    const now = new Date().toISOString();
    const acquired = await this.deps.repos.sessions.acquireTurn(
      session.tenantId,
      session.id,
      turnId,
      this.deps.ownerId,
      now,
    );
    if (!acquired) {
      const current = await this.deps.repos.sessions.get(session.tenantId, session.id);
      if (!current) throw notFound('session_not_found', 'Session', session.id);
      if (current.status === 'ended')
        throw new AppError('session_ended', 'the session has ended; create a new session or fork this one');
      if (current.ownerId && current.ownerId !== this.deps.ownerId)
        throw ownedElsewhereError(current, this.deps.config.ownerLeaseMs);
      if (this.live.get(session.id)?.releasing)
        throw new AppError(
          'insufficient_storage',
          "the session's last turn could not be stored yet (the server's data disk is full); retry when space is back",
          { headers: { 'Retry-After': '5' } },
        );
      throw new AppError(
        'session_busy',
        'the session is running a turn; wait for its `done` event, interrupt it, or send with onBusy',
        {
          headers: { 'Retry-After': '1' },
        },
      );
    }
    let record = acquired;
    if (record.status !== 'active') {
      // A message to a paused (or errored) session resumes it transparently.
      record =
        (await this.deps.repos.sessions.update(record.tenantId, record.id, { status: 'active' })) ?? record;
    }
    const live = this.entry(record);
    let markEnded!: () => void;
    const running = {
      ended: new Promise<void>((r) => (markEnded = r)),
      interruptRequested: false,
    } as RunningTurn;
    running.log = new TurnLog(
      record.id,
      record.tenantId,
      turnId,
      record,
      this.deps.repos.history,
      this.deps.log,
      { onPersistFailure: (failure) => this.endTurnForStorage(live, running, failure) },
    );
    const { log } = running;
    // The user message and `session_start` are stored right after the sandbox is told (or, when
    // it has to start, before that): see execute().
    log.holdWrites();
    const scope = { sessionId: record.id, turnId, tenantId: record.tenantId };
    const span = this.traces.turnSpan(record, turnId);
    running.span = span;
    running.tools = new Map();
    live.turn = running;
    // Never evicted while the turn runs (unpinned when it ended).
    this.deps.runner.pin(record.id);
    // History keeps the message as sent (attachment references stay references, not their bytes).
    const sent = body.content;
    log.addMessage({
      role: 'user',
      type: 'user',
      content: { type: 'user', message: { role: 'user', content: sent } },
      text: typeof sent === 'string' ? sent : sdkMessageText({ message: { content: sent } }),
    });
    log.emit({ event: 'session_start', data: { sessionId: record.id, version: this.deps.version, turnId } });
    const run = () => this.execute(live, running, record, body, prompt, slot).finally(markEnded);
    void this.traces.run(scope, span, run);
    // The caller (the HTTP response) goes on once the sandbox was told: its work would otherwise
    // run between the turn's first steps, and nothing of the stream can be sent before anyway.
    await log.writesReleased();
    return log;
  }

  /**
   * Takes over the turn a dead server left open on `session` (this server has just claimed the
   * session: its owner's lease had run out). When the session's runner (another process) still
   * runs the turn, this server attaches to it from the first runner event the dead server did not
   * store (`source_index` of the stored events and messages), records the rest under the same
   * turn id exactly as its own turns (`done` only once every event is stored, usage, the
   * runner's checkpoint) and returns true; clients follow it with {@link turnFor}. False when it
   * cannot (no such runner here, or the runner does not hold the turn): the caller closes it.
   */
  adoptTurn(session: SessionRecord): Promise<boolean> {
    // One takeover at a time per session (a reconnecting client and the lease loop may race);
    // a turn already taken over here counts as taken over.
    const running = this.live.get(session.id)?.turn;
    if (running) return Promise.resolve(running.log.turnId === session.activeTurnId);
    let p = this.adopting.get(session.id);
    if (!p) {
      p = this.adoptTurnOnce(session).finally(() => this.adopting.delete(session.id));
      this.adopting.set(session.id, p);
    }
    return p;
  }

  private async adoptTurnOnce(session: SessionRecord): Promise<boolean> {
    const turnId = session.activeTurnId;
    const { runner, repos } = this.deps;
    if (this.closed || !turnId || !session.runnerId || !runner.adoptTurn) return false;
    if (session.ownerId !== this.deps.ownerId) return false;
    const mark = await repos.history.turnWatermark(session.id, turnId);
    const live = this.entry(session);
    let turn: SandboxTurn | undefined;
    try {
      turn = await runner.adoptTurn(
        session.id,
        session.runnerId,
        this.starter(live, session),
        turnId,
        mark.events + 1,
      );
    } catch (err) {
      this.deps.log.warn(
        { sessionId: session.id, turnId, err: errText(err) },
        'could not take the turn over',
      );
    }
    if (!turn) {
      if (!live.turn && !runner.hosts(session.id)) this.live.delete(session.id);
      return false;
    }
    // Whether the original request asked for partial messages: its stored events say.
    const partial = await repos.history.listEvents(session.tenantId, session.id, {
      after: 0,
      limit: 20,
      type: 'message',
      turnId,
    });
    const includePartialMessages = partial.rows.some((r) => r.data.includes('"stream_event"'));
    const record = (await repos.sessions.get(session.tenantId, session.id)) ?? session;
    const counters = await repos.history.maxSequences(session.id);
    let markEnded!: () => void;
    const running = {
      ended: new Promise<void>((r) => (markEnded = r)),
      interruptRequested: false,
    } as RunningTurn;
    running.log = new TurnLog(record.id, record.tenantId, turnId, counters, repos.history, this.deps.log, {
      onPersistFailure: (failure) => this.endTurnForStorage(live, running, failure),
    });
    running.log.skipMessagesUpTo = mark.messages;
    running.log.takenOver = true;
    const scope = { sessionId: record.id, turnId, tenantId: record.tenantId };
    const span = this.traces.turnSpan(record, turnId);
    running.span = span;
    running.tools = new Map();
    live.turn = running;
    runner.pin(record.id);
    this.deps.log.info(
      { sessionId: record.id, turnId, from: mark.events + 1, runner: session.runnerId },
      'took over a turn left running by a dead server',
    );
    const body = { content: '', includePartialMessages } as SendMessageBody;
    const run = () =>
      this.execute(live, running, record, body, '', undefined, {
        turn: turn!,
        from: mark.events + 1,
      }).finally(markEnded);
    void this.traces.run(scope, span, run);
    return true;
  }

  /**
   * The turn's history cannot be stored (full disk, database error): stop the turn now (its
   * processes are killed; the bridge stays for the next turn). It ends with `error` + `done`.
   */
  private endTurnForStorage(
    live: LiveSession,
    running: RunningTurn,
    failure: { code: ErrorCode; message: string },
  ): void {
    if (running.log.finished || running.hostEnd) return;
    running.hostEnd = { outcome: 'error', error: failure };
    void this.deps.runner.abortTurn(live.sessionId, running.log.turnId, failure).catch(() => undefined);
  }

  /**
   * The events of the session's current turn (or the last one, for a while after it ended) with
   * `id > after`, followed live until `done`; undefined when this server has no such turn.
   */
  turnFor(sessionId: string): TurnLog | undefined {
    const live = this.live.get(sessionId);
    if (live?.turn) return live.turn.log;
    const last = live?.lastTurn;
    if (last?.finishedAt && Date.now() - last.finishedAt < FINISHED_TURN_TTL_MS) return last;
    return undefined;
  }

  /**
   * Interrupts the running turn: a soft interrupt through the SDK first; if the turn has not
   * ended after the grace period, the sandbox's processes are killed. Resolves when the turn ended.
   * @returns false when no turn was running.
   */
  async interrupt(sessionId: string): Promise<boolean> {
    const running = this.live.get(sessionId)?.turn;
    if (!running) return false;
    running.interruptRequested = true;
    const { runner } = this.deps;
    runner.interrupt(sessionId, running.log.turnId);
    const timer = setTimeout(() => {
      if (running.log.finished) return;
      running.hostEnd = { outcome: 'interrupted' };
      void runner.abortTurn(
        sessionId,
        running.log.turnId,
        { message: 'interrupted', code: 'turn_interrupted' },
        'interrupted',
      );
    }, this.deps.config.interruptGraceMs);
    await running.ended;
    clearTimeout(timer);
    return true;
  }

  /**
   * Stops the session's sandbox (ending a running turn as interrupted). Used by end, pause and
   * eviction. Resolves when the process tree, cgroup and sockets are gone.
   */
  async stop(sessionId: string, reason: string): Promise<void> {
    const live = this.live.get(sessionId);
    if (!live) return;
    const { runner } = this.deps;
    const running = live.turn;
    if (running) {
      running.interruptRequested = true;
      running.hostEnd = {
        outcome: 'interrupted',
        error: { message: `the session was ${reason}`, code: 'turn_interrupted' },
      };
      await runner.abortTurn(
        sessionId,
        running.log.turnId,
        { message: `the session was ${reason}`, code: 'turn_interrupted' },
        'interrupted',
      );
      await running.ended;
    }
    await runner.stop(sessionId);
    this.live.delete(sessionId);
  }

  /**
   * Stops every session here, ending running turns (server shutdown). The runner itself is shut
   * down by its owner after this.
   */
  async shutdown(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.live.keys()].map((id) => this.stop(id, 'shut down').catch(() => undefined)));
    // Turns whose end is not stored yet stay open in the database: the next start closes them.
    for (const log of this.unsettled) log.abandon();
  }

  private entry(session: SessionRecord): LiveSession {
    let live = this.live.get(session.id);
    if (!live) {
      live = {
        sessionId: session.id,
        tenantId: session.tenantId,
        credentialId: session.credentialId,
        turn: undefined,
        lastTurn: undefined,
        queuePosition: 0,
        releasing: undefined,
      };
      this.live.set(session.id, live);
    }
    return live;
  }

  /**
   * The session's sandbox on the runner: the live one, the start under way, or a new start with
   * `slot` (else a slot reserved by the runner). A new start waits its turn in the runner's start
   * queue; its permit is held until the Claude process is up.
   */
  private async ensureSandbox(
    live: LiveSession,
    session: SessionRecord,
    slot?: SlotReservation,
  ): Promise<void> {
    await this.deps.runner.ensureSandbox(session.id, this.starter(live, session), slot);
  }

  /** The session engine's part of a sandbox start: claim, spec, queue notices, telemetry. */
  private starter(live: LiveSession, session: SessionRecord): SandboxStarter {
    let started: { end(err: unknown): void } | undefined;
    return {
      onQueuePosition: (position) => this.onQueuePosition(live, position),
      prepare: async () => {
        const spec = await this.prepareStart(live, session);
        started = this.traces.sandboxStart(session.id);
        return spec;
      },
      onStarted: (err) => {
        live.queuePosition = 0;
        started?.end(err); // none when refused before the sandbox start itself
      },
      warmOptions: async () => ({
        options: await this.sdkOptions(session, {}),
        conversation: this.conversation(session),
      }),
    };
  }

  /**
   * Claims the session for this server (a sandbox runs only on the session's owner) and says what
   * its sandbox starts with: the agent's env and limits, the credential's variables and key.
   * @throws AppError 409 `session_owned_elsewhere`, 404 `session_not_found`, the credential's errors.
   */
  private async prepareStart(live: LiveSession, session: SessionRecord): Promise<SandboxSpec> {
    const { repos, config } = this.deps;
    const now = Date.now();
    const owned = await repos.sessions.claimOwnership(
      session.tenantId,
      session.id,
      this.deps.ownerId,
      new Date(now).toISOString(),
      new Date(now - config.ownerLeaseMs).toISOString(),
    );
    if (!owned) {
      const current = await repos.sessions.get(session.tenantId, session.id);
      if (current && ownedElsewhere(current, this.deps.ownerId, config.ownerLeaseMs))
        throw ownedElsewhereError(current, config.ownerLeaseMs);
      throw notFound('session_not_found', 'Session', session.id);
    }
    const agent = await repos.agents.get(session.tenantId, session.agentName);
    // The session's credential: an anthropic key stays on the host (model proxy only); other
    // types become agent-visible variables. Checked again here: a credential deleted or
    // switched off since the session was created stops the session from starting a sandbox.
    const credential = session.credentialId
      ? await this.deps.credentials.resolve(session.tenantId, session.credentialId)
      : undefined;
    // Credentials bound to hosts: decrypted here for the egress proxy; the sandbox gets placeholders.
    const bindings = bindingsOf(agent?.config, session.config);
    live.egressBindings = await resolveBindings(
      this.deps.credentials,
      session.tenantId,
      bindings,
      bindableMcpServers(agent?.config, session.config),
    );
    const env: Record<string, string> = {
      ...(agent?.env ?? {}),
      ...(credential?.env ?? {}),
      ...session.extraEnv,
      ...bindingPlaceholders(bindings),
    };
    const modelKey = credential?.anthropicKey ?? config.anthropicApiKey;
    return {
      env,
      limits: limitOverrides(agent),
      model: this.modelHooks(live, session, () => modelKey),
      egress: this.egressFor(live, session, sessionEgressRules(agent?.config, session.config)),
    };
  }

  /**
   * The sandbox egress of a session: its rules (the latest ones, see {@link sdkOptions}), and
   * each connection streamed as an `egress` event of the running turn (between turns: metrics
   * only) and recorded in the usage ledger (the `onEgress` hook).
   */
  private egressFor(live: LiveSession, session: SessionRecord, rules: EgressRules) {
    live.egressRules = rules;
    return egressSpec(
      () => live.egressRules ?? rules,
      (data) => {
        // Only into a turn still streaming: never after its `done`.
        const log = live.turn?.log;
        const streaming = log && !log.finished && log.events.at(-1)?.event !== 'done';
        if (streaming) log.emit({ event: 'egress', data });
        try {
          this.deps.hooks?.onEgress?.({ session, turnId: log?.turnId }, data);
        } catch (err) {
          this.deps.log.error({ err: errText(err), sessionId: session.id }, 'usage hook failed');
        }
      },
      this.deps.telemetry?.metrics,
      () => live.egressBindings ?? [],
    );
  }

  /** The session's model-call hooks: its key, metering, budgets, traces. */
  private modelHooks(
    live: LiveSession,
    session: SessionRecord,
    resolveApiKey: () => string | undefined,
  ): ModelCallHooks {
    return {
      resolveApiKey,
      onUsage: (usage) => this.meterModelCall(live, session, usage),
      admit: () => this.admitModelCall(session),
      observe: () => this.traces.modelCall(live.sessionId, live.turn),
    };
  }

  /**
   * Releases a finished turn's slot in the database, recording the sequence numbers that are
   * stored (never ones handed out but lost). When the turn's end is not stored yet (full disk) or
   * the release fails, it is retried in the background until the store takes it, and
   * `live.releasing` tells new turns to wait (507 instead of a stuck 409). Resolves after the first
   * attempt.
   */
  private releaseWhenStored(live: LiveSession, session: SessionRecord, log: TurnLog): Promise<void> {
    let firstAttempt!: () => void;
    const attempted = new Promise<void>((r) => (firstAttempt = r));
    this.unsettled.add(log);
    const done = (async () => {
      for (let attempt = 1; ; attempt++) {
        await log.flush();
        if (!log.fullyStored) {
          firstAttempt(); // abandoned (shutdown): the next start closes the turn
          return;
        }
        try {
          await this.deps.repos.sessions.releaseTurn(
            session.id,
            log.turnId,
            log.storedCounters,
            new Date().toISOString(),
          );
          return;
        } catch (err) {
          if (attempt === 1)
            this.deps.log.error(
              { err: errText(err), sessionId: session.id },
              'could not release the turn slot; retrying',
            );
          firstAttempt();
          if (this.closed) return;
          await new Promise((r) => setTimeout(r, Math.min(2000, 100 * 2 ** attempt)));
        }
      }
    })().finally(() => {
      firstAttempt();
      this.unsettled.delete(log);
      if (live.releasing === done) live.releasing = undefined;
    });
    live.releasing = done;
    // A failed turn's end may wait long for the disk: its stream ends now, the release follows.
    return log.persistFailure ? Promise.resolve() : attempted;
  }

  /** Agent config + session config + turn options → what the bridge passes to the SDK (see session-options.ts). */
  private async sdkOptions(
    session: SessionRecord,
    body: Partial<SendMessageBody>,
  ): Promise<BridgeSdkOptions> {
    const agent = await this.deps.repos.agents.get(session.tenantId, session.agentName);
    // A policy change (agent redeployed, session config patched) applies from this turn on.
    const live = this.live.get(session.id);
    if (live) {
      live.egressRules = sessionEgressRules(agent?.config, session.config);
      // A binding whose credential was deleted or switched off since fails the turn (400
      // invalid_credential); meanwhile no stale value is injected.
      live.egressBindings = [];
      live.egressBindings = await resolveBindings(
        this.deps.credentials,
        session.tenantId,
        bindingsOf(agent?.config, session.config),
        bindableMcpServers(agent?.config, session.config),
      );
    }
    return resolveSdkOptions(agent?.config ?? {}, session, body);
  }

  /** Asks the usage hook whether the session may make another model call (budgets). */
  private async admitModelCall(
    session: SessionRecord,
  ): Promise<{ status: number; type: string; message: string } | undefined> {
    const refused = await this.deps.hooks?.admitModelCall?.(session);
    return refused && { status: 403, type: 'permission_error', message: refused.message };
  }

  /** Hands a metered model call to the usage hook, with a way to end the running turn (budgets). */
  private meterModelCall(live: LiveSession, session: SessionRecord, usage: ModelCallUsage): void {
    const hooks = this.deps.hooks;
    if (!hooks?.onModelUsage) return;
    const running = live.turn;
    // Ends the turn like an interrupt (the SDK's soft interrupt, so the Claude process stays
    // usable for the next turn; killed after the grace period) but with outcome `error`.
    const endTurn = (error: TurnEndError) => {
      if (!running || running.log.finished || live.turn !== running || running.hostEnd) return;
      running.hostEnd = { outcome: 'error', error };
      const { turnId } = running.log;
      const { runner } = this.deps;
      runner.interrupt(live.sessionId, turnId);
      const timer = setTimeout(() => {
        if (!running.log.finished) void runner.abortTurn(live.sessionId, turnId, error);
      }, this.deps.config.interruptGraceMs);
      void running.ended.then(() => clearTimeout(timer));
    };
    try {
      hooks.onModelUsage({ session, turnId: running?.log.turnId, endTurn }, usage);
    } catch (err) {
      this.deps.log.error({ err: errText(err), sessionId: session.id }, 'usage hook failed');
    }
  }

  /**
   * Resolves when the session's running turn on this server has ended, or after `pollMs` when
   * none runs here (a turn starting, or one on another server): callers then retry their claim.
   */
  async waitForTurnEnd(sessionId: string, pollMs: number): Promise<void> {
    const running = this.live.get(sessionId)?.turn;
    if (running) await running.ended;
    else await new Promise((r) => setTimeout(r, pollMs));
  }

  private conversation(session: SessionRecord): Conversation {
    return session.parentSessionId
      ? { sessionId: session.id, forkFrom: session.parentSessionId }
      : { sessionId: session.id };
  }

  /**
   * A tool call of the turn waits for the client: recorded (`permission_request` /
   * `custom_tool_use`), handed to the `onToolRequest` hook, answered through the runner.
   */
  private requestTool(
    running: RunningTurn,
    session: SessionRecord,
    req: ToolRequestEvent,
    answered: () => void,
  ): void {
    const { log } = running;
    const { runner } = this.deps;
    let done = false;
    const answer = (a: ToolAnswer): number | false => {
      if (done || log.finished || this.live.get(session.id)?.turn !== running) return false;
      done = true;
      const base = { id: req.requestId, kind: req.kind };
      const recorded = log.emit({
        event: 'tool_answer',
        data:
          a.type === 'result'
            ? { ...base, result: 'result', content: a.content, isError: a.isError }
            : a.type === 'deny'
              ? { ...base, result: 'deny', denyMessage: a.message }
              : { ...base, result: 'allow' },
      });
      runner.answerToolRequest(session.id, req.requestId, a);
      answered();
      return recorded?.id ?? 0;
    };
    const hook = this.deps.onToolRequest;
    // A decision recorded earlier answers at once, without a request event.
    const now = hook?.({ session, turnId: log.turnId, request: req, answer });
    if (now) {
      done = true;
      runner.answerToolRequest(session.id, req.requestId, now);
      answered();
      return;
    }
    const data = { id: req.requestId, name: req.name, input: req.input };
    log.emit(
      req.kind === 'permission' ? { event: 'permission_request', data } : { event: 'custom_tool_use', data },
    );
    if (!hook) answer({ type: 'deny', message: 'this server does not answer tool requests' });
  }

  private async execute(
    live: LiveSession,
    running: RunningTurn,
    session: SessionRecord,
    body: SendMessageBody,
    prompt: MessageContent,
    slot: SlotReservation | undefined,
    /** A turn taken over from a dead server: its events from runner event number `from` on. */
    adopted?: { turn: SandboxTurn; from: number },
  ): Promise<void> {
    const { log } = running;
    const { config } = this.deps;
    let outcome: TurnOutcome = 'error';
    let watchdog: NodeJS.Timeout | undefined;
    const startedAt = Date.now();
    let firstEventAt: number | undefined;
    this.deps.log.debug({ sessionId: session.id, turnId: log.turnId }, 'turn started');
    const { runner } = this.deps;
    let turn: SandboxTurn | undefined;
    /** Tool calls waiting for the client: the idle watchdog is off meanwhile (they may wait for days). */
    let waiting = 0;
    /** The runner's number of the next event (a turn's events are numbered from 0). */
    let source = adopted?.from ?? 0;
    try {
      if (adopted) turn = adopted.turn;
      const refused = adopted ? undefined : await this.deps.hooks?.beforeTurn?.(session, log.turnId);
      if (refused) {
        log.emit({ event: 'error', data: { error: refused.message, code: refused.code } });
        return;
      }
      if (!adopted) {
        if (live.queuePosition > 0) log.notice(`queued position=${live.queuePosition}`);
        // No live sandbox: the client hears that one is starting (its stream is already open) and
        // when it is up, instead of a silent wait.
        const cold = !runner.hasLiveSandbox(session.id);
        const waitFrom = Date.now();
        // A start takes a while: the stream opens now (`session_start`, then `sandbox_starting`).
        if (cold) log.releaseWrites();
        if (cold) log.emit({ event: 'sandbox_starting', data: { sessionId: session.id } });
        await this.ensureSandbox(live, session, slot);
        if (cold)
          log.emit({
            event: 'sandbox_ready',
            data: { sessionId: session.id, waitMs: Date.now() - waitFrom },
          });
        if (log.persistFailure) return; // the user message could not be stored during the start: nothing runs
        if (running.interruptRequested) {
          outcome = 'interrupted';
          return;
        }
        const options = await this.sdkOptions(session, body);
        turn = runner.runTurn(session.id, {
          turnId: log.turnId,
          prompt,
          options,
          conversation: this.conversation(session),
        });
        // The sandbox has the message: now the user message and `session_start` are stored (and
        // streamed). Durability trails the start by these few statements only; `done` still
        // waits for every event (flush below), and a failed write ends the turn.
        log.releaseWrites();
      }
      if (!turn) return;
      const arm = () => {
        if (watchdog) clearTimeout(watchdog);
        if (waiting > 0) return;
        watchdog = setTimeout(() => {
          this.deps.log.warn(
            { sessionId: session.id, turnId: log.turnId },
            'turn produced no event in time; ending it',
          );
          void runner.abortTurn(session.id, log.turnId, {
            message: `the turn produced no event for ${config.turnIdleTimeoutMs} ms`,
            code: 'turn_timeout',
          });
        }, config.turnIdleTimeoutMs);
      };
      arm();
      for await (const ev of turn.events) {
        arm();
        // Stored with what it becomes: a server taking the turn over resumes after it.
        log.source = source++;
        if (firstEventAt === undefined) {
          firstEventAt = Date.now(); // the Claude process is up (the runner let the next start go)
          this.traces.firstEvent((firstEventAt - startedAt) / 1000);
        }
        if (ev.ev === 'tool_request') {
          waiting++;
          arm();
          this.requestTool(running, session, ev, () => {
            waiting--;
            arm();
          });
          log.source = undefined;
          continue;
        }
        outcome =
          applyTurnEvent(log, ev, running, {
            includePartialMessages: body.includePartialMessages === true,
            scrub: (text) => this.deps.scrubber.scrub(text),
            onTool: (se) => this.traces.tool(running, se),
          }) ?? outcome;
        log.source = undefined;
      }
    } catch (err) {
      log.source = undefined;
      const { code, message } = describeFailure(err);
      log.emit({ event: 'error', data: { error: this.deps.scrubber.scrub(message), code } });
      outcome = 'error';
    } finally {
      if (watchdog) clearTimeout(watchdog);
      slot?.release();
      if (!runner.isStarting(session.id)) runner.settleStart(session.id);
      if (!log.persistFailure)
        log.emit({ event: 'done', data: { sessionId: session.id, turnId: log.turnId, outcome } });
      const persist = this.traces.persistSpan(running);
      await log.flush();
      const failure = log.persistFailure;
      if (failure) {
        // Nothing unstored was sent: the turn ends right after the last stored event, saying why.
        outcome = 'error';
        persist?.fail(failure.message);
        log.emitFinal({ event: 'error', data: { error: failure.message, code: failure.code } });
        log.emitFinal({ event: 'done', data: { sessionId: session.id, turnId: log.turnId, outcome } });
      }
      log.finish();
      await this.releaseWhenStored(live, session, log);
      persist?.end();
      this.traces.endTurn(running, outcome, Date.now() - startedAt);
      if (live.turn === running) live.turn = undefined;
      live.lastTurn = log;
      runner.unpin(session.id);
      this.deps.hooks?.afterTurn?.(session, log, outcome, turn?.cpuSeconds());
      this.deps.log.info(
        {
          sessionId: session.id,
          turnId: log.turnId,
          outcome,
          durationMs: Date.now() - startedAt,
          firstEventMs: firstEventAt ? firstEventAt - startedAt : null,
          events: log.events.length,
        },
        'turn finished',
      );
    }
  }
}

/** Output kept per stream of an `exec` command, bytes. */
const EXEC_MAX_OUTPUT_BYTES = 1024 * 1024;

function describeFailure(err: unknown): { code: ErrorCode; message: string } {
  if (err instanceof AppError) return { code: err.code, message: err.detail };
  if (err instanceof RunnerCapacityError) return { code: 'capacity_reached', message: err.message };
  if (err instanceof RunnerClosedError) return { code: 'sandbox_unavailable', message: err.message };
  if (isStorageFull(err))
    return { code: 'insufficient_storage', message: "the server's data disk is full; the turn was stopped" };
  if (err instanceof SandboxStartError)
    return { code: 'sandbox_unavailable', message: `the sandbox could not start: ${err.message}` };
  return { code: 'internal_error', message: 'the turn failed unexpectedly' };
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A runner's (or any) error as the AppError the routes answer with (capacity: 503 + Retry-After). */
function asAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof RunnerCapacityError)
    return new AppError('capacity_reached', err.message, {
      headers: { 'Retry-After': String(err.retryAfterSeconds) },
    });
  const f = describeFailure(err);
  return new AppError(f.code, f.message);
}

/** An agent's `limits` overrides, when it sets any. */
function limitOverrides(agent: AgentRecord | undefined): Record<string, unknown> | undefined {
  const override = agent?.config.limits;
  return override && typeof override === 'object' ? (override as Record<string, unknown>) : undefined;
}

/** An agent's `runnerLabels` (validated at deploy): `k=v` string pairs. */
function isLabels(v: unknown): v is Record<string, string> {
  return (
    !!v && typeof v === 'object' && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string')
  );
}
