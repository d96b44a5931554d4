import type { ExecResult, LogEntry, ToolAnswer } from '@ash-ai/shared';
import type { SandboxEgressSpec } from '@ash-ai/sandbox';
import {
  emptyPoolCounters,
  RunnerCapacityError,
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

/** What a session asks of the runner it is placed on. */
export interface PlacementNeeds {
  /** `k=v` labels the runner must all carry (the agent's and the session's `runnerLabels`). */
  labels: Record<string, string>;
  /** Only this server's own runner (a session with credential bindings: the value stays here). */
  localOnly: boolean;
  /** The session's agent version: a runner with a warm spare of it is preferred. */
  agent?: { tenantId: string; name: string; version: number };
}

/** One runner the router places on. */
export interface RoutedRunner {
  /** `local`, or the registered runner's id. */
  id: string;
  local: boolean;
  client: RunnerClient;
  labels: Record<string, string>;
  /** True while it takes no new session (an operator asked it to drain). */
  draining(): boolean;
}

/** A slot reserved through the router: the runner it is on, and that runner's reservation. */
class RoutedSlot implements SlotReservation {
  constructor(
    readonly runner: RoutedRunner,
    readonly inner: SlotReservation,
  ) {}
  release(): void {
    this.inner.release();
  }
}

export interface RunnerRouterOptions {
  /** This server's own runner (none with ASH_LOCAL_RUNNER=off). */
  local?: RunnerClient;
  /**
   * What a session needs of its runner (read when there is a choice: some remote runner is
   * registered). Absent: no labels, no restriction.
   */
  needs?: (sessionId: string) => Promise<PlacementNeeds>;
  log: Logger;
}

const NO_NEEDS: PlacementNeeds = { labels: {}, localOnly: false };

/**
 * The session engine's one {@link RunnerClient} when sessions may run on several runners: this
 * server's own (in process) and registered `ash runner` processes (each an `HttpRunnerClient`).
 * It maps each session to the runner hosting it and forwards every call there; a session without
 * one is placed at its next reservation or start: on the least loaded runner (live + reserved
 * sandboxes over its maximum) that carries the session's labels and is not draining, trying the
 * next when one refuses for capacity. None fits → {@link RunnerCapacityError} (503
 * `capacity_reached` + `Retry-After`).
 *
 * Warm spares: on the local runner when this server has one (the embedded default); else on the
 * registered runners — the agent's spares are asked of one runner carrying the agent's labels
 * (the one that already has some, else the least loaded), again whenever a runner joins. A new
 * plain session claims a ready spare on the runner reporting one, and placement prefers a runner
 * with a warm spare of the session's agent among those with room.
 */
export class RunnerRouter implements RunnerClient {
  private readonly runnersById = new Map<string, RoutedRunner>();
  private readonly placed = new Map<string, RoutedRunner>();
  /** Placements under way (a prewarm waiting for its runner to be chosen). */
  private readonly placing = new Map<string, Promise<void>>();
  /** The last start of each session (what a turn re-placed after a runner loss starts with). */
  private readonly starters = new Map<string, SandboxStarter>();
  private listener: RunnerListener | undefined;
  private closed = false;
  /** Agents whose spares remote runners keep (asked again of a runner that joins). */
  private readonly wantedSpares = new Map<
    string,
    { agent: SpareAgent; count: number; source: SpareSource }
  >();

  constructor(private readonly opts: RunnerRouterOptions) {
    if (opts.local)
      this.add({ id: 'local', local: true, client: opts.local, labels: {}, draining: () => false });
  }

  /** This server's own runner, if it has one. */
  get local(): RunnerClient | undefined {
    return this.opts.local;
  }

  /** Adds (or replaces) a runner to place on. */
  add(runner: RoutedRunner): void {
    this.runnersById.set(runner.id, runner);
    runner.client.listen({
      evicted: async (sessionId, reason) => {
        if (this.placed.get(sessionId) === runner) this.placed.delete(sessionId);
        this.starters.delete(sessionId);
        await this.listener?.evicted(sessionId, reason);
      },
    });
    if (!runner.local && !this.opts.local)
      for (const w of this.wantedSpares.values()) void this.askSpares(w.agent, w.count, w.source);
  }

  /**
   * Removes a runner (lost, deregistered): its sessions are forgotten (their next message places
   * them elsewhere). Returns their ids.
   */
  remove(id: string): string[] {
    const runner = this.runnersById.get(id);
    if (!runner || runner.local) return [];
    this.runnersById.delete(id);
    const lost: string[] = [];
    for (const [sessionId, r] of this.placed)
      if (r === runner) {
        this.placed.delete(sessionId);
        lost.push(sessionId);
      }
    return lost;
  }

  /** The runners placed on (the local one first). */
  runners(): RoutedRunner[] {
    return [...this.runnersById.values()];
  }

  get(id: string): RoutedRunner | undefined {
    return this.runnersById.get(id);
  }

  /** The runner hosting the session, if any. */
  runnerOf(sessionId: string): RoutedRunner | undefined {
    return this.placed.get(sessionId);
  }

  /** Sessions placed on a runner. */
  sessionsOn(id: string): string[] {
    const out: string[] = [];
    for (const [sessionId, r] of this.placed) if (r.id === id) out.push(sessionId);
    return out;
  }

  /** Forgets where a session runs (its runner lost it or released it). */
  forget(sessionId: string): void {
    this.placed.delete(sessionId);
  }

  listen(listener: RunnerListener): void {
    this.listener = listener;
  }

  /**
   * The runners a session may go to, least loaded first (ties: the local one, then by id).
   * Full ones stay in the list (last): a runner makes room by evicting an idle session or spare.
   */
  candidates(needs: PlacementNeeds): RoutedRunner[] {
    const fit = [...this.runnersById.values()].filter(
      (r) =>
        !r.draining() &&
        (!needs.localOnly || r.local) &&
        Object.entries(needs.labels).every(([k, v]) => r.labels[k] === v),
    );
    const load = (r: RoutedRunner) => {
      const s = r.client.stats();
      const used = s.live + s.reserved;
      return { ratio: s.maxCapacity > 0 ? used / s.maxCapacity : 1, full: used >= s.maxCapacity };
    };
    const loads = new Map(fit.map((r) => [r, load(r)]));
    const agent = needs.agent;
    const warm = new Map(fit.map((r) => [r, agent ? sparesOf(r.client.stats().spares, agent) : 0]));
    return fit.sort((a, b) => {
      const la = loads.get(a)!;
      const lb = loads.get(b)!;
      if (la.full !== lb.full) return la.full ? 1 : -1;
      // Among runners with room: one with a warm sandbox of the session's agent first.
      const wa = warm.get(a)! > 0;
      const wb = warm.get(b)! > 0;
      if (wa !== wb) return wa ? -1 : 1;
      if (la.ratio !== lb.ratio) return la.ratio - lb.ratio;
      if (a.local !== b.local) return a.local ? -1 : 1;
      return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
    });
  }

  private async needsOf(sessionId: string | undefined): Promise<PlacementNeeds> {
    // Only the local runner: nothing to choose (the embedded default reads nothing).
    if (!sessionId || !this.opts.needs || this.onlyLocal()) return NO_NEEDS;
    return this.opts.needs(sessionId);
  }

  /** Reserves a slot on the best runner for `needs`, trying the next on a capacity refusal. */
  private onlyLocal(): boolean {
    return this.runnersById.size === 1 && this.runnersById.has('local');
  }

  private async reserveOn(needs: PlacementNeeds): Promise<RoutedSlot> {
    const list = this.candidates(needs);
    if (list.length === 0) throw noRunner(needs, this.runnersById.size);
    let last: unknown;
    for (const runner of list) {
      try {
        return new RoutedSlot(runner, await runner.client.reserve());
      } catch (err) {
        last = err;
        if (!(err instanceof RunnerCapacityError))
          this.opts.log.warn({ err, runner: runner.id }, 'reserve failed');
      }
    }
    throw last instanceof RunnerCapacityError
      ? last
      : new RunnerCapacityError('no runner could reserve a sandbox slot; retry later');
  }

  async reserve(sessionId?: string): Promise<SlotReservation> {
    const runner = sessionId ? this.placed.get(sessionId) : undefined;
    if (runner) return new RoutedSlot(runner, await runner.client.reserve(sessionId));
    return this.reserveOn(await this.needsOf(sessionId));
  }

  async ensureCapacity(): Promise<void> {
    (await this.reserveOn(NO_NEEDS)).release();
  }

  canQueueStart(): boolean {
    for (const r of this.runnersById.values()) if (!r.draining() && r.client.canQueueStart()) return true;
    return false;
  }

  /** The session's runner: where it is placed, else the slot's runner, else the best one (reserving there). */
  private async placeFor(
    sessionId: string,
    slot: SlotReservation | undefined,
  ): Promise<{ runner: RoutedRunner; slot: SlotReservation | undefined }> {
    const placed = this.placed.get(sessionId);
    const routed = slot instanceof RoutedSlot ? slot : undefined;
    if (placed) {
      if (routed && routed.runner !== placed) {
        routed.release();
        return { runner: placed, slot: undefined };
      }
      return { runner: placed, slot: routed?.inner ?? slot };
    }
    if (routed) return { runner: routed.runner, slot: routed.inner };
    if (slot) return { runner: this.runnersById.get('local')!, slot }; // a local runner's own slot
    const reserved = await this.reserveOn(await this.needsOf(sessionId));
    return { runner: reserved.runner, slot: reserved.inner };
  }

  async ensureSandbox(sessionId: string, starter: SandboxStarter, slot?: SlotReservation): Promise<void> {
    if (this.closed) throw new RunnerCapacityError('the server is shutting down');
    this.starters.set(sessionId, starter);
    await this.placing.get(sessionId);
    let target: { runner: RoutedRunner; slot: SlotReservation | undefined };
    try {
      target = await this.placeFor(sessionId, slot);
    } catch (err) {
      starter.onStarted?.(err);
      throw err;
    }
    this.placed.set(sessionId, target.runner);
    try {
      await target.runner.client.ensureSandbox(sessionId, starter, target.slot);
    } catch (err) {
      if (this.placed.get(sessionId) === target.runner && !target.runner.client.hosts(sessionId))
        this.placed.delete(sessionId);
      throw err;
    }
  }

  prewarm(sessionId: string, starter: SandboxStarter): void {
    if (this.closed) return;
    this.starters.set(sessionId, starter);
    const placed = this.placed.get(sessionId);
    if (placed) {
      placed.client.prewarm(sessionId, starter);
      return;
    }
    if (this.onlyLocal()) {
      // The embedded default: no choice, no wait.
      const local = this.runnersById.get('local')!;
      this.placed.set(sessionId, local);
      local.client.prewarm(sessionId, starter);
      return;
    }
    const p = (async () => {
      try {
        const slot = await this.reserveOn(await this.needsOf(sessionId));
        this.placed.set(sessionId, slot.runner);
        // The runner's prewarm reserves again: give ours back first.
        slot.release();
        slot.runner.client.prewarm(sessionId, starter);
      } catch (err) {
        this.opts.log.warn({ sessionId, err: errText(err) }, 'no runner for the prewarm');
        starter.onStarted?.(err);
      }
    })().finally(() => this.placing.delete(sessionId));
    this.placing.set(sessionId, p);
  }

  async awaitPrewarm(sessionId: string): Promise<void> {
    await this.placing.get(sessionId);
    await this.placed.get(sessionId)?.client.awaitPrewarm(sessionId);
  }

  settleStart(sessionId: string): void {
    this.placed.get(sessionId)?.client.settleStart(sessionId);
  }

  hasLiveSandbox(sessionId: string): boolean {
    return this.placed.get(sessionId)?.client.hasLiveSandbox(sessionId) ?? false;
  }

  hosts(sessionId: string): boolean {
    return this.placing.has(sessionId) || (this.placed.get(sessionId)?.client.hosts(sessionId) ?? false);
  }

  isStarting(sessionId: string): boolean {
    return this.placing.has(sessionId) || (this.placed.get(sessionId)?.client.isStarting(sessionId) ?? false);
  }

  pin(sessionId: string): void {
    this.placed.get(sessionId)?.client.pin(sessionId);
  }

  unpin(sessionId: string): void {
    this.placed.get(sessionId)?.client.unpin(sessionId);
  }

  /**
   * Runs the turn on the session's runner. When a remote runner never answered the turn (it was
   * lost between turns, before its loss was noticed), the session is placed again and the turn
   * runs on the new runner, once; otherwise the turn ends as the runner's client ended it.
   */
  runTurn(sessionId: string, turn: TurnRequest): SandboxTurn {
    const runner = this.placed.get(sessionId);
    if (!runner) throw new Error('sandbox is not running');
    const first = runner.client.runTurn(sessionId, turn);
    if (runner.local) return first;
    let current: SandboxTurn = first;
    const self = this;
    return {
      events: {
        async *[Symbol.asyncIterator]() {
          for await (const ev of first.events) {
            const unreached =
              ev.ev === 'turn_end' &&
              ev.error?.code === 'runner_lost' &&
              (first as SandboxTurn & { unreached?: boolean }).unreached === true;
            const starter = self.starters.get(sessionId);
            if (unreached && starter && !self.closed) {
              try {
                self.placed.delete(sessionId);
                await self.ensureSandbox(sessionId, starter);
                self.opts.log.warn(
                  { sessionId, from: runner.id, to: self.placed.get(sessionId)?.id },
                  'the runner did not answer the turn: the session was placed again',
                );
                current = self.placed.get(sessionId)!.client.runTurn(sessionId, turn);
                yield* current.events;
                return;
              } catch (err) {
                self.opts.log.warn({ sessionId, err: errText(err) }, 'could not place the session again');
              }
            }
            yield ev;
          }
        },
      },
      cpuSeconds: () => current.cpuSeconds(),
    };
  }

  /**
   * Takes over a turn a dead server left running on the registered runner `runnerId` (see
   * {@link RunnerClient.adoptTurn}); the session is then placed there. Undefined when that runner
   * is not a live member here or does not hold the turn.
   */
  async adoptTurn(
    sessionId: string,
    runnerId: string,
    starter: SandboxStarter,
    turnId: string,
    from: number,
  ): Promise<SandboxTurn | undefined> {
    const runner = this.runnersById.get(runnerId);
    if (this.closed || !runner || runner.local || !runner.client.adoptTurn) return undefined;
    this.starters.set(sessionId, starter);
    this.placed.set(sessionId, runner);
    const turn = await runner.client
      .adoptTurn(sessionId, runnerId, starter, turnId, from)
      .catch((err: unknown) => {
        if (this.placed.get(sessionId) === runner) this.placed.delete(sessionId);
        throw err;
      });
    if (!turn && this.placed.get(sessionId) === runner && !runner.client.hosts(sessionId))
      this.placed.delete(sessionId);
    return turn;
  }

  answerToolRequest(sessionId: string, requestId: string, answer: ToolAnswer): void {
    this.placed.get(sessionId)?.client.answerToolRequest(sessionId, requestId, answer);
  }

  interrupt(sessionId: string, turnId: string): void {
    this.placed.get(sessionId)?.client.interrupt(sessionId, turnId);
  }

  async abortTurn(
    sessionId: string,
    turnId: string,
    error: { message: string; code: string },
    outcome?: 'error' | 'interrupted',
  ): Promise<void> {
    await this.placed.get(sessionId)?.client.abortTurn(sessionId, turnId, error, outcome);
  }

  exec(
    sessionId: string,
    command: string,
    opts: { timeoutMs: number; maxOutputBytes: number },
  ): Promise<ExecResult> {
    const runner = this.placed.get(sessionId);
    if (!runner) return Promise.reject(new Error('sandbox is not running'));
    return runner.client.exec(sessionId, command, opts);
  }

  async logs(sessionId: string, after: number): Promise<LogEntry[]> {
    return (await this.placed.get(sessionId)?.client.logs(sessionId, after)) ?? [];
  }

  async stop(sessionId: string): Promise<void> {
    await this.placing.get(sessionId);
    const runner = this.placed.get(sessionId);
    if (runner) await runner.client.stop(sessionId);
    else await this.opts.local?.stop(sessionId);
    if (this.placed.get(sessionId) === runner) this.placed.delete(sessionId);
    this.starters.delete(sessionId);
  }

  /**
   * Keeps `count` warm spares of the agent version: on the local runner when there is one, else
   * on one registered runner carrying the agent's labels (see the class comment). Failures are
   * logged (spares are an optimisation).
   */
  async replenishSpares(agent: SpareAgent, count: number, source: SpareSource): Promise<void> {
    if (this.opts.local) return this.opts.local.replenishSpares(agent, count, source);
    this.wantedSpares.set(spareKey(agent.tenantId, agent.name), { agent, count, source });
    await this.askSpares(agent, count, source);
  }

  /** Asks the best remote runner for the agent to keep its spares. */
  private async askSpares(agent: SpareAgent, count: number, source: SpareSource): Promise<void> {
    if (this.closed) return;
    const fit = this.candidates({ labels: agent.labels ?? {}, localOnly: false }).filter((r) => !r.local);
    const holding = fit.find((r) => sparesOf(r.client.stats().spares, agent, true) > 0);
    const target = holding ?? fit[0];
    if (!target) return;
    try {
      await target.client.replenishSpares(agent, count, source);
    } catch (err) {
      this.opts.log.warn(
        { err: errText(err), runner: target.id, agent: agent.name },
        'could not ask for warm sandboxes',
      );
    }
  }

  async dropSpares(tenantId: string, agentName: string): Promise<void> {
    this.wantedSpares.delete(spareKey(tenantId, agentName));
    await Promise.all(
      [...this.runnersById.values()].map((r) =>
        r.client
          .dropSpares(tenantId, agentName)
          .catch((err: unknown) =>
            this.opts.log.warn({ err: errText(err), runner: r.id }, 'could not drop warm sandboxes'),
          ),
      ),
    );
  }

  /**
   * Takes a ready spare of the agent version: the local runner's, else one claimed on the
   * registered runner reporting one (labels of the agent's spares respected; the least loaded
   * first). The session is placed where the spare runs.
   */
  async takeSpare(tenantId: string, agentName: string, agentVersion: number): Promise<string | undefined> {
    if (this.opts.local) {
      const id = await this.opts.local.takeSpare(tenantId, agentName, agentVersion);
      if (id !== undefined) this.placed.set(id, this.runnersById.get('local')!);
      return id;
    }
    const labels = this.wantedSpares.get(spareKey(tenantId, agentName))?.agent.labels ?? {};
    const withSpare = this.candidates({
      labels,
      localOnly: false,
      agent: { tenantId, name: agentName, version: agentVersion },
    }).filter(
      (r) => sparesOf(r.client.stats().spares, { tenantId, name: agentName, version: agentVersion }) > 0,
    );
    for (const runner of withSpare) {
      try {
        const id = await runner.client.takeSpare(tenantId, agentName, agentVersion);
        if (id === undefined) continue;
        this.placed.set(id, runner);
        return id;
      } catch (err) {
        this.opts.log.warn({ err: errText(err), runner: runner.id }, 'could not claim a warm sandbox');
      }
    }
    return undefined;
  }

  adoptSpare(sessionId: string, hooks: ModelCallHooks, egress?: SandboxEgressSpec): boolean {
    const runner = this.placed.get(sessionId);
    return runner ? runner.client.adoptSpare(sessionId, hooks, egress) : false;
  }

  /** The local runner's sweep (remote runners sweep themselves and report what they evicted). */
  sweepIdle(now?: number): Promise<number> {
    return this.opts.local?.sweepIdle(now) ?? Promise.resolve(0);
  }

  /** Every runner's figures added up (counters: the local runner's). */
  stats(): RunnerStats {
    const sum: RunnerStats = {
      live: 0,
      warm: 0,
      reserved: 0,
      startsRunning: 0,
      startsQueued: 0,
      maxCapacity: 0,
      counters: emptyPoolCounters(),
    };
    for (const r of this.runnersById.values()) {
      const s = r.client.stats();
      sum.live += s.live;
      sum.warm += s.warm;
      sum.reserved += s.reserved;
      sum.startsRunning += s.startsRunning;
      sum.startsQueued += s.startsQueued;
      sum.maxCapacity += s.maxCapacity;
      if (r.local) sum.counters = s.counters;
    }
    return sum;
  }

  memoryBySandbox(): Array<{ id: string; bytes: number }> {
    return [...this.runnersById.values()].flatMap((r) => r.client.memoryBySandbox());
  }

  async shutdown(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.runnersById.values()].map((r) => r.client.shutdown().catch(() => undefined)));
  }
}

const spareKey = (tenantId: string, agentName: string) => `${tenantId}\u0000${agentName}`;

/** Spares of one agent version in a runner's figures: ready ones, or with `booting` those starting too. */
function sparesOf(
  spares: SpareCount[] | undefined,
  agent: { tenantId: string; name: string; version: number },
  booting = false,
): number {
  let n = 0;
  for (const s of spares ?? [])
    if (s.tenantId === agent.tenantId && s.agent === agent.name && s.version === agent.version)
      n += s.ready + (booting ? s.starting : 0);
  return n;
}

/** Why nothing fits: no runner at all, or none with the labels / the local one. */
function noRunner(needs: PlacementNeeds, count: number): RunnerCapacityError {
  if (count === 0)
    return new RunnerCapacityError(
      'no runner is available: this server hosts no sandboxes (ASH_LOCAL_RUNNER=off) and no runner is registered',
    );
  if (needs.localOnly)
    return new RunnerCapacityError(
      "a session with credential bindings (network.inject) runs only on a server's own runner, and this server has none",
    );
  const labels = Object.entries(needs.labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
  return new RunnerCapacityError(
    labels
      ? `no runner that takes new sessions carries the labels ${labels}`
      : 'no runner takes new sessions (all are draining)',
  );
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
