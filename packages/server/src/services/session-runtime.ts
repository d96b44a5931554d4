import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import {
  classifySdkMessage,
  sdkMessageText,
  type BridgeSdkOptions,
  type Conversation,
  type ErrorCode,
  type MessageContent,
  type SendMessageBody,
  type ErrorData,
  type ToolAnswer,
  type ToolRequestEvent,
  type TurnOutcome,
} from '@ash-ai/shared';
import type { ExecResult, LogEntry, PoolStats } from '@ash-ai/shared';
import {
  resolveLimits,
  SandboxStartError,
  type ModelCallObserver,
  type ModelCallUsage,
  type Sandbox,
  type SandboxManager,
  type TurnEvent,
} from '@ash-ai/sandbox';
import { rm } from 'node:fs/promises';
import type { Config } from '../config.js';
import type { AgentRecord, Repos, SessionRecord } from '../db/repos/index.js';
import { AppError, isStorageFull, notFound } from '../errors.js';
import type { AgentStore } from '../storage/agent-store.js';
import { AsyncLock } from './async-lock.js';
import { PoolCounters } from './pool-stats.js';
import type { CredentialResolver } from './credential-service.js';
import { resolveSdkOptions } from './session-options.js';
import { egressSpec, sessionEgressRules } from './egress.js';
import type { EgressRules } from '@ash-ai/sandbox';
import type { SessionPaths } from './session-paths.js';
import type { PathScrubber } from './text-safety.js';
import { StartGate, type StartTicket } from './start-gate.js';
import { TurnLog } from './turn-log.js';
import type { DiskGuard } from './disk-guard.js';
import { ownedElsewhere, ownedElsewhereError } from './session-ownership.js';
import type { Telemetry } from '../telemetry/telemetry.js';
import { NOOP_SPAN, type TraceSpan } from '../telemetry/tracing.js';

/** How long a new turn waits for the previous turn's pending release (full disk), ms. */
const RELEASE_WAIT_MS = 2000;

/** How long a finished turn stays in memory for late reconnects, ms. */
const FINISHED_TURN_TTL_MS = 5 * 60_000;

interface LiveSession {
  sessionId: string;
  tenantId: string;
  credentialId: string | null;
  sandbox: Sandbox | undefined;
  starting: Promise<Sandbox> | undefined;
  turn: RunningTurn | undefined;
  lastTurn: TurnLog | undefined;
  /** The prewarm's slot reservation under way (a turn waits for it rather than reserving twice). */
  reserving: Promise<SlotReservation | undefined> | undefined;
  /** The start permit, held from the sandbox start until its Claude process is up. */
  permit: StartTicket | undefined;
  /** Place of this session's sandbox start in the start queue (0: not waiting). */
  queuePosition: number;
  /** A finished turn's slot release still being retried (its end not stored yet: full disk). */
  releasing: Promise<void> | undefined;
  /** Turns being started (never evicted meanwhile: their sandbox is about to be used). */
  claiming: number;
  /** Effective network policy (agent ∩ session), refreshed at each sandbox start and turn. */
  egressRules?: EgressRules;
}

/** A reserved sandbox slot: counts as used until released (the started sandbox then counts itself). */
export interface SlotReservation {
  /** Idempotent. */
  release(): void;
}

interface RunningTurn {
  log: TurnLog;
  /** Resolves when the turn has ended and released its slot. */
  ended: Promise<void>;
  interruptRequested: boolean;
  /** Why the host ended the turn, when it did. */
  hostEnd?: { outcome: TurnOutcome; error?: { message: string; code: ErrorCode } };
  /** The turn's span (a no-op without tracing). */
  span: TraceSpan;
  /** Tool calls under way, by tool-use id. */
  tools: Map<string, { name: string; startedAt: number; span: TraceSpan }>;
}

export interface SessionRuntimeDeps {
  repos: Repos;
  sandboxes: SandboxManager;
  paths: SessionPaths;
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
   * false when the turn is already over, else the sequence of the recorded answer). It may instead return an answer at once (a decision
   * recorded earlier): the call then goes on without a request event. Without a handler every
   * request is denied.
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

/** An error a hook ends a turn with. */
export interface TurnEndError {
  code: ErrorCode;
  message: string;
}

/**
 * Hooks into a session's turns (usage ledger, budgets). All optional; none may throw.
 */
export interface TurnHooks {
  /** Before a turn runs; an error returned ends the turn at once with that `error` (e.g. a spent budget). */
  beforeTurn?(session: SessionRecord, turnId: string): Promise<TurnEndError | undefined>;
  /**
   * After a turn ended (its events are final). `cpuSeconds`: CPU time (user + system) the
   * sandbox's processes used while it ran (cgroup accounting), undefined when not measurable.
   */
  afterTurn?(
    session: SessionRecord,
    log: TurnLog,
    outcome: TurnOutcome,
    cpuSeconds: number | undefined,
  ): void;
  /**
   * One model response metered by the session's model proxy. `turnId` is the turn running when it
   * completed (undefined outside turns); `endTurn` ends that turn with an `error` event.
   */
  onModelUsage?(
    call: { session: SessionRecord; turnId: string | undefined; endTurn: (error: TurnEndError) => void },
    usage: ModelCallUsage,
  ): void;
  /** Before the session's proxy forwards a model call; an error refuses it (the proxy answers 403). */
  admitModelCall?(session: SessionRecord): Promise<TurnEndError | undefined>;
}

