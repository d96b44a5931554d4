import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DEFAULT_SANDBOX_LIMITS,
  silentLogger,
  type EgressConnection,
  type ModelCallUsage,
  type SandboxEgressSpec,
  type SandboxState,
  type StartSandboxSpec,
} from '@ash-ai/sandbox';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  RunnerCapacityError,
  SandboxPool,
  type ModelCallHooks,
  type PoolSandbox,
  type SandboxFactory,
  type SandboxPaths,
  type SandboxStarter,
  type SpareAgent,
  type SpareSource,
} from '../src/index.js';

/**
 * The pool's logic (capacity, reservations, start queue, spares, eviction order) is pure: these
 * tests hand it sandboxes of their own through the factory seam — objects that keep the state a
 * real sandbox reports — so no process starts and no OS call is faked. Real sandboxes run the
 * same pool in packages/server/test/{pool,capacity}.test.ts.
 */
class TestSandbox implements PoolSandbox {
  state: SandboxState = 'ready';
  busy = false;
  lastUsedAt = Date.now();
  warmed: unknown[] = [];
  private readonly exitListeners: Array<() => void> = [];
  constructor(
    readonly id: string,
    readonly spec: StartSandboxSpec,
    private readonly warmResult: boolean,
    private readonly warmHold?: Promise<void>,
  ) {}
  async warm(options: unknown): Promise<boolean> {
    this.warmed.push(options);
    await this.warmHold;
    return this.warmResult;
  }
  async stop(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    for (const l of this.exitListeners.splice(0)) l();
  }
  onExit(listener: () => void): void {
    if (this.state === 'closed') listener();
    else this.exitListeners.push(listener);
  }
  memoryBytes(): number {
    return 1024;
  }
}

/** Starts {@link TestSandbox}es; a start can be held open with `hold` to test what waits for it. */
class TestFactory implements SandboxFactory<TestSandbox> {
  readonly defaultLimits = DEFAULT_SANDBOX_LIMITS;
  readonly started: TestSandbox[] = [];
  warmResult = true;
  failNext = false;
  hold: Promise<void> | undefined;
  /** Holds every Claude process start (warm) open while set. */
  warmHold: Promise<void> | undefined;
  /** The gate the pool gave for background work. */
  backgroundGate: (() => Promise<void>) | undefined;
  setBackgroundGate(gate: () => Promise<void>): void {
    this.backgroundGate = gate;
  }
  async start(spec: StartSandboxSpec): Promise<TestSandbox> {
    if (this.hold) await this.hold;
    if (this.failNext) {
      this.failNext = false;
      throw new Error('could not start');
    }
    const sb = new TestSandbox(spec.id, spec, this.warmResult, this.warmHold);
    this.started.push(sb);
    return sb;
  }
  live(): TestSandbox[] {
    return this.started.filter((s) => s.state !== 'closed');
  }
}

let root: string;
let paths: SandboxPaths;
let factory: TestFactory;
const evicted: Array<[string, string]> = [];

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'ash-pool-test-'));
  paths = {
    sessionDir: (id) => join(root, id),
    workspace: (id) => join(root, id, 'workspace'),
    claudeConfig: (id) => join(root, id, 'claude'),
  };
  factory = new TestFactory();
  evicted.length = 0;
});

afterEach(() => rmSync(root, { recursive: true, force: true }));

function pool(opts: { max?: number; concurrentStarts?: number; idleMs?: number } = {}) {
  return new SandboxPool<TestSandbox>({
    factory,
    paths,
    maxSandboxes: opts.max ?? 2,
    idleTimeoutMs: opts.idleMs ?? 60_000,
    startGate: { maxConcurrent: opts.concurrentStarts ?? 4, maxQueued: 4, maxWaitMs: 10_000 },
    log: silentLogger,
    onEvicted: async (id, reason) => {
      evicted.push([id, reason]);
    },
  });
}

const hooks = (key = 'k'): ModelCallHooks => ({ resolveApiKey: () => key });

function starter(over: Partial<SandboxStarter> = {}): SandboxStarter & { prepared: number } {
  const s = {
    prepared: 0,
    prepare: async () => {
      s.prepared++;
      return { env: { A: '1' }, limits: { memoryMb: 512 }, model: hooks() };
    },
    ...over,
  };
  return s;
}

