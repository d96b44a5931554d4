import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestPostgresDatabase, type TestDatabase } from '@ash-ai/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type AshDatabase } from './client.js';
import { ManagedObjectsRepo } from './repos/managed-objects-repo.js';

// The /v1 objects table (migration 0004) behaves the same on SQLite and Postgres.
describe.each(['sqlite', 'postgres'] as const)('managed_objects on %s', (dialect) => {
  let db: AshDatabase;
  let repo: ManagedObjectsRepo;
  let dir: string;
  let pgDb: TestDatabase | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ash-managed-'));
    if (dialect === 'postgres') {
      pgDb = await createTestPostgresDatabase();
      db = await openDatabase({ postgresUrl: pgDb.url });
    } else db = await openDatabase({ sqlitePath: join(dir, 'ash.db') });
    repo = new ManagedObjectsRepo(db);
  });
  afterAll(async () => {
    await db?.close();
    await pgDb?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  const at = (s: number) => `2026-12-02T00:00:0${s}.000Z`;
  const row = (id: string, version: number, data: Record<string, unknown>, s: number, tenantId = 't1') => ({
    tenantId,
    kind: 'agent' as const,
    id,
    version,
    data,
    createdAt: at(s),
    updatedAt: at(s),
    archivedAt: null,
  });

  it('keeps versions, answers the latest or a given one, lists latest versions newest first, per tenant', async () => {
    await repo.insert(row('a', 1, { n: 'a1' }, 1));
    await repo.insert(row('a', 2, { n: 'a2' }, 1));
    await repo.insert(row('b', 1, { n: 'b1' }, 2));
    await repo.insert(row('c', 1, { n: 'other tenant' }, 3, 't2'));
    await expect(repo.insert(row('a', 2, { n: 'dup' }, 1))).rejects.toThrow();
    expect((await repo.get('t1', 'agent', 'a'))?.data).toEqual({ n: 'a2' });
    expect((await repo.get('t1', 'agent', 'a', 1))?.data).toEqual({ n: 'a1' });
    expect(await repo.get('t2', 'agent', 'a')).toBeUndefined();
    expect((await repo.versions('t1', 'agent', 'a')).map((r) => r.version)).toEqual([1, 2]);
    const list = await repo.list('t1', 'agent', { offset: 0, limit: 10, includeArchived: false });
    expect(list.map((r) => [r.id, r.version])).toEqual([
      ['b', 1],
      ['a', 2],
    ]);
    expect(
      (await repo.list('t1', 'agent', { offset: 1, limit: 10, includeArchived: false })).map((r) => r.id),
    ).toEqual(['a']);
  });

  it('archives (hidden from lists unless asked), updates data and deletes every version', async () => {
    await repo.update('t1', 'agent', 'b', 1, { archivedAt: at(5), updatedAt: at(5) });
    expect(
      (await repo.list('t1', 'agent', { offset: 0, limit: 10, includeArchived: false })).map((r) => r.id),
    ).toEqual(['a']);
    expect(
      (await repo.list('t1', 'agent', { offset: 0, limit: 10, includeArchived: true })).map((r) => r.id),
    ).toEqual(['b', 'a']);
    await repo.update('t1', 'agent', 'a', 2, { data: { n: 'changed' }, updatedAt: at(6) });
    expect(await repo.get('t1', 'agent', 'a')).toMatchObject({
      data: { n: 'changed' },
      updatedAt: at(6),
      archivedAt: null,
    });
    await repo.delete('t1', 'agent', 'a');
    expect(await repo.versions('t1', 'agent', 'a')).toEqual([]);
    expect(await repo.get('t2', 'agent', 'c')).toBeDefined();
  });
});
