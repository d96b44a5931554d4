import type { Readable } from 'node:stream';
import {
  RUNNER_API_PREFIX,
  type ExecResult,
  type LogEntry,
  type Manifest,
  type ReservationAnswer,
  type RunnerReport,
  type RunnerAttachBody,
  type RunnerSpareClaimAnswer,
  type RunnerSparesBody,
  type RunnerStartBody,
  type RunnerTurnBody,
  type ToolAnswer,
} from '@ash-ai/shared';
import {
  SandboxStartError,
  type EgressConnection,
  type SandboxEgressSpec,
  type TurnEvent,
} from '@ash-ai/sandbox';
import {
  emptyPoolCounters,
  RunnerCapacityError,
  RunnerClosedError,
  type ModelCallHooks,
  type RunnerClient,
  type RunnerListener,
  type RunnerStats,
  type SandboxStarter,
  type SandboxTurn,
  type SlotReservation,
  type SpareAgent,
  type SpareCount,
  type SpareSource,
  type TurnRequest,
} from '@ash-ai/runner';
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import { isLinkableEgress } from '../sessions/egress.js';
import type { ModelGateway } from './model-gateway.js';
import { responseText, TurnStreamPool } from './turn-stream.js';

export interface HttpRunnerClientOptions {
  runnerId: string;
  /** The runner's base URL (http or https). */
  url: string;
  /** ASH_INTERNAL_SECRET (sent as `Authorization: Bearer`). */
  secret: string | undefined;
  /** Timeout of each call (turn streams excepted: they last as long as the turn), ms. */
  timeoutMs: number;
  /** This coordinator's base URL, as the runner reaches it (checkout, checkpoint, gateway). */
  coordinatorUrl: () => string;
  gateway: ModelGateway;
  /**
   * Records the placement in the database: bumps the session's lease generation, sets its runner.
   * @returns the new generation and the session's tenant; undefined when the session is gone.
   */
  place: (
    sessionId: string,
    runnerId: string,
  ) => Promise<{ generation: number; tenantId: string } | undefined>;
  /** Clears the session's runner (it stopped there) unless a later placement moved it. */
  leave: (sessionId: string, generation: number) => Promise<void>;
  /**
   * The manifest of this coordinator's copy of the session's files (a takeover sends it: the
   * base of the runner's next checkpoint). Absent: `{}` (a full checkpoint).
   */
  manifest?: (sessionId: string) => Promise<Manifest>;
  /** A turn stream broke (the runner was killed or is unreachable): the runner is lost. */
  onBroken: (reason: string) => void;
  log: Logger;
}

/** Longest wait for a runner to checkpoint and stop a session (a large checkpoint), ms. */
const STOP_TIMEOUT_MS = 120_000;

/** A remote slot reservation (released on the runner, idempotently). */
class RemoteReservation implements SlotReservation {
  private released = false;
  constructor(
    readonly reservationId: string,
    private readonly onRelease: (r: RemoteReservation) => void,
  ) {}
  release(): void {
    if (this.released) return;
    this.released = true;
    this.onRelease(this);
  }
}

interface PlacedSession {
  state: 'starting' | 'ready';
  generation: number;
  start: Promise<void> | undefined;
  /** The coordinator's copy changed since the runner checked it out: the next turn checks out first. */
  checkout: boolean;
  turn: { turnId: string; abort: AbortController; lost?: string } | undefined;
  /** Where the sandbox's connections are reported (the session's egress events and usage). */
  egress: SandboxEgressSpec | undefined;
  logs: { entries: LogEntry[] };
}