const agent = (version = 1): SpareAgent => ({
  tenantId: 't1',
  name: 'helper',
  version,
  env: { FROM_AGENT: 'yes' },
  warmOptions: { model: 'm' } as SpareAgent['warmOptions'],
});

function source(over: Partial<SpareSource> = {}): SpareSource & { prepared: string[] } {
  const s = {
    prepared: [] as string[],
    prepareWorkspace: async (id: string, dir: string) => {
      s.prepared.push(id);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'CLAUDE.md'), 'agent');
    },
    isCurrent: async () => true,
    model: hooks('spare-key'),
    ...over,
  };
  return s;
}

describe('SandboxPool capacity', () => {
  it('counts reservations and live sandboxes against maxSandboxes; a reservation releases once', async () => {
    const p = pool({ max: 2 });
    const a = await p.reserve();
    const b = await p.reserve();
    expect(p.usedSlots).toBe(2);
    await expect(p.reserve()).rejects.toBeInstanceOf(RunnerCapacityError);
    a.release();
    a.release(); // idempotent: frees one slot, not two
    expect(p.reserved).toBe(1);
    const c = await p.reserve();
    await expect(p.reserve()).rejects.toThrow(/every sandbox is busy/);
    b.release();
    c.release();
    expect(p.usedSlots).toBe(0);
  });

  it('starts a session sandbox once for concurrent callers; its slot turns into the live sandbox', async () => {
    const p = pool({ max: 1 });
    const s = starter();
    const [x, y] = await Promise.all([p.ensureSandbox('s1', s), p.ensureSandbox('s1', s)]);
    expect(x).toBe(y);
    expect(s.prepared).toBe(1);
    expect(factory.started).toHaveLength(1);
    expect(x.spec.workspaceDir).toBe(paths.workspace('s1'));
    expect(x.spec.env).toEqual({ A: '1' });
    expect(x.spec.limits?.memoryMb).toBe(512); // the agent's override over the defaults
    expect(x.spec.limits?.maxProcesses).toBe(DEFAULT_SANDBOX_LIMITS.maxProcesses);
    expect(p.reserved).toBe(0);
    expect(p.usedSlots).toBe(1);
    expect(p.counters.sandboxStarts).toBe(1);
    // Full, and the only sandbox is pinned (a turn): no room, nothing evicted.
    p.pin('s1');
    await expect(p.reserve()).rejects.toBeInstanceOf(RunnerCapacityError);
    expect(evicted).toEqual([]);
    p.unpin('s1');
  });

  it('gives the slot back when the start fails, and says so to the starter', async () => {
    const p = pool({ max: 1 });
    factory.failNext = true;
    const outcomes: unknown[] = [];
    await expect(p.ensureSandbox('s1', starter({ onStarted: (e) => outcomes.push(e) }))).rejects.toThrow(
      'could not start',
    );
    expect(outcomes).toHaveLength(1);
    expect(outcomes[0]).toBeInstanceOf(Error);
    expect(p.usedSlots).toBe(0);
    expect(p.counters.sandboxStartFailures).toBe(1);
    const refused = starter({
      prepare: async () => {
        throw new Error('owned elsewhere');
      },
    });
    await expect(p.ensureSandbox('s2', refused)).rejects.toThrow('owned elsewhere');
    expect(p.usedSlots).toBe(0);
  });

  it('queues starts beyond maxConcurrent until the first Claude process is up (settleStart)', async () => {
    const p = pool({ max: 4, concurrentStarts: 1 });
    await p.ensureSandbox('s1', starter());
    expect(p.holdsStartPermit('s1')).toBe(true);
    const positions: number[] = [];
    const second = p.ensureSandbox('s2', starter({ onQueuePosition: (n) => positions.push(n) }));
    await new Promise((r) => setImmediate(r));
    expect(positions).toEqual([1]);
    expect(p.startGate.stats).toEqual({ starting: 1, queued: 1 });
    p.settleStart('s1');
    p.settleStart('s1'); // idempotent
    await second;
    expect(positions).toEqual([1, 0]);
    expect(p.startGate.stats).toEqual({ starting: 1, queued: 0 });
    // A sandbox that dies gives its permit back too.
    await p.current('s2')!.stop();
    expect(p.startGate.stats).toEqual({ starting: 0, queued: 0 });
    expect(p.sandboxOf('s2')).toBeUndefined();
  });
});

