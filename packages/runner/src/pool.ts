import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { AsyncLock, type BridgeSdkOptions, type Conversation } from '@ash-ai/shared';
import {
  resolveLimits,
  type Logger,
  type ModelCallObserver,
  type ModelCallUsage,
  type SandboxEgressSpec,
  type SandboxLimits,
  type SandboxState,
  type StartSandboxSpec,
} from '@ash-ai/sandbox';
import { emptyPoolCounters, type PoolCounters } from './counters.js';
import { RunnerCapacityError, RunnerClosedError } from './errors.js';
import { StartGate, type StartGateOptions, type StartTicket } from './start-gate.js';
import type {
  ModelCallHooks,
  SandboxStarter,
  SlotReservation,
  SpareAgent,
  SpareCount,
  SpareSource,
} from './types.js';

/**
 * What the pool needs of a sandbox. `Sandbox` of @ash-ai/sandbox is one; the pool's unit tests
 * hand in small objects of their own through {@link SandboxFactory} (the pool logic is pure).
 */
export interface PoolSandbox {
  readonly id: string;
  readonly state: SandboxState;
  /** Running a turn or a command right now (never evicted then). */
  readonly busy: boolean;
  /** When it last ran something, ms since the epoch (eviction takes the least recently used). */
  readonly lastUsedAt: number;
  /** Starts the Claude process ahead of the first turn; false when it did not come up. */
  warm(options: BridgeSdkOptions, conversation: Conversation): Promise<boolean>;
  /** Stops every process of the sandbox; idempotent. */
  stop(): Promise<void>;
  /** Called once when the sandbox went away (stopped or died). */
  onExit(listener: () => void): void;
  /** Memory its processes use, bytes; undefined when not measurable. */
  memoryBytes(): number | undefined;
}

/** Starts sandboxes (`SandboxManager` of @ash-ai/sandbox is the real one). */
export interface SandboxFactory<S extends PoolSandbox> {
  /** The limits a sandbox gets where its agent sets none. */
  readonly defaultLimits: SandboxLimits;
  /** @throws SandboxStartError when the sandbox cannot start. */
  start(spec: StartSandboxSpec): Promise<S>;
  /**
   * Makes the factory's own background work (spare bridges, blank disk images) wait for `gate`
   * (the pool's {@link SandboxPool.whenNoUserStarts}).
   */
  setBackgroundGate?(gate: () => Promise<void>): void;
}

/** Longest a background start (warm spare, spare bridge…) waits for user starts to finish, ms. */
const QUIET_MAX_WAIT_MS = 30_000;

/** Where a session's files live on the runner's host. */
export interface SandboxPaths {
  /** The session's folder (holds `workspace` and `claude`); removed with a discarded spare. */
  sessionDir(id: string): string;
  workspace(id: string): string;
  claudeConfig(id: string): string;
}

export interface SandboxPoolOptions<S extends PoolSandbox> {
  factory: SandboxFactory<S>;
  paths: SandboxPaths;
  /** Most sandboxes alive or starting at once (ASH_MAX_SANDBOXES), warm spares included. */
  maxSandboxes: number;
  /** A session sandbox (or spare) unused this long is stopped by {@link SandboxPool.sweepIdle}, ms. */
  idleTimeoutMs: number;
  /** Admission control of sandbox starts (ASH_MAX_CONCURRENT_STARTS and the start queue). */
  startGate: StartGateOptions;
  log: Logger;
  /**
   * The pool stopped a session's sandbox on its own (`idle`: unused past the idle timeout;
   * `capacity`: the least recently used idle one, to make room). Awaited before the slot is used.
   */
  onEvicted?: (sessionId: string, reason: 'idle' | 'capacity') => Promise<void>;
  /** A warm spare's start ended (`ok` or `error`) after `seconds` (metrics). */
  onSpareStart?: (outcome: 'ok' | 'error', seconds: number) => void;
}