/**
 * {@link RunnerClient} over the runner link (`packages/shared/src/runner-link.ts`) to one `ash
 * runner` process: every call is a request to its `RUNNER_API_PREFIX` routes (undici keep-alive
 * pool, a timeout per call, `Authorization: Bearer ASH_INTERNAL_SECRET`, https when the URL is).
 *
 * A start is prepared here (`starter.prepare()`: the claim and the spec, with the session's model
 * hooks kept here behind a fresh gateway token), then the runner starts the sandbox after checking
 * the workspace out from this coordinator. A turn is one NDJSON response; a stream that breaks
 * ends the turn with `turn_end` `error` `runner_lost` (and the runner is lost). A turn another
 * coordinator streamed before it died is taken over with {@link HttpRunnerClient.adoptTurn}.
 * Synchronous reads answer from what this client placed and the runner's last report. Warm
 * spares: the runner keeps them when asked (`POST …/spares`: plain agent data, no key), a new
 * session claims one (`POST …/spares/claim`), and its start (`spare: true`) makes it the
 * session's sandbox.
 */
export class HttpRunnerClient implements RunnerClient {
  /** The connection pool, created on the first call (undici is loaded then, not at start). */
  private dispatcher: Dispatcher | undefined;
  /** Turn streams (node:http, see {@link TurnStreamPool}: first events sooner than undici). */
  private readonly turnStreams: TurnStreamPool;
  private readonly base: URL;
  private readonly sessions = new Map<string, PlacedSession>();
  private readonly reservations = new Set<RemoteReservation>();
  private listener: RunnerListener | undefined;
  private report: RunnerReport | undefined;
  /** Spares claimed here whose session has not started on the runner yet. */
  private readonly claimed = new Set<string>();
  /** Spares claimed since the last report, per agent version (not yet out of its figures). */
  private claimedSinceReport = new Map<string, number>();
  private closed = false;
  /** Aborted when the runner is lost: every call in flight gives up. */
  private readonly lost = new AbortController();

  constructor(private readonly opts: HttpRunnerClientOptions) {
    this.base = new URL(`${opts.url.replace(/\/+$/, '')}${RUNNER_API_PREFIX}/`);
    this.turnStreams = new TurnStreamPool(this.base);
  }

  get runnerId(): string {
    return this.opts.runnerId;
  }

  /** The runner's latest report (heartbeat). */
  applyReport(report: RunnerReport): void {
    this.report = report;
    this.claimedSinceReport = new Map();
  }

  /** Its capacity as registered (used until its first report arrives). */
  registeredMax = 0;

  get lastReport(): RunnerReport | undefined {
    return this.report;
  }

  /** Sessions this client placed on the runner. */
  placedSessions(): string[] {
    return [...this.sessions.keys()];
  }

  /** The session's lease generation on this runner, if placed here. */
  generationOf(sessionId: string): number | undefined {
    return this.sessions.get(sessionId)?.generation;
  }

  /**
   * Connections the runner's sandbox made, as the runner reported them: each goes where a local
   * sandbox's would (the session's running turn's `egress` events, metrics, the usage ledger).
   * False when the session is not placed here.
   */
  reportEgress(sessionId: string, connections: EgressConnection[]): boolean {
    const placed = this.sessions.get(sessionId);
    if (!placed) return false;
    for (const c of connections) placed.egress?.onConnection?.(c);
    return true;
  }

  /** The coordinator's copy of the session's files changed: its next turn checks them out first. */
  markCheckout(sessionId: string): void {
    const s = this.sessions.get(sessionId);
    if (s) s.checkout = true;
  }

  /**
   * The runner is lost: every running turn ends with `runner_lost`, every session is forgotten
   * (gateway tokens revoked). Returns the sessions it hosted.
   */
  lose(reason: string): string[] {
    this.lost.abort();
    const ids = [...this.sessions.keys()];
    for (const [id, s] of this.sessions) {
      if (s.turn) {
        s.turn.lost = reason;
        s.turn.abort.abort();
      }
      this.opts.gateway.unregister(id);
    }
    this.sessions.clear();
    return ids;
  }

