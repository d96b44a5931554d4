import { defineConfig } from 'vitest/config';

// Tests import workspace packages from source through the "@ash-ai/source" export condition,
// so `vitest` needs no build of upstream packages; processes the tests spawn (server, bridge, CLI)
// run the built `dist/` output, which `npm test` builds first.
export default defineConfig({
  resolve: { conditions: ['@ash-ai/source'] },
  ssr: { resolve: { conditions: ['@ash-ai/source'] } },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'packages/*/test/**/*.test.ts', 'bench/**/*.test.ts'],
    globalSetup: ['./vitest.global-setup.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: process.env.CI ? ['dot', ['json', { outputFile: '.ci-results.json' }]] : ['default'],
  },
});