describe('SandboxPool eviction', () => {
  it('evicts the oldest warm spare first, then the least recently used idle session, never a pinned or busy one', async () => {
    const p = pool({ max: 4 });
    await p.replenishSpares(agent(), 1, source());
    await waitFor(() => p.warmCount === 1);
    const spareId = factory.started[0]!.id;
    const a = await p.ensureSandbox('a', starter());
    const b = await p.ensureSandbox('b', starter());
    const c = await p.ensureSandbox('c', starter());
    a.lastUsedAt = 1000;
    b.lastUsedAt = 500; // least recently used, but pinned (a turn)
    c.lastUsedAt = 2000;
    p.pin('b');
    // Full (3 sessions + 1 spare): the spare goes first, and its folder with it.
    (await p.reserve()).release();
    expect(factory.started[0]!.state).toBe('closed');
    expect(existsSync(paths.sessionDir(spareId))).toBe(false);
    expect(evicted).toEqual([]);
    const held = await p.reserve(); // a free slot now: nothing evicted
    expect(evicted).toEqual([]);
    // Then the least recently used idle session that is not pinned: a (b is pinned).
    const held2 = await p.reserve();
    expect(evicted).toEqual([['a', 'capacity']]);
    expect(a.state).toBe('closed');
    expect(p.hosts('a')).toBe(false);
    // c busy (a command running), b pinned: nothing left to evict.
    c.busy = true;
    await expect(p.reserve()).rejects.toBeInstanceOf(RunnerCapacityError);
    held.release();
    held2.release();
    expect(p.counters.evictions).toBe(2);
    p.unpin('b');
  });

  it('sweeps spares and sessions idle past the timeout, not pinned ones', async () => {
    const p = pool({ max: 4, idleMs: 1000 });
    await p.replenishSpares(agent(), 1, source());
    await waitFor(() => p.warmCount === 1);
    const a = await p.ensureSandbox('a', starter());
    const b = await p.ensureSandbox('b', starter());
    const now = Date.now() + 5000;
    p.pin('b');
    expect(await p.sweepIdle(now)).toBe(2); // the spare and a
    expect(evicted).toEqual([['a', 'idle']]);
    expect(a.state).toBe('closed');
    expect(b.state).toBe('ready');
    expect(p.warmCount).toBe(0);
    expect(p.counters.idleSweeps).toBe(1);
    p.unpin('b');
    expect(await p.sweepIdle(Date.now() + 500)).toBe(0); // used within the timeout
  });
});

