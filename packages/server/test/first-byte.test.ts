import { SseDecoder, type SseFrame } from '@ash-ai/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AUTH,
  api,
  createSession,
  deployAgent,
  eventually,
  sendTurn,
  startTestServer,
  type TestServer,
} from './harness.js';

/** An SSE response read frame by frame (comments included, as `event: ':'`), as the client sees it. */
async function openTurn(url: string, sessionId: string, content: string) {
  const res = await fetch(`${url}/api/sessions/${sessionId}/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...AUTH },
    body: JSON.stringify({ content }),
  });
  const reader = res.body!.getReader();
  const text = new TextDecoder();
  const decoder = new SseDecoder();
  const pending: SseFrame[] = [];
  const seen: SseFrame[] = [];
  let raw = '';
  /** The next frame (undefined at the end of the stream). */
  const next = async (): Promise<SseFrame | undefined> => {
    while (pending.length === 0) {
      const { done, value } = await reader.read();
      if (done) return undefined;
      const chunk = text.decode(value, { stream: true });
      raw += chunk;
      pending.push(...decoder.push(chunk));
    }
    const f = pending.shift()!;
    seen.push(f);
    return f;
  };
  /** Reads frames until one named `event` (throws at the end of the stream). */
  const until = async (event: string): Promise<SseFrame> => {
    for (;;) {
      const f = await next();
      if (!f) throw new Error(`the stream ended before ${event}; saw ${seen.map((s) => s.event).join(',')}`);
      if (f.event === event) return f;
    }
  };
  return { res, next, until, seen, raw: () => raw };
}

describe('first SSE byte of a turn does not wait for the sandbox start', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({
      env: { ASH_MAX_CONCURRENT_STARTS: '1', ASH_START_QUEUE_MAX: '8', ASH_IDLE_TIMEOUT_MS: '600000' },
    });
    await deployAgent(t.url, 'fb', { 'CLAUDE.md': '# First byte\n' });
  });
  afterAll(async () => t?.close());

  it('sends headers, session_start and sandbox_starting while the start is held at the start gate; sandbox_ready and the turn after it', async () => {
    const gate = t.server.runner!.pool.startGate;
    const id = await createSession(t.url, 'fb');
    await eventually(async () => gate.stats.starting === 0 && gate.stats.queued === 0, 60_000, 'the prewarm');
    // A paused session has no sandbox: its next turn must start one.
    expect((await api(t.url, 'POST', `/api/sessions/${id}/pause`)).status).toBe(200);
    expect(t.server.runtime.hasLiveSandbox(id)).toBe(false);

    // The test holds the only start permit (ASH_MAX_CONCURRENT_STARTS=1): the turn's start waits.
    const held = gate.acquire();
    await held.granted;
    let released = false;
    try {
      t.model.forSession(id).enqueue({ text: 'after the start' });
      const turn = await openTurn(t.url, id, 'hello');
      expect(turn.res.status).toBe(200);
      expect(turn.res.headers.get('content-type')).toContain('text/event-stream');
      const first = await turn.next();
      expect(first?.event).toBe('session_start');
      const starting = await turn.until('sandbox_starting');
      expect(JSON.parse(starting.data)).toEqual({ sessionId: id });
      // The start has not completed: it is still queued behind the held permit, no sandbox is up,
      // and the client has not been told it is ready.
      await eventually(async () => gate.stats.queued === 1, 30_000, 'the turn to queue at the start gate');
      expect(t.server.runtime.hasLiveSandbox(id)).toBe(false);
      expect(turn.seen.map((f) => f.event)).not.toContain('sandbox_ready');
      expect(turn.seen.map((f) => f.event)).not.toContain('text_delta');

      held.release();
      released = true;
      const ready = await turn.until('sandbox_ready');
      expect(JSON.parse(ready.data)).toMatchObject({ sessionId: id, waitMs: expect.any(Number) });
      const done = await turn.until('done');
      expect(JSON.parse(done.data)).toMatchObject({ sessionId: id, outcome: 'completed' });
      const names = turn.seen.map((f) => f.event);
      expect(names.indexOf('sandbox_starting')).toBe(1);
      expect(names.indexOf('sandbox_ready')).toBeGreaterThan(names.indexOf('sandbox_starting'));
      expect(names.indexOf('text_delta')).toBeGreaterThan(names.indexOf('sandbox_ready'));
      // The wait was told as a queue position while it lasted.
      expect(turn.raw()).toContain(': queued position=1');
      // Both events are part of the stored history.
      const stored = (await api(t.url, 'GET', `/api/sessions/${id}/events?limit=1000`)).body.events.map(
        (e: { type: string }) => e.type,
      );
      expect(stored).toEqual(expect.arrayContaining(['sandbox_starting', 'sandbox_ready']));
    } finally {
      if (!released) held.release();
    }

    // The next turn finds the sandbox live: no start, no start events.
    t.model.forSession(id).enqueue({ text: 'warm' });
    const warm = await sendTurn(t.url, id, { content: 'again' });
    const warmNames = warm.events.map((e) => e.event);
    expect(warmNames[0]).toBe('session_start');
    expect(warmNames).not.toContain('sandbox_starting');
    expect(warmNames.at(-1)).toBe('done');
  }, 180_000);
});
