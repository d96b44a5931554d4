import { randomUUID } from 'node:crypto';
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import {
  createTestPostgresDatabase,
  lastUserText,
  removeDir,
  ScriptedModel,
  type TestDatabase,
  tempDir,
} from '@ash-ai/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  bridgePids,
  createSession,
  deployAgent,
  eventually,
  startTestServer,
  type TestServer,
} from './harness.js';

const QUEUE_ENV = {
  ASH_QUEUE_CONCURRENCY: '1',
  ASH_QUEUE_POLL_MS: '50',
  ASH_QUEUE_RETRY_BASE_MS: '1000',
  ASH_QUEUE_HEARTBEAT_MS: '200',
  ASH_QUEUE_STALE_MS: '3000',
};

/** Polls an item until `until` holds (default: finished). */
async function waitItem(
  t: TestServer,
  id: string,
  until: (item: any) => boolean = (i) => ['completed', 'failed', 'cancelled'].includes(i.status),
  timeoutMs = 45_000,
): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await api(t.url, 'GET', `/api/queue/${id}`);
    expect(r.status).toBe(200);
    if (until(r.body.item)) return r.body.item;
    if (Date.now() > deadline) throw new Error(`queue item not done: ${JSON.stringify(r.body.item)}`);
    await new Promise((res) => setTimeout(res, 50));
  }
}

async function enqueue(t: TestServer, body: Record<string, unknown>): Promise<any> {
  const r = await api(t.url, 'POST', '/api/queue', body);
  expect(r.status, r.text).toBe(201);
  return r.body.item;
}

const mainRequests = (m: ScriptedModel, prompt: string) =>
  m.messageRequests().filter((r) => r.tools.length > 0 && lastUserText(r) === prompt);

