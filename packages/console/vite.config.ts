import { defineConfig } from 'vite';

// React through esbuild's automatic JSX runtime (no Babel plugin); the SDK and shared types are
// bundled from their TypeScript sources. Served by the Ash server under /console/.
export default defineConfig({
  root: import.meta.dirname,
  base: '/console/',
  esbuild: { jsx: 'automatic' },
  resolve: {
    conditions: ['@ash-ai/source', 'browser', 'module', 'import', 'default'],
    alias: {
      'node:fs/promises': `${import.meta.dirname}/src/node-builtins.ts`,
      'node:path': `${import.meta.dirname}/src/node-builtins.ts`,
    },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    chunkSizeWarningLimit: 700,
    // No inline data: modules (the CSP allows only the console's own scripts).
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    rollupOptions: {
      // @ash-ai/shared's modules only declare schemas and helpers: keep just what is used (the
      // SDK needs its SSE decoder, not the TypeBox schemas of every route).
      treeshake: { moduleSideEffects: (id) => !/[\\/]packages[\\/]shared[\\/]/.test(id) },
    },
  },
});
