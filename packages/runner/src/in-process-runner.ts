import type { ExecResult, LogEntry, ToolAnswer } from '@ash-ai/shared';
import type { Sandbox, SandboxEgressSpec } from '@ash-ai/sandbox';
import { SandboxPool, type SandboxPoolOptions } from './pool.js';
import type {
  ModelCallHooks,
  RunnerClient,
  RunnerListener,
  RunnerStats,
  SandboxStarter,
  SandboxTurn,
  SlotReservation,
  SpareAgent,
  SpareSource,
  TurnRequest,
} from './types.js';

/** Settings of an in-process runner: its pool's (the factory is the host's `SandboxManager`). */
export type InProcessRunnerOptions = Omit<SandboxPoolOptions<Sandbox>, 'onEvicted'>;

/**
 * The runner inside the server's process (the embedded default): a {@link SandboxPool} of real
 * sandboxes on this host, driven by direct calls. Idle eviction runs on a timer once
 * {@link start}ed.
 */
export class InProcessRunner implements RunnerClient {
  readonly pool: SandboxPool<Sandbox>;
  private listener: RunnerListener | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: InProcessRunnerOptions) {
    this.pool = new SandboxPool<Sandbox>({
      ...opts,
      onEvicted: async (sessionId, reason) => this.listener?.evicted(sessionId, reason),
    });
  }

  /** Starts the idle sweep (every half idle timeout, between 250 ms and 60 s). */
  start(): void {
    const every = Math.max(250, Math.min(60_000, Math.floor(this.opts.idleTimeoutMs / 2)));
    this.sweepTimer = setInterval(() => void this.pool.sweepIdle().catch(() => undefined), every);
    this.sweepTimer.unref();
  }

  listen(listener: RunnerListener): void {
    this.listener = listener;
  }

  reserve(): Promise<SlotReservation> {
    return this.pool.reserve();
  }

  async ensureCapacity(): Promise<void> {
    (await this.pool.reserve()).release();
  }

  canQueueStart(): boolean {
    return this.pool.startGate.hasRoom();
  }

  async ensureSandbox(sessionId: string, starter: SandboxStarter, slot?: SlotReservation): Promise<void> {
    await this.pool.ensureSandbox(sessionId, starter, slot);
  }

  prewarm(sessionId: string, starter: SandboxStarter): void {
    this.pool.prewarm(sessionId, starter);
  }

  awaitPrewarm(sessionId: string): Promise<void> {
    return this.pool.awaitPrewarm(sessionId);
  }

  settleStart(sessionId: string): void {
    this.pool.settleStart(sessionId);
  }

  hasLiveSandbox(sessionId: string): boolean {
    return !!this.pool.sandboxOf(sessionId);
  }

  hosts(sessionId: string): boolean {
    return this.pool.hosts(sessionId);
  }

  isStarting(sessionId: string): boolean {
    return this.pool.isStarting(sessionId);
  }

  pin(sessionId: string): void {
    this.pool.pin(sessionId);
  }

  unpin(sessionId: string): void {
    this.pool.unpin(sessionId);
  }

  runTurn(sessionId: string, turn: TurnRequest): SandboxTurn {
    const sandbox = this.pool.current(sessionId);
    if (!sandbox) throw new Error('sandbox is not running');
    const inner = sandbox.runTurn(turn.turnId, turn.prompt, turn.options, turn.conversation);
    // Read after the bridge was told (a cgroup file read: not on the way to the model).
    const cpuBefore = sandbox.cpuSeconds();
    const pool = this.pool;
    return {
      events: {
        async *[Symbol.asyncIterator]() {
          let first = true;
          for await (const ev of inner) {
            // The Claude process is up: the next queued start may go.
            if (first) pool.settleStart(sessionId);
            first = false;
            yield ev;
          }
        },
      },
      cpuSeconds: () => {
        const after = sandbox.cpuSeconds();
        return cpuBefore !== undefined && after !== undefined ? Math.max(0, after - cpuBefore) : undefined;
      },
    };
  }

  answerToolRequest(sessionId: string, requestId: string, answer: ToolAnswer): void {
    this.pool.current(sessionId)?.answerToolRequest(requestId, answer);
  }

  interrupt(sessionId: string, turnId: string): void {
    this.pool.current(sessionId)?.interrupt(turnId);
  }

  async abortTurn(
    sessionId: string,
    turnId: string,
    error: { message: string; code: string },
    outcome: 'error' | 'interrupted' = 'error',
  ): Promise<void> {
    await this.pool.current(sessionId)?.abortTurn(turnId, error, outcome);
  }

  async exec(
    sessionId: string,
    command: string,
    opts: { timeoutMs: number; maxOutputBytes: number },
  ): Promise<ExecResult> {
    const sandbox = this.pool.current(sessionId);
    if (!sandbox) throw new Error('sandbox is not running');
    return sandbox.exec(command, opts);
  }

  async logs(sessionId: string, after: number): Promise<LogEntry[]> {
    return this.pool.current(sessionId)?.logs.since(after) ?? [];
  }

  stop(sessionId: string): Promise<void> {
    return this.pool.stop(sessionId);
  }

  replenishSpares(agent: SpareAgent, count: number, source: SpareSource): Promise<void> {
    return this.pool.replenishSpares(agent, count, source);
  }

  dropSpares(tenantId: string, agentName: string): Promise<void> {
    return this.pool.dropSpares(tenantId, agentName);
  }

  async takeSpare(tenantId: string, agentName: string, agentVersion: number): Promise<string | undefined> {
    return this.pool.takeSpare(tenantId, agentName, agentVersion);
  }

  adoptSpare(sessionId: string, hooks: ModelCallHooks, egress?: SandboxEgressSpec): boolean {
    return this.pool.adoptSpare(sessionId, hooks, egress);
  }

  sweepIdle(now?: number): Promise<number> {
    return this.pool.sweepIdle(now);
  }

  stats(): RunnerStats {
    const { pool } = this;
    return {
      live: pool.all().length,
      warm: pool.warmCount,
      reserved: pool.reserved,
      startsRunning: pool.startGate.stats.starting,
      startsQueued: pool.startGate.stats.queued,
      maxCapacity: pool.maxSandboxes,
      counters: { ...pool.counters },
      spares: pool.spareCounts(),
    };
  }

  memoryBySandbox(): Array<{ id: string; bytes: number }> {
    return this.pool.all().map((s) => ({ id: s.id, bytes: s.memoryBytes() ?? 0 }));
  }

  async shutdown(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    await this.pool.shutdown();
  }
}
