import pino from 'pino';
import { describe, expect, it } from 'vitest';
import {
  emptyPoolCounters,
  RunnerCapacityError,
  type RunnerClient,
  type RunnerStats,
  type SandboxStarter,
  type SlotReservation,
  type SpareAgent,
  type SpareCount,
  type SpareSource,
} from '@ash-ai/runner';
import { RunnerRouter, type PlacementNeeds } from '../src/services/runners/runner-router.js';

/**
 * A runner with `max` slots that counts what it was asked to host: the placement logic's seam
 * (the router only sees RunnerClient). Real runners are covered by remote-runner.test.ts.
 */
class CountingRunner implements Partial<RunnerClient> {
  readonly sessions = new Set<string>();
  reserved = 0;
  /** Ready spares it reports, and the spare requests it got. */
  spares: SpareCount[] = [];
  readonly asked: Array<{ agent: string; count: number }> = [];
  readonly dropped: string[] = [];
  constructor(readonly max: number) {}
  async replenishSpares(agent: SpareAgent, count: number): Promise<void> {
    this.asked.push({ agent: agent.name, count });
  }
  async dropSpares(_tenantId: string, agent: string): Promise<void> {
    this.dropped.push(agent);
  }
  /** Claims a ready spare (as the runner does, atomically): it becomes a session sandbox here. */
  async takeSpare(tenantId: string, agent: string, version: number): Promise<string | undefined> {
    const s = this.spares.find((x) => x.tenantId === tenantId && x.agent === agent && x.version === version);
    if (!s || s.ready === 0) return undefined;
    s.ready--;
    const id = `spare-${agent}-${s.ready}`;
    this.sessions.add(id);
    return id;
  }
  adoptSpare(): boolean {
    return false;
  }
  listen(): void {}
  async reserve(): Promise<SlotReservation> {
    if (this.sessions.size + this.reserved >= this.max) throw new RunnerCapacityError('full', 7);
    this.reserved++;
    let done = false;
    return {
      release: () => {
        if (!done) this.reserved--;
        done = true;
      },
    };
  }
  canQueueStart(): boolean {
    return true;
  }
  async ensureSandbox(sessionId: string, starter: SandboxStarter, slot?: SlotReservation): Promise<void> {
    if (!slot) (await this.reserve()).release();
    slot?.release();
    this.sessions.add(sessionId);
    starter.onStarted?.(undefined);
  }
  prewarm(sessionId: string): void {
    this.sessions.add(sessionId);
  }
  async awaitPrewarm(): Promise<void> {}
  hosts(sessionId: string): boolean {
    return this.sessions.has(sessionId);
  }
  hasLiveSandbox(sessionId: string): boolean {
    return this.sessions.has(sessionId);
  }
  isStarting(): boolean {
    return false;
  }
  async stop(sessionId: string): Promise<void> {
    this.sessions.delete(sessionId);
  }
  stats(): RunnerStats {
    return {
      live: this.sessions.size,
      warm: 0,
      reserved: this.reserved,
      startsRunning: 0,
      startsQueued: 0,
      maxCapacity: this.max,
      counters: emptyPoolCounters(),
      spares: this.spares.map((x) => ({ ...x })),
    };
  }
  memoryBySandbox(): Array<{ id: string; bytes: number }> {
    return [];
  }
  async shutdown(): Promise<void> {}
}

const log = pino({ level: 'silent' });
const starter: SandboxStarter = {
  prepare: async () => ({ env: {}, model: { resolveApiKey: () => undefined } }),
};

function router(
  runners: Record<string, { runner: CountingRunner; labels?: Record<string, string>; draining?: boolean }>,
  opts: { local?: CountingRunner; needs?: (id: string) => PlacementNeeds } = {},
): RunnerRouter {
  const r = new RunnerRouter({
    ...(opts.local ? { local: opts.local as unknown as RunnerClient } : {}),
    needs: async (id) => opts.needs?.(id) ?? { labels: {}, localOnly: false },
    log,
  });
  for (const [id, e] of Object.entries(runners))
    r.add({
      id,
      local: false,
      client: e.runner as unknown as RunnerClient,
      labels: e.labels ?? {},
      draining: () => e.draining ?? false,
    });
  return r;
}

