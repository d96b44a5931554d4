import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { EgressRules, type SandboxEgressSpec, type SandboxManager, type TurnEvent } from '@ash-ai/sandbox';
import {
  AsyncLock,
  GATEWAY_PATH,
  type BridgeSdkOptions,
  type Conversation,
  type ExecResult,
  type LogEntry,
  type Manifest,
  type MessageContent,
  type ReservationAnswer,
  type RunnerAttachBody,
  type RunnerExecBody,
  type RunnerLabels,
  type RunnerReport,
  type RunnerSpareClaimAnswer,
  type RunnerSpareClaimBody,
  type RunnerSparesBody,
  type RunnerStartBody,
  type RunnerTurnBody,
  type ToolAnswer,
  type TurnTrailer,
} from '@ash-ai/shared';
import type { Logger } from 'pino';
import type { InProcessRunner } from '../in-process-runner.js';
import type { SandboxPaths } from '../pool.js';
import type { EvictionReason, SandboxStarter, SlotReservation, SpareSource } from '../types.js';
import { applyDelta, diffManifests, packDelta, scanManifest } from '../workspace-sync.js';
import { CoordinatorError, type CoordinatorLink } from './coordinator-link.js';
import { EgressReporter } from './egress-reporter.js';
import type { LogSecrets } from './logger.js';
import type { RunnerMetrics } from './metrics.js';
import { HostError } from './problems.js';

/** What a runner holds for one session it hosts. */
interface HostedSession {
  id: string;
  generation: number;
  tenantId: string;
  /** The coordinator that placed it: checkout, checkpoint, gateway, egress and evictions go there. */
  coordinatorUrl: string;
  /** The session's model gateway token (the sandbox's `x-api-key`; read at each model call). */
  gatewayToken: string;
  /** The files as last checked out or checkpointed (the base of the next checkpoint's delta). */
  synced: Manifest | undefined;
  /** Starts under way. */
  starting: number;
  /** The turn running (until its trailer reached a coordinator, or no coordinator took it over). */
  turn: HostedTurn | undefined;
  /** Serialises checkouts and checkpoints of the session. */
  lock: AsyncLock;
  egress: EgressReporter | undefined;
  /** Set once the session is being released: nothing more is stored for it. */
  released: Promise<void> | undefined;
  /** The lease moved on (fenced or foreign): never checkpoint again. */
  gone: boolean;
  settleTimer: NodeJS.Timeout | undefined;
}

/**
 * A turn on the runner and every NDJSON line it wrote, numbered from 0 in order (the trailer
 * apart), so the coordinator that takes the session over after the one streaming it died can
 * attach from the first line it has not stored (`POST …/turns/:turnId/attach`).
 */
interface HostedTurn {
  turnId: string;
  /** Settled once the turn is over here (trailer delivered, or given up). */
  done: Promise<void>;
  /** The turn's event lines (with their `\n`); index = the event's number. */
  lines: string[];
  /** Bytes of `lines`. */
  bytes: number;
  /** Past {@link RunnerHostOptions.turnBufferBytes}: no coordinator can take the turn over. */
  overflow: boolean;
  /** The last event (`turn_end`) was written. */
  ended: boolean;
  /** The coordinator stream the lines go to; undefined while detached. */
  sink: ServerResponse | undefined;
  /** The trailer, once the checkpoint after the turn is stored. */
  trailer: string | undefined;
  /** Runs out the hold of a detached turn. */
  holdTimer: NodeJS.Timeout | undefined;
  /** Called when a coordinator attaches, or when the hold ran out (`false`). */
  waiters: Set<(attached: boolean) => void>;
  /** When a heartbeat first named the session foreign while the turn was detached (ms epoch). */
  foreignSince?: number | undefined;
}

/** How long a detached turn's session stays after a heartbeat first named it foreign, ms. */
const FOREIGN_GRACE_MS = 1000;

/** How long a detached turn waits for a coordinator to take it over, ms (ASH_RUNNER_TURN_HOLD_MS). */
export const DEFAULT_TURN_HOLD_MS = 120_000;
/** Most bytes of event lines a turn keeps for a takeover (ASH_RUNNER_TURN_BUFFER_MB). */
export const DEFAULT_TURN_BUFFER_BYTES = 16 * 1024 * 1024;

export interface RunnerHostOptions {
  runnerId: string;
  labels: RunnerLabels;
  version: string;
  manager: SandboxManager;
  runner: InProcessRunner;
  paths: SandboxPaths;
  link: CoordinatorLink;
  metrics: RunnerMetrics;
  secrets: LogSecrets;
  log: Logger;
  /** A reservation no start used lapses after this long, ms. */
  reservationTtlMs: number;
  /** Largest delta a checkout may bring, bytes. */
  maxCheckoutBytes: number;
  /** How long a start without `warm` holds its start permit at most before the first turn, ms. */
  startPermitHoldMs?: number;
  /** Every coordinator of the runner: a session's calls fall back to them when its own is gone. */
  coordinators: string[];
  /**
   * The coordinator to call for a session placed by `preferred` (default: `preferred`): the
   * registration's view of which coordinators answer.
   */
  pickCoordinator?: (preferred: string) => string;
  /**
   * How long a turn whose coordinator stream closed before the turn ended (the coordinator died)
   * keeps running, detached, waiting for another coordinator to attach, ms (default
   * {@link DEFAULT_TURN_HOLD_MS}); then it is aborted (`turn_interrupted`).
   */
  turnHoldMs?: number;
  /**
   * Most bytes of event lines kept per turn for a takeover (default
   * {@link DEFAULT_TURN_BUFFER_BYTES}); a turn past it is aborted when its stream closes.
   */
  turnBufferBytes?: number;
}

