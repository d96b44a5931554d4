import pino from 'pino';
import { describe, expect, it } from 'vitest';
import {
  emptyPoolCounters,
  RunnerCapacityError,
  type RunnerClient,
  type RunnerStats,
  type SandboxStarter,
  type SlotReservation,
} from '@ash-ai/runner';
import { RunnerRouter, type PlacementNeeds } from '../src/services/runners/runner-router.js';

/**
 * A runner with `max` slots that counts what it was asked to host: the placement logic's seam
 * (the router only sees RunnerClient). Real runners are covered by remote-runner.test.ts.
 */
class CountingRunner implements Partial<RunnerClient> {
  readonly sessions = new Set<string>();
  reserved = 0;
  constructor(readonly max: number) {}
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
});
