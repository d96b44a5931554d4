import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { createTestPostgresDatabase, type TestDatabase } from '@ash-ai/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rotateCredentialKey } from '../services/auth/credential-rotation.js';
import { CredentialCipher, credentialAad } from '../services/auth/credential-crypto.js';
import { openDatabase, type AshDatabase } from './client.js';
import { createRepos, type Repos } from './repos/index.js';

const iso = (ms = Date.now()) => new Date(ms).toISOString();

// The auth tables behave the same on SQLite and Postgres.
describe.each(['sqlite', 'postgres'] as const)('auth repositories on %s', (dialect) => {
  let db: AshDatabase;
  let repos: Repos;
  let dir: string;
  let pgDb: TestDatabase | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ash-auth-repo-'));
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

  it('finds keys by hash, scopes lists and revocation by tenant, hides revoked keys', async () => {
    const a = await repos.apiKeys.insert({
      id: randomUUID(),
      tenantId: 'ta',
      keyHash: `h-${randomUUID()}`,
      prefix: 'ash_abcd',
      label: 'one',
      createdAt: iso(),
    });
    const b = await repos.apiKeys.insert({
      id: randomUUID(),
      tenantId: 'tb',
      keyHash: `h-${randomUUID()}`,
      prefix: 'ash_efgh',
      label: null,
      createdAt: iso(),
    });
    expect(await repos.apiKeys.findActiveByHash(a.keyHash)).toMatchObject({ id: a.id, tenantId: 'ta' });
    expect((await repos.apiKeys.list('ta')).map((k) => k.id)).toEqual([a.id]);
    expect(await repos.apiKeys.hasActive('tb')).toBe(true);
    expect(await repos.apiKeys.hasActive('nobody')).toBe(false);
    // Another tenant cannot revoke it.
    expect(await repos.apiKeys.revoke('tb', a.id, iso())).toBe(false);
    expect(await repos.apiKeys.findActiveByHash(a.keyHash)).toBeDefined();
    expect(await repos.apiKeys.revoke('ta', a.id, iso())).toBe(true);
    expect(await repos.apiKeys.revoke('ta', a.id, iso())).toBe(false);
    expect(await repos.apiKeys.findActiveByHash(a.keyHash)).toBeUndefined();
    expect(await repos.apiKeys.list('ta')).toEqual([]);
    expect(await repos.apiKeys.findActiveByHash(b.keyHash)).toBeDefined();
    // A duplicate hash is refused by the unique index.
    await expect(repos.apiKeys.insert({ ...b, id: randomUUID(), createdAt: iso() })).rejects.toThrow();
  });

  it('records last use at most once per interval', async () => {
    const k = await repos.apiKeys.insert({
      id: randomUUID(),
      tenantId: 'tt',
      keyHash: `h-${randomUUID()}`,
      prefix: 'ash_xxxx',
      label: null,
      createdAt: iso(),
    });
    const t0 = Date.now();
    await repos.apiKeys.touch(k.id, iso(t0), iso(t0 - 60_000));
    expect((await repos.apiKeys.findActiveByHash(k.keyHash))!.lastUsedAt).toBe(iso(t0));
    await repos.apiKeys.touch(k.id, iso(t0 + 30_000), iso(t0 - 30_000));
    expect((await repos.apiKeys.findActiveByHash(k.keyHash))!.lastUsedAt).toBe(iso(t0));
    await repos.apiKeys.touch(k.id, iso(t0 + 61_000), iso(t0 + 1_000));
    expect((await repos.apiKeys.findActiveByHash(k.keyHash))!.lastUsedAt).toBe(iso(t0 + 61_000));
  });

  it('stores credentials per tenant and re-encrypts them all under a new master key', async () => {
    const cipher = new CredentialCipher('old-master-key-0123');
    const ids: string[] = [];
    for (const [tenantId, value] of [
      ['c1', 'sk-one-value'],
      ['c2', 'sk-two-value'],
    ] as const) {
      const id = randomUUID();
      ids.push(id);
      const sealed = await cipher.seal(value, credentialAad({ tenantId, id, type: 'openai' }));
      await repos.credentials.insert({
        id,
        tenantId,
        type: 'openai',
        label: null,
        ...sealed,
        active: true,
        createdAt: iso(),
        updatedAt: iso(),
      });
    }
    expect(await repos.credentials.get('c2', ids[0]!)).toBeUndefined();
    expect((await repos.credentials.list('c1')).map((c) => c.id)).toEqual([ids[0]]);
    expect(await repos.credentials.update('c2', ids[0]!, { active: false, now: iso() })).toBeUndefined();
    expect(await repos.credentials.update('c1', ids[0]!, { active: false, now: iso() })).toMatchObject({
      active: false,
    });
    expect(await repos.credentials.delete('c2', ids[0]!)).toBe(false);

    const report = await rotateCredentialKey(repos, 'old-master-key-0123', 'new-master-key-4567');
    expect(report).toEqual({ rotated: 2, alreadyRotated: 0, failed: [] });
    const next = new CredentialCipher('new-master-key-4567');
    const one = (await repos.credentials.get('c1', ids[0]!))!;
    expect(await next.open(one, credentialAad(one))).toBe('sk-one-value');
    await expect(cipher.open(one, credentialAad(one))).rejects.toThrow();
    // Running it again finds everything already rotated.
    expect(await rotateCredentialKey(repos, 'old-master-key-0123', 'new-master-key-4567')).toEqual({
      rotated: 0,
      alreadyRotated: 2,
      failed: [],
    });
    // With a key that opens nothing, every row is reported.
    expect((await rotateCredentialKey(repos, 'wrong-key-000000', 'new-master-key-4567')).alreadyRotated).toBe(
      2,
    );
    expect((await rotateCredentialKey(repos, 'wrong-key-000000', 'other-key-0000000')).failed).toHaveLength(
      2,
    );
    // The compare-and-swap refuses a stale ciphertext.
    const two = (await repos.credentials.get('c2', ids[1]!))!;
    const resealed = await next.seal('x', 'y');
    expect(await repos.credentials.reseal(two.id, { ...two, ciphertext: 'stale' }, resealed, iso())).toBe(
      false,
    );
    expect(await repos.credentials.delete('c1', ids[0]!)).toBe(true);
    expect(await repos.credentials.delete('c2', ids[1]!)).toBe(true);
  });

  it('keeps the runner registry; deregistering pauses its running sessions', async () => {
    await repos.runners.upsert({ id: 'r1', host: '10.0.0.5', port: 4200, maxSandboxes: 50, now: iso() });
    await repos.runners.upsert({ id: 'r1', host: '10.0.0.6', port: 4201, maxSandboxes: 60, now: iso() });
    expect(await repos.runners.heartbeat('r1', 7, iso())).toEqual({ draining: false });
    expect(await repos.runners.heartbeat('ghost', 1, iso())).toBeUndefined();
    expect(await repos.runners.list()).toEqual([
      expect.objectContaining({ id: 'r1', host: '10.0.0.6', port: 4201, maxSandboxes: 60, activeCount: 7 }),
    ]);
    // URL, labels, the last report and the drain flag (migration 0007).
    await repos.runners.upsert({
      id: 'r1',
      host: '10.0.0.6',
      port: 4201,
      maxSandboxes: 60,
      url: 'https://r1.example:4201',
      labels: { zone: 'eu' },
      now: iso(),
    });
    const report = {
      runnerId: 'r1',
      url: 'https://r1.example:4201',
      labels: { zone: 'eu' },
      version: '0.1.0',
      draining: false,
      maxSandboxes: 8,
      live: 1,
      reserved: 0,
      startsRunning: 0,
      startsQueued: 0,
      canQueueStart: true,
      sessions: [{ id: 'x', state: 'ready' as const, generation: 3, memoryBytes: 0 }],
    };
    expect(await repos.runners.heartbeat('r1', 1, iso(), report)).toEqual({ draining: false });
    expect(await repos.runners.setDraining('r1')).toBe(true);
    expect(await repos.runners.setDraining('ghost')).toBe(false);
    expect(await repos.runners.get('r1')).toMatchObject({
      url: 'https://r1.example:4201',
      labels: { zone: 'eu' },
      report,
      maxSandboxes: 8,
      draining: true,
    });
    expect(await repos.runners.heartbeat('r1', 1, iso(), report)).toEqual({ draining: true });
    const s = await repos.sessions.insert({
      id: randomUUID(),
      tenantId: 'tr',
      agentName: 'a',
      agentVersion: 1,
      status: 'active',
      parentSessionId: null,
      model: null,
      config: {},
      extraEnv: {},
      credentialId: null,
      lastEventSeq: 0,
      lastMessageSeq: 0,
      now: iso(),
    });
    // Lease generations: each placement bumps it; fencing and leaving only touch the current one.
    expect(s).toMatchObject({ leaseGeneration: 0, runnerId: null, runnerLabels: {} });
    expect(await repos.sessions.placeOnRunner(s.id, 'r2')).toEqual({ generation: 1, tenantId: 'tr' });
    expect(await repos.sessions.fenceFromRunner(s.id, 'r1')).toBe(false);
    expect(await repos.sessions.fenceFromRunner(s.id, 'r2')).toBe(true);
    expect(await repos.sessions.leases([s.id, 'nope'])).toEqual([
      { id: s.id, runnerId: null, generation: 2, ownerId: null, status: 'active' },
    ]);
    expect(await repos.sessions.placeOnRunner(s.id, 'r2')).toEqual({ generation: 3, tenantId: 'tr' });
    await repos.sessions.leaveRunner(s.id, 2);
    expect((await repos.sessions.getInternal(s.id))?.runnerId).toBe('r2');
    await repos.sessions.leaveRunner(s.id, 3);
    expect((await repos.sessions.getInternal(s.id))?.runnerId).toBeNull();
    await db.db.update(db.t.sessions).set({ runnerId: 'r1' }).where(eq(db.t.sessions.id, s.id));
    expect(await repos.runners.remove('r1', iso())).toBe(true);
    expect(await repos.runners.remove('r1', iso())).toBe(false);
    expect(await repos.sessions.get('tr', s.id)).toMatchObject({ status: 'paused', runnerId: null });
    expect(await repos.runners.list()).toEqual([]);
  });
});