  /** Forgets one session (the runner evicted it, or it moved): no call reaches the runner. */
  forget(sessionId: string): void {
    const s = this.sessions.get(sessionId);
    if (s?.turn) {
      s.turn.lost = 'the session left this runner';
      s.turn.abort.abort();
    }
    this.sessions.delete(sessionId);
    this.opts.gateway.unregister(sessionId);
  }

  listen(listener: RunnerListener): void {
    this.listener = listener;
  }

  /** The runner's listener (evictions it reports through the coordinator's internal route). */
  get eventListener(): RunnerListener | undefined {
    return this.listener;
  }

  async reserve(): Promise<SlotReservation> {
    if (this.closed) throw new RunnerClosedError();
    const answer = await this.call<ReservationAnswer>('POST', 'reservations', {});
    const r = new RemoteReservation(answer.reservationId, (res) => {
      this.reservations.delete(res);
      void this.call('DELETE', `reservations/${encodeURIComponent(res.reservationId)}`).catch(
        (err: unknown) => this.opts.log.debug({ err: errText(err) }, 'could not release a reservation'),
      );
    });
    this.reservations.add(r);
    return r;
  }

  async ensureCapacity(): Promise<void> {
    (await this.reserve()).release();
  }

  canQueueStart(): boolean {
    return this.report?.canQueueStart ?? true;
  }

  async ensureSandbox(sessionId: string, starter: SandboxStarter, slot?: SlotReservation): Promise<void> {
    await this.startSandbox(sessionId, starter, slot, false);
  }

  prewarm(sessionId: string, starter: SandboxStarter): void {
    void this.startSandbox(sessionId, starter, undefined, true).catch((err: unknown) =>
      this.opts.log.warn({ sessionId, err: errText(err), runner: this.opts.runnerId }, 'prewarm failed'),
    );
  }

  private startSandbox(
    sessionId: string,
    starter: SandboxStarter,
    slot: SlotReservation | undefined,
    warm: boolean,
  ): Promise<void> {
    const known = this.sessions.get(sessionId);
    if (known) {
      slot?.release();
      return known.start ?? Promise.resolve();
    }
    if (this.closed) return Promise.reject(new RunnerClosedError());
    const placed: PlacedSession = {
      state: 'starting',
      generation: 0,
      start: undefined,
      checkout: false,
      turn: undefined,
      egress: undefined,
      logs: { entries: [] },
    };
    this.sessions.set(sessionId, placed);
    placed.start = (async () => {
      try {
        const spec = await starter.prepare();
        const link = isLinkableEgress(spec.egress) ? spec.egress.linkData() : undefined;
        if (link && link.bindings > 0)
          throw new SandboxStartError(
            "a session with credential bindings (network.inject) runs only on a server's own runner: the credential values never leave the coordinator",
          );
        if (spec.egress?.enabled && !link)
          throw new SandboxStartError('this session’s network policy cannot be sent to a runner');
        const lease = await this.opts.place(sessionId, this.opts.runnerId);
        if (!lease) throw new SandboxStartError('the session is gone');
        placed.generation = lease.generation;
        placed.egress = spec.egress;
        const gatewayToken = this.opts.gateway.register(sessionId, spec.model);
        // A claimed spare's Claude process is already up (with the agent's options).
        const spare = this.claimed.delete(sessionId);
        const warmWith = warm && !spare ? await starter.warmOptions?.() : undefined;
        const body: RunnerStartBody = {
          ...(slot instanceof RemoteReservation ? { reservationId: slot.reservationId } : {}),
          generation: lease.generation,
          tenantId: lease.tenantId,
          coordinatorUrl: this.opts.coordinatorUrl(),
          gatewayToken,
          env: spec.env,
          ...(spec.limits ? { limits: spec.limits } : {}),
          ...(link ? { egress: link.egress } : {}),
          ...(spare ? { spare: true } : {}),
          ...(warmWith ? { warm: { options: warmWith.options, conversation: warmWith.conversation } } : {}),
        };
        // Starts may wait in the runner's start queue: no per-call timeout beyond its own.
        await this.call('POST', `sessions/${encodeURIComponent(sessionId)}/sandbox`, body, 0);
        if (this.sessions.get(sessionId) !== placed)
          throw new SandboxStartError('the session left this runner');
        placed.state = 'ready';
        starter.onStarted?.(undefined);
      } catch (err) {
        if (this.sessions.get(sessionId) === placed) {
          this.sessions.delete(sessionId);
          this.opts.gateway.unregister(sessionId);
        }
        starter.onStarted?.(err);
        throw err;
      } finally {
        // The runner used (or dropped) the reservation with the start.
        if (slot instanceof RemoteReservation) this.reservations.delete(slot);
        placed.start = undefined;
      }
    })();
    return placed.start;
  }

