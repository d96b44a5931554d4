import { createTestPostgresDatabase, TcpFront, type TestDatabase } from '@ash-ai/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, createSession, deployAgent, sendTurn, startTestServer, type TestServer } from './harness.js';

// A database outage is the operator's to fix and the client's to retry: every route answers 503
// `database_unavailable` with Retry-After (never a 500 `internal_error`, never a hang), and the
// server serves again, without a restart, once the database is back.
describe('database outage (PostgreSQL down, restarting or not answering)', () => {
  let db: TestDatabase;
  let front: TcpFront;
  let t: TestServer;
  let sessionId: string;

  beforeAll(async () => {
    db = await createTestPostgresDatabase('ash_dbdown');
    const url = new URL(db.url);
    front = new TcpFront(Number(url.port || 5432));
    await front.listen();
    url.host = `127.0.0.1:${front.port}`;
    t = await startTestServer({ env: { ASH_DATABASE_URL: url.toString() } });
    await deployAgent(t.url, 'steady', { 'CLAUDE.md': '# steady\n' });
    sessionId = await createSession(t.url, 'steady');
  }, 60_000);
  afterAll(async () => {
    await front?.set('forward');
    await t?.close();
    await front?.set('closed');
    await db?.drop();
  });

  const expectUnavailable = (r: Awaited<ReturnType<typeof api>>, what: string) => {
    expect(r.status, `${what}: ${r.text}`).toBe(503);
    expect(r.body.code, what).toBe('database_unavailable');
    expect(r.headers.get('content-type'), what).toContain('application/problem+json');
    expect(r.headers.get('retry-after'), what).toBe('5');
    expect(r.text, what).not.toMatch(/select|insert|ECONNREFUSED|127\.0\.0\.1|stack/i);
  };

  for (const outage of ['closed', 'hang'] as const) {
    it(`${outage}: routes answer 503 database_unavailable in bounded time, then serve again`, async () => {
      await front.set(outage);
      const started = Date.now();
      const requests: Array<[string, string, string, unknown?]> = [
        ['create a session', 'POST', '/api/sessions', { agent: 'steady' }],
        ['read a session', 'GET', `/api/sessions/${sessionId}`],
        ['list agents', 'GET', '/api/agents'],
        ['send a message', 'POST', `/api/sessions/${sessionId}/messages`, { content: 'hello?' }],
        ['health', 'GET', '/health'],
      ];
      const answers = await Promise.all(requests.map(([, m, p, b]) => api(t.url, m, p, b)));
      for (const [i, r] of answers.entries()) expectUnavailable(r, requests[i]![0]);
      // The pool gives up connecting after 10 s ('hang'); a refused connection fails at once.
      expect(Date.now() - started).toBeLessThan(outage === 'hang' ? 25_000 : 5_000);
      // Bad input needs no database: still its own 400.
      const bad = await api(t.url, 'POST', '/api/sessions', '{"agent":', {});
      expect(bad.status).toBe(400);
      expect(bad.body.code).toBe('invalid_json');

      await front.set('forward');
      const turn = await sendTurn(t.url, sessionId, { content: `back after ${outage}` });
      expect(turn.status).toBe(200);
      expect(turn.events.at(-1)).toMatchObject({ event: 'done', data: { outcome: 'completed' } });
      expect((await api(t.url, 'POST', '/api/sessions', { agent: 'steady' })).status).toBe(201);
    }, 90_000);
  }
});
