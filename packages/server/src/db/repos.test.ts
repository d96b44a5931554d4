import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { createTestPostgresDatabase, type TestDatabase } from '@ash-ai/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type AshDatabase } from './client.js';
import { createRepos, type Repos } from './repos/index.js';

const now = () => new Date().toISOString();

// One contract, both dialects: the repositories must behave the same on SQLite and Postgres.
describe.each(['sqlite', 'postgres'] as const)('repositories on %s', (dialect) => {
  let db: AshDatabase;
  let repos: Repos;
  let dir: string;
  let pgDb: TestDatabase | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ash-repo-'));
    if (dialect === 'postgres') {
      pgDb = await createTestPostgresDatabase();
      db = await openDatabase({ postgresUrl: pgDb.url });
    } else {
      db = await openDatabase({ sqlitePath: join(dir, 'ash.db') });
    }
    repos = createRepos(db);
  });

  afterAll(async () => {
    await db?.close();
    await pgDb?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  const newSession = (tenantId: string, agentName = 'a1') => ({
    id: randomUUID(),
    tenantId,
    agentName,
    agentVersion: 1,
    status: 'active' as const,
    parentSessionId: null,
    model: null,
    config: { allowedTools: ['Read'] },
    extraEnv: { SECRET: 'x' },
    credentialId: null,
    lastEventSeq: 0,
    lastMessageSeq: 0,
    now: now(),
  });

  it('upserts agents, bumping the version, scoped by tenant', async () => {
    const base = {
      tenantId: 't1',
      name: 'helper',
      description: null,
      env: { A: '1' },
      config: {},
      fileCount: 1,
      sizeBytes: 10,
    };
    const v1 = await repos.agents.upsert({ ...base, id: randomUUID(), now: now() });
    expect(v1.version).toBe(1);
    const v2 = await repos.agents.upsert({ ...base, id: randomUUID(), env: { A: '2' }, now: now() });
    expect(v2.version).toBe(2);
    expect(v2.id).toBe(v1.id);
    expect(v2.env).toEqual({ A: '2' });
    await repos.agents.upsert({ ...base, tenantId: 't2', id: randomUUID(), now: now() });
    expect((await repos.agents.list('t1')).map((a) => a.name)).toEqual(['helper']);
    expect(await repos.agents.get('t2', 'helper')).toMatchObject({ tenantId: 't2', version: 1 });
    expect(await repos.agents.get('t3', 'helper')).toBeUndefined();
    expect(await repos.agents.delete('t1', 'helper')).toBe(true);
    expect(await repos.agents.delete('t1', 'helper')).toBe(false);
    expect(await repos.agents.get('t2', 'helper')).toBeDefined();
  });

  it('lists sessions newest first with filters, totals and tenant scope', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const s = await repos.sessions.insert({
        ...newSession('tl', i % 2 === 0 ? 'even' : 'odd'),
        now: new Date(Date.now() + i * 1000).toISOString(),
      });
      ids.push(s.id);
    }
    await repos.sessions.insert(newSession('other'));
    const all = await repos.sessions.list('tl', { limit: 10, offset: 0 });
    expect(all.total).toBe(5);
    expect(all.rows.map((r) => r.id)).toEqual([...ids].reverse());
    const even = await repos.sessions.list('tl', { agent: 'even', limit: 2, offset: 0 });
    expect(even.total).toBe(3);
    expect(even.rows).toHaveLength(2);
    const page2 = await repos.sessions.list('tl', { limit: 2, offset: 4 });
    expect(page2.rows.map((r) => r.id)).toEqual([ids[0]]);
    expect(all.rows[0]!.config).toEqual({ allowedTools: ['Read'] });
    expect(all.rows[0]!.extraEnv).toEqual({ SECRET: 'x' });
    expect(await repos.sessions.get('other', ids[0]!)).toBeUndefined();
  });

  it('gives the turn slot to one caller at a time and keeps the highest counters', async () => {
    const s = await repos.sessions.insert(newSession('tt'));
    const [a, b] = await Promise.all([
      repos.sessions.acquireTurn('tt', s.id, 'turn-a', 'owner', now()),
      repos.sessions.acquireTurn('tt', s.id, 'turn-b', 'owner', now()),
    ]);
    expect([a, b].filter(Boolean)).toHaveLength(1);
    const winner = a ? 'turn-a' : 'turn-b';
    expect(await repos.sessions.acquireTurn('tt', s.id, 'turn-c', 'owner', now())).toBeUndefined();
    await repos.sessions.releaseTurn(s.id, 'turn-x', { lastEventSeq: 99, lastMessageSeq: 9 }, now());
    expect((await repos.sessions.get('tt', s.id))!.activeTurnId).toBe(winner);
    await repos.sessions.releaseTurn(s.id, winner, { lastEventSeq: 12, lastMessageSeq: 3 }, now());
    const after = (await repos.sessions.get('tt', s.id))!;
    expect(after.activeTurnId).toBeNull();
    expect(after.lastEventSeq).toBe(12);
    expect(await repos.sessions.reserveEventSeq(s.id, 2)).toBe(14);
    await repos.sessions.update('tt', s.id, { status: 'ended' });
    expect(await repos.sessions.acquireTurn('tt', s.id, 'turn-d', 'owner', now())).toBeUndefined();
  });

  it('session ownership: one winner among racing claims, a current lease blocks, an expired one does not', async () => {
    const s = await repos.sessions.insert(newSession('to'));
    const t0 = Date.now();
    const at = (ms: number) => new Date(t0 + ms).toISOString();
    const lease = 1000;
    // Nobody owns it: of several servers claiming at once, exactly one wins.
    const claims = await Promise.all(
      ['srv-a', 'srv-b', 'srv-c'].map((o) => repos.sessions.claimOwnership('to', s.id, o, at(0), at(-lease))),
    );
    expect(claims.filter(Boolean)).toHaveLength(1);
    const winner = claims.find(Boolean)!.ownerId!;
    const other = winner === 'srv-a' ? 'srv-b' : 'srv-a';
    expect((await repos.sessions.get('to', s.id))!).toMatchObject({
      ownerId: winner,
      ownerHeartbeatAt: at(0),
    });
    // The owner's lease is current: another server cannot claim it, nor take its turn slot.
    expect(await repos.sessions.claimOwnership('to', s.id, other, at(500), at(500 - lease))).toBeUndefined();
    expect(await repos.sessions.acquireTurn('to', s.id, 'turn-x', other, at(500))).toBeUndefined();
    // The owner renews; claiming again is idempotent for it.
    expect(await repos.sessions.renewOwnership(winner, at(900))).toEqual([{ id: s.id, tenantId: 'to' }]);
    expect(await repos.sessions.claimOwnership('to', s.id, winner, at(950), at(950 - lease))).toBeDefined();
    // Its lease expires (no renewal for longer than the lease): another server takes over.
    const taken = await repos.sessions.claimOwnership('to', s.id, other, at(2500), at(2500 - lease));
    expect(taken).toMatchObject({ ownerId: other, ownerHeartbeatAt: at(2500) });
    // The old owner can no longer release or renew what it lost.
    expect(await repos.sessions.releaseOwnership(s.id, winner)).toBe(false);
    expect(await repos.sessions.renewOwnership(winner, at(2600))).toEqual([]);
    expect(await repos.sessions.releaseOwnership(s.id, other)).toBe(true);
    expect((await repos.sessions.get('to', s.id))!).toMatchObject({ ownerId: null, ownerHeartbeatAt: null });
  });

  it('pages messages and events by sequence and copies them for forks', async () => {
    const s = await repos.sessions.insert(newSession('th'));
    const messages = Array.from({ length: 5 }, (_, i) => ({
      id: randomUUID(),
      tenantId: 'th',
      sessionId: s.id,
      role: 'user' as const,
      type: 'user',
      content: JSON.stringify({ i }),
      text: `m${i}`,
      sequence: i + 1,
      turnId: 't',
      createdAt: now(),
    }));
    await repos.history.insertMessages(messages);
    const events = Array.from({ length: 7 }, (_, i) => ({
      id: randomUUID(),
      tenantId: 'th',
      sessionId: s.id,
      type: i % 2 ? 'text_delta' : 'message',
      data: JSON.stringify({ i }),
      sequence: i + 1,
      turnId: 't',
      createdAt: now(),
    }));
    await repos.history.insertEvents(events);
    const p1 = await repos.history.listMessages('th', s.id, 0, 3);
    expect(p1.rows.map((m) => m.sequence)).toEqual([1, 2, 3]);
    expect(p1.hasMore).toBe(true);
    const p2 = await repos.history.listMessages('th', s.id, 3, 3);
    expect(p2.rows.map((m) => m.text)).toEqual(['m3', 'm4']);
    expect(p2.hasMore).toBe(false);
    const deltas = await repos.history.listEvents('th', s.id, { after: 0, limit: 10, type: 'text_delta' });
    expect(deltas.rows.map((e) => e.sequence)).toEqual([2, 4, 6]);
    expect((await repos.history.listEvents('other', s.id, { after: 0, limit: 10 })).rows).toEqual([]);
    const child = await repos.sessions.insert(newSession('th'));
    const counters = await repos.history.copySession('th', s.id, child.id, randomUUID);
    expect(counters).toEqual({ lastEventSeq: 7, lastMessageSeq: 5 });
    expect((await repos.history.listEvents('th', child.id, { after: 0, limit: 100 })).rows).toHaveLength(7);
  });

  it("a turn's watermark: the highest runner event number among its stored events and messages", async () => {
    const s = await repos.sessions.insert(newSession('tw'));
    expect(await repos.history.turnWatermark(s.id, 'turn-1')).toEqual({ events: -1, messages: -1 });
    const base = { tenantId: 'tw', sessionId: s.id, createdAt: now() };
    await repos.history.insertEvents(
      [null, 0, 1, 1, null, 3].map((sourceIndex, i) => ({
        ...base,
        id: randomUUID(),
        type: 'text_delta',
        data: '{}',
        sequence: i + 1,
        turnId: 'turn-1',
        sourceIndex,
      })),
    );
    await repos.history.insertMessages(
      [null, 4].map((sourceIndex, i) => ({
        ...base,
        id: randomUUID(),
        role: 'assistant' as const,
        type: 'assistant',
        content: '{}',
        text: '',
        sequence: i + 1,
        turnId: 'turn-1',
        sourceIndex,
      })),
    );
    expect(await repos.history.turnWatermark(s.id, 'turn-1')).toEqual({ events: 3, messages: 4 });
    // Another turn's rows do not count.
    expect(await repos.history.turnWatermark(s.id, 'turn-2')).toEqual({ events: -1, messages: -1 });
  });

  it('stores events one at a time (the live turn path) with every field, and refuses a duplicate sequence', async () => {
    const s = await repos.sessions.insert(newSession('t1e'));
    const one = (sequence: number, turnId: string | null) => ({
      id: randomUUID(),
      tenantId: 't1e',
      sessionId: s.id,
      type: 'text_delta',
      data: JSON.stringify({ delta: `d${sequence}` }),
      sequence,
      turnId,
      createdAt: now(),
    });
    const rows = [one(1, 'turn-a'), one(2, null), one(3, 'turn-b')];
    for (const r of rows) await repos.history.insertEvents([r]);
    const stored = await repos.history.listEvents('t1e', s.id, { after: 0, limit: 10 });
    expect(stored.rows.map((e) => ({ ...e }))).toEqual(rows.map((r) => ({ ...r, sourceIndex: null })));
    // The one-row insert is a prepared statement on SQLite: a failure still rejects, nothing half-stored.
    await expect(repos.history.insertEvents([one(2, 'again')])).rejects.toThrow();
    expect((await repos.history.listEvents('t1e', s.id, { after: 0, limit: 10 })).rows).toHaveLength(3);
  });

  it('records agent archives and bumps a version only from the expected one', async () => {
    const a = await repos.agents.upsert({
      id: randomUUID(),
      tenantId: 't-arch',
      name: 'kb',
      description: null,
      env: {},
      config: {},
      fileCount: 1,
      sizeBytes: 1,
      storageKey: 'agents/t-arch/kb/one.tar.gz',
      now: now(),
    });
    expect(a.storageKey).toBe('agents/t-arch/kb/one.tar.gz');
    const bumped = await repos.agents.bumpVersion('t-arch', 'kb', a.version, {
      fileCount: 2,
      sizeBytes: 5,
      storageKey: 'agents/t-arch/kb/two.tar.gz',
      now: now(),
    });
    expect(bumped).toMatchObject({
      version: a.version + 1,
      fileCount: 2,
      storageKey: 'agents/t-arch/kb/two.tar.gz',
    });
    // A second change computed from the old version loses (no lost update).
    const stale = await repos.agents.bumpVersion('t-arch', 'kb', a.version, {
      fileCount: 9,
      sizeBytes: 9,
      storageKey: 'x',
      now: now(),
    });
    expect(stale).toBeUndefined();
    expect(
      await repos.agents.bumpVersion('other-tenant', 'kb', bumped!.version, {
        fileCount: 1,
        sizeBytes: 1,
        storageKey: null,
        now: now(),
      }),
    ).toBeUndefined();
    expect((await repos.agents.get('t-arch', 'kb'))!.fileCount).toBe(2);
  });

  it('stores attachments scoped by tenant and session', async () => {
    const row = (tenantId: string, sessionId: string, n: number) => ({
      id: randomUUID(),
      tenantId,
      sessionId,
      messageId: null,
      filename: `näme "${n}".png`,
      storedName: `näme _${n}_.png`,
      mimeType: 'image/png',
      size: n,
      sha256: 'ab'.repeat(32),
      storageKey: `attachments/${tenantId}/${sessionId}/${n}`,
      createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString(),
    });
    const s1 = randomUUID();
    const a1 = await repos.attachments.insert(row('ta', s1, 1));
    await repos.attachments.insert(row('ta', s1, 2));
    await repos.attachments.insert(row('tb', s1, 3));
    expect((await repos.attachments.listBySession('ta', s1)).map((r) => r.size)).toEqual([1, 2]);
    expect(await repos.attachments.get('ta', a1.id)).toMatchObject({ filename: 'näme "1".png', size: 1 });
    expect(await repos.attachments.get('tb', a1.id)).toBeUndefined();
    expect(await repos.attachments.delete('tb', a1.id)).toBe(false);
    expect(await repos.attachments.delete('ta', a1.id)).toBe(true);
    expect((await repos.attachments.listBySession('ta', s1)).map((r) => r.size)).toEqual([2]);
  });

  it('migrates safely when two processes open the same database at once', async () => {
    const extra = dialect === 'postgres' ? await createTestPostgresDatabase() : undefined;
    const target = extra ? { postgresUrl: extra.url } : { sqlitePath: join(dir, 'race.db') };
    const [a, b] = await Promise.all([openDatabase(target), openDatabase(target)]);
    expect(await createRepos(a).agents.list('x')).toEqual([]);
    await a.close();
    await b.close();
    await extra?.drop();
  });
});
