import { portAnswers, startThrowawayPostgres } from '@ash-ai/testing/postgres-server';

/**
 * Runs once per `vitest run`: when no Postgres answers where the tests expect one
 * (ASH_TEST_POSTGRES_URL, default 127.0.0.1:5432), starts a throwaway cluster from the installed
 * binaries and stops it afterwards, so `npm test` passes on a fresh machine.
 */
export default async function setup(): Promise<(() => void) | undefined> {
  if (process.env.ASH_TEST_POSTGRES_URL) return undefined;
  if (await portAnswers('127.0.0.1', 5432)) return undefined;
  const pg = startThrowawayPostgres(5432);
  process.stderr.write(`test setup: started a throwaway PostgreSQL on ${pg.url}\n`);
  return () => pg.stop();
}