describe('queue', () => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer({ env: QUEUE_ENV });
    await deployAgent(t.url, 'worker', { 'CLAUDE.md': '# Queue worker\n' });
    await deployAgent(t.url, 'other', { 'CLAUDE.md': '# Other\n' });
  });
  afterAll(async () => t?.close());

  it('runs a queued prompt as a turn in a new session and records its result and session', async () => {
    const item = await enqueue(t, { agentName: 'worker', prompt: 'job one' });
    expect(item).toMatchObject({
      status: 'pending',
      agentName: 'worker',
      sessionId: null,
      priority: 0,
      maxRetries: 3,
      retryCount: 0,
      result: null,
    });
    const done = await waitItem(t, item.id);
    expect(done).toMatchObject({ status: 'completed', retryCount: 0, error: null });
    expect(done.result).toMatchObject({ outcome: 'completed', text: 'Echo: job one', numTurns: 1 });
    expect(done.sessionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(done.startedAt).not.toBeNull();
    expect(done.completedAt).not.toBeNull();
    // Through the same path as POST /messages: the session, its history and its usage are there.
    // The session the queue created is paused once the item finished: it holds no sandbox.
    await eventually(
      async () =>
        (await api(t.url, 'GET', `/api/sessions/${done.sessionId}`)).body.session.status === 'paused',
      10_000,
      'the queue session to be paused',
    );
    const session = await api(t.url, 'GET', `/api/sessions/${done.sessionId}`);
    expect(session.body.session).toMatchObject({ agentName: 'worker', status: 'paused' });
    expect(bridgePids(done.sessionId)).toEqual([]);
    const history = await api(t.url, 'GET', `/api/sessions/${done.sessionId}/messages`);
    expect(history.body.messages.map((m: { text: string }) => m.text)).toEqual(
      expect.arrayContaining(['job one', 'Echo: job one']),
    );
    const turns = await api(t.url, 'GET', `/api/sessions/${done.sessionId}/events?type=done`);
    expect(JSON.parse(turns.body.events[0].data).turnId).toBe(done.result.turnId);
    expect(mainRequests(t.model, 'job one')).toHaveLength(1);
  });

  it('a retry resumes the paused session the queue created for the item', async () => {
    let calls = 0;
    t.model.onRequest((r) =>
      lastUserText(r) === 'retry in my session' && calls++ === 0
        ? { error: { status: 529, type: 'overloaded_error', message: 'scripted overload' } }
        : undefined,
    );
    const item = await enqueue(t, { agentName: 'worker', prompt: 'retry in my session', maxRetries: 1 });
    const done = await waitItem(t, item.id);
    t.model.onRequest(undefined);
    expect(done).toMatchObject({ status: 'completed', retryCount: 1 });
    expect(done.result).toMatchObject({ outcome: 'completed', text: 'Echo: retry in my session' });
    // Both attempts ran in the one session the first attempt created.
    const sessions = new Set(mainRequests(t.model, 'retry in my session').map((r) => r.sessionId));
    expect([...sessions]).toEqual([done.sessionId]);
    await eventually(
      async () =>
        (await api(t.url, 'GET', `/api/sessions/${done.sessionId}`)).body.session.status === 'paused',
      10_000,
      'the queue session to be paused',
    );
  });

  it('runs in the given session with the given turn options (structured output)', async () => {
    const sessionId = await createSession(t.url, 'worker');
    t.model.forSession(sessionId).enqueue({ toolUse: { name: 'StructuredOutput', input: { answer: 42 } } });
    const item = await enqueue(t, {
      agentName: 'worker',
      prompt: 'answer as JSON',
      sessionId,
      options: {
        model: 'queue-model',
        outputFormat: {
          type: 'json_schema',
          schema: { type: 'object', properties: { answer: { type: 'integer' } }, required: ['answer'] },
        },
      },
    });
    const done = await waitItem(t, item.id);
    expect(done).toMatchObject({ status: 'completed', sessionId });
    expect(done.result.structuredOutput).toEqual({ answer: 42 });
    // A session given at enqueue is the caller's: left running.
    expect((await api(t.url, 'GET', `/api/sessions/${sessionId}`)).body.session.status).toBe('active');
    expect(t.model.messageRequests(sessionId).find((r) => r.tools.length > 0)!.model).toBe('queue-model');
  });

  it('refuses to queue for an unknown agent at once (404), queueing nothing', async () => {
    const r = await api(t.url, 'POST', '/api/queue', { agentName: 'ghost', prompt: 'boo', maxRetries: 5 });
    expect(r.status, r.text).toBe(404);
    expect(r.body).toMatchObject({ code: 'agent_not_found', detail: "Agent 'ghost' was not found" });
    const list = await api(t.url, 'GET', '/api/queue');
    expect(list.body.items.filter((i: { agentName: string }) => i.agentName === 'ghost')).toEqual([]);
  });

  it('retries a failing item with growing delays exactly maxRetries times, then marks it failed', async () => {
    const sessionId = await createSession(t.url, 'worker');
    const overloaded = {
      error: { status: 529, type: 'overloaded_error', message: 'scripted overload' },
    } as const;
    t.model.forSession(sessionId).enqueue(overloaded, overloaded, overloaded, overloaded);
    const item = await enqueue(t, { agentName: 'worker', prompt: 'flaky job', sessionId, maxRetries: 2 });
    const done = await waitItem(t, item.id);
    expect(done).toMatchObject({ status: 'failed', retryCount: 2 });
    expect(done.error).toMatch(/^model_error: /);
    expect(done.result).toMatchObject({ outcome: 'error' });
    const attempts = mainRequests(t.model, 'flaky job').map((r) => r.at);
    expect(attempts).toHaveLength(3); // the first attempt and 2 retries
    const gap1 = attempts[1]! - attempts[0]!;
    const gap2 = attempts[2]! - attempts[1]!;
    expect(gap1).toBeGreaterThanOrEqual(1000); // ASH_QUEUE_RETRY_BASE_MS
    expect(gap2).toBeGreaterThanOrEqual(2000); // doubled
    expect(gap2).toBeGreaterThan(gap1);
    // And nothing more after it failed.
    await new Promise((r) => setTimeout(r, 2500));
    expect(mainRequests(t.model, 'flaky job')).toHaveLength(3);
    t.model.reset();
  });

  it('does not retry an item whose turn reached a budget (budget_exceeded is terminal)', async () => {
    const sessionId = await createSession(t.url, 'worker', { model: 'budget-model' });
    t.model.forSession(sessionId).enqueue(
      {
        toolUse: { name: 'Bash', input: { command: 'echo spend' } },
        usage: { input_tokens: 200_000, output_tokens: 2000 },
      },
      { text: 'never reached' },
      { text: 'a retry would get this' },
      { text: 'and this' },
    );
    const item = await enqueue(t, {
      agentName: 'worker',
      prompt: 'over budget job',
      sessionId,
      maxRetries: 3,
      options: { maxBudgetUsd: 0.01 },
    });
    const done = await waitItem(t, item.id);
    expect(done).toMatchObject({ status: 'failed', retryCount: 0 });
    expect(done.error).toMatch(/^budget_exceeded: /);
    await new Promise((r) => setTimeout(r, 1500)); // past ASH_QUEUE_RETRY_BASE_MS: no retry came
    expect(mainRequests(t.model, 'over budget job')).toHaveLength(1);
    expect((await api(t.url, 'GET', `/api/queue/${item.id}`)).body.item.status).toBe('failed');
    t.model.reset();
  });

  it('runs higher priority first; cancels only while pending', async () => {
    // Keep the single slot busy so the next items wait together.
    const blocker = await createSession(t.url, 'worker');
    t.model.forSession(blocker).enqueue({ slow: { deltas: 15, intervalMs: 100 } });
    const busy = await enqueue(t, { agentName: 'worker', prompt: 'blocker', sessionId: blocker });
    await waitItem(t, busy.id, (i) => i.status === 'running');
    const low = await enqueue(t, { agentName: 'worker', prompt: 'low', priority: 1 });
    const high = await enqueue(t, { agentName: 'worker', prompt: 'high', priority: 9 });
    const later = await enqueue(t, {
      agentName: 'worker',
      prompt: 'later',
      runAt: new Date(Date.now() + 3600_000).toISOString(),
    });

    // Running: no cancel.
    const running = await api(t.url, 'DELETE', `/api/queue/${busy.id}`);
    expect(running.status).toBe(409);
    expect(running.body.code).toBe('queue_item_not_pending');
    // Pending: cancelled, and it never runs.
    const cancelled = await api(t.url, 'DELETE', `/api/queue/${later.id}`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.item).toMatchObject({ id: later.id, status: 'cancelled' });
    expect((await api(t.url, 'DELETE', `/api/queue/${later.id}`)).status).toBe(409);
    expect((await api(t.url, 'DELETE', `/api/queue/${randomUUID()}`)).body.code).toBe('queue_item_not_found');

    const [l, h] = [await waitItem(t, low.id), await waitItem(t, high.id)];
    expect(l.status).toBe('completed');
    expect(h.status).toBe('completed');
    expect(h.startedAt < l.startedAt).toBe(true);
    expect((await api(t.url, 'DELETE', `/api/queue/${h.id}`)).status).toBe(409);
    expect((await api(t.url, 'GET', `/api/queue/${later.id}`)).body.item.status).toBe('cancelled');

    const stats = (await api(t.url, 'GET', '/api/queue/stats')).body.stats;
    expect(stats.cancelled).toBe(1);
    expect(stats.completed).toBeGreaterThanOrEqual(4);
    expect(stats.failed).toBeGreaterThanOrEqual(2);
    const list = await api(t.url, 'GET', '/api/queue?status=cancelled');
    expect(list.body.items.map((i: { id: string }) => i.id)).toEqual([later.id]);
    const all = await api(t.url, 'GET', '/api/queue?limit=2');
    expect(all.body).toMatchObject({ hasMore: true });
    expect(all.body.items[0].createdAt >= all.body.items[1].createdAt).toBe(true);
  });

  it('answers bad requests clearly', async () => {
    const path = async (body: unknown) => {
      const r = await api(t.url, 'POST', '/api/queue', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      return r.body.errors[0].path;
    };
    expect(await path({ agentName: 'worker' })).toBe('/body/prompt');
    // Unknown properties are refused, naming the field (at the top and inside options).
    expect(await path({ agentName: 'worker', prompt: 'x', retries: 2 })).toBe('/body/retries');
    expect(await path({ agentName: 'worker', prompt: 'x', options: { modle: 'typo' } })).toBe(
      '/body/options/modle',
    );
    expect(await path({ agentName: 'worker', prompt: 'x', options: { onBusy: 'reject' } })).toBe(
      '/body/options/onBusy',
    );
    expect(await path({ agentName: 'worker', prompt: 'x', priority: -1 })).toBe('/body/priority');
    expect(await path({ agentName: 'worker', prompt: 'x', maxRetries: 99 })).toBe('/body/maxRetries');
    expect(await path({ agentName: 'worker', prompt: 'x', runAt: 'tomorrow' })).toBe('/body/runAt');
    expect(
      await path({
        agentName: 'worker',
        prompt: 'x',
        options: { outputFormat: { type: 'json_schema', schema: { type: 'array' } } },
      }),
    ).toBe('/body/options/outputFormat/schema');
    const otherSession = await createSession(t.url, 'other');
    expect(await path({ agentName: 'worker', prompt: 'x', sessionId: otherSession })).toBe('/body/sessionId');
    const unknown = await api(t.url, 'POST', '/api/queue', {
      agentName: 'worker',
      prompt: 'x',
      sessionId: randomUUID(),
    });
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe('session_not_found');
    expect((await api(t.url, 'GET', '/api/queue?status=bogus')).body.errors[0].path).toBe('/query/status');
    expect((await api(t.url, 'GET', `/api/queue/${randomUUID()}`)).status).toBe(404);
  });

  it('documents the new routes in the OpenAPI spec', async () => {
    const spec = (await api(t.url, 'GET', '/openapi.json')).body;
    for (const p of [
      '/api/queue',
      '/api/queue/stats',
      '/api/queue/{id}',
      '/api/usage',
      '/api/usage/stats',
      '/api/usage/budget',
      '/api/sessions/{id}/config',
    ])
      expect(Object.keys(spec.paths), p).toContain(p);
    expect(Object.keys(spec.paths['/api/queue/{id}'])).toEqual(expect.arrayContaining(['get', 'delete']));
  });
});

