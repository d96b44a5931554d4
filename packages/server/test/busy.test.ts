import { lastUserText } from '@ash-ai/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, createSession, deployAgent, sendTurn, startTestServer, type TestServer } from './harness.js';

type Turn = Awaited<ReturnType<typeof sendTurn>>;
const done = (t: Turn) => t.events.at(-1)!;
const start = (t: Turn) => t.events[0]!;

/** Resolves once the model received a request whose last user text is `text`. */
async function modelSaw(t: TestServer, sessionId: string, text: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!t.model.messageRequests(sessionId).some((r) => lastUserText(r) === text)) {
    if (Date.now() > deadline) throw new Error(`the model never saw '${text}'`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('busy policy (onBusy) under concurrent sends', () => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer();
    await deployAgent(t.url, 'busy', { 'CLAUDE.md': '# Busy\n' });
  });
  afterAll(async () => t?.close());

  it('reject (the default): of concurrent sends exactly one runs, the others get 409', async () => {
    const id = await createSession(t.url, 'busy');
    t.model.forSession(id).enqueue({ slow: { deltas: 10, intervalMs: 100, text: 'x' } });
    const turns = await Promise.all(
      ['a', 'b', 'c', 'd'].map((c) =>
        sendTurn(t.url, id, { content: c, ...(c === 'd' ? { onBusy: 'reject' } : {}) }),
      ),
    );
    const ok = turns.filter((x) => x.status === 200);
    const busy = turns.filter((x) => x.status === 409);
    expect(ok).toHaveLength(1);
    expect(busy).toHaveLength(3);
    for (const b of busy) expect(JSON.parse(b.raw)).toMatchObject({ code: 'session_busy' });
    expect(done(ok[0]!).data).toMatchObject({ outcome: 'completed' });
    // Only the winner reached the model.
    expect(t.model.messageRequests(id).filter((r) => r.tools.length > 0)).toHaveLength(1);
  });

  it('queue: each message waits for the turns before it, in order, and streams only its own turn', async () => {
    const id = await createSession(t.url, 'busy');
    t.model.forSession(id).enqueue({ slow: { deltas: 10, intervalMs: 100, text: 'a' } });
    const first = sendTurn(t.url, id, { content: 'first' });
    await modelSaw(t, id, 'first');
    // Sent while `first` runs; `second` is queued before `third`.
    const second = sendTurn(t.url, id, { content: 'second', onBusy: 'queue' });
    await new Promise((r) => setTimeout(r, 100));
    const third = sendTurn(t.url, id, { content: 'third', onBusy: 'queue' });
    const [a, b, c] = await Promise.all([first, second, third]);
    for (const x of [a, b, c]) {
      expect(x.status).toBe(200);
      expect(start(x).event).toBe('session_start');
      expect(done(x)).toMatchObject({ event: 'done', data: { outcome: 'completed' } });
      expect(x.events.filter((e) => e.event === 'session_start')).toHaveLength(1);
    }
    // Strictly one after the other: each turn starts after the previous one's done.
    expect(start(b).id).toBeGreaterThan(done(a).id);
    expect(start(c).id).toBeGreaterThan(done(b).id);
    const order = t.model
      .messageRequests(id)
      .filter((r) => r.tools.length > 0)
      .map((r) => lastUserText(r));
    expect(order).toEqual(['first', 'second', 'third']);
    const text = (x: Turn) =>
      x.events
        .filter((e) => e.event === 'text_delta')
        .map((e) => (e.data as { delta: string }).delta)
        .join('');
    expect(text(b)).toBe('Echo: second');
    expect(text(c)).toBe('Echo: third');
    // The history has the messages in the order they ran.
    const history = await api(t.url, 'GET', `/api/sessions/${id}/messages`);
    const users = history.body.messages
      .filter((m: { type: string }) => m.type === 'user')
      .map((m: { text: string }) => m.text);
    expect(users).toEqual(['first', 'second', 'third']);
  });

  it('interrupt: the running turn stops at once and the new message runs next, ahead of queued ones', async () => {
    const id = await createSession(t.url, 'busy');
    t.model.forSession(id).enqueue({ slow: { deltas: 200, intervalMs: 100, text: 'z' } });
    const started = Date.now();
    const long = sendTurn(t.url, id, { content: 'long job' });
    await modelSaw(t, id, 'long job');
    const queued = sendTurn(t.url, id, { content: 'queued', onBusy: 'queue' });
    await new Promise((r) => setTimeout(r, 100));
    const urgent = sendTurn(t.url, id, { content: 'urgent', onBusy: 'interrupt' });
    const [l, u, q] = await Promise.all([long, urgent, queued]);
    expect(done(l).data).toMatchObject({ outcome: 'interrupted' });
    expect(Date.now() - started).toBeLessThan(15_000); // the slow reply alone takes 20 s
    expect(done(u).data).toMatchObject({ outcome: 'completed' });
    expect(done(q).data).toMatchObject({ outcome: 'completed' });
    expect(start(u).id).toBeGreaterThan(done(l).id);
    expect(start(q).id).toBeGreaterThan(done(u).id);
    const order = t.model
      .messageRequests(id)
      .filter((r) => r.tools.length > 0)
      .map((r) => lastUserText(r));
    expect(order).toEqual(['long job', 'urgent', 'queued']);
  });

  it('interrupt on an idle session just runs; a queued message whose session ends gets error + done', async () => {
    const id = await createSession(t.url, 'busy');
    const idle = await sendTurn(t.url, id, { content: 'calm', onBusy: 'interrupt' });
    expect(done(idle).data).toMatchObject({ outcome: 'completed' });

    t.model.forSession(id).enqueue({ slow: { deltas: 100, intervalMs: 100, text: 'y' } });
    const running = sendTurn(t.url, id, { content: 'running' });
    await modelSaw(t, id, 'running');
    const waiting = sendTurn(t.url, id, { content: 'too late', onBusy: 'queue' });
    await new Promise((r) => setTimeout(r, 200));
    expect((await api(t.url, 'DELETE', `/api/sessions/${id}`)).status).toBe(200);
    const [r, w] = await Promise.all([running, waiting]);
    expect(done(r).data).toMatchObject({ outcome: 'interrupted' });
    expect(w.status).toBe(200);
    expect(w.events.map((e) => e.event)).toEqual(['error', 'done']);
    expect(w.events[0]!.data).toMatchObject({ code: 'session_ended' });
    expect(w.events[1]!.data).toMatchObject({ sessionId: id, outcome: 'error' });
    expect(w.events[0]!.id).toBeGreaterThan(done(r).id);
    // Recorded like every other event.
    const persisted = await api(t.url, 'GET', `/api/sessions/${id}/events?type=done`);
    expect(persisted.body.events.at(-1).sequence).toBe(w.events[1]!.id);
    expect(t.model.messageRequests(id).some((x) => lastUserText(x) === 'too late')).toBe(false);
  });
});
