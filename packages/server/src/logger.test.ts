import { Writable } from 'node:stream';
import { createTestPostgresDatabase, type TestDatabase } from '@ash-ai/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type AshDatabase } from './db/client.js';
import { createRepos } from './db/repos/index.js';
import { createLogger, SecretRegistry } from './logger.js';

// Issue 10: a database error (here PostgreSQL refusing a NUL character) must not print the
// statement's values — agent env, credential material, bodies — into the log.
describe('the logger never prints the values of a failed statement', () => {
  let pg: TestDatabase;
  let db: AshDatabase;
  beforeAll(async () => {
    pg = await createTestPostgresDatabase('ash_logger');
    db = await openDatabase({ postgresUrl: pg.url });
  });
  afterAll(async () => {
    await db?.close();
    await pg?.drop();
  });

  it('logs the query and the database message, not the env value', async () => {
    const secret = 'env-secret-3c1f9a77-in-params';
    const repos = createRepos(db);
    let caught: unknown;
    try {
      await repos.agents.upsert({
        id: '00000000-0000-4000-8000-000000000001',
        tenantId: 'default',
        name: 'leak',
        // The NUL in a text column makes PostgreSQL refuse the insert; the env rides along.
        description: 'a\u0000b',
        env: { TOKEN: secret },
        config: {},
        fileCount: 1,
        sizeBytes: 1,
        now: new Date().toISOString(),
      });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(Error);
    // The raw error does carry the value: that is what must not reach the log.
    expect(
      JSON.stringify({ m: (caught as Error).message, p: (caught as { params?: unknown }).params }),
    ).toContain(secret);
    let out = '';
    const destination = new Writable({
      write(chunk, _enc, cb) {
        out += chunk.toString();
        cb();
      },
    });
    const log = createLogger({ level: 'debug', secrets: new SecretRegistry(), destination });
    log.error({ err: caught }, 'unhandled error');
    log.warn({ error: caught }, 'also under `error`');
    await new Promise((r) => setImmediate(r));
    expect(out).toContain('unhandled error');
    expect(out).toMatch(/insert into/i);
    expect(out).toContain('params: [REDACTED]');
    expect(out).not.toContain(secret);
  });
});