/** What the pool holds for one session. */
interface Entry<S extends PoolSandbox> {
  sessionId: string;
  sandbox: S | undefined;
  starting: Promise<S> | undefined;
  /** The prewarm's slot reservation under way (a turn waits for it rather than reserving twice). */
  reserving: Promise<SlotReservation | undefined> | undefined;
  /** The start permit, held from the sandbox start until its Claude process is up. */
  permit: StartTicket | undefined;
  /** Holds of the session engine (a turn being started or running): never evicted meanwhile. */
  pins: number;
  /**
   * A prewarm found the session pinned (a turn is starting its Claude process): the permit is
   * given back by the turn, or at the latest when the last pin goes.
   */
  settleWhenUnpinned: boolean;
}

/** A pre-warmed sandbox waiting for a session: its id is the id the session will get. */
interface WarmSpare<S extends PoolSandbox> {
  id: string;
  tenantId: string;
  agentName: string;
  agentVersion: number;
  /** Set once its Claude process is up (warm): only then can a session take it. */
  sandbox: S | undefined;
  /** The sandbox while its Claude process starts (live, counted, not yet takeable). */
  booting?: S;
  ready: Promise<S | undefined>;
  createdAt: number;
  /** The session's model-call hooks, bound when a session takes the spare over. */
  hooks: ModelCallHooks;
  /** Its network: the agent's (the source's) until a session takes it over, then the session's. */
  egress: SandboxEgressSpec | undefined;
  /** Set once the spare is being discarded: every discard of it waits for the same one. */
  discarded?: Promise<void>;
}

const spareKey = (tenantId: string, agentName: string) => `${tenantId}\u0000${agentName}`;

/**
 * The one pool of sandboxes of a runner: capacity (slots, reservations), the start queue, warm
 * spares per agent, idle and capacity eviction, and the registry of session sandboxes. No HTTP,
 * no database: the session engine drives it through a {@link RunnerClient}.
 */
export class SandboxPool<S extends PoolSandbox> {
  private readonly live = new Map<string, Entry<S>>();
  private readonly spares = new Map<string, WarmSpare<S>[]>();
  private readonly replenishing = new Set<string>();
  private readonly refillAgain = new Map<string, { agent: SpareAgent; count: number; source: SpareSource }>();
  /** Per agent: bumped by {@link dropSpares}, so a refill begun before the drop starts nothing after it. */
  private readonly spareGeneration = new Map<string, number>();
  /** Spares taken for a session being created, not adopted yet (still live: they count). */
  private readonly taken = new Map<string, WarmSpare<S>>();
  private readonly slotLock = new AsyncLock();
  /** Slots reserved for sandboxes being started (not yet live). */
  private reservedSlots = 0;
  readonly startGate: StartGate;
  readonly counters: PoolCounters = emptyPoolCounters();
  private closed = false;
  /** Waiting for no user start to be under way (see {@link whenNoUserStarts}). */
  private quietWaiters: Array<() => void> = [];

  constructor(private readonly opts: SandboxPoolOptions<S>) {
    this.startGate = new StartGate(opts.startGate);
    opts.factory.setBackgroundGate?.(() => this.whenNoUserStarts());
  }

  /**
   * True while a session's sandbox start is under way here: the sandbox being made, or its Claude
   * process not up yet (the start permit held).
   */
  get userStartsInFlight(): boolean {
    for (const e of this.live.values()) if (e.starting || e.permit) return true;
    return false;
  }