  async awaitPrewarm(sessionId: string): Promise<void> {
    await this.sessions.get(sessionId)?.start?.catch(() => undefined);
  }

  /** The runner settles its own start queue (when the Claude process is up). */
  settleStart(): void {}

  hasLiveSandbox(sessionId: string): boolean {
    return this.sessions.get(sessionId)?.state === 'ready';
  }

  hosts(sessionId: string): boolean {
    return this.sessions.has(sessionId);
  }

  isStarting(sessionId: string): boolean {
    return this.sessions.get(sessionId)?.state === 'starting';
  }

  pin(sessionId: string): void {
    this.fireAndForget(sessionId, 'pin');
  }

  unpin(sessionId: string): void {
    this.fireAndForget(sessionId, 'unpin');
  }

  runTurn(sessionId: string, turn: TurnRequest): SandboxTurn {
    const placed = this.sessions.get(sessionId);
    if (placed?.state !== 'ready' || !placed) throw new Error('sandbox is not running');
    if (placed.turn) throw new Error('the sandbox is already running a turn');
    const abort = new AbortController();
    const running = { turnId: turn.turnId, abort } as NonNullable<PlacedSession['turn']>;
    placed.turn = running;
    const body: RunnerTurnBody = {
      turnId: turn.turnId,
      prompt: turn.prompt,
      options: turn.options,
      conversation: turn.conversation,
      ...(placed.checkout ? { checkout: true } : {}),
    };
    placed.checkout = false;
    return this.turnStream(placed, running, `sessions/${encodeURIComponent(sessionId)}/turns`, body);
  }

  /**
   * The events of a turn streamed by the runner (`POST path` with `body`, NDJSON then trailer).
   * A stream that breaks ends the turn with `turn_end` `error` `runner_lost`; `unreached` is set
   * when the runner never answered.
   */
  private turnStream(
    placed: PlacedSession,
    running: NonNullable<PlacedSession['turn']>,
    path: string,
    body: unknown,
  ): SandboxTurn & { unreached: boolean } {
    const { turnId, abort } = running;
    let cpuSeconds: number | undefined;
    const url = this.url(path);
    const headers = this.headers({ 'content-type': 'application/json', accept: 'application/x-ndjson' });
    const { turnStreams, opts } = this;
    const lostEnd = (message: string): TurnEvent => ({
      ev: 'turn_end',
      turnId,
      outcome: 'error',
      error: { code: 'runner_lost', message },
    });
    const result: SandboxTurn & { unreached: boolean } = {
      unreached: false,
      cpuSeconds: () => cpuSeconds,
      events: {
        async *[Symbol.asyncIterator]() {
          let ended = false;
          let answered = false;
          try {
            const res = await turnStreams.post(
              url,
              headers,
              JSON.stringify(body),
              abort.signal,
              opts.timeoutMs,
            );
            answered = true;
            if (res.statusCode !== 200) {
              const problem = problemOf(await responseText(res), res.statusCode ?? 0);
              ended = true;
              yield {
                ev: 'turn_end',
                turnId,
                outcome: 'error',
                error: { code: problem.code ?? 'sandbox_unavailable', message: problem.detail },
              } satisfies TurnEvent;
              return;
            }
            for await (const line of ndjsonLines(res)) {
              const ev = JSON.parse(line) as TurnEvent | { ev: 'trailer'; cpuSeconds: number | null };
              if (ev.ev === 'trailer') {
                cpuSeconds = ev.cpuSeconds ?? undefined;
                continue;
              }
              if (ended) continue;
              if (ev.ev === 'turn_end') ended = true;
              yield ev;
            }
            if (!ended) throw new Error('the turn stream ended before the turn did');
          } catch (err) {
            if (ended) return;
            ended = true;
            const reason = running.lost ?? errText(err);
            // Never answered: the turn did not start there (the router may run it elsewhere).
            if (!answered && !running.lost) result.unreached = true;
            if (!running.lost) opts.onBroken(`its turn stream broke: ${reason}`);
            yield lostEnd(
              `the runner hosting the session's sandbox was lost (${reason}); send the message again to run it on another runner`,
            );
          } finally {
            if (!abort.signal.aborted) abort.abort();
            if (placed.turn === running) placed.turn = undefined;
          }
        },
      },
    };
    return result;
  }

