import { describe, expect, it } from 'vitest';
import { RunnerCapacityError } from './errors.js';
import { StartGate } from './start-gate.js';

describe('StartGate', () => {
  it('admits maxConcurrent at once and the rest in FIFO order, telling each its position', async () => {
    const gate = new StartGate({ maxConcurrent: 2, maxQueued: 10, maxWaitMs: 60_000 });
    const a = gate.acquire();
    const b = gate.acquire();
    const seen: Record<string, number[]> = { c: [], d: [], e: [] };
    const c = gate.acquire((p) => seen.c!.push(p));
    const d = gate.acquire((p) => seen.d!.push(p));
    const e = gate.acquire((p) => seen.e!.push(p));
    expect(gate.stats).toEqual({ starting: 2, queued: 3 });
    const order: string[] = [];
    for (const [name, t] of Object.entries({ c, d, e }))
      void t.granted.then(
        () => order.push(name),
        () => undefined,
      );
    a.release();
    await c.granted;
    expect(seen.d).toEqual([2, 1]);
    expect(seen.e).toEqual([3, 2]);
    d.release(); // d leaves the queue: e moves up
    await expect(d.granted).rejects.toBeInstanceOf(RunnerCapacityError);
    expect(seen.e).toEqual([3, 2, 1]);
    b.release();
    await e.granted;
    expect(order).toEqual(['c', 'e']);
    expect(seen.c).toEqual([1, 0]);
    expect(seen.e!.at(-1)).toBe(0);
    c.release();
    e.release();
    e.release(); // idempotent
    expect(gate.stats).toEqual({ starting: 0, queued: 0 });
  });

  it('refuses beyond the queue bound and fails a wait past maxWaitMs with a capacity refusal', async () => {
    const gate = new StartGate({ maxConcurrent: 1, maxQueued: 1, maxWaitMs: 50 });
    const a = gate.acquire();
    const b = gate.acquire();
    expect(gate.hasRoom()).toBe(false);
    let refused: unknown;
    try {
      gate.acquire();
    } catch (err) {
      refused = err;
    }
    expect(refused).toBeInstanceOf(RunnerCapacityError);
    expect((refused as RunnerCapacityError).retryAfterSeconds).toBeGreaterThan(0);
    const err = await b.granted.catch((x: unknown) => x);
    expect(err).toBeInstanceOf(RunnerCapacityError);
    expect(gate.stats).toEqual({ starting: 1, queued: 0 });
    b.release(); // after the timeout: no effect on the running count
    expect(gate.stats).toEqual({ starting: 1, queued: 0 });
    a.release();
    expect(gate.stats).toEqual({ starting: 0, queued: 0 });
  });
});