  /**
   * Resolves when no session's sandbox start is under way (at once when none is; at the latest
   * after 30 s), so background starts (warm spares, spare bridges, blank disk images) never take
   * CPU from a start somebody waits for. Never rejects.
   */
  whenNoUserStarts(): Promise<void> {
    if (this.closed || !this.userStartsInFlight) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, QUIET_MAX_WAIT_MS);
      timer.unref();
      const waiters = this.quietWaiters;
      function done() {
        clearTimeout(timer);
        const i = waiters.indexOf(done);
        if (i >= 0) waiters.splice(i, 1);
        resolve();
      }
      waiters.push(done);
    });
  }

  /** Lets background work go once no user start is under way (called wherever one may end). */
  private checkQuiet(): void {
    if (this.quietWaiters.length === 0 || (!this.closed && this.userStartsInFlight)) return;
    // On the next turn of the event loop: a start ending often hands straight over to another.
    setImmediate(() => {
      if (!this.closed && this.userStartsInFlight) return;
      for (const w of this.quietWaiters.splice(0)) w();
    });
  }

  /** Every live sandbox: sessions' and warm spares'. */
  all(): S[] {
    const out: S[] = [];
    for (const e of this.live.values()) if (e.sandbox) out.push(e.sandbox);
    for (const list of this.spares.values())
      for (const s of list) {
        const sb = s.sandbox ?? s.booting;
        if (sb) out.push(sb);
      }
    for (const s of this.taken.values()) if (s.sandbox) out.push(s.sandbox);
    return out;
  }

  /** Slots in use: live sandboxes plus reservations for starts under way. */
  get usedSlots(): number {
    return this.all().length + this.reservedSlots;
  }

  get reserved(): number {
    return this.reservedSlots;
  }

  /** Ready warm spares. */
  get warmCount(): number {
    let warm = 0;
    for (const list of this.spares.values()) warm += list.filter((s) => s.sandbox?.state === 'ready').length;
    return warm;
  }

  /** Warm spares per agent version (ready and still booting). */
  spareCounts(): SpareCount[] {
    const out = new Map<string, SpareCount>();
    for (const list of this.spares.values())
      for (const s of list) {
        const key = `${spareKey(s.tenantId, s.agentName)}\u0000${s.agentVersion}`;
        let c = out.get(key);
        if (!c) {
          c = { tenantId: s.tenantId, agent: s.agentName, version: s.agentVersion, ready: 0, starting: 0 };
          out.set(key, c);
        }
        if (s.sandbox?.state === 'ready') c.ready++;
        else if (!s.discarded) c.starting++;
      }
    return [...out.values()];
  }

  /**
   * Gives a taken spare back unused (its session was never created, or its claim lapsed): stops
   * it and removes its folder. False when no such spare is taken.
   */
  async discardTaken(id: string): Promise<boolean> {
    const spare = this.taken.get(id);
    if (!spare) return false;
    this.taken.delete(id);
    await this.discardSpare(spare);
    return true;
  }

  get maxSandboxes(): number {
    return this.opts.maxSandboxes;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** The session's sandbox in whatever state (starting sandboxes are not in it yet). */
  current(sessionId: string): S | undefined {
    return this.live.get(sessionId)?.sandbox;
  }

  /** The session's sandbox when it is ready. */
  sandboxOf(sessionId: string): S | undefined {
    const sb = this.live.get(sessionId)?.sandbox;
    return sb?.state === 'ready' ? sb : undefined;
  }

  /** True when the session has a sandbox here (in any state) or one starting. */
  hosts(sessionId: string): boolean {
    const e = this.live.get(sessionId);
    return !!e && (!!e.sandbox || !!e.starting);
  }

  /** True when the session's sandbox is starting here. */
  isStarting(sessionId: string): boolean {
    return !!this.live.get(sessionId)?.starting;
  }

  /**
   * Reserves a slot for a sandbox about to start, atomically with the check (so concurrent starts
   * never exceed `maxSandboxes`), evicting the oldest warm spare or else the least recently used
   * idle session when full. Release it once the sandbox is started or the start is given up.
   * @throws RunnerCapacityError when every sandbox is busy.
   */
  reserve(): Promise<SlotReservation> {
    return this.slotLock.run(async () => {
      if (this.usedSlots >= this.opts.maxSandboxes && !(await this.evictOne()))
        throw new RunnerCapacityError('every sandbox is busy; retry later');
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

  /** Frees one slot: the oldest warm spare first, else the least recently used idle session. */
  private async evictOne(): Promise<boolean> {
    let oldest: WarmSpare<S> | undefined;
    for (const list of this.spares.values())
      for (const s of list) if (s.sandbox && (!oldest || s.createdAt < oldest.createdAt)) oldest = s;
    if (oldest) {
      await this.discardSpare(oldest);
      this.counters.evictions++;
      return true;
    }
    let lru: Entry<S> | undefined;
    for (const e of this.live.values()) {
      if (!this.evictable(e)) continue;
      if (!lru || e.sandbox!.lastUsedAt < lru.sandbox!.lastUsedAt) lru = e;
    }
    if (!lru) return false;
    await this.evict(lru, 'capacity');
    return true;
  }

  private evictable(e: Entry<S>): boolean {
    const sb = e.sandbox;
    return !e.pins && !e.starting && !!sb && sb.state === 'ready' && !sb.busy;
  }

  private async evict(e: Entry<S>, reason: 'idle' | 'capacity'): Promise<void> {
    this.counters.evictions++;
    if (reason === 'idle') this.counters.idleSweeps++;
    this.opts.log.info(
      { sessionId: e.sessionId, reason },
      'stopping an idle session sandbox (session paused)',
    );
    await this.stop(e.sessionId);
    await this.opts.onEvicted?.(e.sessionId, reason);
  }

  /**
   * Marks the session as in use by the session engine (a turn being started or running): its
   * sandbox is never evicted until as many {@link unpin} calls.
   */
  pin(sessionId: string): void {
    this.entry(sessionId).pins++;
  }

  unpin(sessionId: string): void {
    const e = this.live.get(sessionId);
    if (!e) return;
    if (e.pins > 0) e.pins--;
    if (!e.pins && e.settleWhenUnpinned) this.settleStart(sessionId);
    // Nothing of the session here any more: forget it.
    if (!e.pins && !e.sandbox && !e.starting && !e.reserving && !e.permit) this.live.delete(sessionId);
  }

  /** Stops spares and session sandboxes unused for longer than the idle timeout; returns how many. */
  async sweepIdle(now = Date.now()): Promise<number> {
    let n = 0;
    // Warm spares nobody took within the idle timeout go too (the agent's next session brings
    // them back), so agents nobody uses do not hold processes.
    for (const list of [...this.spares.values()]) {
      for (const spare of [...list]) {
        if (spare.sandbox && now - spare.createdAt >= this.opts.idleTimeoutMs) {
          await this.discardSpare(spare);
          n++;
        }
      }
    }
    for (const e of [...this.live.values()]) {
      if (!this.evictable(e) || now - e.sandbox!.lastUsedAt < this.opts.idleTimeoutMs) continue;
      await this.evict(e, 'idle');
      n++;
    }
    return n;
  }

  /**
   * The session's sandbox: the live one, the start under way, or a new start with `slot` (else a
   * slot reserved here, evicting as {@link reserve} does). A new start waits its turn at the start
   * gate, then asks `starter.prepare()` what to start; its permit is held until
   * {@link settleStart} (the Claude process is up, or will not be started now).
   * @throws RunnerCapacityError (no slot, start queue full or waited too long), whatever
   *   `prepare` throws, SandboxStartError.
   */
  async ensureSandbox(sessionId: string, starter: SandboxStarter, slot?: SlotReservation): Promise<S> {
    const live = this.entry(sessionId);
    if (live.sandbox?.state === 'ready' || live.starting) slot?.release();
    if (live.sandbox?.state === 'ready') return live.sandbox;
    if (live.starting) return live.starting;
    if (this.closed) {
      slot?.release();
      throw new RunnerClosedError();
    }
    const start = (async () => {
      const t0 = performance.now();
      const reservation = slot ?? (await this.reserve());
      let ticket: StartTicket | undefined;
      try {
        ticket = this.startGate.acquire(starter.onQueuePosition);
        await ticket.granted;
        const t1 = performance.now();
        const spec = await starter.prepare();
        const t2 = performance.now();
        let sandbox: S;
        try {
          sandbox = await this.opts.factory.start({
            id: sessionId,
            workspaceDir: this.opts.paths.workspace(sessionId),
            claudeConfigDir: this.opts.paths.claudeConfig(sessionId),
            env: spec.env,
            limits: this.limitsFor(spec.limits),
            resolveApiKey: () => spec.model.resolveApiKey(),
            ...(spec.model.onUsage ? { onUsage: spec.model.onUsage } : {}),
            ...(spec.model.admit ? { admit: spec.model.admit } : {}),
            ...(spec.model.observe ? { observe: spec.model.observe } : {}),
            ...(spec.egress ? { egress: spec.egress } : {}),
            ...(spec.modelUpstreamUrl ? { modelUpstreamUrl: spec.modelUpstreamUrl } : {}),
          });
        } catch (err) {
          this.counters.sandboxStartFailures++;
          throw err;
        }
        this.counters.sandboxStarts++;
        this.opts.log.debug(
          {
            sessionId,
            slotAndGateMs: Math.round(t1 - t0),
            prepareMs: Math.round(t2 - t1),
            startMs: Math.round(performance.now() - t2),
          },
          'session sandbox started',
        );
        const permit = ticket;
        sandbox.onExit(() => {
          if (live.sandbox === sandbox) live.sandbox = undefined;
          if (live.permit === permit) this.settleStart(sessionId);
        });
        live.sandbox = sandbox;
        this.settleStart(sessionId);
        live.permit = permit;
        ticket = undefined;
        starter.onStarted?.(undefined);
        return sandbox;
      } catch (err) {
        starter.onStarted?.(err);
        throw err;
      } finally {
        ticket?.release();
        reservation.release();
      }
    })();
    live.starting = start;
    try {
      return await start;
    } finally {
      if (live.starting === start) live.starting = undefined;
      this.checkQuiet();
    }
  }

  /**
   * The session's Claude process is up (or its start is over without one): the next queued start
   * may go. Idempotent; no-op while the session's start is still under way.
   */
  settleStart(sessionId: string): void {
    const live = this.live.get(sessionId);
    if (!live) return;
    const permit = live.permit;
    live.permit = undefined;
    live.settleWhenUnpinned = false;
    permit?.release();
    this.checkQuiet();
  }

  /** True while the session holds a start permit its Claude process has not used yet. */
  holdsStartPermit(sessionId: string): boolean {
    return !!this.live.get(sessionId)?.permit;
  }

  /**
   * Starts the session's sandbox in the background and then its Claude process (with
   * `starter.warmOptions()`, unless the session is pinned by then: a turn starts Claude with its
   * own options), so the first message does not wait. Failures are logged; the first turn retries.
   * A turn started meanwhile waits for this reservation ({@link awaitPrewarm}) rather than
   * reserving a second slot.
   */
  prewarm(sessionId: string, starter: SandboxStarter): void {
    if (this.closed) return;
    const live = this.entry(sessionId);
    if (live.reserving) return;
    // A slot for a new start; a live sandbox or a start under way is only warmed.
    const reserving =
      live.sandbox?.state === 'ready' || live.starting
        ? Promise.resolve<SlotReservation | undefined>(undefined)
        : this.reserve();
    live.reserving = reserving;
    const clear = () => {
      if (live.reserving === reserving) live.reserving = undefined;
    };
    void reserving
      .then(
        (slot) => {
          clear();
          return this.ensureSandbox(sessionId, starter, slot);
        },
        (err: unknown) => {
          clear();
          throw err;
        },
      )
      .then(async (sb) => {
        if (live.pins > 0 || !starter.warmOptions) return true;
        const { options, conversation } = await starter.warmOptions();
        return sb.warm(options, conversation);
      })
      .catch((err: unknown) => this.opts.log.warn({ sessionId, err: errText(err) }, 'prewarm failed'))
      .finally(() => {
        // A turn took the start over: its Claude process is starting now, and the turn gives the
        // permit back once it is up (the next start, and background work, wait until then).
        if (live.pins > 0 && live.permit) live.settleWhenUnpinned = true;
        else this.settleStart(sessionId);
      });
  }

  /** Waits for a prewarm's slot reservation under way, if any (never throws). */
  async awaitPrewarm(sessionId: string): Promise<void> {
    const reserving = this.live.get(sessionId)?.reserving;
    if (reserving) await reserving.catch(() => undefined);
  }

  /**
   * Stops the session's sandbox (waiting for a start under way) and forgets the session. Resolves
   * when its process tree, cgroup and sockets are gone.
   */
  async stop(sessionId: string): Promise<void> {
    const live = this.live.get(sessionId);
    if (!live) return;
    if (live.starting) await live.starting.catch(() => undefined);
    const sandbox = live.sandbox;
    live.sandbox = undefined;
    this.settleStart(sessionId);
    if (sandbox) await sandbox.stop();
    if (this.live.get(sessionId) === live) this.live.delete(sessionId);
  }

  /**
   * Keeps `count` pre-warmed sandboxes for an agent's version: each has its workspace prepared
   * (`source.prepareWorkspace`) and its Claude process started under an id the next session of
   * that agent will take. Spares of other versions are stopped. Failures are logged.
   */
  async replenishSpares(agent: SpareAgent, count: number, source: SpareSource): Promise<void> {
    if (this.closed) return;
    const key = spareKey(agent.tenantId, agent.name);
    if (this.replenishing.has(key)) {
      // One refill per agent at a time; the latest request runs when the current one ends.
      this.refillAgain.set(key, { agent, count, source });
      return;
    }
    this.replenishing.add(key);
    try {
      await this.refill(agent, key, count, source);
    } finally {
      this.replenishing.delete(key);
    }
    const again = this.refillAgain.get(key);
    if (again) {
      this.refillAgain.delete(key);
      await this.replenishSpares(again.agent, again.count, again.source);
    }
  }

  private async refill(agent: SpareAgent, key: string, count: number, source: SpareSource): Promise<void> {
    const generation = this.spareGeneration.get(key) ?? 0;
    const list = this.spares.get(key) ?? [];
    for (const stale of list.filter((s) => s.agentVersion !== agent.version)) await this.discardSpare(stale);
    const current = (this.spares.get(key) ?? []).filter((s) => s.agentVersion === agent.version);
    for (let i = current.length; i < count; i++) {
      // A spare's boot (a Claude process) would slow a start somebody waits for: it goes after.
      await this.whenNoUserStarts();
      let slot: SlotReservation;
      try {
        slot = await this.reserve();
      } catch {
        return; // no room: spares are an optimisation
      }
      // The agent's spares were dropped meanwhile (delete, env change), or the agent is gone or
      // redeployed (a delete drops its spares again once the record is gone): start none for it.
      const dropped = () => this.closed || (this.spareGeneration.get(key) ?? 0) !== generation;
      if (dropped() || !(await source.isCurrent()) || dropped()) {
        slot.release();
        return;
      }
      this.startSpare(agent, source, slot);
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
   * Takes a ready spare of this agent version, if any, and returns its id: the caller creates the
   * session with that id, then calls {@link adoptSpare} (or {@link stop} with it, giving up).
   */
  takeSpare(tenantId: string, agentName: string, agentVersion: number): string | undefined {
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
    if (list.length === 0) this.spares.delete(spareKey(tenantId, agentName));
    this.counters.preWarmHits++;
    this.taken.set(spare!.id, spare!);
    return spare!.id;
  }

  /**
   * Makes a taken spare's sandbox the session's (same id), its model calls now going to `hooks`
   * and its network connections to `egress` (when given: decided by the session's policy and
   * reported to the session).
   * @returns false when no such spare was taken (or it died meanwhile: the session starts cold).
   */
  adoptSpare(sessionId: string, hooks: ModelCallHooks, egress?: SandboxEgressSpec): boolean {
    const spare = this.taken.get(sessionId);
    if (!spare) return false;
    this.taken.delete(sessionId);
    spare.hooks = hooks;
    if (egress) spare.egress = egress;
    const live = this.entry(sessionId);
    const sandbox = spare.sandbox;
    live.sandbox = sandbox;
    sandbox?.onExit(() => {
      if (live.sandbox === sandbox) live.sandbox = undefined;
    });
    return !!sandbox;
  }

  private startSpare(agent: SpareAgent, source: SpareSource, slot: SlotReservation): void {
    const id = randomUUID();
    const key = spareKey(agent.tenantId, agent.name);
    const spare: WarmSpare<S> = {
      id,
      tenantId: agent.tenantId,
      agentName: agent.name,
      agentVersion: agent.version,
      sandbox: undefined,
      ready: Promise.resolve(undefined),
      createdAt: Date.now(),
      hooks: source.model,
      egress: source.egress,
    };
    // Whether the sandbox gets a network at all is fixed at its start (the agent's policy); each
    // connection is then decided and reported by whoever holds the spare.
    const egress: SandboxEgressSpec | undefined = source.egress && {
      enabled: source.egress.enabled,
      decide: (host, port) => (spare.egress ?? source.egress!).decide(host, port),
      onConnection: (c) => (spare.egress ?? source.egress)?.onConnection?.(c),
    };
    const list = this.spares.get(key) ?? [];
    list.push(spare);
    this.spares.set(key, list);
    spare.ready = (async () => {
      let ticket: StartTicket | undefined;
      try {
        // A spare boots a Claude process too: it takes its turn at the start gate.
        ticket = this.startGate.acquire();
        await ticket.granted;
        await source.prepareWorkspace(id, this.opts.paths.workspace(id));
        // Discarded while copying: start no sandbox (the discard removes the folder once this ends).
        if (!list.includes(spare)) return undefined;
        // The spare's model calls go to whoever holds it: the agent's defaults, then its session.
        const sandbox = await this.opts.factory.start({
          id,
          workspaceDir: this.opts.paths.workspace(id),
          claudeConfigDir: this.opts.paths.claudeConfig(id),
          env: { ...agent.env },
          limits: this.limitsFor(agent.limits),
          resolveApiKey: () => spare.hooks.resolveApiKey(),
          onUsage: (usage: ModelCallUsage) => spare.hooks.onUsage?.(usage),
          admit: async () => spare.hooks.admit?.(),
          observe: (): ModelCallObserver | undefined => spare.hooks.observe?.(),
          ...(egress ? { egress } : {}),
          ...(source.modelUpstreamUrl ? { modelUpstreamUrl: () => source.modelUpstreamUrl!(id) } : {}),
        });
        this.counters.sandboxStarts++;
        this.opts.onSpareStart?.('ok', (Date.now() - spare.createdAt) / 1000);
        spare.booting = sandbox;
        sandbox.onExit(() => {
          if (spare.sandbox === sandbox) spare.sandbox = undefined;
          if (spare.booting === sandbox) spare.booting = undefined;
        });
        // Claimable only once its Claude process is up: that is what makes it warm.
        const warmed = await sandbox.warm(agent.warmOptions, { sessionId: id });
        if (!warmed || !list.includes(spare)) {
          await sandbox.stop();
          if (!warmed) throw new Error('the Claude process did not start');
          return undefined;
        }
        spare.sandbox = sandbox;
        spare.booting = undefined;
        // Idle from when it is warm (a start that waited at the start gate is not idle time).
        spare.createdAt = Date.now();
        return sandbox;
      } catch (err) {
        this.counters.sandboxStartFailures++;
        this.opts.log.warn({ err: errText(err), agent: agent.name }, 'could not start a warm sandbox');
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
  private discardSpare(spare: WarmSpare<S>, waitForStart = true): Promise<void> {
    const key = spareKey(spare.tenantId, spare.agentName);
    const list = this.spares.get(key);
    if (list) {
      const i = list.indexOf(spare);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) this.spares.delete(key);
    }
    spare.discarded ??= (async () => {
      if (waitForStart) await spare.ready.catch(() => undefined);
      const sandbox = spare.sandbox ?? spare.booting;
      spare.sandbox = undefined;
      spare.booting = undefined;
      if (sandbox) await sandbox.stop();
      await rm(this.opts.paths.sessionDir(spare.id), { recursive: true, force: true, maxRetries: 3 });
    })();
    return spare.discarded;
  }

  /** The sandbox limits of an agent: its overrides over the factory's defaults. */
  limitsFor(overrides: Record<string, unknown> | undefined): SandboxLimits {
    return resolveLimits(this.opts.factory.defaultLimits, overrides);
  }

  /**
   * Stops everything: waits for spares starting, discards every spare, stops every session
   * sandbox. Starts nothing afterwards.
   */
  async shutdown(): Promise<void> {
    this.closed = true;
    this.checkQuiet();
    for (const list of [...this.spares.values()])
      for (const s of [...list]) await s.ready.catch(() => undefined);
    for (const list of [...this.spares.values()]) for (const s of [...list]) await this.discardSpare(s);
    for (const spare of this.taken.values()) await spare.sandbox?.stop();
    this.taken.clear();
    await Promise.all([...this.live.keys()].map((id) => this.stop(id).catch(() => undefined)));
  }

  private entry(sessionId: string): Entry<S> {
    let live = this.live.get(sessionId);
    if (!live) {
      live = {
        sessionId,
        sandbox: undefined,
        starting: undefined,
        reserving: undefined,
        permit: undefined,
        pins: 0,
        settleWhenUnpinned: false,
      };
      this.live.set(sessionId, live);
    }
    return live;
  }
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
