// Time from spawning `ash serve` (the CLI, which spawns ash-server) to the first /health 200, ms.
// Used by `npm run bench`; alone: node bench/start-time.mjs [runs]. Each start waits until the
// machine is idle (≥ 90% of its CPU unused over 0.5 s, at most 30 s), as the goal asks.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
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

/** Idle and total CPU time of the whole machine so far (the first line of /proc/stat), in ticks. */
function cpuTicks() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal: idle + iowait is time no CPU worked.
  return { idle: f[3] + f[4], total: f.slice(0, 8).reduce((a, b) => a + b, 0) };
}

/**
 * Waits until the machine is idle — at least `idle` of its CPU time unused over `windowMs` — as
 * the goal "ash serve → healthy on an idle machine" asks; gives up after `maxMs` (the start is
 * then timed all the same). Resolves with the idle fraction of the last window (0..1).
 */
export async function waitForIdleCpu({ idle = 0.9, windowMs = 500, maxMs = 30_000 } = {}) {
  const until = performance.now() + maxMs;
  for (;;) {
    const a = cpuTicks();
    await new Promise((r) => setTimeout(r, windowMs));
    const b = cpuTicks();
    const fraction = b.total > a.total ? (b.idle - a.idle) / (b.total - a.total) : 1;
    if (fraction >= idle || performance.now() >= until) return fraction;
  }
}

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
  const idles = [];
  for (let i = 0; i < runs; i++) {
    idles.push(await waitForIdleCpu());
    loads.push(loadavg()[0]);
    times.this.push(await serveToHealthy('http://127.0.0.1:9'));
    if (other) {
      idles.push(await waitForIdleCpu());
      times.other.push(await serveToHealthy('http://127.0.0.1:9', other));
    }
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
  console.log(
    `CPU idle over the 0.5 s before each pair: ${idles.map((f) => `${(f * 100).toFixed(0)}%`).join(', ')}`,
  );
}
