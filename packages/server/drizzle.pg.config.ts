import { defineConfig } from 'drizzle-kit';

// `npx drizzle-kit generate --config packages/server/drizzle.pg.config.ts` after a schema change.
export default defineConfig({
  dialect: 'postgresql',
  schema: './packages/server/src/db/schema/pg.ts',
  out: './packages/server/drizzle/pg',
});