/**
 * The runner process's sessions over its pool: starts (checkout first), turns (checkpoint
 * after), releases (checkpoint, stop, tell the coordinator), fencing (a refused checkpoint stops
 * the sandbox), draining, and the {@link RunnerReport}. The HTTP routes (`app.ts`) are thin over
 * it.
 */
export class RunnerHost {
  private readonly sessions = new Map<string, HostedSession>();
  private readonly reservations = new Map<string, { slot: SlotReservation; timer: NodeJS.Timeout }>();
  private draining = false;
  private drainRun: Promise<void> | undefined;
  /** Agents coordinators asked spares of: the version wanted (an older version's refill stops). */
  private readonly wantedSpares = new Map<string, { tenantId: string; agent: string; version: number }>();
  /** Spares claimed by a coordinator whose session start has not come yet (lapse timers). */
  private readonly claims = new Map<string, NodeJS.Timeout>();
  /** The URL coordinators call (set once listening). */
  url = '';
  /** Called once a drain emptied the runner. */
  onDrained: (() => void) | undefined;

  constructor(private readonly opts: RunnerHostOptions) {
    opts.runner.listen({ evicted: (id, reason) => this.onPoolEvicted(id, reason) });
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /** What the runner reports to coordinators (heartbeats, `GET …/state`). */
  report(): RunnerReport {
    const { runner } = this.opts;
    const stats = runner.stats();
    const memory = new Map(runner.memoryBySandbox().map((m) => [m.id, m.bytes]));
    const sessions: RunnerReport['sessions'] = [];
    for (const s of this.sessions.values()) {
      if (!s.starting && !runner.hosts(s.id)) continue;
      sessions.push({
        id: s.id,
        state: s.turn ? 'busy' : runner.hasLiveSandbox(s.id) ? 'ready' : 'starting',
        generation: s.generation,
        memoryBytes: Math.max(0, Math.round(memory.get(s.id) ?? 0)),
      });
    }
    const m = this.opts.metrics;
    m.warm.set(stats.warm);
    m.sandboxes.set(stats.live);
    m.capacity.set(stats.maxCapacity);
    m.sessions.set(sessions.length);
    return {
      runnerId: this.opts.runnerId,
      url: this.url,
      labels: this.opts.labels,
      version: this.opts.version,
      draining: this.draining,
      maxSandboxes: stats.maxCapacity,
      live: stats.live,
      reserved: stats.reserved,
      startsRunning: stats.startsRunning,
      startsQueued: stats.startsQueued,
      canQueueStart: !this.draining && runner.canQueueStart(),
      sessions,
      spares: stats.spares ?? [],
    };
  }

  /**
   * `POST …/spares`: keeps `count` warm spares of the agent version in the pool (in the
   * background; spares count in the capacity and are evicted first). A spare's files come from
   * the coordinator (`POST /api/internal/agents/files`); its model calls carry no key until a
   * session claims it (then that session's gateway token, to its coordinator's gateway).
   * Ignored while draining.
   * @throws HostError `validation_failed` when the network rules are invalid.
   */
  keepSpares(body: RunnerSparesBody): void {
    if (this.draining) return;
    const key = `${body.tenantId}\u0000${body.agent}`;
    let egress: SandboxEgressSpec | undefined;
    if (body.egress) {
      let rules: EgressRules;
      try {
        rules = new EgressRules(body.egress.layers, body.egress.implicit);
      } catch (err) {
        throw new HostError('validation_failed', err instanceof Error ? err.message : String(err));
      }
      egress = { enabled: body.egress.enabled && rules.allowsAnything, decide: (h, p) => rules.decide(h, p) };
    }
    this.wantedSpares.set(key, { tenantId: body.tenantId, agent: body.agent, version: body.version });
    const coordinator = body.coordinatorUrl.replace(/\/+$/, '');
    const pick = () => this.opts.pickCoordinator?.(coordinator) ?? coordinator;
    const { link, paths, maxCheckoutBytes } = this.opts;
    const source: SpareSource = {
      prepareWorkspace: async (spareId, dir) => {
        const files = await link.agentFiles(pick(), {
          tenantId: body.tenantId,
          agent: body.agent,
          version: body.version,
        });
        try {
          await mkdir(dir, { recursive: true });
          await mkdir(paths.claudeConfig(spareId), { recursive: true });
          await applyDelta({ workspace: dir, claude: paths.claudeConfig(spareId) }, files, {
            maxBytes: maxCheckoutBytes,
          });
        } finally {
          files.destroy();
        }
      },
      isCurrent: async () => !this.draining && this.wantedSpares.get(key)?.version === body.version,
      // No key at all: a spare makes no model call before a session claims it.
      model: { resolveApiKey: () => undefined },
      ...(egress ? { egress } : {}),
      // The claiming session's coordinator's gateway, once claimed.
      modelUpstreamUrl: (spareId) => {
        const s = this.sessions.get(spareId);
        return s ? this.gatewayOf(s) : `${pick()}${GATEWAY_PATH}`;
      },
    };
    void this.opts.runner
      .replenishSpares(
        {
          tenantId: body.tenantId,
          name: body.agent,
          version: body.version,
          env: body.env,
          ...(body.limits ? { limits: body.limits } : {}),
          warmOptions: body.warmOptions as BridgeSdkOptions,
        },
        body.count,
        source,
      )
      .catch((err: unknown) =>
        this.opts.log.warn(
          { err: err instanceof Error ? err.message : String(err) },
          'could not keep warm spares',
        ),
      );
  }

  /** `DELETE …/spares`: stops every spare of the agent (resolves once they are gone). */
  async dropSpares(tenantId: string, agent: string): Promise<void> {
    this.wantedSpares.delete(`${tenantId}\u0000${agent}`);
    await this.opts.runner.dropSpares(tenantId, agent);
  }

  /**
   * `POST …/spares/claim`: takes a ready spare of the agent version for a new session (its id is
   * the session's). A claim no start uses within the reservation TTL is discarded.
   */
  async claimSpare(body: RunnerSpareClaimBody): Promise<RunnerSpareClaimAnswer> {
    const id = this.draining
      ? undefined
      : await this.opts.runner.takeSpare(body.tenantId, body.agent, body.version);
    this.opts.metrics.spareClaims.inc({ result: id ? 'claimed' : 'none' });
    if (!id) return { id: null };
    const timer = setTimeout(() => {
      this.claims.delete(id);
      this.opts.metrics.spareClaims.inc({ result: 'lapsed' });
      void this.opts.runner.pool.discardTaken(id).catch(() => undefined);
    }, this.opts.reservationTtlMs);
    timer.unref();
    this.claims.set(id, timer);
    return { id };
  }

  /**
   * Makes the claimed spare `s.id` the session's sandbox: its model calls now carry the session's
   * gateway token (to its coordinator's gateway), its connections the session's network. No
   * checkout: its files are the agent's, and the first checkpoint sends them all (`synced`
   * unset). False when no such claim is pending or its sandbox died.
   */
  private adoptClaimedSpare(s: HostedSession): boolean {
    const timer = this.claims.get(s.id);
    if (!timer) return false;
    clearTimeout(timer);
    this.claims.delete(s.id);
    const adopted = this.opts.runner.adoptSpare(
      s.id,
      { resolveApiKey: () => s.gatewayToken },
      s.egress?.spec,
    );
    if (!adopted) {
      void this.opts.runner.stop(s.id).catch(() => undefined);
      return false;
    }
    s.synced = undefined;
    return true;
  }

  /**
   * Reserves a slot for a start to come; it lapses after the reservation TTL.
   * @throws HostError `capacity_reached` (full or draining).
   */
  async reserve(): Promise<ReservationAnswer> {
    this.refuseWhileDraining();
    const slot = await this.opts.runner.reserve();
    if (this.draining) {
      slot.release();
      this.refuseWhileDraining();
    }
    const reservationId = randomUUID();
    const timer = setTimeout(() => this.releaseReservation(reservationId), this.opts.reservationTtlMs);
    timer.unref();
    this.reservations.set(reservationId, { slot, timer });
    return { reservationId, expiresInMs: this.opts.reservationTtlMs };
  }

  /** Gives a reservation back (idempotent). */
  releaseReservation(reservationId: string): void {
    const r = this.reservations.get(reservationId);
    if (!r) return;
    this.reservations.delete(reservationId);
    clearTimeout(r.timer);
    r.slot.release();
  }

  private takeReservation(reservationId: string | undefined): SlotReservation | undefined {
    if (!reservationId) return undefined;
    const r = this.reservations.get(reservationId);
    if (!r) return undefined; // lapsed: the start reserves anew
    this.reservations.delete(reservationId);
    clearTimeout(r.timer);
    return r.slot;
  }

  private refuseWhileDraining(): void {
    if (this.draining)
      throw new HostError('capacity_reached', 'the runner is draining: it takes no new session', {
        retryAfterSeconds: 5,
      });
  }

  /**
   * Starts the session's sandbox: checks its workspace out from the coordinator into the
   * session's folders, then starts it in the pool with the body's env, limits and network, its
   * model calls going to the coordinator's gateway with the session's gateway token. A session
   * whose sandbox already runs here only takes the new generation and token.
   * @throws HostError (capacity_reached, sandbox_unavailable, lease_lost) or the pool's errors.
   */
  async startSession(id: string, body: RunnerStartBody): Promise<{ seconds: number }> {
    const t0 = performance.now();
    const slot = this.takeReservation(body.reservationId);
    try {
      this.refuseWhileDraining();
    } catch (err) {
      slot?.release();
      throw err;
    }
    let s = this.sessions.get(id);
    if (s?.released) {
      await s.released.catch(() => undefined);
      s = this.sessions.get(id);
    }
    if (s && body.generation < s.generation) {
      slot?.release();
      throw new HostError('lease_lost', `generation ${body.generation} is older than ${s.generation}`);
    }
    if (!s) {
      s = {
        id,
        generation: body.generation,
        tenantId: body.tenantId,
        coordinatorUrl: body.coordinatorUrl.replace(/\/+$/, ''),
        gatewayToken: body.gatewayToken,
        synced: undefined,
        starting: 0,
        turn: undefined,
        lock: new AsyncLock(),
        egress: undefined,
        released: undefined,
        gone: false,
        settleTimer: undefined,
      };
      this.sessions.set(id, s);
    } else {
      if (s.gatewayToken !== body.gatewayToken) this.opts.secrets.delete(s.gatewayToken);
      s.generation = body.generation;
      s.tenantId = body.tenantId;
      s.coordinatorUrl = body.coordinatorUrl.replace(/\/+$/, '');
      s.gatewayToken = body.gatewayToken;
      s.gone = false;
    }
    this.opts.secrets.add(body.gatewayToken);
    const { runner } = this.opts;
    if (runner.hasLiveSandbox(id)) {
      slot?.release();
      return { seconds: (performance.now() - t0) / 1000 };
    }
    const session = s;
    session.starting++;
    try {
      if (body.egress) {
        session.egress = new EgressReporter(
          body.egress,
          (batch) =>
            this.toCoordinator(session, (base) => this.opts.link.egress(base, id, session.generation, batch)),
          this.opts.log.child({ sessionId: id }),
        );
      }
      if (body.spare && this.adoptClaimedSpare(session)) {
        slot?.release();
        this.opts.metrics.sessionStarts.inc({ kind: 'spare' });
        return { seconds: (performance.now() - t0) / 1000 };
      }
      await this.checkout(session);
      const starter: SandboxStarter = {
        prepare: async () => ({
          env: body.env,
          ...(body.limits ? { limits: body.limits } : {}),
          model: {
            resolveApiKey: () => session.gatewayToken,
            // A model call while the turn is detached waits for the coordinator taking it over
            // (the call then goes to its gateway with its token).
            admit: async () => {
              await this.untilAttached(session);
              return undefined;
            },
          },
          ...(session.egress ? { egress: session.egress.spec } : {}),
          modelUpstreamUrl: () => this.gatewayOf(session),
        }),
      };
      await runner.ensureSandbox(id, starter, slot);
      this.opts.metrics.sessionStarts.inc({ kind: 'cold' });
    } catch (err) {
      // Nothing of it runs here (and no other start is under way): forget it.
      if (!runner.hosts(id) && session.starting === 1 && !session.turn) this.drop(session);
      throw err;
    } finally {
      session.starting--;
    }
    this.holdStartPermit(session, body.warm);
    return { seconds: (performance.now() - t0) / 1000 };
  }

  /**
   * The start permit of a new sandbox goes back once its Claude process is up: after the warm-up
   * when the start asked for one, else at the first event of its first turn (the runner's
   * `runTurn`) or after `startPermitHoldMs`, whichever comes first.
   */
  private holdStartPermit(s: HostedSession, warm: RunnerStartBody['warm']): void {
    const { runner } = this.opts;
    if (warm) {
      const sandbox = runner.pool.current(s.id);
      void (
        sandbox
          ? sandbox.warm(warm.options as BridgeSdkOptions, warm.conversation as Conversation)
          : Promise.resolve(false)
      )
        .catch(() => false)
        .finally(() => runner.settleStart(s.id));
      return;
    }
    if (s.settleTimer) clearTimeout(s.settleTimer);
    s.settleTimer = setTimeout(() => runner.settleStart(s.id), this.opts.startPermitHoldMs ?? 20_000);
    s.settleTimer.unref();
  }

  /**
   * Calls a coordinator for the session: the one that placed it (or, when its heartbeats fail,
   * one that answers), then, when that one cannot be reached or fails (5xx), each other one in
   * turn. A refusal (4xx, `lease_lost` included) is final.
   * @throws the last CoordinatorError
   */
  private async toCoordinator<T>(s: HostedSession, fn: (base: string) => Promise<T>): Promise<T> {
    const first = this.opts.pickCoordinator?.(s.coordinatorUrl) ?? s.coordinatorUrl;
    const order = new Set([first, s.coordinatorUrl, ...this.opts.coordinators]);
    let last: unknown;
    for (const base of order) {
      try {
        return await fn(base);
      } catch (err) {
        last = err;
        if (!(err instanceof CoordinatorError) || (err.status !== 0 && err.status < 500)) throw err;
      }
    }
    throw last;
  }

  /** The session's model upstream: the gateway of the coordinator its calls go to (asked per call). */
  private gatewayOf(s: HostedSession): string {
    return `${this.opts.pickCoordinator?.(s.coordinatorUrl) ?? s.coordinatorUrl}${GATEWAY_PATH}`;
  }

  /** The session, or 404 `session_not_found`. */
  private hosted(id: string): HostedSession {
    const s = this.sessions.get(id);
    if (!s || s.released)
      throw new HostError('session_not_found', `session ${id} is not hosted on this runner`);
    return s;
  }

  /**
   * Brings the session's folders up to the coordinator's copy: sends the manifest of what is
   * here, applies the delta it answers (files owned by the session's sandbox user while one runs),
   * and remembers the result as the base of the next checkpoint.
   * @throws CoordinatorError (lease_lost), or the delta's error.
   */
  async checkout(s: HostedSession): Promise<void> {
    const { manager, link, metrics } = this.opts;
    await s.lock.run(async () => {
      const release = await manager.lockSessionFiles(s.id);
      try {
        const roots = await this.roots(s.id);
        const have = await scanManifest(roots);
        const body = await this.toCoordinator(s, (base) =>
          link.checkout(base, s.id, { generation: s.generation, manifest: have }),
        );
        const owner = this.opts.runner.hosts(s.id) ? manager.ownerOf(s.id) : undefined;
        try {
          await applyDelta(roots, body, {
            maxBytes: this.opts.maxCheckoutBytes,
            ...(owner ? { uid: owner.uid, gid: owner.gid } : {}),
          });
        } finally {
          body.destroy();
        }
        s.synced = await scanManifest(roots);
        metrics.checkouts.inc({ result: 'ok' });
      } catch (err) {
        metrics.checkouts.inc({
          result: err instanceof CoordinatorError && err.leaseLost ? 'fenced' : 'failed',
        });
        throw err;
      } finally {
        release();
      }
    });
  }

  /**
   * Stores a checkpoint of the session's files: the delta from the last synced manifest, sent
   * with the session's generation. `fenced`: the coordinator refused it (the lease moved on).
   */
  async checkpoint(s: HostedSession): Promise<TurnTrailer['checkpoint']> {
    if (s.gone) return 'fenced';
    const { manager, link, metrics, log } = this.opts;
    const t0 = performance.now();
    const result = await s.lock.run(async (): Promise<TurnTrailer['checkpoint']> => {
      const release = await manager.lockSessionFiles(s.id);
      try {
        const roots = await this.roots(s.id);
        const now = await scanManifest(roots);
        const diff = diffManifests(s.synced ?? {}, now);
        // Packed per attempt: a delta stream is consumed by the coordinator that failed.
        await this.toCoordinator(s, async (base) => {
          const delta = packDelta(roots, now, diff);
          try {
            await link.checkpoint(base, s.id, s.generation, delta);
          } finally {
            delta.destroy();
          }
        });
        s.synced = now;
        return 'stored';
      } catch (err) {
        if (err instanceof CoordinatorError && err.leaseLost) return 'fenced';
        log.warn(
          { sessionId: s.id, err: err instanceof Error ? err.message : String(err) },
          'checkpoint failed',
        );
        return 'failed';
      } finally {
        release();
      }
    });
    metrics.checkpoints.inc({ result });
    metrics.checkpointSeconds.observe((performance.now() - t0) / 1000);
    if (result === 'fenced') {
      // A release under way (stop, eviction) already stops the sandbox and forgets the session.
      if (s.released) s.gone = true;
      else await this.fence(s);
    }
    return result;
  }

  /** The lease moved on: stop the sandbox without storing anything and forget the session. */
  private async fence(s: HostedSession): Promise<void> {
    s.gone = true;
    this.opts.metrics.evictions.inc({ reason: 'fenced' });
    this.opts.log.warn({ sessionId: s.id, generation: s.generation }, 'lease lost: stopping the sandbox');
    await this.forget(s, () => this.opts.runner.stop(s.id));
  }

  /** `POST …/sessions/:id/checkpoint`. @throws HostError (session_not_found, lease_lost, sandbox_unavailable) */
  async checkpointRoute(id: string): Promise<void> {
    const result = await this.checkpoint(this.hosted(id));
    if (result === 'fenced')
      throw new HostError('lease_lost', 'the session lease moved on: nothing was stored');
    if (result === 'failed') throw new HostError('sandbox_unavailable', 'the checkpoint could not be stored');
  }

  private async roots(id: string): Promise<{ workspace: string; claude: string }> {
    const roots = { workspace: this.opts.paths.workspace(id), claude: this.opts.paths.claudeConfig(id) };
    await mkdir(roots.workspace, { recursive: true });
    await mkdir(roots.claude, { recursive: true });
    return roots;
  }

  /**
   * Runs a turn and writes it to `res` as NDJSON: one line per `TurnEvent`, then (after the
   * checkpoint) one {@link TurnTrailer} line. Checks the workspace out first when `checkout` says
   * the coordinator's copy changed.
   *
   * `res` closing before the turn ended (the coordinator died; its deliberate aborts use `POST
   * …/abort`) does not stop the turn: it runs on detached, its lines kept, and model calls of
   * the sandbox wait, until another coordinator attaches ({@link attachTurn}) or the hold runs
   * out (then it is aborted, `turn_interrupted`). A turn whose lines exceed the buffer bound is
   * aborted when its stream closes, as before. A turn that ended while detached keeps its lines
   * and stores its checkpoint only once a coordinator attached (with the new lease generation).
   * @throws HostError before anything is written (unknown session, no sandbox, busy, checkout).
   */
  async runTurn(id: string, body: RunnerTurnBody, res: ServerResponse, onStart: () => void): Promise<void> {
    const s = this.hosted(id);
    const { runner, metrics } = this.opts;
    if (s.turn) throw new HostError('session_busy', 'a turn is already running in this session');
    if (!runner.hasLiveSandbox(id))
      throw new HostError('sandbox_unavailable', 'no sandbox of this session runs on this runner');
    let done!: () => void;
    const t: HostedTurn = {
      turnId: body.turnId,
      done: new Promise<void>((r) => (done = r)),
      lines: [],
      bytes: 0,
      overflow: false,
      ended: false,
      sink: undefined,
      trailer: undefined,
      holdTimer: undefined,
      waiters: new Set(),
    };
    s.turn = t;
    runner.pin(id);
    try {
      if (body.checkout) await this.checkout(s);
      const turn = runner.runTurn(id, {
        turnId: body.turnId,
        prompt: body.prompt as MessageContent,
        options: body.options as BridgeSdkOptions,
        conversation: body.conversation as Conversation,
      });
      if (s.settleTimer) clearTimeout(s.settleTimer);
      onStart();
      this.attachSink(s, t, res, 0);
      let outcome = 'aborted';
      for await (const ev of turn.events as AsyncIterable<TurnEvent>) {
        if (ev.ev === 'turn_end') {
          t.ended = true;
          outcome = ev.outcome;
        }
        const line = `${JSON.stringify(ev)}\n`;
        if (!t.overflow) {
          t.lines.push(line);
          t.bytes += line.length;
          if (t.bytes > (this.opts.turnBufferBytes ?? DEFAULT_TURN_BUFFER_BYTES)) {
            t.overflow = true;
            t.lines = [];
            // Detached and no longer adoptable: end it now.
            if (!t.sink) this.abortDetached(s, t, 'its events outgrew the buffer kept for a takeover');
          }
        }
        const sink = t.sink;
        if (sink && !sink.destroyed && !sink.write(line))
          await new Promise<void>((r) => {
            sink.once('drain', r);
            sink.once('close', r);
          });
      }
      t.ended = true;
      metrics.turns.inc({ outcome });
      runner.unpin(id);
      await s.egress?.flush();
      // Detached: the checkpoint waits for the coordinator taking the turn over (its generation).
      if (!t.sink && !t.overflow) await this.untilAttached(s);
      const checkpoint = s.gone ? 'fenced' : await this.checkpoint(s);
      const cpu = turn.cpuSeconds();
      const trailer: TurnTrailer = { ev: 'trailer', cpuSeconds: cpu ?? null, checkpoint };
      t.trailer = `${JSON.stringify(trailer)}\n`;
      if (t.sink && !t.sink.destroyed) t.sink.end(t.trailer);
    } catch (err) {
      runner.unpin(id);
      // The checkout was refused: the session's lease moved on, its sandbox here must go.
      if (err instanceof CoordinatorError && err.leaseLost) await this.fence(s);
      if (res.headersSent) {
        this.opts.log.error(
          { sessionId: id, err: err instanceof Error ? err.message : String(err) },
          'turn failed',
        );
        if (t.sink && !t.sink.destroyed) t.sink.destroy();
        res.destroy();
        return;
      }
      if (err instanceof Error && /already running a turn/i.test(err.message))
        throw new HostError('session_busy', err.message);
      if (err instanceof Error && /is not running/i.test(err.message))
        throw new HostError('sandbox_unavailable', err.message);
      throw err;
    } finally {
      if (t.holdTimer) clearTimeout(t.holdTimer);
      for (const w of [...t.waiters]) w(false);
      t.lines = [];
      if (s.turn === t) s.turn = undefined;
      done();
    }
  }

  /**
   * Makes `res` the turn's stream: writes the head and the lines from `from` on (the trailer when
   * the turn is over), then the live rest. Its closing before the trailer detaches the turn.
   */
  private attachSink(s: HostedSession, t: HostedTurn, res: ServerResponse, from: number): void {
    const previous = t.sink;
    t.sink = res;
    t.foreignSince = undefined;
    if (previous && previous !== res && !previous.destroyed) previous.destroy();
    if (t.holdTimer) clearTimeout(t.holdTimer);
    t.holdTimer = undefined;
    res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
    if (from < t.lines.length) res.write(t.lines.slice(from).join(''));
    if (t.trailer) res.end(t.trailer);
    res.on('close', () => {
      if (t.sink !== res) return;
      t.sink = undefined;
      if (t.trailer && res.writableFinished) return;
      this.detach(s, t);
    });
    for (const w of [...t.waiters]) w(true);
  }

  /** The turn's coordinator stream closed early: hold the turn for a takeover, or end it. */
  private detach(s: HostedSession, t: HostedTurn): void {
    if (t.overflow) {
      this.abortDetached(s, t, 'the coordinator closed the turn stream');
      return;
    }
    this.opts.log.warn(
      { sessionId: s.id, turnId: t.turnId, events: t.lines.length },
      'the coordinator stream of a running turn closed: holding the turn for another coordinator',
    );
    const holdMs = this.opts.turnHoldMs ?? DEFAULT_TURN_HOLD_MS;
    if (t.holdTimer) clearTimeout(t.holdTimer);
    t.holdTimer = setTimeout(() => {
      t.holdTimer = undefined;
      if (t.sink) return;
      for (const w of [...t.waiters]) w(false);
      if (!t.ended) this.abortDetached(s, t, `no coordinator took the turn over within ${holdMs} ms`);
    }, holdMs);
    t.holdTimer.unref();
  }

  private abortDetached(s: HostedSession, t: HostedTurn, why: string): void {
    this.opts.log.warn({ sessionId: s.id, turnId: t.turnId }, `aborting a detached turn: ${why}`);
    void this.opts.runner
      .abortTurn(
        s.id,
        t.turnId,
        { message: `the coordinator closed the turn stream (${why})`, code: 'turn_interrupted' },
        'interrupted',
      )
      .catch(() => undefined);
  }

  /**
   * Resolves at once unless the session's turn is detached; then once a coordinator attached
   * or the hold ran out.
   */
  private untilAttached(s: HostedSession): Promise<void> {
    const t = s.turn;
    if (!t || t.sink || !t.holdTimer) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const w = () => {
        t.waiters.delete(w);
        resolve();
      };
      t.waiters.add(w);
    });
  }

  /**
   * `POST …/sessions/:id/turns/:turnId/attach`: a coordinator that took the session over (its
   * lease generation `body.generation`, newer than the one the turn was started with, or equal
   * when no stream is attached) continues the turn's stream from event `body.from`: the lines from
   * there, then the live rest and the trailer. The session's writes carry the new generation from
   * now on; its model calls go to that coordinator's gateway with `body.gatewayToken`. The stream
   * it replaces (if any) is closed.
   * @throws HostError 404 `session_not_found` (the session or the turn is not here any more, or
   *   its lines were not kept), 409 `lease_lost` (an older generation), 400 `validation_failed`.
   */
  attachTurn(
    id: string,
    turnId: string,
    body: RunnerAttachBody,
    res: ServerResponse,
    onStart: () => void,
  ): void {
    const s = this.hosted(id);
    if (body.generation < s.generation || (body.generation === s.generation && s.turn?.sink))
      throw new HostError(
        'lease_lost',
        `generation ${body.generation} does not take over from generation ${s.generation}`,
      );
    const t = s.turn;
    if (!t || t.turnId !== turnId || t.overflow)
      throw new HostError('session_not_found', `turn ${turnId} is not running on this runner (any more)`);
    if (body.from > t.lines.length)
      throw new HostError(
        'validation_failed',
        `from ${body.from} is past the turn's ${t.lines.length} events`,
      );
    if (s.gatewayToken !== body.gatewayToken) this.opts.secrets.delete(s.gatewayToken);
    s.generation = body.generation;
    s.coordinatorUrl = body.coordinatorUrl.replace(/\/+$/, '');
    s.gatewayToken = body.gatewayToken;
    s.gone = false;
    // The next checkpoint brings the new coordinator's copy (not the dead one's) up to ours.
    s.synced = body.manifest;
    this.opts.secrets.add(body.gatewayToken);
    this.opts.log.info(
      { sessionId: id, turnId, generation: body.generation, from: body.from, events: t.lines.length },
      'a coordinator took the turn over',
    );
    onStart();
    this.attachSink(s, t, res, body.from);
  }

  /** `POST …/tool-answers`. */
  answerToolRequest(id: string, requestId: string, answer: unknown): void {
    this.hosted(id);
    this.opts.runner.answerToolRequest(id, requestId, answer as ToolAnswer);
  }

  /** `POST …/interrupt`. */
  interrupt(id: string, turnId: string): void {
    this.hosted(id);
    this.opts.runner.interrupt(id, turnId);
  }

  /** `POST …/abort`. */
  async abort(
    id: string,
    turnId: string,
    error: { message: string; code: string },
    outcome?: 'error' | 'interrupted',
  ): Promise<void> {
    this.hosted(id);
    await this.opts.runner.abortTurn(id, turnId, error, outcome);
  }

  /** `POST …/exec`: runs a command, then stores a checkpoint. */
  async exec(id: string, body: RunnerExecBody): Promise<ExecResult> {
    const s = this.hosted(id);
    if (!this.opts.runner.hasLiveSandbox(id))
      throw new HostError('sandbox_unavailable', 'no sandbox of this session runs on this runner');
    const result = await this.opts.runner.exec(id, body.command, {
      timeoutMs: body.timeoutMs,
      maxOutputBytes: body.maxOutputBytes,
    });
    await this.checkpoint(s);
    return result;
  }

  logs(id: string, after: number): Promise<LogEntry[]> {
    this.hosted(id);
    return this.opts.runner.logs(id, after);
  }

  pin(id: string): void {
    this.hosted(id);
    this.opts.runner.pin(id);
  }

  unpin(id: string): void {
    this.hosted(id);
    this.opts.runner.unpin(id);
  }

  /**
   * `DELETE …/sessions/:id`: stops the sandbox, stores a checkpoint of the files (unless
   * `checkpoint` is false) and forgets the session.
   */
  async stopSession(id: string, checkpoint: boolean): Promise<void> {
    const s = this.sessions.get(id);
    if (!s) return;
    await this.release(s, checkpoint);
  }

  /**
   * Stops the session's sandbox and then checkpoints its files (after the stop nothing writes
   * them any more, and a sandbox disk is copied back to the session's folders).
   */
  private release(s: HostedSession, checkpoint: boolean): Promise<void> {
    this.endHold(s);
    s.released ??= (async () => {
      await this.opts.runner.stop(s.id);
      if (checkpoint && !s.gone) await this.checkpoint(s);
    })().finally(() => this.drop(s));
    return s.released;
  }

  /** A detached turn of a session going away waits for no takeover any more. */
  private endHold(s: HostedSession): void {
    const t = s.turn;
    if (!t?.holdTimer) return;
    clearTimeout(t.holdTimer);
    t.holdTimer = undefined;
    for (const w of [...t.waiters]) w(false);
  }

  private async forget(s: HostedSession, stop: () => Promise<void>): Promise<void> {
    this.endHold(s);
    s.released ??= stop().finally(() => this.drop(s));
    await s.released.catch(() => undefined);
  }

  private drop(s: HostedSession): void {
    if (s.settleTimer) clearTimeout(s.settleTimer);
    if (this.sessions.get(s.id) === s) this.sessions.delete(s.id);
    this.opts.secrets.delete(s.gatewayToken);
  }

  /**
   * The pool stopped a session's sandbox on its own (idle, capacity): store its checkpoint and
   * tell the coordinator that placed it, so it releases the session.
   */
  private async onPoolEvicted(id: string, reason: EvictionReason): Promise<void> {
    const s = this.sessions.get(id);
    if (!s) return;
    this.opts.metrics.evictions.inc({ reason });
    await this.forget(s, async () => {
      if (!s.gone) await this.checkpoint(s);
    });
    await this.tellEvicted(s, reason);
  }

  private async tellEvicted(s: HostedSession, reason: 'idle' | 'capacity' | 'drain'): Promise<void> {
    if (s.gone) return;
    try {
      await this.toCoordinator(s, (base) =>
        this.opts.link.evicted(base, { sessionId: s.id, reason, generation: s.generation }),
      );
    } catch (err) {
      this.opts.log.warn(
        { sessionId: s.id, err: err instanceof Error ? err.message : String(err) },
        'could not report an eviction (the coordinator finds out by the heartbeat)',
      );
    }
  }

  /** `POST …/sweep`: stops sessions idle past the idle timeout now. */
  sweep(): Promise<number> {
    return this.opts.runner.sweepIdle();
  }

  /**
   * Sessions a coordinator says are no longer this runner's (their lease moved on): their
   * sandboxes stop without a checkpoint. Only those still at the generation `reported` names
   * (a start for a new lease since the report is kept).
   */
  async stopForeign(ids: string[], reported: RunnerReport): Promise<void> {
    const generationAt = new Map(reported.sessions.map((r) => [r.id, r.generation]));
    await Promise.all(
      ids.map(async (id) => {
        const s = this.sessions.get(id);
        if (!s || s.starting > 0 || generationAt.get(id) !== s.generation) return;
        // A detached turn may be in the middle of a takeover (the new owner bumped the generation
        // and its attach is on the way): foreign only when still so a second later.
        const t = s.turn;
        if (t && !t.sink && t.holdTimer) {
          t.foreignSince ??= Date.now();
          if (Date.now() - t.foreignSince < FOREIGN_GRACE_MS) return;
        }
        s.gone = true;
        this.opts.metrics.evictions.inc({ reason: 'foreign' });
        this.opts.log.warn(
          { sessionId: id },
          'session no longer belongs to this runner: stopping its sandbox',
        );
        await this.forget(s, () => this.opts.runner.stop(id));
      }),
    );
  }

  /**
   * Drains: takes no new reservation or start, then for each session (after its running turn)
   * stops the sandbox, stores a checkpoint and tells its coordinator (`evicted`, reason
   * `drain`). {@link onDrained} is called once the runner is empty.
   */
  drain(): Promise<void> {
    if (this.drainRun) return this.drainRun;
    this.draining = true;
    for (const id of [...this.reservations.keys()]) this.releaseReservation(id);
    this.opts.log.info({ sessions: this.sessions.size }, 'draining');
    this.drainRun = (async () => {
      // Spares are no session: they just go.
      for (const w of [...this.wantedSpares.values()]) await this.dropSpares(w.tenantId, w.agent);
      while (this.sessions.size > 0) {
        await Promise.all(
          [...this.sessions.values()].map(async (s) => {
            while (s.turn) await s.turn.done;
            while (s.starting > 0) await new Promise((r) => setTimeout(r, 50));
            this.opts.metrics.evictions.inc({ reason: 'drain' });
            await this.release(s, true).catch(() => undefined);
            await this.tellEvicted(s, 'drain');
          }),
        );
      }
      this.opts.log.info('drained: no session left');
      this.onDrained?.();
    })();
    return this.drainRun;
  }

  /**
   * Stops for good (SIGTERM): running turns are ended (`runner_lost`), then every session is
   * released as by a drain (stopped, checkpointed, reported), and the pool and manager close.
   */
  async shutdown(): Promise<void> {
    this.draining = true;
    // A detached turn no longer waits for a takeover: it ends (and checkpoints) now.
    for (const s of this.sessions.values()) this.endHold(s);
    for (const s of this.sessions.values())
      if (s.turn)
        await this.opts.runner
          .abortTurn(s.id, s.turn.turnId, { message: 'the runner is shutting down', code: 'runner_lost' })
          .catch(() => undefined);
    await this.drain();
    await this.opts.runner.shutdown();
    await this.opts.manager.close();
  }
}
