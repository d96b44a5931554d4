#!/usr/bin/env node
// Where a turn's text deltas spend their time on the way model → model proxy (server) → Claude →
// bridge (node) → server (turn log, SSE) → client. One live session on a real ash-server; the
// scripted model stamps each delta with its write time. Measures, over DELTA_TURNS turns:
//   - each delta's latency at the SSE client (p50 / p95);
//   - the CPU time each process spent (utime + stime from /proc/<pid>/stat), per delta;
//   - with DELTA_PROFILE=1 (default): a V8 CPU profile (`--cpu-prof`) of the server and of the
//     bridge, cut to the turns' window, summarised by function (self time) and by package.
// The bridge is profiled only by a build whose sandbox manager reads PROF15_BRIDGE_ARGS (a local
// patch of dist; see docs/benchmarks/2026-12-03-profiles.md); else only the server is.
//
//   node bench/delta-path.mjs      DELTA_TURNS=20 DELTA_COUNT=20 (deltas per turn) DELTA_PROFILE=0
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AshClient } from '@ash-ai/sdk';
import {
  ScriptedModel,
  TEST_API_KEY,
  deltaStampMs,
  deltaStampNow,
  serverEnv,
  startAshProcess,
} from '@ash-ai/testing';
import { monoUs, summariseProfile as summarise } from './cpu-profile.mjs';
import { descendants } from './footprint.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TURNS = Number(process.env.DELTA_TURNS ?? 20);
const PROFILE = process.env.DELTA_PROFILE !== '0';
const DELTAS = Number(process.env.DELTA_COUNT ?? 20);
const pct = (xs, p) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
const TICK_MS = 10; // USER_HZ 100

/** utime + stime of a process, ms. */
function cpuMs(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * TICK_MS;
  } catch {
    return 0;
  }
}
const comm = (pid) => {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '?';
  }
};

async function main() {
  const model = await ScriptedModel.start();
  model.onRequest(() => ({ slow: { deltas: DELTAS, intervalMs: 20, stamp: true } }));
  const work = mkdtempSync(join(tmpdir(), 'ash-delta-'));
  const profDir = join(work, 'prof');
  const extra = { ASH_PREWARM_COUNT: '0', ASH_SPARE_BRIDGES: '0', ASH_IDLE_TIMEOUT_MS: '3600000' };
  if (PROFILE) {
    extra.NODE_OPTIONS = `--import=${join(ROOT, 'bench/cpu-prof-preload.mjs')}`;
    extra.ASH_BENCH_PROF_DIR = join(profDir, 'server');
    extra.PROF15_BRIDGE_ARGS = `--cpu-prof --cpu-prof-dir=${profDir}/bridge`;
  }
  const server = await startAshProcess(
    serverEnv({ dataDir: join(work, 'data'), modelUrl: model.url, extra }),
    120_000,
  );
  const out = [];
  try {
    const client = new AshClient({ serverUrl: server.url, apiKey: TEST_API_KEY });
    await client.agents.deployDirectory('delta', join(ROOT, 'examples/hello'));
    const s = await client.sessions.create('delta');
    const turn = async (text, lat) => {
      for await (const ev of client.sessions.send(s.id, text)) {
        if (ev.event === 'text_delta') {
          const at = deltaStampMs(ev.data.delta);
          if (at !== undefined) lat?.push(deltaStampNow() - at);
        }
        if (ev.event === 'done' && ev.data.outcome !== 'completed')
          throw new Error(`turn ${ev.data.outcome}`);
      }
    };
    await turn('hello'); // starts the sandbox (not measured)
    await turn('again');
    const pids = [server.child.pid, ...descendants(server.child.pid)];
    const before = new Map(pids.map((p) => [p, cpuMs(p)]));
    const ownBefore = process.cpuUsage();
    const loads = [loadavg()[0]];
    const lat = [];
    const from = monoUs();
    for (let i = 0; i < TURNS; i++) await turn(`turn ${i}`, lat);
    const to = monoUs();
    loads.push(loadavg()[0]);
    const own = process.cpuUsage(ownBefore);
    const n = lat.length;
    out.push(
      `Per-delta path, ${new Date().toISOString()}: ${TURNS} turns × ${DELTAS} deltas 20 ms apart on one live session; 1-min load ${loads.map((x) => x.toFixed(1)).join(' → ')}.`,
      '',
      `Latency model → SSE client over ${n} deltas: p50 ${pct(lat, 50).toFixed(1)} ms, p95 ${pct(lat, 95).toFixed(1)} ms.`,
      '',
      '| process | CPU ms over the turns | CPU per delta, ms |',
      '|---|---|---|',
      ...pids.map((p) => {
        const c = cpuMs(p) - before.get(p);
        return `| ${p === server.child.pid ? 'ash-server' : comm(p)} (pid ${p}) | ${c} | ${(c / n).toFixed(2)} |`;
      }),
      `| this client (SSE parsing) | ${((own.user + own.system) / 1000).toFixed(0)} | ${((own.user + own.system) / 1000 / n).toFixed(2)} |`,
      '',
    );
    await client.sessions.end(s.id);
    await server.stop();
    if (PROFILE) {
      for (const who of ['server', 'bridge']) {
        let files = [];
        try {
          files = readdirSync(join(profDir, who)).filter((f) => f.endsWith('.cpuprofile'));
        } catch {
          // not profiled
        }
        for (const f of files) {
          const r = summarise(join(profDir, who, f), from, to);
          if (r.totalMs < 1) continue;
          out.push(
            `#### ${who} CPU profile, the turns' window: ${r.totalMs.toFixed(0)} ms on CPU (${(r.totalMs / n).toFixed(2)} ms per delta)`,
            '',
            '| by package | ms | share |',
            '|---|---|---|',
            ...r.packages.map(
              ([k, v]) =>
                `| ${k} | ${(v / 1000).toFixed(0)} | ${((100 * v) / 1000 / r.totalMs).toFixed(0)}% |`,
            ),
            '',
            '| function (self time) | ms |',
            '|---|---|',
            ...r.functions.map(([k, v]) => `| \`${k}\` | ${(v / 1000).toFixed(1)} |`),
            '',
          );
        }
      }
    }
  } finally {
    await server.stop().catch(() => undefined);
    await model.close();
    process.stdout.write(`${out.join('\n')}\n`);
    if (!process.env.DELTA_KEEP) rmSync(work, { recursive: true, force: true });
    else process.stdout.write(`profiles kept in ${profDir}\n`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