describe('queue: graceful shutdown', () => {
  let model: ScriptedModel;
  let dataDir: string;
  let t: TestServer | undefined;

  beforeAll(async () => {
    model = await ScriptedModel.start();
    dataDir = tempDir('ash-queue-stop-');
  });
  afterAll(async () => {
    await t?.close();
    await model?.close();
    removeDir(dataDir);
  });

  /** Starts a server on the same data dir (a restart); `concurrency` 0 runs nothing. */
  const start = (concurrency: number) =>
    startTestServer({ model, dataDir, env: { ...QUEUE_ENV, ASH_QUEUE_CONCURRENCY: String(concurrency) } });

  it('counts an attempt cut short by a graceful stop, so retries end', async () => {
    model.onRequest((r) =>
      lastUserText(r) === 'never survives a stop' ? { slow: { deltas: 600, intervalMs: 100 } } : undefined,
    );
    t = await start(1);
    await deployAgent(t.url, 'stopper', { 'CLAUDE.md': '# Stopper\n' });
    const item = await enqueue(t, { agentName: 'stopper', prompt: 'never survives a stop', maxRetries: 1 });

    // First attempt, cut short by a graceful stop: counted, due again.
    await waitItem(t, item.id, (i) => i.status === 'running' && mainRequests(model, i.prompt).length > 0);
    await t.close();
    t = await start(0);
    const after1 = (await api(t.url, 'GET', `/api/queue/${item.id}`)).body.item;
    expect(after1).toMatchObject({ status: 'pending', retryCount: 1 });
    expect(after1.error).toMatch(/server stopped during the attempt/);
    await t.close();

    // Second (last) attempt, cut short again: the item fails instead of being retried forever.
    t = await start(1);
    await waitItem(t, item.id, (i) => i.status === 'running' && mainRequests(model, i.prompt).length > 1);
    await t.close();
    t = await start(1);
    const after2 = (await api(t.url, 'GET', `/api/queue/${item.id}`)).body.item;
    expect(after2).toMatchObject({ status: 'failed', retryCount: 1 });
    expect(after2.error).toMatch(/server stopped during the attempt/);
    await new Promise((r) => setTimeout(r, 500));
    expect(mainRequests(model, 'never survives a stop')).toHaveLength(2);
  }, 180_000);
});