describe('SandboxPool warm spares', () => {
  it('keeps count spares warm; a session takes one over with its own model hooks; the next refill replaces it', async () => {
    const p = pool({ max: 4 });
    const src = source();
    await p.replenishSpares(agent(), 2, src);
    await waitFor(() => p.warmCount === 2);
    expect(src.prepared).toHaveLength(2);
    const spare = factory.started[0]!;
    expect(spare.spec.env).toEqual({ FROM_AGENT: 'yes' });
    expect(spare.warmed).toEqual([{ model: 'm' }]);
    expect(spare.spec.resolveApiKey()).toBe('spare-key');
    expect(p.takeSpare('t1', 'helper', 2)).toBeUndefined(); // another version
    expect(p.counters.preWarmMisses).toBe(1);
    const id = p.takeSpare('t1', 'helper', 1)!;
    expect(factory.started.map((s) => s.id)).toContain(id);
    expect(p.warmCount).toBe(1);
    expect(p.usedSlots).toBe(2); // a taken spare still counts until adopted
    const usage: ModelCallUsage[] = [];
    expect(p.adoptSpare(id, { resolveApiKey: () => 'session-key', onUsage: (u) => usage.push(u) })).toBe(
      true,
    );
    expect(p.adoptSpare(id, hooks())).toBe(false); // once
    const taken = factory.started.find((s) => s.id === id)!;
    expect(taken.spec.resolveApiKey()).toBe('session-key');
    taken.spec.onUsage?.({ inputTokens: 1 } as ModelCallUsage);
    expect(usage).toHaveLength(1);
    expect(p.sandboxOf(id)).toBe(taken);
    expect(p.counters.preWarmHits).toBe(1);
    await p.replenishSpares(agent(), 2, src);
    await waitFor(() => p.warmCount === 2);
    expect(p.usedSlots).toBe(3);
  });

  it("a session start gets its SandboxSpec egress; a spare starts with the agent's and hands its connections to the adopting session's", async () => {
    const p = pool({ max: 4 });
    /** An egress spec allowing only `host`, recording the hosts of the connections it hears of. */
    const egress = (host: string, heard: string[]): SandboxEgressSpec => ({
      enabled: true,
      decide: (h) => ({ allowed: h === host, reason: h === host ? 'allowed' : 'refused' }),
      onConnection: (c) => heard.push(c.host),
    });
    const conn = (host: string): EgressConnection => ({
      host,
      port: 443,
      method: 'CONNECT',
      allowed: true,
      reason: 'allowed',
      bytesUp: 0,
      bytesDown: 0,
      durationMs: 1,
    });
    const sessionHeard: string[] = [];
    const own = await p.ensureSandbox(
      's1',
      starter({
        prepare: async () => ({ env: {}, model: hooks(), egress: egress('s1.example', sessionHeard) }),
      }),
    );
    expect(own.spec.egress?.decide('s1.example', 443).allowed).toBe(true);
    own.spec.egress?.onConnection?.(conn('s1.example'));
    expect(sessionHeard).toEqual(['s1.example']);
    p.settleStart('s1'); // its Claude process is up: spares may start

    const agentHeard: string[] = [];
    await p.replenishSpares(agent(), 1, source({ egress: egress('agent.example', agentHeard) }));
    await waitFor(() => p.warmCount === 1);
    const spare = factory.started.find((s) => s.id !== 's1')!;
    expect(spare.spec.egress?.enabled).toBe(true);
    expect(spare.spec.egress?.decide('agent.example', 443).allowed).toBe(true);
    spare.spec.egress?.onConnection?.(conn('agent.example'));
    expect(agentHeard).toEqual(['agent.example']);

    const id = p.takeSpare('t1', 'helper', 1)!;
    const adoptedHeard: string[] = [];
    expect(p.adoptSpare(id, hooks(), egress('session.example', adoptedHeard))).toBe(true);
    // The same sandbox (its proxy was set up at start) now asks and tells the session's egress.
    expect(spare.spec.egress?.decide('agent.example', 443).allowed).toBe(false);
    expect(spare.spec.egress?.decide('session.example', 443).allowed).toBe(true);
    spare.spec.egress?.onConnection?.(conn('session.example'));
    expect(adoptedHeard).toEqual(['session.example']);
    expect(agentHeard).toEqual(['agent.example']);

    // Without an egress of its own, a start has no network spec (the sandbox gets no network).
    const bare = await p.ensureSandbox('s2', starter());
    expect(bare.spec.egress).toBeUndefined();
  });

  it('replaces spares of an older version, starts none for an agent that is gone, and drops them with their folders', async () => {
    const p = pool({ max: 4 });
    await p.replenishSpares(agent(1), 1, source());
    await waitFor(() => p.warmCount === 1);
    const v1 = factory.started[0]!;
    await p.replenishSpares(agent(2), 1, source());
    await waitFor(() => p.warmCount === 1 && factory.live().length === 1);
    expect(v1.state).toBe('closed');
    expect(p.takeSpare('t1', 'helper', 1)).toBeUndefined();
    const v2 = factory.live()[0]!;
    expect(existsSync(paths.workspace(v2.id))).toBe(true);
    await p.dropSpares('t1', 'helper');
    expect(v2.state).toBe('closed');
    expect(existsSync(paths.sessionDir(v2.id))).toBe(false);
    await p.replenishSpares(agent(3), 1, source({ isCurrent: async () => false }));
    expect(factory.live()).toHaveLength(0);
    expect(p.usedSlots).toBe(0);
  });

  it('counts a spare whose Claude process is still starting, but lets no session take it yet', async () => {
    const p = pool({ max: 2 });
    let warmed!: () => void;
    factory.warmHold = new Promise<void>((r) => (warmed = r));
    await p.replenishSpares(agent(), 1, source());
    await waitFor(() => factory.started.length === 1);
    expect(p.all()).toHaveLength(1);
    expect(p.warmCount).toBe(0);
    expect(p.takeSpare('t1', 'helper', 1)).toBeUndefined();
    warmed();
    await waitFor(() => p.warmCount === 1);
    expect(p.all()).toHaveLength(1);
    expect(p.usedSlots).toBe(1);
  });

  it('discards a spare whose Claude process does not come up', async () => {
    const p = pool({ max: 4 });
    factory.warmResult = false;
    await p.replenishSpares(agent(), 1, source());
    await waitFor(() => p.counters.sandboxStartFailures === 1);
    await waitFor(() => factory.live().length === 0 && p.usedSlots === 0);
    expect(p.warmCount).toBe(0);
  });

  it("starts no spare while a session's start is under way: it waits until that Claude process is up", async () => {
    const p = pool({ max: 4 });
    // A session's sandbox is started; its Claude process is not up yet (permit held).
    await p.ensureSandbox('s1', starter());
    expect(p.userStartsInFlight).toBe(true);
    let quiet = false;
    // The factory's own background work (spare bridges, blank disk images) waits on the same gate.
    void factory.backgroundGate!().then(() => (quiet = true));
    const refill = p.replenishSpares(agent(), 1, source());
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    expect(factory.started.map((s) => s.id)).toEqual(['s1']);
    expect(quiet).toBe(false);
    p.settleStart('s1'); // its first event: the Claude process is up
    await refill;
    await waitFor(() => p.warmCount === 1);
    expect(quiet).toBe(true);
    expect(p.userStartsInFlight).toBe(false);
    await p.whenNoUserStarts(); // at once when none is under way
  });

  it('a prewarm whose start a turn took over leaves the permit to the turn (or to the last unpin)', async () => {
    const p = pool({ max: 4 });
    let go!: () => void;
    factory.hold = new Promise<void>((r) => (go = r));
    p.prewarm(
      's1',
      starter({ warmOptions: async () => ({ options: {}, conversation: { sessionId: 's1' } }) }),
    );
    p.pin('s1'); // a turn arrives while the sandbox starts: it starts Claude with its own options
    factory.hold = undefined;
    go();
    await waitFor(() => p.sandboxOf('s1') !== undefined);
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    expect(factory.started[0]!.warmed).toEqual([]); // not warmed with the prewarm's options
    expect(p.holdsStartPermit('s1')).toBe(true); // the turn's Claude process is not up yet
    expect(p.userStartsInFlight).toBe(true);
    p.unpin('s1'); // the turn never ran (e.g. refused): the permit goes with the last pin
    expect(p.holdsStartPermit('s1')).toBe(false);
    expect(p.userStartsInFlight).toBe(false);
  });
});

describe('SandboxPool stop and shutdown', () => {
  it('stop waits for a start under way and leaves nothing; shutdown stops spares and sessions', async () => {
    const p = pool({ max: 4 });
    let open!: () => void;
    factory.hold = new Promise<void>((r) => (open = r));
    const starting = p.ensureSandbox('s1', starter());
    await new Promise((r) => setImmediate(r));
    expect(p.isStarting('s1')).toBe(true);
    const stopped = p.stop('s1');
    factory.hold = undefined;
    open();
    const sb = await starting;
    await stopped;
    expect(sb.state).toBe('closed');
    expect(p.hosts('s1')).toBe(false);
    await p.replenishSpares(agent(), 1, source());
    await waitFor(() => p.warmCount === 1);
    await p.ensureSandbox('s2', starter());
    await p.shutdown();
    expect(factory.live()).toHaveLength(0);
    expect(p.usedSlots).toBe(0);
    await expect(p.ensureSandbox('s3', starter())).rejects.toThrow(/shutting down/);
  });
});

async function waitFor(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
