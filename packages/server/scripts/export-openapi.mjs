#!/usr/bin/env node
// Writes the OpenAPI document the server serves at /openapi.json to packages/server/openapi.json
// (or prints it with --stdout). Run `npm run build` first: it uses the built server.
//   node packages/server/scripts/export-openapi.mjs
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createAshServer, loadConfig } from '../dist/index.js';

const dataDir = mkdtempSync(join(tmpdir(), 'ash-openapi-'));
const server = await createAshServer(
  loadConfig({
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    ASH_DATA_DIR: dataDir,
    ASH_PORT: '0',
    ASH_HOST: '127.0.0.1',
    ASH_LOG_LEVEL: 'error',
    ASH_PREWARM_COUNT: '0',
    ASH_API_KEY: 'ash_openapiexportopenapiexportopenapiex',
  }),
);
try {
  const res = await server.app.inject({ method: 'GET', url: '/openapi.json' });
  if (res.statusCode !== 200) throw new Error(`GET /openapi.json answered ${res.statusCode}`);
  const text = `${JSON.stringify(JSON.parse(res.body), null, 2)}\n`;
  if (process.argv.includes('--stdout')) process.stdout.write(text);
  else {
    const out = join(dirname(fileURLToPath(import.meta.url)), '..', 'openapi.json');
    writeFileSync(out, text);
    process.stderr.write(`wrote ${out}\n`);
  }
} finally {
  await server.close();
  rmSync(dataDir, { recursive: true, force: true });
}