/** A pre-warmed sandbox waiting for a session: its id is the id the session will get. */
interface WarmSpare {
  id: string;
  tenantId: string;
  agentName: string;
  agentVersion: number;
  sandbox: Sandbox | undefined;
  ready: Promise<Sandbox | undefined>;
  createdAt: number;
  /** The session's metering hooks, bound when a session takes the spare over. */
  onUsage?: (usage: ModelCallUsage) => void;
  observe?: () => ModelCallObserver | undefined;
  admit?: () => Promise<{ status: number; type: string; message: string } | undefined>;
  /** The session's egress hooks, bound when a session takes the spare over. */
  egressLive?: LiveSession;
  /** Set once the spare is being discarded: every discard of it waits for the same one. */
  discarded?: Promise<void>;
}

const spareKey = (tenantId: string, agentName: string) => `${tenantId}\u0000${agentName}`;

/**
 * Runs sessions on this server: starts their sandboxes, runs one turn at a time per session,
 * records every event, and stops sandboxes on end, pause and shutdown. HTTP-free: routes call it.
 */
export class SessionRuntime {
  private readonly live = new Map<string, LiveSession>();
  private readonly spares = new Map<string, WarmSpare[]>();
  private readonly replenishing = new Set<string>();
  private readonly refillAgain = new Map<string, { agent: AgentRecord; count: number }>();
  /** Per agent: bumped by {@link dropSpares}, so a refill begun before the drop starts nothing after it. */
  private readonly spareGeneration = new Map<string, number>();
  private readonly slotLock = new AsyncLock();
  /** Slots reserved for sandboxes being started (not yet in the manager's list). */
  private reservedSlots = 0;
  /** Admission control of sandbox starts (ASH_MAX_CONCURRENT_STARTS). */
  readonly startGate: StartGate;
  /** Finished turns whose end is not stored yet (given up at shutdown). */
  private readonly unsettled = new Set<TurnLog>();
  private sweepTimer: NodeJS.Timeout | undefined;
  private closed = false;
  readonly counters = new PoolCounters();

  constructor(private readonly deps: SessionRuntimeDeps) {
    this.startGate = new StartGate({
      maxConcurrent: deps.config.maxConcurrentStarts,
      maxQueued: deps.config.startQueueMax,
      maxWaitMs: deps.config.startQueueTimeoutMs,
    });
  }

  /** Starts the idle sweep (stops sandboxes of sessions idle longer than ASH_IDLE_TIMEOUT_MS). */
  start(): void {
    const every = Math.max(250, Math.min(60_000, Math.floor(this.deps.config.idleTimeoutMs / 2)));
    this.sweepTimer = setInterval(() => void this.sweepIdle().catch(() => undefined), every);
    this.sweepTimer.unref();
  }

  /** Sandboxes alive or being started here (sessions and warm spares). */
  get liveSandboxCount(): number {
    return this.deps.sandboxes.all().length;
  }

  /** Pool figures for /health and /metrics. */
  stats(): PoolStats {
    const all = this.deps.sandboxes.all();
    let warm = 0;
    for (const list of this.spares.values()) warm += list.filter((s) => s.sandbox?.state === 'ready').length;
    const running = this.runningTurnCount;
    const idle = Math.max(0, all.length - running - warm);
    return {
      live: all.length,
      running,
      idle,
      warm,
      starting: this.reservedSlots,
      startsRunning: this.startGate.stats.starting,
      startsQueued: this.startGate.stats.queued,
      maxCapacity: this.deps.config.maxSandboxes,
      preWarmHits: this.counters.preWarmHits,
      resumeWarmHits: this.counters.resumeWarmHits,
      resumeColdHits: this.counters.resumeColdHits,
      evictions: this.counters.evictions,
      total: all.length,
      cold: 0,
      warming: this.reservedSlots,
      waiting: idle,
    };
  }

  /** Resident memory of each live sandbox's processes, bytes (cgroup accounting). */
  memoryBySandbox(): Array<{ id: string; bytes: number }> {
    return this.deps.sandboxes.all().map((s) => ({ id: s.id, bytes: s.memoryBytes() ?? 0 }));
  }

  /**
   * Makes sure a new sandbox can start: a free slot, or one made by evicting a warm spare or the
   * least recently used idle session (which is paused).
   * @throws AppError 503 `capacity_reached` (with Retry-After) when every sandbox is busy.
   */
  async ensureCapacity(): Promise<void> {
    (await this.reserveSlot()).release();
  }

  /**
   * Reserves a slot for a sandbox about to start, atomically with the check (so concurrent starts
   * never exceed ASH_MAX_SANDBOXES), evicting as {@link ensureCapacity} does. Release it once the
   * sandbox is started (it then counts itself) or when the start is given up.
   * @throws AppError 503 `capacity_reached` (with Retry-After) when every sandbox is busy.
   */
  async reserveSlot(): Promise<SlotReservation> {
    return this.slotLock.run(async () => {
      if (this.usedSlots() >= this.deps.config.maxSandboxes && !(await this.evictOne())) {
        throw new AppError('capacity_reached', 'every sandbox is busy; retry later', {
          headers: { 'Retry-After': '5' },
        });
      }
      this.reservedSlots++;
      let held = true;
      return {
        release: () => {
          if (!held) return;
          held = false;
          this.reservedSlots--;
        },
      };
    });
  }

  private usedSlots(): number {
    return this.deps.sandboxes.all().length + this.reservedSlots;
  }

