#!/usr/bin/env node
// Where `ash-server`'s start goes: spawns it with `--cpu-prof` on a fresh data dir, polls /health
// every 5 ms until 200, stops it, and summarises the profile from spawn to healthy (by package and
// function), next to the time to healthy. Also times a bare `import()` of the server package.
//
//   node bench/start-profile.mjs [runs=3]      START_PROFILE_KEEP=<dir> keeps the .cpuprofile files
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { monoUs, summariseProfile } from './cpu-profile.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SERVER = join(ROOT, 'packages/server/dist/main.js');
const RUNS = Number(process.argv[2] ?? 3);
const freePort = async () => {
  const { createServer } = await import('node:net');
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
};

async function once() {
  const dir = mkdtempSync(join(tmpdir(), 'ash-startprof-'));
  const port = await freePort();
  const load = loadavg()[0];
  const from = monoUs();
  const t0 = performance.now();
  const child = spawn(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${join(dir, 'prof')}`, SERVER], {
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/root',
      ASH_DATA_DIR: join(dir, 'data'),
      ASH_PORT: String(port),
      ASH_HOST: '127.0.0.1',
      ANTHROPIC_BASE_URL: 'http://127.0.0.1:9',
      ANTHROPIC_API_KEY: 'sk-ant-bench-0123456789abcdef',
      ASH_API_KEY: 'bench-start-key-0123456789abcdef',
      ASH_LOG_LEVEL: 'warn',
    },
    stdio: 'ignore',
  });
  let healthy;
  while (healthy === undefined) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/health`);
      if (r.status === 200) healthy = performance.now() - t0;
    } catch {
      // not listening yet
    }
    if (healthy === undefined) await new Promise((r) => setTimeout(r, 5));
  }
  const to = monoUs();
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  const file = readdirSync(join(dir, 'prof')).find((f) => f.endsWith('.cpuprofile'));
  const summary = summariseProfile(join(dir, 'prof', file), from, to);
  // START_PROFILE_KEEP=<dir>: keep the raw profiles (open them in Chrome DevTools).
  if (process.env.START_PROFILE_KEEP)
    cpSync(join(dir, 'prof', file), join(process.env.START_PROFILE_KEEP, file));
  rmSync(dir, { recursive: true, force: true });
  return { healthy, load, summary };
}

const importMs = () => {
  const r = spawnSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `const t=performance.now(); await import(${JSON.stringify(join(ROOT, 'packages/server/dist/index.js'))}); console.log(performance.now()-t)`,
    ],
    { encoding: 'utf8' },
  );
  return Number(r.stdout.trim());
};

const out = [];
for (let i = 0; i < RUNS; i++) {
  const r = await once();
  out.push(
    `### run ${i + 1}: healthy after ${r.healthy.toFixed(0)} ms (load ${r.load.toFixed(1)}), ${r.summary.totalMs.toFixed(0)} ms of samples`,
    '',
    '| by package | ms | share |',
    '|---|---|---|',
    ...r.summary.packages.map(
      ([k, v]) =>
        `| ${k} | ${(v / 1000).toFixed(0)} | ${((100 * v) / 1000 / r.summary.totalMs).toFixed(0)}% |`,
    ),
    '',
    '| function (self time) | ms |',
    '|---|---|',
    ...r.summary.functions.slice(0, 10).map(([k, v]) => `| \`${k}\` | ${(v / 1000).toFixed(1)} |`),
    '',
  );
}
out.push(
  `import('@ash-ai/server') alone: ${[importMs(), importMs(), importMs()].map((x) => `${x.toFixed(0)} ms`).join(', ')}.`,
);
process.stdout.write(`${out.join('\n')}\n`);
