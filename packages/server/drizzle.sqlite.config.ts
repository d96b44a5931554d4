import { defineConfig } from 'drizzle-kit';

// `npx drizzle-kit generate --config packages/server/drizzle.sqlite.config.ts` after a schema change.
export default defineConfig({
  dialect: 'sqlite',
  schema: './packages/server/src/db/schema/sqlite.ts',
  out: './packages/server/drizzle/sqlite',
});