  /**
   * Takes over a turn a dead coordinator left running on this runner (see
   * {@link RunnerClient.adoptTurn}): the start's preparation (this server's claim, the model hooks
   * behind a fresh gateway token), a new lease generation, then `POST …/turns/:turnId/attach`
   * from event `from`. Undefined (and the session forgotten here, its runner cleared) when the
   * runner does not hold the turn any more.
   * @throws the preparation's errors (the caller closes the turn).
   */
  async adoptTurn(
    sessionId: string,
    _runnerId: string,
    starter: SandboxStarter,
    turnId: string,
    from: number,
  ): Promise<SandboxTurn | undefined> {
    if (this.closed) return undefined;
    if (this.sessions.has(sessionId)) this.forget(sessionId);
    const spec = await starter.prepare();
    const link = isLinkableEgress(spec.egress) ? spec.egress.linkData() : undefined;
    const lease = await this.opts.place(sessionId, this.opts.runnerId);
    if (!lease) return undefined;
    const placed: PlacedSession = {
      state: 'ready',
      generation: lease.generation,
      start: undefined,
      checkout: false,
      turn: undefined,
      egress: link ? spec.egress : undefined,
      logs: { entries: [] },
    };
    this.sessions.set(sessionId, placed);
    const gatewayToken = this.opts.gateway.register(sessionId, spec.model);
    const running = { turnId, abort: new AbortController() } as NonNullable<PlacedSession['turn']>;
    placed.turn = running;
    const body: RunnerAttachBody = {
      generation: lease.generation,
      coordinatorUrl: this.opts.coordinatorUrl(),
      gatewayToken,
      from,
      manifest: (await this.opts.manifest?.(sessionId)) ?? {},
    };
    const turn = this.turnStream(
      placed,
      running,
      `sessions/${encodeURIComponent(sessionId)}/turns/${encodeURIComponent(turnId)}/attach`,
      body,
    );
    // The first event tells whether the runner holds the turn (a refusal is a `turn_end` of
    // code session_not_found / lease_lost, before any event of the turn).
    const it = turn.events[Symbol.asyncIterator]();
    const first = await it.next();
    const refused =
      first.done ||
      (first.value.ev === 'turn_end' &&
        (first.value.error?.code === 'session_not_found' || first.value.error?.code === 'lease_lost'));
    if (refused) {
      if (this.sessions.get(sessionId) === placed) {
        this.sessions.delete(sessionId);
        this.opts.gateway.unregister(sessionId);
      }
      await this.opts.leave(sessionId, lease.generation).catch(() => undefined);
      return undefined;
    }
    return {
      cpuSeconds: () => turn.cpuSeconds(),
      events: {
        async *[Symbol.asyncIterator]() {
          yield first.value as TurnEvent;
          for (let n = await it.next(); !n.done; n = await it.next()) yield n.value;
        },
      },
    };
  }

