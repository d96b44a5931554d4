import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { AshClient, type QueueItem } from '@ash-ai/sdk';
import {
  REPO_ROOT,
  ScriptedModel,
  createTestPostgresDatabase,
  lastUserText,
  removeDir,
  runAsh,
  serverEnv,
  TEST_API_KEY,
  startAshProcess,
  tempDir,
  type AshProcess,
  type TestDatabase,
} from '@ash-ai/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const QUEUE_ENV = {
  ASH_QUEUE_CONCURRENCY: '1',
  ASH_QUEUE_POLL_MS: '50',
  ASH_QUEUE_RETRY_BASE_MS: '200',
  ASH_QUEUE_HEARTBEAT_MS: '200',
  // Long: a restarted server must take back its own items at once, not after they go stale.
  ASH_QUEUE_STALE_MS: '600000',
};

const seen = (model: ScriptedModel, prompt: string) =>
  model.messageRequests().filter((r) => r.tools.length > 0 && lastUserText(r) === prompt);

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 45_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('ash queue against real server processes', () => {
  let model: ScriptedModel;
  let home: string;
  let dataDir: string;
  let cliEnv: Record<string, string>;
  let server: AshProcess | undefined;

  beforeAll(async () => {
    model = await ScriptedModel.start();
    home = tempDir('ash-q-cli-');
    dataDir = join(home, 'data');
    cliEnv = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: home,
      ASH_DATA_DIR: join(home, 'cli'),
      ASH_API_KEY: TEST_API_KEY,
    };
  });
  afterAll(async () => {
    await server?.stop();
    await model?.close();
    removeDir(home);
  });

  const ash = async (url: string, ...args: string[]) => {
    const r = await runAsh(['-s', url, ...args], cliEnv);
    return r;
  };
  const json = async <T>(url: string, ...args: string[]): Promise<T> => {
    const r = await ash(url, ...args, '--json');
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as T;
  };

  it('adds, lists, gets, cancels and counts items; a server killed mid-item retries it after restart', async () => {
    const env = serverEnv({ dataDir, modelUrl: model.url, extra: QUEUE_ENV });
    server = await startAshProcess(env);
    let url = server.url;
    expect((await ash(url, 'deploy', join(REPO_ROOT, 'examples/hello'), '--name', 'hello')).code).toBe(0);
    const created = await ash(url, 'session', 'create', 'hello');
    expect(created.code, created.stderr).toBe(0);
    const sessionId = created.stdout.trim();

    // The first attempt's model call never answers: the server dies while the item runs.
    model.forSession(sessionId).enqueue({ stall: true });
    const { item: crash } = await json<{ item: QueueItem }>(
      url,
      'queue',
      'add',
      'hello',
      'crash test',
      '--session',
      sessionId,
    );
    expect(crash).toMatchObject({ status: 'pending', sessionId, agentName: 'hello' });
    const runAt = new Date(Date.now() + 3000).toISOString();
    const laterAdd = await ash(
      url,
      'queue',
      'add',
      'hello',
      'later job',
      '--run-at',
      runAt,
      '--priority',
      '5',
    );
    expect(laterAdd.code, laterAdd.stderr).toBe(0);
    const laterId = laterAdd.stdout.trim();
    const doomed = (
      await ash(url, 'queue', 'add', 'hello', 'never', '--run-at', '2999-01-01T00:00:00Z')
    ).stdout.trim();

    const cancelled = await ash(url, 'queue', 'cancel', doomed);
    expect(cancelled.code).toBe(0);
    expect(cancelled.stdout).toBe(`cancelled ${doomed}\n`);
    const again = await ash(url, 'queue', 'cancel', doomed);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/only pending items can be cancelled \(409 queue_item_not_pending\)/);
    const bad = await ash(url, 'queue', 'add', 'hello', 'x', '--priority', 'high');
    expect(bad.code).toBe(2);
    expect(bad.stderr.split('\n')[0]).toBe('ash: --priority must be an integer');

    await until('the first attempt to reach the model', async () =>
      seen(model, 'crash test').length === 1 ? true : undefined,
    );
    expect((await json<{ item: QueueItem }>(url, 'queue', 'get', crash.id)).item).toMatchObject({
      status: 'running',
      retryCount: 0,
    });
    await server.kill();

    // Restart on the same data dir: the item it was running is retried; the pending one survived.
    server = await startAshProcess(env);
    url = server.url;
    const retried = await until('the retried item', async () => {
      const { item: i } = await json<{ item: QueueItem }>(url, 'queue', 'get', crash.id);
      return i.status === 'completed' || i.status === 'failed' ? i : undefined;
    });
    expect(retried).toMatchObject({ status: 'completed', retryCount: 1, sessionId });
    expect(retried.result).toMatchObject({ outcome: 'completed', text: 'Echo: crash test' });
    expect(seen(model, 'crash test')).toHaveLength(2);
    const later = await until('the later item', async () => {
      const { item: i } = await json<{ item: QueueItem }>(url, 'queue', 'get', laterId);
      return i.status === 'completed' ? i : undefined;
    });
    expect(new Date(later.startedAt!).getTime()).toBeGreaterThanOrEqual(new Date(runAt).getTime());
    expect(seen(model, 'later job')).toHaveLength(1);
    expect(seen(model, 'never')).toHaveLength(0);

    const shown = await ash(url, 'queue', 'get', crash.id);
    expect(shown.stdout).toContain('status: completed (retries 1/3');
    expect(shown.stdout).toContain('result: Echo: crash test');
    const { stats } = await json<{ stats: Record<string, number> }>(url, 'queue', 'stats');
    expect(stats).toEqual({ pending: 0, running: 0, processing: 0, completed: 2, failed: 0, cancelled: 1 });
    const listed = await json<{ items: QueueItem[]; total: number }>(
      url,
      'queue',
      'list',
      '--status',
      'completed',
    );
    expect(listed.items.map((i) => i.id).sort()).toEqual([crash.id, laterId].sort());
    const table = await ash(url, 'queue', 'list');
    expect(table.stdout).toMatch(/^ID\s+AGENT\s+STATUS/);
    expect(table.stdout).toContain(doomed);

    // The usage of the queued turns is in the ledger, per session.
    const usage = await json<{ groups: Array<{ key: string; stats: { totalTurns: number } }> }>(
      url,
      'usage',
      '--group-by',
      'session',
    );
    expect(usage.groups.find((g) => g.key === sessionId)!.stats.totalTurns).toBeGreaterThanOrEqual(1);
    const text = await ash(url, 'usage', '--agent', 'hello');
    expect(text.stdout).toMatch(/TOTAL/);
  }, 180_000);
});

