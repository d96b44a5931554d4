import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestPostgresDatabase, type TestDatabase } from '@ash-ai/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type AshDatabase } from '../client.js';
import { createRepos, type Repos, type UsageRow } from './index.js';

const iso = (offsetMs = 0) => new Date(Date.now() + offsetMs).toISOString();

// The queue and the ledger rely on single conditional statements for their guarantees; both
// dialects must keep them, also with two connections (two server processes) racing.
describe.each(['sqlite', 'postgres'] as const)('queue and usage repositories on %s', (dialect) => {
  let a: AshDatabase;
  let b: AshDatabase;
  let repos: Repos;
  let other: Repos;
  let dir: string;
  let pgDb: TestDatabase | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ash-qrepo-'));
    let target: { postgresUrl: string } | { sqlitePath: string };
    if (dialect === 'postgres') {
      pgDb = await createTestPostgresDatabase();
      target = { postgresUrl: pgDb.url };
    } else target = { sqlitePath: join(dir, 'ash.db') };
    a = await openDatabase(target);
    b = await openDatabase(target);
    repos = createRepos(a);
    other = createRepos(b);
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await pgDb?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  const item = (tenantId: string, extra: Partial<Parameters<Repos['queue']['insert']>[0]> = {}) => ({
    id: randomUUID(),
    tenantId,
    agentName: 'agent',
    sessionId: null,
    prompt: 'p',
    options: {},
    priority: 0,
    maxRetries: 2,
    runAt: iso(-1000),
    now: iso(),
    ...extra,
  });

  it('claims every due item exactly once when two connections race with many claimers', async () => {
    const ids = new Set<string>();
    for (let i = 0; i < 40; i++) ids.add((await repos.queue.insert(item('race', { now: iso(i) }))).id);
    const claimed: string[] = [];
    const claimer = (r: Repos, who: string) => async () => {
      for (;;) {
        const got = await r.queue.claim(who, iso());
        if (!got) {
          // The loser of a race gets nothing; stop only when nothing is pending any more.
          const left = await r.queue.countByStatus('race');
          if (!left.pending) return;
          continue;
        }
        expect(got.status).toBe('running');
        expect(got.claimedBy).toBe(who);
        claimed.push(got.id);
      }
    };
    await Promise.all([
      ...Array.from({ length: 4 }, (_, i) => claimer(repos, `proc-a-${i}`)()),
      ...Array.from({ length: 4 }, (_, i) => claimer(other, `proc-b-${i}`)()),
    ]);
    expect(claimed).toHaveLength(40);
    expect(new Set(claimed)).toEqual(ids);
    expect(await repos.queue.countByStatus('race')).toEqual({ running: 40 });
  });

  it('claims by priority then age, never before runAt, and scopes reads by tenant', async () => {
    const low = await repos.queue.insert(item('order', { priority: 1, now: iso(-300) }));
    const high = await repos.queue.insert(item('order', { priority: 5, now: iso(-100) }));
    const older = await repos.queue.insert(item('order', { priority: 5, now: iso(-200) }));
    const later = await repos.queue.insert(item('order', { priority: 9, runAt: iso(60_000) }));
    const order: string[] = [];
    for (let got = await repos.queue.claim('p', iso()); got; got = await repos.queue.claim('p', iso())) {
      if (got.tenantId === 'order') order.push(got.id);
    }
    expect(order).toEqual([older.id, high.id, low.id]);
    expect((await repos.queue.get('order', later.id))!.status).toBe('pending');
    expect(await repos.queue.get('someone-else', later.id)).toBeUndefined();
    expect(await repos.queue.cancel('someone-else', later.id, iso())).toBeUndefined();
    expect((await repos.queue.list('someone-else', { limit: 10, offset: 0 })).total).toBe(0);
    // Cancel works only while pending.
    expect((await repos.queue.cancel('order', later.id, iso()))!.status).toBe('cancelled');
    expect(await repos.queue.cancel('order', later.id, iso())).toBeUndefined();
    expect(await repos.queue.cancel('order', low.id, iso())).toBeUndefined();
    const page = await repos.queue.list('order', { status: 'running', limit: 2, offset: 0 });
    expect(page.total).toBe(3);
    expect(page.rows).toHaveLength(2);
  });

  it('lets only the owner finish an attempt; retries count up; stale and own items are taken back', async () => {
    const it1 = await repos.queue.insert(item('own', { maxRetries: 1 }));
    const c = (await repos.queue.claim('owner-1', iso()))!;
    expect(c.id).toBe(it1.id);
    expect(await other.queue.heartbeat(it1.id, 'intruder', iso())).toBe(false);
    expect(
      await other.queue.finish(it1.id, 'intruder', { status: 'completed', result: r(), now: iso() }),
    ).toBe(false);
    expect(await repos.queue.heartbeat(it1.id, 'owner-1', iso())).toBe(true);
    expect(
      await repos.queue.finish(it1.id, 'owner-1', { status: 'retry', error: 'boom', retryAt: iso(-1) }),
    ).toBe(true);
    let got = (await repos.queue.get('own', it1.id))!;
    expect(got).toMatchObject({ status: 'pending', retryCount: 1, error: 'boom' });

    // A restarted server takes back what it was running: counted as a failed attempt.
    expect((await repos.queue.claim('owner-1', iso()))!.id).toBe(it1.id);
    expect(await repos.queue.recover({ processorId: 'owner-1' }, 'server stopped', iso())).toBe(1);
    got = (await repos.queue.get('own', it1.id))!;
    // Retries were exhausted (1 of 1): failed, with the reason.
    expect(got).toMatchObject({ status: 'failed', retryCount: 1, error: 'server stopped' });
    expect(got.completedAt).not.toBeNull();

    // A stale heartbeat: any processor takes the item back; a fresh one is left alone.
    const it2 = await repos.queue.insert(item('own', { maxRetries: 3, runAt: iso(-120_000) }));
    expect((await repos.queue.claim('owner-2', iso(-60_000)))!.id).toBe(it2.id);
    expect(await other.queue.recover({ staleBefore: iso(-120_000) }, 'stale', iso())).toBe(0);
    expect(await other.queue.recover({ staleBefore: iso(-30_000) }, 'stale', iso())).toBe(1);
    expect(await repos.queue.get('own', it2.id)).toMatchObject({
      status: 'pending',
      retryCount: 1,
      error: 'stale',
    });
    expect(
      await repos.queue.finish(it2.id, 'owner-2', { status: 'completed', result: r(), now: iso() }),
    ).toBe(false);
  });

  it('counts an attempt released by a graceful stop: due again while retries remain, then failed', async () => {
    const it3 = await repos.queue.insert(item('stop', { maxRetries: 1, priority: 999, runAt: iso(-1000) }));
    expect((await repos.queue.claim('owner-3', iso()))!.id).toBe(it3.id);
    expect(await other.queue.release(it3.id, 'intruder', 'stopped', iso())).toBe(false);
    expect(await repos.queue.release(it3.id, 'owner-3', 'stopped', iso())).toBe(true);
    expect(await repos.queue.get('stop', it3.id)).toMatchObject({
      status: 'pending',
      retryCount: 1,
      error: 'stopped',
    });
    expect((await repos.queue.claim('owner-3', iso(1)))!.id).toBe(it3.id);
    expect(await repos.queue.release(it3.id, 'owner-3', 'stopped again', iso(2))).toBe(true);
    const got = (await repos.queue.get('stop', it3.id))!;
    expect(got).toMatchObject({ status: 'failed', retryCount: 1, error: 'stopped again' });
    expect(got.completedAt).not.toBeNull();
  });

  it('records each model call once per tenant (the message id is the key) and sums and groups usage', async () => {
    const row = (kind: UsageRow['kind'], key: string, extra: Partial<UsageRow> = {}): UsageRow => ({
      id: randomUUID(),
      tenantId: 'led',
      sessionId: 's1',
      agentName: 'ag',
      turnId: 't1',
      kind,
      dedupeKey: key,
      model: null,
      inputTokens: 0,
      outputTokens: 0,
      cacheCreationTokens: 0,
      cacheReadTokens: 0,
      toolCalls: 0,
      egressAllowed: 0,
      egressDenied: 0,
      egressBytesUp: 0,
      egressBytesDown: 0,
      computeSeconds: 0,
      costUsd: 0,
      sdkCostUsd: null,
      priceVersion: null,
      createdAt: iso(),
      ...extra,
    });
    const call = row('model_call', 'msg_1', { model: 'm', inputTokens: 100, outputTokens: 7, costUsd: 0.5 });
    expect(await repos.usage.insert(call)).toBe(true);
    // The same API message again (a replay): ignored, from either connection.
    expect(await other.usage.insert({ ...call, id: randomUUID(), inputTokens: 999 })).toBe(false);
    // Another tenant may have its own record under the same key.
    expect(await repos.usage.insert({ ...call, id: randomUUID(), tenantId: 'led2' })).toBe(true);
    await repos.usage.insert(
      row('model_call', 'msg_2', { model: 'n', sessionId: 's2', inputTokens: 1, costUsd: 0.25 }),
    );
    await repos.usage.insert(row('tool_call', 'tool:1', { toolCalls: 1 }));
    await repos.usage.insert(row('turn', 'turn:t1', { sdkCostUsd: 0.7 }));
    await repos.usage.insert(
      row('compute', 'compute:t1', { computeSeconds: 1.5, createdAt: '2020-01-02T03:04:05.000Z' }),
    );
    // Egress connections: byte counts past 2^31 sum exactly (bigint columns on Postgres).
    await repos.usage.insert(
      row('egress', 'egress:1', { egressAllowed: 1, egressBytesUp: 300, egressBytesDown: 3_000_000_000 }),
    );
    await repos.usage.insert(
      row('egress', 'egress:2', { egressAllowed: 1, egressBytesUp: 200, egressBytesDown: 2_000_000_000 }),
    );
    await repos.usage.insert(row('egress', 'egress:3', { egressDenied: 1 }));

    const { total, groups } = await repos.usage.sums('led', {}, 'model');
    expect(total).toEqual({
      inputTokens: 101,
      outputTokens: 7,
      cacheCreationTokens: 0,
      cacheReadTokens: 0,
      toolCalls: 1,
      modelCalls: 2,
      fallbackModelCalls: 0,
      turns: 1,
      computeSeconds: 1.5,
      costUsd: 0.75,
      sdkCostUsd: 0.7,
      egressAllowed: 2,
      egressDenied: 1,
      egressBytesUp: 500,
      egressBytesDown: 5_000_000_000,
    });
    const egressRows = await repos.usage.list('led', { kind: 'egress' }, 10, 0);
    expect(egressRows.total).toBe(3);
    expect(egressRows.rows.find((r) => r.dedupeKey === 'egress:1')).toMatchObject({
      egressAllowed: 1,
      egressBytesDown: 3_000_000_000,
    });
    expect(groups!.map((g) => [g.key, g.sums.modelCalls])).toEqual([
      ['m', 1],
      ['n', 1],
      [null, 0],
    ]);
    const byDay = await repos.usage.sums('led', {}, 'day');
    expect(byDay.groups!.map((g) => g.key)).toEqual(['2020-01-02', iso().slice(0, 10)]);
    const bySession = await repos.usage.sums('led', { sessionId: 's1' }, 'session');
    expect(bySession.groups).toEqual([{ key: 's1', sums: bySession.total }]);
    expect((await repos.usage.sums('led', { from: '2021-01-01T00:00:00.000Z' })).total.computeSeconds).toBe(
      0,
    );
    expect((await repos.usage.sums('led', { to: '2021-01-01T00:00:00.000Z' })).total.computeSeconds).toBe(
      1.5,
    );
    expect(await repos.usage.spentUsd('led')).toBe(0.75);
    expect(await repos.usage.spentUsd('led', 's2')).toBe(0.25);
    expect(await repos.usage.spentUsd('nobody')).toBe(0);
    const listed = await repos.usage.list('led', { kind: 'model_call' }, 1, 0);
    expect(listed.total).toBe(2);
    expect(listed.rows).toHaveLength(1);

    expect(await repos.usage.tenantBudget('led')).toBeNull();
    await repos.usage.setTenantBudget('led', 5, iso());
    await other.usage.setTenantBudget('led', 7.5, iso());
    expect(await repos.usage.tenantBudget('led')).toBe(7.5);
    await repos.usage.setTenantBudget('led', null, iso());
    expect(await repos.usage.tenantBudget('led')).toBeNull();
  });
});

function r() {
  return { turnId: 't', outcome: 'completed', text: 'ok' };
}