  answerToolRequest(sessionId: string, requestId: string, answer: ToolAnswer): void {
    this.fireAndForget(sessionId, 'tool-answers', { requestId, answer });
  }

  interrupt(sessionId: string, turnId: string): void {
    this.fireAndForget(sessionId, 'interrupt', { turnId });
  }

  async abortTurn(
    sessionId: string,
    turnId: string,
    error: { message: string; code: string },
    outcome?: 'error' | 'interrupted',
  ): Promise<void> {
    const placed = this.sessions.get(sessionId);
    if (!placed) return;
    try {
      await this.call('POST', `sessions/${encodeURIComponent(sessionId)}/abort`, {
        turnId,
        error,
        ...(outcome ? { outcome } : {}),
      });
    } catch (err) {
      // The runner does not answer: end the turn here (its stream then says `runner_lost`).
      if (placed.turn?.turnId === turnId) {
        placed.turn.lost = `it did not answer an abort: ${errText(err)}`;
        placed.turn.abort.abort();
      }
    }
  }

  async exec(
    sessionId: string,
    command: string,
    opts: { timeoutMs: number; maxOutputBytes: number },
  ): Promise<ExecResult> {
    if (this.sessions.get(sessionId)?.state !== 'ready') throw new Error('sandbox is not running');
    return this.call<ExecResult>(
      'POST',
      `sessions/${encodeURIComponent(sessionId)}/exec`,
      { command, timeoutMs: opts.timeoutMs, maxOutputBytes: opts.maxOutputBytes },
      opts.timeoutMs + this.opts.timeoutMs,
    );
  }

  /**
   * Asks the runner for the output after what this client already holds (kept, the last 2000
   * entries); when the runner cannot answer in time, answers from what it holds.
   */
  async logs(sessionId: string, after: number): Promise<LogEntry[]> {
    const placed = this.sessions.get(sessionId);
    if (!placed) return [];
    const cache = placed.logs;
    const from = cache.entries.at(-1)?.index ?? -1;
    try {
      const r = await this.call<{ logs: LogEntry[] }>(
        'GET',
        `sessions/${encodeURIComponent(sessionId)}/logs?after=${from}`,
      );
      const fresh = r.logs.filter((e) => e.index > from);
      cache.entries = [...cache.entries, ...fresh].slice(-2000);
    } catch (err) {
      this.opts.log.debug({ sessionId, err: errText(err) }, 'could not fetch the sandbox logs');
    }
    return cache.entries.filter((e) => e.index > after);
  }

  async stop(sessionId: string): Promise<void> {
    const placed = this.sessions.get(sessionId);
    if (!placed) return;
    await placed.start?.catch(() => undefined);
    try {
      // Checkpointed first: the coordinator's copy is then the session's latest files.
      await this.call(
        'DELETE',
        `sessions/${encodeURIComponent(sessionId)}?checkpoint=1`,
        undefined,
        STOP_TIMEOUT_MS,
      );
    } catch (err) {
      this.opts.log.warn(
        { sessionId, runner: this.opts.runnerId, err: errText(err) },
        'the runner did not stop the session; its sandbox is stopped at its next heartbeat (foreign)',
      );
    }
    if (this.sessions.get(sessionId) === placed) {
      this.sessions.delete(sessionId);
      this.opts.gateway.unregister(sessionId);
    }
    await this.opts.leave(sessionId, placed.generation).catch(() => undefined);
  }

