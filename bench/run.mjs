#!/usr/bin/env node
// Ash benchmark: session creation, time to first token vs the SDK's query() called directly,
// resume, and memory. Everything runs in this one command against the same scripted model, and
// results are reported as ratios measured in this run. Writes docs/benchmarks/<date>.md.
//
//   npm run bench            (after npm install; needs bubblewrap and cgroups like the server)
//   BENCH_N=20 npm run bench
//   BENCH_ONLY=burst npm run bench   (only the burst phase: admission control vs none)
//   BENCH_BURST_ROUNDS=2             (burst rounds per setting, interleaved)
import { execSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, hostname, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { query } from '@anthropic-ai/claude-agent-sdk';
import { AshClient } from '@ash-ai/sdk';
import { ScriptedModel, TEST_API_KEY, serverEnv, startAshProcess } from '@ash-ai/testing';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const N = Number(process.env.BENCH_N ?? 20);
const ONLY = process.env.BENCH_ONLY;
const BURST_ROUNDS = Number(process.env.BENCH_BURST_ROUNDS ?? 2);

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const summary = (xs) => ({ p50: pct(xs, 50), p95: pct(xs, 95), n: xs.length });
const ms = (x) => `${x.toFixed(1)} ms`;
const now = () => performance.now();

async function waitFor(fn, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Time from sending to the first text_delta and to done, through Ash. */
async function ashTurn(client, sessionId, content) {
  const t0 = now();
  let first;
  let error;
  for await (const ev of client.sessions.send(sessionId, content)) {
    if (ev.event === 'text_delta' && first === undefined) first = now() - t0;
    if (ev.event === 'error') error = ev.data;
    if (ev.event === 'done' && ev.data.outcome !== 'completed')
      throw new Error(`turn ended ${ev.data.outcome}: ${JSON.stringify(error)}`);
  }
  return { firstToken: first, total: now() - t0 };
}

/** Time from calling query() to the first text delta, for a new query (optionally resuming). */
async function directTurn(modelUrl, cwd, configDir, prompt, resume) {
  const t0 = now();
  let first;
  let sessionId;
  const q = query({
    prompt,
    options: {
      cwd,
      includePartialMessages: true,
      permissionMode: 'bypassPermissions',
      allowDangerouslySkipPermissions: true,
      settingSources: ['project'],
      ...(resume ? { resume } : {}),
      env: {
        PATH: '/usr/local/bin:/usr/bin:/bin',
        HOME: configDir,
        CLAUDE_CONFIG_DIR: configDir,
        ANTHROPIC_BASE_URL: modelUrl,
        ANTHROPIC_API_KEY: 'bench-key',
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
        CLAUDE_CODE_MAX_RETRIES: '0',
        IS_SANDBOX: '1',
      },
    },
  });
  for await (const m of q) {
    sessionId ??= m.session_id;
    if (first === undefined && m.type === 'stream_event' && m.event?.type === 'content_block_delta')
      first = now() - t0;
  }
  return { firstToken: first, total: now() - t0, sessionId };
}

function rssOf(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Processes whose command line, environment or cgroup names the session. */
function processesOf(sessionId) {
  const out = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    if (Number(pid) === process.pid) continue;
    try {
      const text = ['cmdline', 'environ', 'cgroup']
        .map((f) => readFileSync(`/proc/${pid}/${f}`, 'utf8'))
        .join('\n');
      if (text.includes(sessionId)) out.push(Number(pid));
    } catch {
      // gone
    }
  }
  return out;
}

async function main() {
  const model = await ScriptedModel.start();
  const work = mkdtempSync(join(tmpdir(), 'ash-bench-'));
  const results = {};
  const servers = [];
  const start = async (extra) => {
    const dataDir = join(work, `data-${servers.length}`);
    const proc = await startAshProcess(
      serverEnv({ dataDir, modelUrl: model.url, extra: { ASH_LOG_LEVEL: 'info', ...extra } }),
      120_000,
    );
    servers.push(proc);
    const client = new AshClient({ serverUrl: proc.url, apiKey: TEST_API_KEY });
    await client.agents.deployDirectory('bench', join(ROOT, 'examples/hello'));
    return { proc, client, dataDir };
  };
  try {
    if (ONLY !== 'burst') await phases(start, model, work, results);
    // 7. A burst of first turns: admission control for sandbox starts vs none, interleaved.
    results.burst = await burstPhase(start);
  } finally {
    for (const s of servers) await s.stop().catch(() => undefined);
    await model.close();
    rmSync(work, { recursive: true, force: true });
  }
  report(results);
}

/**
 * 10x the start concurrency (ASH_MAX_CONCURRENT_STARTS, default the CPU count) of new sessions
 * and their first turns, all at once: with admission control (the default) and without it (the
 * setting raised past the burst), rounds interleaved so both see the same machine. Each turn's
 * time is from the burst's start to its `done`; no turn may fail.
 */
async function burstPhase(start) {
  const concurrency = availableParallelism();
  const size = 10 * concurrency;
  const common = {
    ASH_PREWARM_COUNT: '0',
    ASH_MAX_SANDBOXES: String(size + 4),
    ASH_START_QUEUE_MAX: String(size * 2),
    // A loaded shared machine can take minutes for the burst: the bench measures, it does not refuse.
    ASH_START_QUEUE_TIMEOUT_MS: '1800000',
  };
  const gated = await start({ ...common, ASH_MAX_CONCURRENT_STARTS: String(concurrency) });
  const open = await start({ ...common, ASH_MAX_CONCURRENT_STARTS: String(size * 10) });
  const times = { admission: [], none: [] };
  const loads = { admission: [], none: [] };
  const burst = async (client, kind) => {
    const load0 = loadavg()[0];
    const t0 = now();
    const ids = [];
    const done = await Promise.all(
      Array.from({ length: size }, async () => {
        const s = await client.sessions.create('bench');
        ids.push(s.id);
        await ashTurn(client, s.id, 'hello');
        return now() - t0;
      }),
    );
    times[kind].push(...done);
    loads[kind].push([load0, loadavg()[0]]);
    process.stdout.write(
      `burst ${kind}: p50 ${ms(pct(done, 50))} p95 ${ms(pct(done, 95))} load ${load0.toFixed(2)} → ${loadavg()[0].toFixed(2)}\n`,
    );
    for (const id of ids) await client.sessions.end(id);
    await waitFor(async () => (await client.health()).pool.live === 0, 60_000);
  };
  for (let round = 0; round < BURST_ROUNDS; round++) {
    // Alternate which goes first, so neither always follows the other's leftovers.
    const order = round % 2 === 0 ? ['admission', 'none'] : ['none', 'admission'];
    for (const kind of order) await burst(kind === 'admission' ? gated.client : open.client, kind);
  }
  return {
    concurrency,
    size,
    rounds: BURST_ROUNDS,
    admission: summary(times.admission),
    none: summary(times.none),
    loads,
  };
}

async function phases(start, model, work, results) {
  {
    // 1. Session creation, cold (no warm sandbox).
    {
      const { client } = await start({ ASH_PREWARM_COUNT: '0', ASH_MAX_SANDBOXES: '200' });
      const times = [];
      for (let i = 0; i < N + 3; i++) {
        const t0 = now();
        const s = await client.sessions.create('bench');
        if (i >= 3) times.push(now() - t0);
        await client.sessions.end(s.id);
      }
      results.createCold = summary(times);
    }
    // 2. Session creation with a warm sandbox ready, and the first turn on it.
    const warm = await start({ ASH_PREWARM_COUNT: '1' });
    {
      const times = [];
      const firstTurn = [];
      for (let i = 0; i < N + 2; i++) {
        await waitFor(async () => (await warm.client.health()).pool.warm >= 1);
        const t0 = now();
        const s = await warm.client.sessions.create('bench');
        const dt = now() - t0;
        const turn = await ashTurn(warm.client, s.id, 'hello');
        if (i >= 2) {
          times.push(dt);
          firstTurn.push(turn.firstToken);
        }
        await warm.client.sessions.end(s.id);
      }
      results.createWarm = summary(times);
      results.firstTurnWarmPool = summary(firstTurn);
    }
    // 3. First turn without a warm sandbox (process start in the path), and later turns.
    const cold = await start({ ASH_PREWARM_COUNT: '0' });
    {
      const firstTurn = [];
      const laterTurns = [];
      for (let i = 0; i < N + 1; i++) {
        const s = await cold.client.sessions.create('bench');
        const t1 = await ashTurn(cold.client, s.id, 'hello');
        const t2 = await ashTurn(cold.client, s.id, 'again');
        const t3 = await ashTurn(cold.client, s.id, 'and again');
        if (i >= 1) {
          firstTurn.push(t1.firstToken);
          laterTurns.push(t2.firstToken, t3.firstToken);
        }
        await cold.client.sessions.end(s.id);
      }
      results.firstTurnCold = summary(firstTurn);
      results.laterTurns = summary(laterTurns);
    }
    // 4. The SDK's query() directly against the same model: a new query per message, resuming.
    {
      const first = [];
      const later = [];
      for (let i = 0; i < N + 1; i++) {
        const cwd = join(work, `direct-${i}`, 'ws');
        const cfg = join(work, `direct-${i}`, 'cfg');
        mkdirSync(cwd, { recursive: true });
        mkdirSync(cfg, { recursive: true });
        writeFileSync(join(cwd, 'CLAUDE.md'), readFileSync(join(ROOT, 'examples/hello/CLAUDE.md')));
        const a = await directTurn(model.url, cwd, cfg, 'hello');
        const b = await directTurn(model.url, cwd, cfg, 'again', a.sessionId);
        if (i >= 1) {
          first.push(a.firstToken);
          later.push(b.firstToken);
        }
      }
      results.directFirst = summary(first);
      results.directLater = summary(later);
    }
    // 5. Resume: warm (process alive) and cold (paused: to `active`).
    {
      const warmTimes = [];
      const coldTimes = [];
      for (let i = 0; i < N + 2; i++) {
        const s = await cold.client.sessions.create('bench');
        await ashTurn(cold.client, s.id, 'hello');
        let t0 = now();
        await cold.client.http.request('POST', `/api/sessions/${s.id}/resume`);
        const w = now() - t0;
        await cold.client.http.request('POST', `/api/sessions/${s.id}/pause`);
        t0 = now();
        const r = await cold.client.http.request('POST', `/api/sessions/${s.id}/resume`);
        const c = now() - t0;
        if (r.session.status !== 'active') throw new Error('resume did not reach active');
        if (i >= 2) {
          warmTimes.push(w);
          coldTimes.push(c);
        }
        await cold.client.sessions.end(s.id);
      }
      results.resumeWarm = summary(warmTimes);
      results.resumeCold = summary(coldTimes);
    }
    // 6. Memory: an active session (bridge + its sandbox's cgroup) and a paused one.
    {
      const s = await cold.client.sessions.create('bench');
      await ashTurn(cold.client, s.id, 'hello');
      const pids = processesOf(s.id);
      const rss = pids.reduce((n, p) => n + rssOf(p), 0);
      const metrics = await (
        await fetch(`${cold.proc.url}/metrics`, { headers: { authorization: `Bearer ${TEST_API_KEY}` } })
      ).text();
      // The largest live sandbox: this server has only this session's (no warm spares here).
      const cg = /^ash_sandbox_memory_bytes_max (\d+)/m.exec(metrics);
      await cold.client.http.request('POST', `/api/sessions/${s.id}/pause`);
      await waitFor(async () => processesOf(s.id).length === 0, 10_000);
      results.memory = {
        activeProcesses: pids.length,
        activeRssMb: rss / 1024 / 1024,
        activeCgroupMb: cg ? Number(cg[1]) / 1024 / 1024 : null,
        pausedProcesses: processesOf(s.id).length,
      };
    }
  }
}

/** The burst section of the report. */
function burstLines(b) {
  const ratio = b.admission.p50 / b.none.p50;
  const fmt = (xs) => xs.map(([a, z]) => `${a.toFixed(1)}→${z.toFixed(1)}`).join(', ');
  return [
    `Burst: ${b.size} new sessions and their first turns at once (10x the start concurrency ${b.concurrency}), ${b.rounds} rounds per setting, interleaved; time from the burst's start to each turn's \`done\`; every turn completed.`,
    '',
    '| burst of first turns | p50 | p95 | n | 1-min load average (start→end of each burst) |',
    '|---|---|---|---|---|',
    `| admission control (ASH_MAX_CONCURRENT_STARTS=${b.concurrency}) | ${ms(b.admission.p50)} | ${ms(b.admission.p95)} | ${b.admission.n} | ${fmt(b.loads.admission)} |`,
    `| no admission control (ASH_MAX_CONCURRENT_STARTS=${b.size * 10}) | ${ms(b.none.p50)} | ${ms(b.none.p95)} | ${b.none.n} | ${fmt(b.loads.none)} |`,
    '',
    `| ratio (admission / none, p50) | ${ratio.toFixed(2)}x | target ≤ 0.6x | ${ratio <= 0.6 ? 'met' : 'NOT met'} |`,
    '|---|---|---|---|',
    '',
  ];
}

function report(r) {
  if (ONLY === 'burst')
    return writeReport([
      `# Benchmark ${new Date().toISOString().slice(0, 10)} (burst)`,
      '',
      machineLine(),
      '',
      ...burstLines(r.burst),
    ]);
  const ratioFirstCold = r.firstTurnCold.p50 / r.directFirst.p50;
  const ratioFirstWarm = r.firstTurnWarmPool.p50 / r.directFirst.p50;
  const ratioLater = r.laterTurns.p50 / r.directLater.p50;
  const check = (ok) => (ok ? 'met' : 'NOT met');
  const date = new Date().toISOString().slice(0, 10);
  const lines = [
    `# Benchmark ${date}`,
    '',
    machineLine(),
    `Command: \`npm run bench\` (BENCH_N=${N}). Model: the scripted Messages API server on loopback (replies in ~1 ms), so times are Ash's own overhead plus the Claude process; the real SDK ${'0.3.332'} is used throughout.`,
    '',
    '| measure | p50 | p95 | target | |',
    '|---|---|---|---|---|',
    `| POST /api/sessions, warm sandbox ready | ${ms(r.createWarm.p50)} | ${ms(r.createWarm.p95)} | p50 < 10 ms | ${check(r.createWarm.p50 < 10)} |`,
    `| POST /api/sessions, cold | ${ms(r.createCold.p50)} | ${ms(r.createCold.p95)} | p50 < 100 ms | ${check(r.createCold.p50 < 100)} |`,
    `| first token, first turn, warm pool | ${ms(r.firstTurnWarmPool.p50)} | ${ms(r.firstTurnWarmPool.p95)} | | |`,
    `| first token, first turn, no warm sandbox | ${ms(r.firstTurnCold.p50)} | ${ms(r.firstTurnCold.p95)} | | |`,
    `| first token, later turns | ${ms(r.laterTurns.p50)} | ${ms(r.laterTurns.p95)} | | |`,
    `| first token, query() directly, new session | ${ms(r.directFirst.p50)} | ${ms(r.directFirst.p95)} | | |`,
    `| first token, query() directly, resuming | ${ms(r.directLater.p50)} | ${ms(r.directLater.p95)} | | |`,
    `| resume, process alive (warm) | ${ms(r.resumeWarm.p50)} | ${ms(r.resumeWarm.p95)} | p50 < 5 ms | ${check(r.resumeWarm.p50 < 5)} |`,
    `| resume, paused → active (cold) | ${ms(r.resumeCold.p50)} | ${ms(r.resumeCold.p95)} | < 150 ms | ${check(r.resumeCold.p95 < 150)} |`,
    '',
    '| ratio (Ash / direct query(), p50 first token) | value | target | |',
    '|---|---|---|---|',
    `| first turn, no warm sandbox | ${ratioFirstCold.toFixed(2)}x | ≤ 1.1x | ${check(ratioFirstCold <= 1.1)} |`,
    `| first turn, warm pool | ${ratioFirstWarm.toFixed(2)}x | ≤ 1.1x | ${check(ratioFirstWarm <= 1.1)} |`,
    `| later turns | ${ratioLater.toFixed(2)}x | ≤ 0.5x | ${check(ratioLater <= 0.5)} |`,
    '',
    `Memory: an active session runs ${r.memory.activeProcesses} processes (bridge + sandboxed Claude) using ${r.memory.activeRssMb.toFixed(0)} MB RSS` +
      `${r.memory.activeCgroupMb !== null ? ` (its sandbox cgroup accounts ${r.memory.activeCgroupMb.toFixed(0)} MB, page cache included)` : ''}; ` +
      `a paused (parked) session runs ${r.memory.pausedProcesses} processes.`,
    '',
    ...burstLines(r.burst),
  ];
  writeReport(lines);
}

function machineLine() {
  let kernel = '';
  try {
    kernel = execSync('uname -sr').toString().trim();
  } catch {
    kernel = '';
  }
  const cpu = (cpus()[0]?.model ?? 'unknown').trim();
  return `Machine: ${hostname()}, ${cpus().length} cores (${cpu}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${kernel}, Node ${process.version}.`;
}

function writeReport(lines) {
  const date = new Date().toISOString().slice(0, 10);
  const text = lines.join('\n');
  process.stdout.write(`${text}\n`);
  const dir = join(ROOT, 'docs', 'benchmarks');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${date}.md`), text);
  process.stdout.write(`written to docs/benchmarks/${date}.md\n`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