describe('RunnerRouter placement', () => {
  it('places 100 sessions over 2 runners evenly: neither gets more than 55', async () => {
    const a = new CountingRunner(100);
    const b = new CountingRunner(100);
    const r = router({ a: { runner: a }, b: { runner: b } });
    for (let i = 0; i < 100; i++) {
      const slot = await r.reserve(`s${i}`);
      await r.ensureSandbox(`s${i}`, starter, slot);
    }
    expect(a.sessions.size + b.sessions.size).toBe(100);
    expect(a.sessions.size).toBeLessThanOrEqual(55);
    expect(b.sessions.size).toBeLessThanOrEqual(55);
    // Each session's calls go to the runner that hosts it.
    expect(r.runnerOf('s0')?.id).toBe(a.sessions.has('s0') ? 'a' : 'b');
    expect(r.hasLiveSandbox('s7')).toBe(true);
  });

  it('places by load ratio, and starts without a reservation place too', async () => {
    const small = new CountingRunner(2);
    const big = new CountingRunner(10);
    const r = router({ small: { runner: small }, big: { runner: big } });
    for (let i = 0; i < 6; i++) await r.ensureSandbox(`s${i}`, starter);
    // Equal shares of each runner's room: 1 of 2 and 5 of 10 (ties go to the first id).
    expect(small.sessions.size).toBe(1);
    expect(big.sessions.size).toBe(5);
    for (let i = 6; i < 12; i++) await r.ensureSandbox(`s${i}`, starter);
    // Both full: 503 capacity_reached's error, with the runner's Retry-After.
    const err = await r.reserve('s11').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RunnerCapacityError);
    expect((err as RunnerCapacityError).retryAfterSeconds).toBe(7);
  });

  it('honours runnerLabels: only runners carrying every label; none → capacity error naming them', async () => {
    const gpu = new CountingRunner(10);
    const cpu = new CountingRunner(10);
    const r = router(
      {
        gpu: { runner: gpu, labels: { gpu: 'a100', zone: 'eu' } },
        cpu: { runner: cpu, labels: { zone: 'eu' } },
      },
      {
        needs: (id): PlacementNeeds =>
          id.startsWith('g')
            ? { labels: { gpu: 'a100' }, localOnly: false }
            : id.startsWith('x')
              ? { labels: { zone: 'us' }, localOnly: false }
              : { labels: {}, localOnly: false },
      },
    );
    for (let i = 0; i < 5; i++) await r.ensureSandbox(`g${i}`, starter);
    expect(gpu.sessions.size).toBe(5);
    expect(cpu.sessions.size).toBe(0);
    // Unlabelled sessions fill the least loaded one.
    for (let i = 0; i < 4; i++) await r.ensureSandbox(`p${i}`, starter);
    expect(cpu.sessions.size).toBe(4);
    const err = await r.reserve('x1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RunnerCapacityError);
    expect((err as Error).message).toContain('zone=us');
  });

  it('skips draining runners; sessions with credential bindings go only to the local runner', async () => {
    const local = new CountingRunner(10);
    const a = new CountingRunner(10);
    const b = new CountingRunner(10);
    const r = router(
      { a: { runner: a, draining: true }, b: { runner: b } },
      { local, needs: (id) => ({ labels: {}, localOnly: id.startsWith('inject') }) },
    );
    for (let i = 0; i < 6; i++) await r.ensureSandbox(`s${i}`, starter);
    expect(a.sessions.size).toBe(0);
    expect(local.sessions.size + b.sessions.size).toBe(6);
    for (let i = 0; i < 3; i++) await r.ensureSandbox(`inject${i}`, starter);
    expect([...local.sessions].filter((s) => s.startsWith('inject'))).toHaveLength(3);

    const remoteOnly = router({ b: { runner: b } }, { needs: () => ({ labels: {}, localOnly: true }) });
    const err = await remoteOnly.reserve('inject9').catch((e: unknown) => e);
    expect((err as Error).message).toContain('credential bindings');
  });

  it('a removed runner forgets its sessions: the next start places them elsewhere', async () => {
    const a = new CountingRunner(10);
    const b = new CountingRunner(10);
    const r = router({ a: { runner: a }, b: { runner: b } });
    await r.ensureSandbox('s1', starter);
    const first = r.runnerOf('s1')!.id;
    expect(r.remove(first)).toEqual(['s1']);
    expect(r.hosts('s1')).toBe(false);
    await r.ensureSandbox('s1', starter);
    expect(r.runnerOf('s1')!.id).not.toBe(first);
  });

  it('with no runner at all (ASH_LOCAL_RUNNER=off, none registered): capacity error', async () => {
    const r = router({});
    const err = await r.ensureCapacity().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RunnerCapacityError);
    expect((err as Error).message).toContain('no runner');
    expect(r.canQueueStart()).toBe(false);
  });

  it("prefers a runner with a warm spare of the session's agent among those with room; labels still restrict", async () => {
    const cold = new CountingRunner(10);
    const warm = new CountingRunner(10);
    const agent = { tenantId: 't1', name: 'helper', version: 3 };
    // The warm one is the more loaded: least loaded alone would pick the other.
    warm.sessions.add('busy1').add('busy2');
    warm.spares = [{ tenantId: 't1', agent: 'helper', version: 3, ready: 1, starting: 0 }];
    const needs = new Map<string, PlacementNeeds>([
      ['h1', { labels: {}, localOnly: false, agent }],
      ['other', { labels: {}, localOnly: false, agent: { ...agent, name: 'other' } }],
      ['old', { labels: {}, localOnly: false, agent: { ...agent, version: 2 } }],
      ['zoned', { labels: { zone: 'a' }, localOnly: false, agent }],
    ]);
    const r = router(
      { cold: { runner: cold, labels: { zone: 'a' } }, warm: { runner: warm, labels: { zone: 'b' } } },
      { needs: (id) => needs.get(id)! },
    );
    await r.ensureSandbox('h1', starter);
    expect(r.runnerOf('h1')?.id).toBe('warm');
    // Another agent, or another version of it: the least loaded.
    await r.ensureSandbox('other', starter);
    expect(r.runnerOf('other')?.id).toBe('cold');
    await r.ensureSandbox('old', starter);
    expect(r.runnerOf('old')?.id).toBe('cold');
    // Labels restrict first: the warm runner lacks zone=a.
    await r.ensureSandbox('zoned', starter);
    expect(r.runnerOf('zoned')?.id).toBe('cold');
    // A full runner is not preferred for its spare: room comes first.
    const full = new CountingRunner(1);
    full.sessions.add('x');
    full.spares = [{ tenantId: 't1', agent: 'helper', version: 3, ready: 1, starting: 0 }];
    const free = new CountingRunner(10);
    const r2 = router({ full: { runner: full }, free: { runner: free } }, { needs: () => needs.get('h1')! });
    expect(r2.candidates(needs.get('h1')!).map((x) => x.id)).toEqual(['free', 'full']);
  });

  it('warm spares on registered runners: asked of one runner, claimed where reported, the session placed there', async () => {
    const a = new CountingRunner(10);
    const b = new CountingRunner(10);
    const r = router({ a: { runner: a, labels: { zone: 'a' } }, b: { runner: b, labels: { zone: 'b' } } });
    const agent: SpareAgent = {
      tenantId: 't1',
      name: 'helper',
      version: 1,
      env: {},
      warmOptions: {} as SpareAgent['warmOptions'],
      labels: { zone: 'b' },
    };
    const source = { model: { resolveApiKey: () => undefined } } as unknown as SpareSource;
    // The agent's labels restrict where its spares go.
    await r.replenishSpares(agent, 2, source);
    expect(a.asked).toEqual([]);
    expect(b.asked).toEqual([{ agent: 'helper', count: 2 }]);
    // Nothing reported yet: no spare to take (the session starts cold).
    expect(await r.takeSpare('t1', 'helper', 1)).toBeUndefined();
    b.spares = [{ tenantId: 't1', agent: 'helper', version: 1, ready: 1, starting: 1 }];
    const id = await r.takeSpare('t1', 'helper', 1);
    expect(id).toBeDefined();
    expect(r.runnerOf(id!)?.id).toBe('b');
    // A refill goes where the agent's spares are (one still booting there).
    await r.replenishSpares(agent, 2, source);
    expect(b.asked).toHaveLength(2);
    // A runner that joins carrying the labels is asked too (spares lost with a restarted runner come back).
    const c = new CountingRunner(10);
    r.add({
      id: 'c',
      local: false,
      client: c as unknown as RunnerClient,
      labels: { zone: 'b' },
      draining: () => false,
    });
    expect(c.asked).toEqual([]); // b (holding the spares) is asked again, not c
    expect(b.asked).toHaveLength(3);
    // An agent delete drops its spares everywhere.
    await r.dropSpares('t1', 'helper');
    expect([a.dropped, b.dropped, c.dropped]).toEqual([['helper'], ['helper'], ['helper']]);
    // With a local runner, spares stay local (the embedded default).
    const local = new CountingRunner(10);
    const withLocal = router({ b: { runner: b } }, { local });
    await withLocal.replenishSpares(agent, 1, source);
    expect(local.asked).toEqual([{ agent: 'helper', count: 1 }]);
    expect(b.asked).toHaveLength(3);
  });
});