  /**
   * Asks the runner to keep `count` spares of the agent version (plain data: its env, limits,
   * SDK options and network; no key: the source's model hooks stay here). Agents whose network
   * cannot go to a runner (credential bindings) get none.
   */
  async replenishSpares(agent: SpareAgent, count: number, source: SpareSource): Promise<void> {
    if (this.closed) return;
    const link = isLinkableEgress(source.egress) ? source.egress.linkData() : undefined;
    if ((link && link.bindings > 0) || (source.egress?.enabled && !link)) return;
    const body: RunnerSparesBody = {
      tenantId: agent.tenantId,
      agent: agent.name,
      version: agent.version,
      count,
      coordinatorUrl: this.opts.coordinatorUrl(),
      env: agent.env,
      ...(agent.limits ? { limits: agent.limits } : {}),
      ...(link ? { egress: link.egress } : {}),
      warmOptions: agent.warmOptions,
    };
    await this.call('POST', 'spares', body);
  }

  async dropSpares(tenantId: string, agentName: string): Promise<void> {
    if (this.closed) return;
    const q = new URLSearchParams({ tenantId, agent: agentName });
    await this.call('DELETE', `spares?${q}`);
  }

  /** Claims a ready spare on the runner (atomic there); its id is the new session's. */
  async takeSpare(tenantId: string, agentName: string, agentVersion: number): Promise<string | undefined> {
    if (this.closed) return undefined;
    const answer = await this.call<RunnerSpareClaimAnswer>('POST', 'spares/claim', {
      tenantId,
      agent: agentName,
      version: agentVersion,
    });
    if (!answer?.id) return undefined;
    this.claimed.add(answer.id);
    const key = `${tenantId}\u0000${agentName}\u0000${agentVersion}`;
    this.claimedSinceReport.set(key, (this.claimedSinceReport.get(key) ?? 0) + 1);
    return answer.id;
  }

  /**
   * A claimed spare becomes the session's sandbox at the session's start (`spare: true`), which
   * carries its gateway token: false here (the caller starts the session as usual).
   */
  adoptSpare(_sessionId: string, _hooks: ModelCallHooks, _egress?: SandboxEgressSpec): boolean {
    return false;
  }

  /** The runner's spares as last reported, less those claimed here since. */
  private spareCounts(): SpareCount[] {
    return (this.report?.spares ?? []).map((s) => {
      const taken = this.claimedSinceReport.get(`${s.tenantId}\u0000${s.agent}\u0000${s.version}`) ?? 0;
      return { ...s, ready: Math.max(0, s.ready - taken) };
    });
  }

  /** Runners sweep their idle sessions themselves (and report each eviction). */
  async sweepIdle(): Promise<number> {
    return 0;
  }

  /**
   * From the last report, raised by what this client placed or reserved since (a burst of
   * placements must not all go to the runner whose report is oldest).
   */
  stats(): RunnerStats {
    const r = this.report;
    const mine = this.sessions.size + this.reservations.size;
    const reported = r ? r.live + r.reserved : 0;
    const spares = this.spareCounts();
    return {
      live: Math.max(r?.live ?? 0, this.sessions.size),
      warm: spares.reduce((n, s) => n + s.ready, 0),
      reserved: Math.max(0, Math.max(reported, mine) - Math.max(r?.live ?? 0, this.sessions.size)),
      startsRunning: r?.startsRunning ?? 0,
      startsQueued: r?.startsQueued ?? 0,
      maxCapacity: r?.maxSandboxes ?? this.registeredMax,
      counters: emptyPoolCounters(),
      spares,
    };
  }

  memoryBySandbox(): Array<{ id: string; bytes: number }> {
    return (this.report?.sessions ?? []).map((s) => ({ id: s.id, bytes: s.memoryBytes }));
  }

  /** Closes the connection pool (the runner's sessions were stopped by the session engine). */
  async shutdown(): Promise<void> {
    this.closed = true;
    this.turnStreams.close();
    await this.dispatcher?.close().catch(() => undefined);
  }

  /** Asks the runner to drain (take nothing new, checkpoint and release everything, exit). */
  async drain(): Promise<void> {
    await this.call('POST', 'drain', {});
  }