  /** Frees one slot: the oldest warm spare first, else the least recently used idle session. */
  private async evictOne(): Promise<boolean> {
    let oldest: WarmSpare | undefined;
    for (const list of this.spares.values())
      for (const s of list) if (s.sandbox && (!oldest || s.createdAt < oldest.createdAt)) oldest = s;
    if (oldest) {
      await this.discardSpare(oldest);
      this.counters.evictions++;
      return true;
    }
    let lru: LiveSession | undefined;
    for (const l of this.live.values()) {
      if (l.turn || l.claiming || l.starting || !l.sandbox || l.sandbox.state !== 'ready' || l.sandbox.busy)
        continue;
      if (!lru || l.sandbox.lastUsedAt < lru.sandbox!.lastUsedAt) lru = l;
    }
    if (!lru) return false;
    await this.evictSession(lru, 'capacity');
    return true;
  }

  private async evictSession(l: LiveSession, reason: 'idle' | 'capacity'): Promise<void> {
    this.counters.evictions++;
    if (reason === 'idle') this.counters.idleSweeps++;
    this.deps.log.info(
      { sessionId: l.sessionId, reason },
      'stopping an idle session sandbox (session paused)',
    );
    await this.stop(l.sessionId, 'evicted');
    if (!(await this.releaseStopped(l))) return;
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
      if (l.tenantId !== tenantId || l.credentialId !== credentialId || (!l.sandbox && !l.starting)) continue;
      await this.stop(l.sessionId, 'paused because its credential was revoked');
      if (!(await this.releaseStopped(l))) continue;
      await this.deps.onSessionEvicted?.({ id: l.sessionId, tenantId: l.tenantId }, 'credential_revoked');
      n++;
    }
    return n;
  }

  /** Stops the sandboxes of sessions idle for longer than the idle timeout. */
  async sweepIdle(now = Date.now()): Promise<number> {
    let n = 0;
    // Warm spares nobody took within the idle timeout go too (the agent's next session brings
    // them back), so agents nobody uses do not hold processes.
    for (const list of [...this.spares.values()]) {
      for (const spare of [...list]) {
        if (spare.sandbox && now - spare.createdAt >= this.deps.config.idleTimeoutMs) {
          await this.discardSpare(spare);
          n++;
        }
      }
    }
    for (const l of [...this.live.values()]) {
      const sb = l.sandbox;
      if (l.turn || l.claiming || l.starting || !sb || sb.state !== 'ready' || sb.busy) continue;
      if (now - sb.lastUsedAt < this.deps.config.idleTimeoutMs) continue;
      await this.evictSession(l, 'idle');
      n++;
    }
    return n;
  }

  /**
   * Keeps `count` pre-warmed sandboxes for an agent's current version: each has its workspace
   * copied and its Claude process started under an id the next session of that agent will take.
   * Spares of other versions are stopped. Failures are logged.
   */
  async replenishSpares(agent: AgentRecord, count: number): Promise<void> {
    if (this.closed) return;
    const key = spareKey(agent.tenantId, agent.name);
    if (this.replenishing.has(key)) {
      // One refill per agent at a time; the latest request runs when the current one ends.
      this.refillAgain.set(key, { agent, count });
      return;
    }
    this.replenishing.add(key);
    try {
      await this.refill(agent, key, count);
    } finally {
      this.replenishing.delete(key);
    }
    const again = this.refillAgain.get(key);
    if (again) {
      this.refillAgain.delete(key);
      await this.replenishSpares(again.agent, again.count);
    }
  }

  private async refill(agent: AgentRecord, key: string, count: number): Promise<void> {
    const generation = this.spareGeneration.get(key) ?? 0;
    const list = this.spares.get(key) ?? [];
    for (const stale of list.filter((s) => s.agentVersion !== agent.version)) await this.discardSpare(stale);
    const current = (this.spares.get(key) ?? []).filter((s) => s.agentVersion === agent.version);
    for (let i = current.length; i < count; i++) {
      let slot: SlotReservation;
      try {
        slot = await this.reserveSlot();
      } catch {
        return; // no room: spares are an optimisation
      }
      // The agent's spares were dropped meanwhile (delete, env change), or the agent is gone or
      // redeployed (a delete drops its spares again once the record is gone): start none for it.
      const dropped = () => this.closed || (this.spareGeneration.get(key) ?? 0) !== generation;
      if (dropped()) {
        slot.release();
        return;
      }
      const record = await this.deps.repos.agents.get(agent.tenantId, agent.name);
      if (!record || record.version !== agent.version || dropped()) {
        slot.release();
        return;
      }
      this.startSpare(agent, slot);
    }
  }

  /**
   * Stops every spare of an agent (on delete, and before replacing them) and resolves only once
   * they are gone, folders included: spares still starting are waited for (their start copies
   * the agent's folder into the spare's), and no refill begun earlier starts another one. So the
   * caller may then remove or replace the agent's folders without racing a start.
   */
  async dropSpares(tenantId: string, agentName: string): Promise<void> {
    const key = spareKey(tenantId, agentName);
    this.spareGeneration.set(key, (this.spareGeneration.get(key) ?? 0) + 1);
    this.refillAgain.delete(key);
    await Promise.all([...(this.spares.get(key) ?? [])].map((s) => this.discardSpare(s)));
  }

  /**
   * Takes a ready spare of this agent version, if any. The caller must create the session with
   * the spare's id and then call {@link adoptSpare}.
   */
  takeSpare(tenantId: string, agentName: string, agentVersion: number): WarmSpare | undefined {
    const list = this.spares.get(spareKey(tenantId, agentName));
    const i =
      list?.findIndex(
        (s) => s.agentVersion === agentVersion && s.sandbox?.state === 'ready' && !s.sandbox.busy,
      ) ?? -1;
    if (!list || i < 0) {
      this.counters.preWarmMisses++;
      return undefined;
    }
    const [spare] = list.splice(i, 1);
    this.counters.preWarmHits++;
    return spare;
  }

  /** Attaches a taken spare's sandbox to its (now created) session. */
  adoptSpare(spare: WarmSpare, session: SessionRecord): void {
    const live = this.entry(session);
    spare.onUsage = (usage) => this.meterModelCall(live, session, usage);
    spare.observe = () => this.observeModelCall(live);
    spare.admit = () => this.admitModelCall(session);
    spare.egressLive = live;
    live.sandbox = spare.sandbox;
    spare.sandbox?.onExit(() => {
      if (live.sandbox === spare.sandbox) live.sandbox = undefined;
    });
  }

  private startSpare(agent: AgentRecord, slot: SlotReservation): void {
    const id = randomUUID();
    const key = spareKey(agent.tenantId, agent.name);
    const spare: WarmSpare = {
      id,
      tenantId: agent.tenantId,
      agentName: agent.name,
      agentVersion: agent.version,
      sandbox: undefined,
      ready: Promise.resolve(undefined),
      createdAt: Date.now(),
    };
    const list = this.spares.get(key) ?? [];
    list.push(spare);
    this.spares.set(key, list);
    spare.ready = (async () => {
      let ticket: StartTicket | undefined;
      try {
        const { agents, paths, sandboxes } = this.deps;
        // A spare boots a Claude process too: it takes its turn at the start gate.
        ticket = this.startGate.acquire();
        await ticket.granted;
        await agents.copyToWorkspace(agent.tenantId, agent.name, agent.version, paths.workspace(id));
        // Discarded while copying: start no sandbox (the discard removes the folder once this ends).
        if (!list.includes(spare)) return undefined;
        const sandbox = await sandboxes.start({
          id,
          workspaceDir: paths.workspace(id),
          claudeConfigDir: paths.claudeConfig(id),
          env: { ...agent.env },
          limits: this.limitsFor(agent),
          resolveApiKey: () => this.deps.config.anthropicApiKey,
          onUsage: (usage) => spare.onUsage?.(usage),
          admit: async () => spare.admit?.(),
          observe: () => spare.observe?.(),
          egress: this.egressFor(spare, sessionEgressRules(agent.config)),
        });
        this.counters.sandboxStarts++;
        this.deps.telemetry?.metrics.sandboxStart.observe(
          { kind: 'spare', outcome: 'ok' },
          (Date.now() - spare.createdAt) / 1000,
        );
        sandbox.onExit(() => {
          if (spare.sandbox === sandbox) spare.sandbox = undefined;
        });
        // Claimable only once its Claude process is up: that is what makes it warm.
        const warmed = await sandbox.warm(resolveSdkOptions(agent.config, { config: {}, model: null }, {}), {
          sessionId: id,
        });
        if (!warmed || !list.includes(spare)) {
          await sandbox.stop();
          if (!warmed) throw new Error('the Claude process did not start');
          return undefined;
        }
        spare.sandbox = sandbox;
        // Idle from when it is warm (a start that waited at the start gate is not idle time).
        spare.createdAt = Date.now();
        return sandbox;
      } catch (err) {
        this.counters.sandboxStartFailures++;
        this.deps.log.warn({ err: errText(err), agent: agent.name }, 'could not start a warm sandbox');
        // A discard already under way waits for this start and cleans up after it.
        if (!spare.discarded) await this.discardSpare(spare, false);
        return undefined;
      } finally {
        ticket?.release();
        slot.release();
      }
    })();
  }

  /**
   * Takes a spare out of the pool, stops its sandbox and removes its folder. A spare still
   * starting is waited for first (`waitForStart`, except from inside its own start), so its
   * folder is never removed while the start writes into it; discarding a spare twice waits for
   * the one discard.
   */
  private discardSpare(spare: WarmSpare, waitForStart = true): Promise<void> {
    const key = spareKey(spare.tenantId, spare.agentName);
    const list = this.spares.get(key);
    if (list) {
      const i = list.indexOf(spare);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) this.spares.delete(key);
    }
    spare.discarded ??= (async () => {
      if (waitForStart) await spare.ready.catch(() => undefined);
      const sandbox = spare.sandbox;
      spare.sandbox = undefined;
      if (sandbox) await sandbox.stop();
      await rm(this.deps.paths.sessionDir(spare.id), { recursive: true, force: true, maxRetries: 3 });
    })();
    return spare.discarded;
  }

  private limitsFor(agent: AgentRecord | undefined) {
    const override = agent?.config.limits;
    return resolveLimits(
      this.deps.sandboxes.defaultLimits,
      override && typeof override === 'object' ? (override as Record<string, unknown>) : undefined,
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
    let sandbox: Sandbox;
    try {
      sandbox = await this.ensureSandbox(this.entry(session), session);
    } catch (err) {
      if (err instanceof AppError) throw err;
      const f = describeFailure(err);
      throw new AppError(f.code, f.message);
    }
    try {
      return await sandbox.exec(command, { timeoutMs, maxOutputBytes: EXEC_MAX_OUTPUT_BYTES });
    } catch (err) {
      this.deps.log.warn({ sessionId: session.id, err: errText(err) }, 'exec failed');
      throw new AppError('sandbox_unavailable', 'the command could not be started in the sandbox');
    }
  }

  /** The session's sandbox output ring after `after` (empty when it has no sandbox here). */
  logs(sessionId: string, after: number): LogEntry[] {
    return this.live.get(sessionId)?.sandbox?.logs.since(after) ?? [];
  }

  hasLiveSandbox(sessionId: string): boolean {
    return this.live.get(sessionId)?.sandbox?.state === 'ready';
  }

  /**
   * Starts a session's sandbox in the background (and its Claude process), so the first message
   * does not wait for it. Failures are logged; the first message retries.
   */
  prewarm(session: SessionRecord): void {
    if (this.closed) return;
    const live = this.entry(session);
    if (live.reserving) return;
    // A slot for a new start; a live sandbox or a start under way is only warmed.
    const reserving =
      live.sandbox?.state === 'ready' || live.starting
        ? Promise.resolve<SlotReservation | undefined>(undefined)
        : this.reserveSlot();
    live.reserving = reserving;
    const clear = () => {
      if (live.reserving === reserving) live.reserving = undefined;
    };
    void reserving
      .then(
        (slot) => {
          clear();
          return this.ensureSandbox(live, session, slot);
        },
        (err: unknown) => {
          clear();
          throw err;
        },
      )
      // A turn that got the sandbox first starts Claude with its own options: no warm-up then.
      .then(async (sb) =>
        live.turn ? true : sb.warm(await this.sdkOptions(session, {}), this.conversation(session)),
      )
      .catch((err: unknown) =>
        this.deps.log.warn({ sessionId: session.id, err: errText(err) }, 'prewarm failed'),
      )
      .finally(() => this.releasePermit(live));
  }

  /** The Claude process is up (or its start is over): the next queued start may go. */
  private releasePermit(live: LiveSession): void {
    const permit = live.permit;
    live.permit = undefined;
    permit?.release();
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
    if (known) known.claiming++;
    try {
      return await this.startTurnClaimed(session, body, prompt, known);
    } finally {
      if (known) known.claiming--;
    }
  }

  private async startTurnClaimed(
    session: SessionRecord,
    body: SendMessageBody,
    prompt: MessageContent,
    known: LiveSession | undefined,
  ): Promise<TurnLog> {
    await this.deps.diskGuard?.assertRoom('a new turn');
    // The last turn's end may still wait for the store (full disk): give it a moment.
    if (known?.releasing)
      await Promise.race([known.releasing, new Promise((r) => setTimeout(r, RELEASE_WAIT_MS).unref())]);
    // A session without a process needs a slot: reserved now (503 before any byte of the stream),
    // unless a start is already under way (the prewarm at creation holds one).
    if (known?.reserving) await known.reserving.catch(() => undefined);
    let slot: SlotReservation | undefined;
    if (!this.hasLiveSandbox(session.id) && !known?.starting) {
      if (!this.startGate.hasRoom())
        throw new AppError('capacity_reached', 'too many sandboxes are waiting to start; retry later', {
          headers: { 'Retry-After': '5' },
        });
      slot = await this.reserveSlot();
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
    const telemetry = this.deps.telemetry;
    const scope = { sessionId: record.id, turnId, tenantId: record.tenantId };
    // A turn is a span of the request that started it (joining the client's trace), or a trace of its own.
    const parent = telemetry?.current()?.span;
    const span = telemetry
      ? telemetry.tracing.start('ash.turn', {
          ...(parent ? { parent } : {}),
          attributes: {
            'ash.session_id': record.id,
            'ash.turn_id': turnId,
            'ash.tenant_id': record.tenantId,
            'ash.agent': record.agentName,
          },
        })
      : NOOP_SPAN;
    running.span = span;
    running.tools = new Map();
    live.turn = running;
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
    void (telemetry ? telemetry.run({ ...scope, span }, run) : run());
    return log;
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
    void live.sandbox?.abortTurn(running.log.turnId, failure).catch(() => undefined);
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
    const live = this.live.get(sessionId);
    live?.sandbox?.interrupt(running.log.turnId);
    const timer = setTimeout(() => {
      if (running.log.finished) return;
      running.hostEnd = { outcome: 'interrupted' };
      void live?.sandbox?.abortTurn(
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
    const running = live.turn;
    if (running) {
      running.interruptRequested = true;
      running.hostEnd = {
        outcome: 'interrupted',
        error: { message: `the session was ${reason}`, code: 'turn_interrupted' },
      };
      if (live.sandbox)
        await live.sandbox.abortTurn(
          running.log.turnId,
          { message: `the session was ${reason}`, code: 'turn_interrupted' },
          'interrupted',
        );
      await running.ended;
    }
    if (live.starting) await live.starting.catch(() => undefined);
    const sandbox = live.sandbox;
    live.sandbox = undefined;
    this.releasePermit(live);
    if (sandbox) await sandbox.stop();
    this.live.delete(sessionId);
  }

  /** Stops everything (server shutdown). */
  async shutdown(): Promise<void> {
    this.closed = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    for (const list of [...this.spares.values()])
      for (const s of [...list]) await s.ready.catch(() => undefined);
    for (const list of [...this.spares.values()]) for (const s of [...list]) await this.discardSpare(s);
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
        sandbox: undefined,
        starting: undefined,
        turn: undefined,
        lastTurn: undefined,
        reserving: undefined,
        permit: undefined,
        queuePosition: 0,
        releasing: undefined,
        claiming: 0,
      };
      this.live.set(session.id, live);
    }
    return live;
  }

  /**
   * The session's sandbox: the live one, the start under way, or a new start with `slot` (else a
   * slot reserved here). A new start waits its turn at the start gate; its permit is held (in
   * `live.permit`) until the Claude process is up.
   */
  private async ensureSandbox(
    live: LiveSession,
    session: SessionRecord,
    slot?: SlotReservation,
  ): Promise<Sandbox> {
    if (live.sandbox?.state === 'ready' || live.starting) slot?.release();
    if (live.sandbox?.state === 'ready') return live.sandbox;
    if (live.starting) return live.starting;
    const start = (async () => {
      const { sandboxes, paths, repos, config } = this.deps;
      const reservation = slot ?? (await this.reserveSlot());
      let ticket: StartTicket | undefined;
      try {
        ticket = this.startGate.acquire((position) => this.onQueuePosition(live, position));
        await ticket.granted;
        // A sandbox runs only on the session's owner: (re)claim it, atomically.
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
        const env: Record<string, string> = {
          ...(agent?.env ?? {}),
          ...(credential?.env ?? {}),
          ...session.extraEnv,
        };
        const modelKey = credential?.anthropicKey ?? config.anthropicApiKey;
        const startedAt = Date.now();
        const telemetry = this.deps.telemetry;
        const span = telemetry?.tracing.start('ash.sandbox.start', {
          ...(telemetry.current()?.span ? { parent: telemetry.current()!.span! } : {}),
          attributes: { 'ash.session_id': session.id },
        });
        const sandbox = await sandboxes
          .start({
            id: session.id,
            workspaceDir: paths.workspace(session.id),
            claudeConfigDir: paths.claudeConfig(session.id),
            env,
            limits: this.limitsFor(agent),
            resolveApiKey: () => modelKey,
            onUsage: (usage) => this.meterModelCall(live, session, usage),
            admit: () => this.admitModelCall(session),
            observe: () => this.observeModelCall(live),
            egress: this.egressFor(live, sessionEgressRules(agent?.config, session.config)),
          })
          .then(
            (sb) => {
              telemetry?.metrics.sandboxStart.observe(
                { kind: 'session', outcome: 'ok' },
                (Date.now() - startedAt) / 1000,
              );
              span?.end();
              return sb;
            },
            (err: unknown) => {
              telemetry?.metrics.sandboxStart.observe(
                { kind: 'session', outcome: 'error' },
                (Date.now() - startedAt) / 1000,
              );
              span?.fail(errText(err));
              span?.end();
              throw err;
            },
          );
        this.counters.sandboxStarts++;
        sandbox.onExit(() => {
          if (live.sandbox === sandbox) live.sandbox = undefined;
          if (live.permit === permit) this.releasePermit(live);
        });
        live.sandbox = sandbox;
        const permit = ticket;
        this.releasePermit(live);
        live.permit = permit;
        ticket = undefined;
        return sandbox;
      } catch (err) {
        if (!(err instanceof AppError)) this.counters.sandboxStartFailures++;
        throw err;
      } finally {
        ticket?.release();
        live.queuePosition = 0;
        reservation.release();
      }
    })();
    live.starting = start;
    try {
      return await start;
    } finally {
      if (live.starting === start) live.starting = undefined;
    }
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
    if (live) live.egressRules = sessionEgressRules(agent?.config, session.config);
    return resolveSdkOptions(agent?.config ?? {}, session, body);
  }

  /**
   * The sandbox egress of a session (or of a spare, until a session adopts it): its rules, and
   * each connection streamed as an `egress` event of the running turn (between turns: metrics only).
   */
  private egressFor(owner: LiveSession | WarmSpare, rules: EgressRules) {
    const liveOf = (): LiveSession | undefined => ('sessionId' in owner ? owner : owner.egressLive);
    const own = liveOf();
    if (own) own.egressRules = rules;
    return egressSpec(
      () => liveOf()?.egressRules ?? rules,
      (data) => {
        // Only into a turn still streaming: never after its `done`.
        const log = liveOf()?.turn?.log;
        if (log && !log.finished && log.events.at(-1)?.event !== 'done') log.emit({ event: 'egress', data });
      },
      this.deps.telemetry?.metrics,
    );
  }

  /** Asks the usage hook whether the session may make another model call (budgets). */
  private async admitModelCall(
    session: SessionRecord,
  ): Promise<{ status: number; type: string; message: string } | undefined> {
    const refused = await this.deps.hooks?.admitModelCall?.(session);
    return refused && { status: 403, type: 'permission_error', message: refused.message };
  }

  /**
   * Watches one model call of the session's proxy: a client span under the running turn (its
   * W3C `traceparent` goes upstream with the request) and the model request metrics.
   */
  private observeModelCall(live: LiveSession): ModelCallObserver | undefined {
    const telemetry = this.deps.telemetry;
    if (!telemetry) return undefined;
    const running = live.turn;
    const span = telemetry.tracing.start('ash.model.request', {
      kind: 'client',
      ...(running ? { parent: running.span } : {}),
      attributes: {
        'gen_ai.operation.name': 'chat',
        'gen_ai.system': 'anthropic',
        'ash.session_id': live.sessionId,
        'ash.turn_id': running?.log.turnId,
      },
    });
    const traceparent = span.traceparent();
    return {
      ...(traceparent ? { headers: { traceparent } } : {}),
      end: (o) => {
        const model = o.model ?? 'unknown';
        const { metrics } = telemetry;
        metrics.modelRequestDuration.observe({ model, status: String(o.status) }, o.durationMs / 1000);
        if (o.timeToFirstTokenMs !== undefined)
          metrics.timeToFirstToken.observe({ model }, o.timeToFirstTokenMs / 1000);
        span.set({
          'gen_ai.request.model': o.model,
          'gen_ai.response.id': o.usage?.messageId,
          'gen_ai.usage.input_tokens': o.usage?.inputTokens,
          'gen_ai.usage.output_tokens': o.usage?.outputTokens,
          'gen_ai.usage.cache_creation_input_tokens': o.usage?.cacheCreationInputTokens,
          'gen_ai.usage.cache_read_input_tokens': o.usage?.cacheReadInputTokens,
          'ash.model.time_to_first_token_ms': o.timeToFirstTokenMs,
          'http.response.status_code': o.status,
        });
        if (o.status === 0 || o.status >= 400) span.fail(`model API status ${o.status}`);
        span.end();
      },
    };
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
      live.sandbox?.interrupt(turnId);
      const timer = setTimeout(() => {
        if (!running.log.finished) void live.sandbox?.abortTurn(turnId, error);
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

  private async execute(
    live: LiveSession,
    running: RunningTurn,
    session: SessionRecord,
    body: SendMessageBody,
    prompt: MessageContent,
    slot: SlotReservation | undefined,
  ): Promise<void> {
    const { log } = running;
    const { config } = this.deps;
    let outcome: TurnOutcome = 'error';
    let watchdog: NodeJS.Timeout | undefined;
    const startedAt = Date.now();
    let firstEventAt: number | undefined;
    this.deps.log.debug({ sessionId: session.id, turnId: log.turnId }, 'turn started');
    let measured: { sandbox: Sandbox; cpuBefore: number } | undefined;
    /** Tool calls waiting for the client: the idle watchdog is off meanwhile (they may wait for days). */
    let waiting = 0;
    try {
      const refused = await this.deps.hooks?.beforeTurn?.(session, log.turnId);
      if (refused) {
        log.emit({ event: 'error', data: { error: refused.message, code: refused.code } });
        return;
      }
      if (live.queuePosition > 0) log.notice(`queued position=${live.queuePosition}`);
      // No live sandbox: the client hears that one is starting (its stream is already open) and
      // when it is up, instead of a silent wait.
      const cold = !this.hasLiveSandbox(session.id);
      const waitFrom = Date.now();
      if (cold) log.emit({ event: 'sandbox_starting', data: { sessionId: session.id } });
      const sandbox = await this.ensureSandbox(live, session, slot);
      if (cold)
        log.emit({ event: 'sandbox_ready', data: { sessionId: session.id, waitMs: Date.now() - waitFrom } });
      if (log.persistFailure) return; // the user message could not be stored: nothing runs
      if (running.interruptRequested) {
        outcome = 'interrupted';
        return;
      }
      const cpuBefore = sandbox.cpuSeconds();
      if (cpuBefore !== undefined) measured = { sandbox, cpuBefore };
      const events = sandbox.runTurn(
        log.turnId,
        prompt,
        await this.sdkOptions(session, body),
        this.conversation(session),
      );
      const arm = () => {
        if (watchdog) clearTimeout(watchdog);
        if (waiting > 0) return;
        watchdog = setTimeout(() => {
          this.deps.log.warn(
            { sessionId: session.id, turnId: log.turnId },
            'turn produced no event in time; ending it',
          );
          void sandbox.abortTurn(log.turnId, {
            message: `the turn produced no event for ${config.turnIdleTimeoutMs} ms`,
            code: 'turn_timeout',
          });
        }, config.turnIdleTimeoutMs);
      };
      arm();
      for await (const ev of events) {
        arm();
        if (firstEventAt === undefined) {
          firstEventAt = Date.now();
          this.releasePermit(live); // the Claude process is up
          this.deps.telemetry?.metrics.timeToFirstEvent.observe((firstEventAt - startedAt) / 1000);
        }
        if (ev.ev === 'tool_request') {
          waiting++;
          arm();
          this.requestTool(running, session, sandbox, ev, () => {
            waiting--;
            arm();
          });
          continue;
        }
        outcome = this.onBridgeEvent(log, ev, body.includePartialMessages === true, running) ?? outcome;
      }
    } catch (err) {
      const { code, message } = describeFailure(err);
      log.emit({ event: 'error', data: { error: this.deps.scrubber.scrub(message), code } });
      outcome = 'error';
    } finally {
      if (watchdog) clearTimeout(watchdog);
      slot?.release();
      if (live.permit && !live.starting) this.releasePermit(live);
      if (!log.persistFailure)
        log.emit({ event: 'done', data: { sessionId: session.id, turnId: log.turnId, outcome } });
      const telemetry = this.deps.telemetry;
      const persist = telemetry?.tracing.start('ash.persist', {
        parent: running.span,
        attributes: { 'ash.events': log.events.length },
      });
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
      this.endTurnTelemetry(running, outcome, Date.now() - startedAt);
      if (live.turn === running) live.turn = undefined;
      live.lastTurn = log;
      const cpuAfter = measured?.sandbox.cpuSeconds();
      this.deps.hooks?.afterTurn?.(
        session,
        log,
        outcome,
        measured && cpuAfter !== undefined ? Math.max(0, cpuAfter - measured.cpuBefore) : undefined,
      );
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

  /** A tool call's span and duration: from its `tool_use` to its `tool_result`. */
  private traceTool(
    running: RunningTurn,
    se:
      | { event: 'tool_use'; data: { id: string; name: string } }
      | { event: 'tool_result'; data: { tool_use_id: string; is_error: boolean } },
  ): void {
    const telemetry = this.deps.telemetry;
    if (!telemetry) return;
    if (se.event === 'tool_use') {
      const span = telemetry.tracing.start('ash.tool', {
        parent: running.span,
        attributes: { 'gen_ai.tool.name': se.data.name, 'gen_ai.tool.call.id': se.data.id },
      });
      running.tools.set(se.data.id, { name: se.data.name, startedAt: Date.now(), span });
      return;
    }
    const tool = running.tools.get(se.data.tool_use_id);
    if (!tool) return;
    running.tools.delete(se.data.tool_use_id);
    const status = se.data.is_error ? 'error' : 'ok';
    telemetry.metrics.toolDuration.observe({ tool: tool.name, status }, (Date.now() - tool.startedAt) / 1000);
    tool.span.set({ 'ash.tool.status': status, 'ash.tool.duration_ms': Date.now() - tool.startedAt });
    if (se.data.is_error) tool.span.fail('the tool returned an error');
    tool.span.end();
  }

  /** Ends the turn's span (and its unfinished tool spans) and records the turn metrics. */
  private endTurnTelemetry(running: RunningTurn, outcome: TurnOutcome, durationMs: number): void {
    const telemetry = this.deps.telemetry;
    if (!telemetry) return;
    for (const tool of running.tools.values()) {
      tool.span.set({ 'ash.tool.status': 'unfinished' });
      tool.span.end();
    }
    running.tools.clear();
    const { metrics } = telemetry;
    metrics.turns.inc({ outcome });
    metrics.turnDuration.observe({ outcome }, durationMs / 1000);
    for (const ev of running.log.events)
      if (ev.event === 'error') metrics.errors.inc({ code: ev.data.code ?? 'unknown', source: 'turn' });
    running.span.set({ 'ash.outcome': outcome, 'ash.events': running.log.events.length });
    if (outcome === 'error') running.span.fail('the turn ended with an error');
    running.span.end();
  }

  /**
   * A tool call of the turn waits for the client: recorded (`permission_request` /
   * `custom_tool_use`), handed to the `onToolRequest` hook, answered through the sandbox.
   */
  private requestTool(
    running: RunningTurn,
    session: SessionRecord,
    sandbox: Sandbox,
    req: ToolRequestEvent,
    answered: () => void,
  ): void {
    const { log } = running;
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
      sandbox.answerToolRequest(req.requestId, a);
      answered();
      return recorded?.id ?? 0;
    };
    const hook = this.deps.onToolRequest;
    // A decision recorded earlier answers at once, without a request event.
    const now = hook?.({ session, turnId: log.turnId, request: req, answer });
    if (now) {
      done = true;
      sandbox.answerToolRequest(req.requestId, now);
      answered();
      return;
    }
    const data = { id: req.requestId, name: req.name, input: req.input };
    log.emit(
      req.kind === 'permission' ? { event: 'permission_request', data } : { event: 'custom_tool_use', data },
    );
    if (!hook) answer({ type: 'deny', message: 'this server does not answer tool requests' });
  }

  /** Handles one bridge event of a turn; returns the outcome when the turn ended. */
  private onBridgeEvent(
    log: TurnLog,
    ev: Exclude<TurnEvent, { ev: 'tool_request' }>,
    includePartial: boolean,
    running: RunningTurn,
  ): TurnOutcome | undefined {
    if (ev.ev === 'message') {
      const msg = ev.data;
      for (const se of classifySdkMessage(msg, { includePartialMessages: includePartial })) {
        log.emit(se);
        if (se.event === 'tool_use' || se.event === 'tool_result') this.traceTool(running, se);
      }
      const type = msg.type;
      if (type === 'assistant' || type === 'user' || type === 'result') {
        log.addMessage({
          role: type === 'user' ? 'user' : 'assistant',
          type: String(type),
          content: msg,
          text: sdkMessageText(msg),
        });
      }
      return undefined;
    }
    let outcome = ev.outcome;
    if (running.interruptRequested && outcome !== 'completed') outcome = 'interrupted';
    const hostError =
      running.hostEnd?.outcome === 'error' && outcome !== 'completed' && running.hostEnd.error;
    if (hostError) {
      // Ended by a hook (a budget reached): its error, not the interrupt it used.
      log.emit({ event: 'error', data: { error: hostError.message, code: hostError.code } });
      return 'error';
    }
    if (outcome === 'error' && ev.error) {
      const data: ErrorData = {
        error: this.deps.scrubber.scrub(ev.error.message),
        code: ev.error.code,
      };
      if (ev.error.limit) data.limit = ev.error.limit;
      log.emit({ event: 'error', data });
    } else if (outcome === 'interrupted' && running.hostEnd?.error) {
      // Ended by the host (session ended/paused mid-turn): say why.
      log.emit({
        event: 'error',
        data: { error: running.hostEnd.error.message, code: running.hostEnd.error.code },
      });
    }
    return outcome;
  }
}

/** Output kept per stream of an `exec` command, bytes. */
const EXEC_MAX_OUTPUT_BYTES = 1024 * 1024;

function describeFailure(err: unknown): { code: ErrorCode; message: string } {
  if (err instanceof AppError) return { code: err.code, message: err.detail };
  if (isStorageFull(err))
    return { code: 'insufficient_storage', message: "the server's data disk is full; the turn was stopped" };
  if (err instanceof SandboxStartError)
    return { code: 'sandbox_unavailable', message: `the sandbox could not start: ${err.message}` };
  return { code: 'internal_error', message: 'the turn failed unexpectedly' };
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