describe('queue: two processors on one Postgres database', () => {
  let pg: TestDatabase;
  let model: ScriptedModel;
  let a: TestServer;
  let b: TestServer;

  beforeAll(async () => {
    pg = await createTestPostgresDatabase();
    model = await ScriptedModel.start();
    const env = { ...QUEUE_ENV, ASH_DATABASE_URL: pg.url };
    [a, b] = await Promise.all([startTestServer({ model, env }), startTestServer({ model, env })]);
    await deployAgent(a.url, 'shared', { 'CLAUDE.md': '# Shared\n' });
    // Both servers need the agent's files (in production: shared storage for the data dirs' agents).
    cpSync(join(a.dataDir, 'agents'), join(b.dataDir, 'agents'), { recursive: true });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await model?.close();
    await pg?.drop();
  });

  it('runs every item exactly once, spread over both processors', async () => {
    // Slow enough answers that both processors (one slot each) have to take part.
    model.onRequest((r) =>
      lastUserText(r).startsWith('pg-job-') ? { slow: { deltas: 4, intervalMs: 100 } } : undefined,
    );
    const prompts = Array.from({ length: 6 }, (_, i) => `pg-job-${i}`);
    const items = [];
    for (const [i, prompt] of prompts.entries())
      items.push(await enqueue(i % 2 ? a : b, { agentName: 'shared', prompt }));
    const done = [];
    for (const item of items) done.push(await waitItem(a, item.id));
    for (const d of done) expect(d).toMatchObject({ status: 'completed', retryCount: 0 });
    for (const p of prompts) expect(mainRequests(model, p), p).toHaveLength(1);
    expect(new Set(done.map((d) => d.sessionId)).size).toBe(prompts.length);
    expect(new Set(done.map((d) => d.claimedBy)).size).toBe(2);
  });
});
