// Time from spawning `ash serve` (the CLI, which spawns ash-server) to the first /health 200, ms.
// Used by `npm run bench`; alone: node bench/start-time.mjs [runs]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(ROOT, 'packages/cli/dist/main.js');

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

/** One start: spawn → first /health answer with status 200 (polled every 5 ms). Stops the server after. */
export async function serveToHealthy(modelUrl, cli = CLI) {
  const dataDir = mkdtempSync(join(tmpdir(), 'ash-start-'));
  const port = await freePort();
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/root',
    ASH_DATA_DIR: dataDir,
    ASH_PORT: String(port),
    ASH_HOST: '127.0.0.1',
    ANTHROPIC_BASE_URL: modelUrl,
    ANTHROPIC_API_KEY: 'sk-ant-bench-0123456789abcdef',
    ASH_API_KEY: 'bench-start-key-0123456789abcdef',
    ASH_LOG_LEVEL: 'warn',
  };
  const t0 = performance.now();
  const child = spawn(process.execPath, [cli, 'serve'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  let exited = false;
  child.once('exit', () => (exited = true));
  try {
    for (;;) {
      if (exited) throw new Error(`ash serve exited: ${err}`);
      try {
        const r = await fetch(`http://127.0.0.1:${port}/health`);
        await r.arrayBuffer();
        if (r.status === 200) return performance.now() - t0;
      } catch {
        // not listening yet
      }
      if (performance.now() - t0 > 120_000) throw new Error('ash serve did not become healthy in 120 s');
      await new Promise((r) => setTimeout(r, 5));
    }
  } finally {
    if (!exited) {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
    rmSync(dataDir, { recursive: true, force: true });
  }
}

// Alone: node bench/start-time.mjs [runs] [other-cli-main.js] — with a second CLI (e.g. another
// checkout's packages/cli/dist/main.js), starts alternate between the two (A,B,A,B…) for a ratio.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { loadavg } = await import('node:os');
  const runs = Number(process.argv[2] ?? 5);
  const other = process.argv[3];
  const times = { this: [], other: [] };
  const loads = [];
  for (let i = 0; i < runs; i++) {
    loads.push(loadavg()[0]);
    times.this.push(await serveToHealthy('http://127.0.0.1:9'));
    if (other) times.other.push(await serveToHealthy('http://127.0.0.1:9', other));
  }
  const p50 = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const fmt = (xs) => xs.map((t) => t.toFixed(0)).join(', ');
  console.log(`ash serve → healthy (this): ${fmt(times.this)} ms; p50 ${p50(times.this).toFixed(0)} ms`);
  if (other) {
    console.log(
      `ash serve → healthy (${other}): ${fmt(times.other)} ms; p50 ${p50(times.other).toFixed(0)} ms`,
    );
    console.log(`ratio this/other p50: ${(p50(times.this) / p50(times.other)).toFixed(2)}x`);
  }
  console.log(`1-min load average before each pair: ${loads.map((l) => l.toFixed(2)).join(', ')}`);
}
