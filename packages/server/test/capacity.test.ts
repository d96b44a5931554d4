import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  createSession,
  deployAgent,
  eventually,
  expectOutcome,
  sendTurn,
  startTestServer,
  type TestServer,
} from './harness.js';

const health = async (t: TestServer) => (await api(t.url, 'GET', '/health')).body;

/** Samples /health's `pool.live` (and live + starting) until stopped; returns the maxima seen. */
function watchPool(t: TestServer): { stop: () => Promise<{ live: number; used: number }> } {
  let running = true;
  let live = 0;
  let used = 0;
  const loop = (async () => {
    while (running) {
      const h = await health(t);
      live = Math.max(live, h.pool.live, h.activeSandboxes);
      used = Math.max(used, h.pool.live + h.pool.starting);
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return { live, used };
    },
  };
}

describe('exact capacity under concurrency', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({
      env: { ASH_MAX_SANDBOXES: '4', ASH_MAX_CONCURRENT_STARTS: '8', ASH_IDLE_TIMEOUT_MS: '600000' },
    });
    await deployAgent(t.url, 'cap', { 'CLAUDE.md': '# Cap\n' });
  });
  afterAll(async () => t?.close());

  it('8 concurrent first turns with ASH_MAX_SANDBOXES=4: never more than 4 live; the others get 503 + Retry-After before any SSE byte', async () => {
    // Sessions created one by one evict idle ones (capacity 4): some first turns find no sandbox.
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) {
      ids.push(await createSession(t.url, 'cap'));
      await eventually(async () => (await health(t)).pool.starting === 0, 60_000, 'the sandbox to start');
    }
    for (const id of ids)
      t.model.forSession(id).enqueue({ slow: { deltas: 20, intervalMs: 100, text: 'x' } });
    const watch = watchPool(t);
    const results = await Promise.all(ids.map((id) => sendTurn(t.url, id, { content: 'go' })));
    const seen = await watch.stop();
    expect(seen.live).toBeLessThanOrEqual(4);
    expect(seen.used).toBeLessThanOrEqual(4);
    const refused = results.filter((r) => r.status !== 200);
    const ran = results.filter((r) => r.status === 200);
    expect(ran.length).toBeGreaterThanOrEqual(1);
    expect(ran.length).toBeLessThanOrEqual(4);
    expect(refused.length).toBeGreaterThanOrEqual(1);
    // Every 200 is a turn that ran to completion: no stream that carries a refusal.
    for (const r of ran) expectOutcome(r, 'completed');
    for (const r of refused) {
      expect(r.status).toBe(503);
      expect(r.headers.get('content-type')).toContain('application/problem+json');
      expect(JSON.parse(r.raw).code).toBe('capacity_reached');
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(r.events).toEqual([]);
    }
    expect(ran.length + refused.length).toBe(8);
    // The refused ones get in once the others are idle again (evicting them).
    const retry = results.findIndex((r) => r.status === 503);
    if (retry >= 0) {
      t.model.forSession(ids[retry]!).enqueue({ text: 'second try' });
      expectOutcome(await sendTurn(t.url, ids[retry]!, { content: 'again' }), 'completed');
    }
    expect((await health(t)).pool.live).toBeLessThanOrEqual(4);
  }, 180_000);
});

describe('admission control for sandbox starts', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({
      env: { ASH_MAX_CONCURRENT_STARTS: '1', ASH_START_QUEUE_MAX: '8', ASH_IDLE_TIMEOUT_MS: '600000' },
    });
    await deployAgent(t.url, 'gate', { 'CLAUDE.md': '# Gate\n' });
  });
  afterAll(async () => t?.close());

  it('starts one sandbox at a time; the others wait in order, their position sent as SSE comments, and all complete', async () => {
    const ids = await Promise.all([0, 1, 2].map(() => createSession(t.url, 'gate')));
    for (const id of ids) t.model.forSession(id).enqueue({ text: 'admitted' });
    const results = await Promise.all(ids.map((id) => sendTurn(t.url, id, { content: 'hello' })));
    for (const r of results) {
      expect(r.status).toBe(200);
      expectOutcome(r, 'completed');
    }
    const comments = results.map((r) => r.raw.split('\n').filter((l) => l.startsWith(': queued position=')));
    // Three starts, one at a time: at least one turn waited and was told where it stood.
    const waited = comments.filter((c) => c.length > 0);
    expect(waited.length).toBeGreaterThanOrEqual(1);
    for (const c of waited) {
      const positions = c.map((l) => Number(l.slice(': queued position='.length)));
      for (const p of positions) expect(p).toBeGreaterThanOrEqual(1);
      // Positions only move forward (FIFO), and the wait ends with `: starting`.
      expect([...positions].sort((a, b) => b - a)).toEqual(positions);
    }
    for (const r of results.filter((_, i) => comments[i]!.length > 0)) expect(r.raw).toContain(': starting');
  }, 180_000);

  it('refuses a start beyond the bounded queue with 503 capacity_reached before the stream', async () => {
    const t2 = await startTestServer({
      model: t.model,
      env: { ASH_MAX_CONCURRENT_STARTS: '1', ASH_START_QUEUE_MAX: '0', ASH_IDLE_TIMEOUT_MS: '600000' },
    });
    try {
      await deployAgent(t2.url, 'gate0', { 'CLAUDE.md': '# Gate\n' });
      const a = await createSession(t2.url, 'gate0'); // its start holds the only permit
      const b = await createSession(t2.url, 'gate0'); // no room to wait: its prewarm is refused
      t.model.forSession(b).enqueue({ text: 'later' });
      const r = await sendTurn(t2.url, b, { content: 'now' });
      if (r.status === 200) {
        // a's Claude process was already up: b started at once, nothing to refuse.
        expectOutcome(r, 'completed');
      } else {
        expect(r.status).toBe(503);
        expect(JSON.parse(r.raw).code).toBe('capacity_reached');
        expect(r.headers.get('retry-after')).toBeTruthy();
        expect(r.events).toEqual([]);
        await eventually(
          async () => (await health(t2)).pool.startsRunning === 0,
          60_000,
          "a's Claude process to be up",
        );
        t.model.forSession(b).enqueue({ text: 'later' });
        expectOutcome(await sendTurn(t2.url, b, { content: 'again' }), 'completed');
      }
      t.model.forSession(a).enqueue({ text: 'fine' });
      expectOutcome(await sendTurn(t2.url, a, { content: 'hi' }), 'completed');
    } finally {
      await t2.close();
    }
  }, 180_000);
});
