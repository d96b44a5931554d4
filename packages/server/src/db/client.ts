import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { drizzle as drizzleSqlite, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { migrate as migrateSqlite } from 'drizzle-orm/better-sqlite3/migrator';
import * as sqliteSchema from './schema/sqlite.js';

/** Which SQL dialect a database speaks. */
export type Dialect = 'sqlite' | 'postgres';

/** The table objects repositories use (the SQLite definitions; the Postgres ones have the same shape). */
export type Tables = typeof sqliteSchema;

/**
 * The query builder repositories use. Typed as the SQLite database; for Postgres the node-postgres
 * database is used through the same type: the builder calls the repositories make (select, insert,
 * update, delete, `returning`, `onConflictDoNothing`) have the same surface and results in both.
 */
export type QueryDb = BetterSQLite3Database<typeof sqliteSchema>;

/** An open database. */
export interface AshDatabase {
  dialect: Dialect;
  db: QueryDb;
  t: Tables;
  close(): Promise<void>;
}

const MIGRATIONS = {
  sqlite: fileURLToPath(new URL('../../drizzle/sqlite', import.meta.url)),
  postgres: fileURLToPath(new URL('../../drizzle/pg', import.meta.url)),
};

// Arbitrary constant for pg_advisory_lock: serialises migrations of concurrent server starts.
const MIGRATION_LOCK_KEY = 0x41_53_48_4d; // "ASHM"

/** True for `postgres://` and `postgresql://` URLs. */
export function isPostgresUrl(url: string | undefined): url is string {
  return !!url && /^postgres(ql)?:\/\//i.test(url);
}

/**
 * Opens the database and runs pending migrations. Two processes starting at once are safe:
 * Postgres migrations run under an advisory lock; SQLite ones under an exclusive lock held on a
 * side file.
 * @param target a Postgres URL, or the SQLite file path.
 */
export async function openDatabase(
  target: { postgresUrl: string } | { sqlitePath: string },
): Promise<AshDatabase> {
  if ('postgresUrl' in target) {
    // The Postgres driver is loaded only when used (start time with SQLite).
    const [{ default: pg }, { drizzle: drizzlePg }, { migrate: migratePg }, pgSchema] = await Promise.all([
      import('pg'),
      import('drizzle-orm/node-postgres'),
      import('drizzle-orm/node-postgres/migrator'),
      import('./schema/pg.js'),
    ]);
    const lockClient = new pg.Client({ connectionString: target.postgresUrl });
    await lockClient.connect();
    try {
      await lockClient.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
      await migratePg(drizzlePg(lockClient), { migrationsFolder: MIGRATIONS.postgres });
      await lockClient.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    } finally {
      await lockClient.end();
    }
    // A database that accepts TCP but never answers (a hung host, a black-holed route) fails a
    // request after 10 s (503 database_unavailable) instead of holding it forever.
    const pool = new pg.Pool({
      connectionString: target.postgresUrl,
      max: 10,
      connectionTimeoutMillis: 10_000,
    });
    // An idle connection the server terminates (restart, failover, pg_terminate_backend) is
    // dropped from the pool and replaced on the next query; unhandled, its error would crash the
    // process (node-postgres emits it on the pool).
    pool.on('error', () => undefined);
    const db = drizzlePg(pool, { schema: pgSchema }) as unknown as QueryDb;
    return {
      dialect: 'postgres',
      db,
      t: pgSchema as unknown as Tables,
      close: () => pool.end(),
    };
  }
  mkdirSync(dirname(target.sqlitePath), { recursive: true });
  const lock = new Database(`${target.sqlitePath}.migrate-lock`);
  lock.pragma('busy_timeout = 30000');
  lock.exec('BEGIN EXCLUSIVE');
  const sqlite = new Database(target.sqlitePath);
  try {
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('busy_timeout = 10000');
    sqlite.pragma('foreign_keys = ON');
    const db = drizzleSqlite(sqlite, { schema: sqliteSchema });
    migrateSqlite(db, { migrationsFolder: MIGRATIONS.sqlite });
    lock.exec('COMMIT');
    lock.close();
    return {
      dialect: 'sqlite',
      db,
      t: sqliteSchema,
      close: async () => {
        sqlite.close();
      },
    };
  } catch (err) {
    lock.exec('ROLLBACK');
    lock.close();
    sqlite.close();
    throw err;
  }
}