describe('queue: two server processes on one Postgres database', () => {
  let model: ScriptedModel;
  let pg: TestDatabase;
  let home: string;
  const servers: AshProcess[] = [];

  beforeAll(async () => {
    model = await ScriptedModel.start();
    pg = await createTestPostgresDatabase();
    home = tempDir('ash-q-pg-');
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await model?.close();
    await pg?.drop();
    removeDir(home);
  });

  it('runs each of N items exactly once', async () => {
    const env = (name: string) =>
      serverEnv({
        dataDir: join(home, name),
        modelUrl: model.url,
        extra: { ...QUEUE_ENV, ASH_DATABASE_URL: pg.url },
      });
    servers.push(...(await Promise.all([startAshProcess(env('a')), startAshProcess(env('b'))])));
    const [a, b] = servers.map((s) => new AshClient({ serverUrl: s.url, apiKey: TEST_API_KEY })) as [
      AshClient,
      AshClient,
    ];
    await a.agents.deployDirectory('hello', join(REPO_ROOT, 'examples/hello'));
    // Both servers need the agent's files (shared storage in production).
    cpSync(join(home, 'a', 'agents'), join(home, 'b', 'agents'), { recursive: true });

    model.onRequest((r) =>
      lastUserText(r).startsWith('pp-') ? { slow: { deltas: 3, intervalMs: 100 } } : undefined,
    );
    const prompts = Array.from({ length: 8 }, (_, i) => `pp-${i}`);
    const items = await Promise.all(
      prompts.map((prompt, i) => (i % 2 ? a : b).queue.add({ agentName: 'hello', prompt })),
    );
    const done = await Promise.all(
      items.map((i) => a.queue.wait(i.id, { intervalMs: 100, timeoutMs: 90_000 })),
    );
    for (const d of done) expect(d).toMatchObject({ status: 'completed', retryCount: 0 });
    for (const p of prompts) expect(seen(model, p), p).toHaveLength(1);
    expect(new Set(done.map((d) => d.claimedBy)).size).toBe(2);
    expect(await b.queue.stats()).toEqual({
      pending: 0,
      running: 0,
      processing: 0,
      completed: 8,
      failed: 0,
      cancelled: 0,
    });
    // The SDK's other additions, against the same servers.
    const patched = await b.sessions.updateConfig(done[0]!.sessionId!, {
      model: 'patched-model',
      budgetUsd: 5,
    });
    expect(patched).toMatchObject({
      model: 'patched-model',
      config: { model: 'patched-model' },
      budgetUsd: 5,
    });
    expect((await a.usage.setBudget(100)).budgetUsd).toBe(100);
    expect((await b.usage.budget()).budgetUsd).toBe(100);
    const records = await a.usage.list({ kind: 'model_call', limit: 100 });
    expect(records.total).toBe(8);
    const bySession = await b.usage.stats({ groupBy: 'session' });
    for (const d of done)
      expect(bySession.groups!.find((g) => g.key === d.sessionId)!.stats).toMatchObject({ totalTurns: 1 });
  });
});
