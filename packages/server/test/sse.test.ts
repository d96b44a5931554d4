import { connect } from 'node:net';
import { SseDecoder } from '@ash-ai/shared';
import { TEST_API_KEY } from '@ash-ai/testing';
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

/** Sends a POST over a raw socket and returns it unread (the kernel buffers fill up). */
function rawPost(url: string, path: string, body: unknown) {
  const u = new URL(url);
  const socket = connect(Number(u.port), u.hostname);
  const payload = JSON.stringify(body);
  socket.write(
    `POST ${path} HTTP/1.1\r\nHost: ${u.host}\r\nAuthorization: Bearer ${TEST_API_KEY}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(payload)}\r\n\r\n${payload}`,
  );
  socket.pause();
  return socket;
}

describe('SSE delivery', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ env: { ASH_SSE_HEARTBEAT_MS: '300' } });
    await deployAgent(t.url, 'sse', { 'CLAUDE.md': '# SSE\n' });
  });
  afterAll(async () => t?.close());

  it('sends comment heartbeats while a turn is quiet', async () => {
    const id = await createSession(t.url, 'sse');
    t.model
      .forSession(id)
      .enqueue({ toolUse: { name: 'Bash', input: { command: 'sleep 2; echo slept' } } }, { text: 'rested' });
    const turn = await sendTurn(t.url, id, { content: 'rest a bit' });
    expectOutcome(turn, 'completed');
    expect(turn.raw).toMatch(/^: ping$/m);
  });

  it('never lets a client that stops reading hold up the turn or lose events, and survives its disconnect', async () => {
    const id = await createSession(t.url, 'sse');
    // ~6 MB of tool output: far more than socket buffers hold.
    t.model
      .forSession(id)
      .enqueue(
        { toolUse: { name: 'Bash', input: { command: 'head -c 3000000 /dev/zero | base64 -w 200' } } },
        { slow: { deltas: 200, intervalMs: 5, text: 'chunk ' } },
      );
    const socket = rawPost(t.url, `/api/sessions/${id}/messages`, { content: 'flood me' });
    // The turn finishes although nobody reads the stream.
    await eventually(
      async () =>
        (await api(t.url, 'GET', `/api/sessions/${id}`)).body.session.activeTurnId === null &&
        t.model.messageRequests(id).length >= 2,
      30_000,
      'the turn to finish',
    );
    await eventually(
      async () => (await api(t.url, 'GET', `/api/sessions/${id}/events?type=done`)).body.events.length === 1,
      10_000,
      'done persisted',
    );
    // Now read everything: all events arrive, in order, ending with done.
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      text += d;
    });
    socket.resume();
    await eventually(() => text.includes('event: done'), 30_000, 'the rest of the stream');
    socket.destroy();
    const body = text
      .slice(text.indexOf('\r\n\r\n') + 4)
      .replace(/\r\n[0-9a-f]+\r\n/g, '')
      .replace(/^[0-9a-f]+\r\n/, '');
    const ids = new SseDecoder().push(body).map((f) => Number(f.id));
    const persisted = (await api(t.url, 'GET', `/api/sessions/${id}/events?limit=1000`)).body.events
      .filter((e: { type: string }) => e.type !== 'lifecycle')
      .map((e: { sequence: number }) => e.sequence);
    expect(ids).toEqual(persisted);

    // A client that disconnects mid-turn: the turn completes, the server stays healthy.
    t.model.forSession(id).enqueue({ slow: { deltas: 20, intervalMs: 50 } });
    const gone = rawPost(t.url, `/api/sessions/${id}/messages`, { content: 'then leave' });
    await eventually(() => t.model.messageRequests(id).length >= 3, 10_000, 'the next turn');
    gone.destroy();
    await eventually(
      async () => (await api(t.url, 'GET', `/api/sessions/${id}`)).body.session.activeTurnId === null,
      10_000,
      'the turn to finish',
    );
    const dones = (await api(t.url, 'GET', `/api/sessions/${id}/events?type=done`)).body.events;
    expect(JSON.parse(dones.at(-1).data)).toMatchObject({ outcome: 'completed' });
    expect((await api(t.url, 'GET', '/health')).status).toBe(200);
    t.model.forSession(id).enqueue({ text: 'still serving' });
    expectOutcome(await sendTurn(t.url, id, { content: 'hello?' }), 'completed');
  });
});

describe('disk limit', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
    await deployAgent(t.url, 'disk', { 'CLAUDE.md': '# Disk\n' }, { config: { limits: { diskMb: 5 } } });
  });
  afterAll(async () => t?.close());

  it('ends a turn that fills the workspace past its disk limit with an error naming it', async () => {
    const id = await createSession(t.url, 'disk');
    t.model.forSession(id).enqueue({
      toolUse: { name: 'Bash', input: { command: 'head -c 20000000 /dev/zero > big.bin; sleep 10' } },
    });
    const turn = await sendTurn(t.url, id, { content: 'fill the disk' });
    expectOutcome(turn, 'error');
    expect(turn.events.find((e) => e.event === 'error')!.data).toMatchObject({
      code: 'limit_exceeded',
      limit: 'disk',
    });
  });
});

// Issue 10: a 17-second silent tool call once produced a 20-second gap with a 15-second heartbeat
// (the heartbeat polled every third of its period). It is now scheduled from the last write, so
// with the default ASH_SSE_HEARTBEAT_MS (15 s) a 20-second silent tool call never leaves the
// client more than 15 s (+1 s of slack) without a byte.
describe('SSE heartbeat bound', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ env: { ASH_SSE_HEARTBEAT_MS: '15000' } });
    await deployAgent(t.url, 'quiet', { 'CLAUDE.md': '# Quiet\n' });
  });
  afterAll(async () => t?.close());

  it('keeps every gap between frames within ASH_SSE_HEARTBEAT_MS + 1 s across a 20 s silent tool call', async () => {
    const heartbeatMs = 15_000;
    const id = await createSession(t.url, 'quiet');
    t.model
      .forSession(id)
      .enqueue(
        { toolUse: { name: 'Bash', input: { command: 'sleep 20; echo awake' } } },
        { text: 'done waiting' },
      );
    const res = await fetch(`${t.url}/api/sessions/${id}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_API_KEY}` },
      body: JSON.stringify({ content: 'wait quietly' }),
    });
    expect(res.status).toBe(200);
    let last = Date.now();
    const gaps: number[] = [];
    /** Arrival times of event frames (not comments). */
    const eventTimes: number[] = [];
    let raw = '';
    const decoder = new TextDecoder();
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      const now = Date.now();
      gaps.push(now - last);
      last = now;
      const text = decoder.decode(chunk, { stream: true });
      raw += text;
      if (/^(event|data):/m.test(text)) eventTimes.push(now);
    }
    const events = new SseDecoder().push(raw);
    expect(events.at(-1)?.event).toBe('done');
    expect(raw).toMatch(/^: ping$/m);
    // The tool really was silent for longer than one heartbeat period...
    const eventGaps = eventTimes.slice(1).map((t0, i) => t0 - eventTimes[i]!);
    expect(Math.max(...eventGaps)).toBeGreaterThan(heartbeatMs + 1_000);
    // ...and the client never waited longer than the setting (+1 s) for a byte.
    expect(Math.max(...gaps)).toBeLessThanOrEqual(heartbeatMs + 1_000);
  }, 120_000);
});