  private fireAndForget(sessionId: string, action: string, body: unknown = {}): void {
    if (this.sessions.get(sessionId)?.state !== 'ready') return;
    void this.call('POST', `sessions/${encodeURIComponent(sessionId)}/${action}`, body).catch(
      (err: unknown) => this.opts.log.debug({ sessionId, action, err: errText(err) }, 'runner call failed'),
    );
  }

  private url(path: string): URL {
    return new URL(path, this.base);
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { ...(this.opts.secret ? { authorization: `Bearer ${this.opts.secret}` } : {}), ...extra };
  }

  /**
   * One JSON call. @param timeoutMs 0 = none (starts wait in the runner's queue).
   * @throws RunnerCapacityError (503 capacity_reached), SandboxStartError (sandbox_unavailable),
   *   Error (anything else, unreachable included).
   */
  private async call<T = unknown>(
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    body?: unknown,
    timeoutMs = this.opts.timeoutMs,
  ): Promise<T> {
    const undici = await import('undici');
    this.dispatcher ??= new undici.Agent({
      keepAliveTimeout: 30_000,
      connections: 64,
      connect: { timeout: 5_000 },
    });
    const dispatcher = this.dispatcher;
    let res: Dispatcher.ResponseData;
    try {
      res = await undici.request(this.url(path), {
        method,
        headers: this.headers(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        dispatcher,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        // Given up at the timeout, and at once when the runner is lost.
        signal: AbortSignal.any([
          this.lost.signal,
          ...(timeoutMs > 0 ? [AbortSignal.timeout(timeoutMs)] : []),
        ]),
      });
    } catch (err) {
      // Unreachable, timed out or lost: the sandbox is unavailable there (503 sandbox_unavailable).
      throw new SandboxStartError(
        this.lost.signal.aborted
          ? `runner ${this.opts.runnerId} was lost`
          : `runner ${this.opts.runnerId} did not answer: ${errText(err)}`,
      );
    }
    if (res.statusCode >= 400) {
      const problem = await readProblem(res);
      if (problem.code === 'capacity_reached') {
        const after = Number(res.headers['retry-after']);
        throw new RunnerCapacityError(problem.detail, Number.isFinite(after) && after > 0 ? after : 5);
      }
      if (problem.code === 'sandbox_unavailable') throw new SandboxStartError(problem.detail);
      throw new Error(`runner ${this.opts.runnerId}: ${problem.detail} (${problem.code ?? res.statusCode})`);
    }
    if (res.statusCode === 204) {
      await res.body.dump();
      return undefined as T;
    }
    const text = await res.body.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }
}

/** A problem details answer's code and detail (best effort). */
async function readProblem(res: Dispatcher.ResponseData): Promise<{ code?: string; detail: string }> {
  return problemOf(await res.body.text().catch(() => ''), res.statusCode);
}

/** The code and detail of a problem details body (best effort). */
function problemOf(text: string, status: number): { code?: string; detail: string } {
  try {
    const p = JSON.parse(text) as { code?: string; detail?: string; title?: string };
    return { ...(p.code ? { code: p.code } : {}), detail: p.detail ?? p.title ?? `HTTP ${status}` };
  } catch {
    return { detail: `HTTP ${status}` };
  }
}

/** The lines of an NDJSON body. */
async function* ndjsonLines(body: Readable): AsyncGenerator<string> {
  let buf = '';
  const decoder = new TextDecoder();
  for await (const chunk of body) {
    buf += typeof chunk === 'string' ? chunk : decoder.decode(chunk as Buffer, { stream: true });
    let i = buf.indexOf('\n');
    while (i >= 0) {
      const line = buf.slice(0, i).trim();
      buf = buf.slice(i + 1);
      if (line) yield line;
      i = buf.indexOf('\n');
    }
  }
  if (buf.trim()) yield buf.trim();
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
