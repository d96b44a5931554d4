#!/usr/bin/env node
// Ash benchmark against honest floors, all in this one process and run against the same scripted
// model: every round runs each Ash measure next to its floor (A,B,A,B…, the order flipping every
// round), so a load change hits both sides; the 1-minute load average is printed beside every ratio.
//
//   - later turns: a live Ash session vs the Agent SDK in streaming-input mode (one query() fed by
//     an async iterable of user messages, kept across turns: what Ash itself runs per session);
//   - first turn: POST /api/sessions → first token (no warm pool) vs a fresh query();
//   - warm-pool create and resume: timed until the session's first turn gives its first token (not
//     only the DB write), vs a fresh query() (resuming the transcript for resume);
//   - per-delta latency: the scripted model stamps each delta with its write time; model → Ash SSE
//     client vs model → the streaming query()'s own stream_event, p50 and p95;
//   - `ash serve` → /health 200;
//   - memory of an idle live session; optionally a burst of first turns (admission control).
// Writes docs/benchmarks/<date>.md.
//
//   npm run bench            (after npm install; needs bubblewrap and cgroups like the server)
//   BENCH_N=10               rounds (default 10)
//   BENCH_DELTAS=20 BENCH_DELTA_MS=20   deltas per answer and their spacing, ms
//   BENCH_ONLY=burst npm run bench   (only the burst phase: admission control vs none)
//   BENCH_BURST_ROUNDS=2             (burst rounds per setting, interleaved; 0 skips it)
//   BENCH_ONLY=checkpoint npm run bench   (only incremental vs full workspace checkpoint)
//   BENCH_CHECKPOINT_ROUNDS=5        (checkpoint rounds, interleaved; 0 skips it)
//   BENCH_ONLY=runners npm run bench (only runners in other processes: bench/runners.mjs,
//                                    written to docs/benchmarks/<date>-runners.md)
//   BENCH_RUNNERS_ROUNDS=20          (its rounds; 0 skips it)
//   BENCH_REPORT_DIR=dir             (where <date>.md goes; default docs/benchmarks)
//   BENCH_IDLE_WAIT_MS=30000         (how long `ash serve` waits for an idle machine at most)
import { execSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, hostname, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { query } from '@anthropic-ai/claude-agent-sdk';
import { AshClient } from '@ash-ai/sdk';
import {
  ScriptedModel,
  TEST_API_KEY,
  deltaStampMs,
  deltaStampNow,
  serverEnv,
  startAshProcess,
} from '@ash-ai/testing';
import {
  checkpointBench,
  checkpointLines,
  objectCheckpointBench,
  objectCheckpointLines,
} from './checkpoint.mjs';
import { floorOptions, messageQueue } from './floor.mjs';
import { runnersMain } from './runners.mjs';
import { serveToHealthy, waitForIdleCpu } from './start-time.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const N = Number(process.env.BENCH_N ?? 10);
const DELTAS = Number(process.env.BENCH_DELTAS ?? 20);
const DELTA_MS = Number(process.env.BENCH_DELTA_MS ?? 20);
const ONLY = process.env.BENCH_ONLY;
const BURST_ROUNDS = Number(process.env.BENCH_BURST_ROUNDS ?? 2);
const CHECKPOINT_ROUNDS = Number(process.env.BENCH_CHECKPOINT_ROUNDS ?? 5);
const RUNNERS_ROUNDS = Number(process.env.BENCH_RUNNERS_ROUNDS ?? 20);
const REPORT_DIR = process.env.BENCH_REPORT_DIR;
const IDLE_WAIT_MS = Number(process.env.BENCH_IDLE_WAIT_MS ?? 30_000);

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

/** Latency of a stamped delta at its receipt, ms (undefined for an unstamped one). */
const deltaLatency = (text) => {
  const at = deltaStampMs(text);
  return at === undefined ? undefined : deltaStampNow() - at;
};

/** One Ash turn: ms from `t0` (default: sending) to the first text_delta and to done, and each delta's latency. */
async function ashTurn(client, sessionId, content, t0 = now()) {
  const sent = now();
  let firstByte;
  let first;
  let error;
  const deltas = [];
  for await (const ev of client.sessions.send(sessionId, content)) {
    firstByte ??= now() - sent;
    if (ev.event === 'text_delta') {
      first ??= now() - t0;
      const l = deltaLatency(ev.data.delta);
      if (l !== undefined) deltas.push(l);
    }
    if (ev.event === 'error') error = ev.data;
    if (ev.event === 'done' && ev.data.outcome !== 'completed')
      throw new Error(`turn ended ${ev.data.outcome}: ${JSON.stringify(error)}`);
  }
  return { firstToken: first, firstByte, total: now() - t0, deltas };
}

/** A fresh query() (optionally resuming a transcript): ms from the call to the first text delta. */
async function directTurn(modelUrl, cwd, configDir, prompt, resume) {
  const t0 = now();
  let first;
  let sessionId;
  const q = query({ prompt, options: floorOptions(modelUrl, cwd, configDir, resume ? { resume } : {}) });
  for await (const m of q) {
    sessionId ??= m.session_id;
    if (first === undefined && m.type === 'stream_event' && m.event?.type === 'content_block_delta')
      first = now() - t0;
  }
  return { firstToken: first, total: now() - t0, sessionId };
}

/**
 * The honest floor for later turns: the SDK in streaming-input mode, one query() fed by an async
 * iterable of user messages for the whole run (one Claude process), as Ash's bridge drives it.
 */
class StreamingFloor {
  constructor(modelUrl, cwd, configDir) {
    const { input, push } = messageQueue();
    this.push = push;
    this.q = query({ prompt: input, options: floorOptions(modelUrl, cwd, configDir) });
    this.it = this.q[Symbol.asyncIterator]();
  }
  /** One turn: ms from pushing the message to the first text delta and to the result; each delta's latency. */
  async turn(text) {
    const t0 = now();
    this.push(text);
    let first;
    const deltas = [];
    for (;;) {
      const { value: m, done } = await this.it.next();
      if (done) throw new Error('the streaming query ended');
      if (
        m.type === 'stream_event' &&
        m.event?.type === 'content_block_delta' &&
        m.event.delta?.type === 'text_delta'
      ) {
        first ??= now() - t0;
        const l = deltaLatency(m.event.delta.text);
        if (l !== undefined) deltas.push(l);
      }
      if (m.type === 'result') return { firstToken: first, total: now() - t0, deltas };
    }
  }
  close() {
    this.q.close?.();
  }
}

function rssOf(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Whether a process's command line, environment or cgroup names the session. */
function namesSession(pid, sessionId) {
  try {
    return ['cmdline', 'environ', 'cgroup']
      .map((f) => readFileSync(`/proc/${pid}/${f}`, 'utf8'))
      .join('\n')
      .includes(sessionId);
  } catch {
    return false; // gone
  }
}

/**
 * The session's processes: every process the server started (its bridge, bwrap, Claude) whose
 * tree holds one that names the session. A bridge taken from the spares was configured over its
 * socket, so it names the session nowhere itself: it counts as the parent of the session's bwrap.
 */
function processesOf(sessionId, serverPid) {
  const parent = new Map();
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      parent.set(Number(pid), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone
    }
  }
  const out = [];
  for (const [top, p] of parent) {
    if (p !== serverPid) continue;
    const tree = [top];
    for (let i = 0; i < tree.length; i++) for (const [c, pp] of parent) if (pp === tree[i]) tree.push(c);
    if (tree.some((pid) => namesSession(pid, sessionId))) out.push(...tree);
  }
  return out;
}

async function main() {
  if (ONLY === 'runners') return runnersMain(RUNNERS_ROUNDS);
  if (ONLY === 'checkpoint')
    return report({
      checkpoint: await checkpointBench(CHECKPOINT_ROUNDS),
      objects: await objectCheckpointBench(Math.min(CHECKPOINT_ROUNDS, 3)),
    });
  const model = await ScriptedModel.start();
  // Every answer of the run: DELTAS stamped deltas, DELTA_MS apart (side requests get the default).
  model.onRequest(() => ({ slow: { deltas: DELTAS, intervalMs: DELTA_MS, stamp: true } }));
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
    if (ONLY !== 'burst') await rounds(start, model, work, results);
    // A burst of first turns: admission control for sandbox starts vs none, interleaved.
    if (BURST_ROUNDS > 0) results.burst = await burstPhase(start);
    // Incremental vs full workspace checkpoint (no server involved: the runner's library).
    if (ONLY !== 'burst' && CHECKPOINT_ROUNDS > 0) {
      results.checkpoint = await checkpointBench(CHECKPOINT_ROUNDS);
      // The same to object storage (local store and S3): the server's incremental checkpoints.
      results.objects = await objectCheckpointBench(Math.min(CHECKPOINT_ROUNDS, 3));
    }
  } finally {
    for (const s of servers) await s.stop().catch(() => undefined);
    await model.close();
    rmSync(work, { recursive: true, force: true });
  }
  report(results);
  // Runners in other processes (its own servers and runners; its own report file).
  if (ONLY !== 'burst' && RUNNERS_ROUNDS > 0) await runnersMain(RUNNERS_ROUNDS);
}

/** A folder for a direct query(): the agent's CLAUDE.md in a workspace, and a config dir. */
function directDirs(work, name) {
  const cwd = join(work, name, 'ws');
  const cfg = join(work, name, 'cfg');
  mkdirSync(cwd, { recursive: true });
  mkdirSync(cfg, { recursive: true });
  writeFileSync(join(cwd, 'CLAUDE.md'), readFileSync(join(ROOT, 'examples/hello/CLAUDE.md')));
  return { cwd, cfg };
}

/** Runs the pairs of every round, Ash and its floor side by side, flipping their order each round. */
async function rounds(start, model, work, results) {
  const hot = await start({ ASH_PREWARM_COUNT: '1', ASH_IDLE_TIMEOUT_MS: '3600000' });
  const cold = await start({ ASH_PREWARM_COUNT: '0', ASH_IDLE_TIMEOUT_MS: '3600000' });
  const live = await hot.client.sessions.create('bench');
  await ashTurn(hot.client, live.id, 'hello'); // the live session's first turn (not measured)
  const floorDirs = directDirs(work, 'streaming');
  const floor = new StreamingFloor(model.url, floorDirs.cwd, floorDirs.cfg);
  await floor.turn('hello'); // its process start (not measured)
  const m = {};
  const add = (key, side, value) => {
    m[key] ??= { ash: [], floor: [], loads: [] };
    m[key][side].push(value);
  };
  const load = (key) => {
    m[key] ??= { ash: [], floor: [], loads: [] };
    m[key].loads.push(loadavg()[0]);
  };
  const pair = async (key, ash, base, flip) => {
    load(key);
    const steps = [ash, base];
    for (const f of flip ? steps.reverse() : steps) await f();
  };
  const deltas = { ash: [], floor: [] };
  for (let i = 0; i < N; i++) {
    const flip = i % 2 === 1;
    // Later turns: the live session vs the streaming-input query().
    await pair(
      'later',
      async () => {
        const r = await ashTurn(hot.client, live.id, `turn ${i}`);
        add('later', 'ash', r.firstToken);
        add('firstByteLive', 'ash', r.firstByte);
        deltas.ash.push(...r.deltas);
      },
      async () => {
        const r = await floor.turn(`turn ${i}`);
        add('later', 'floor', r.firstToken);
        deltas.floor.push(...r.deltas);
      },
      flip,
    );
    // First turn, no warm pool: create → first token, vs a fresh query().
    const d = directDirs(work, `fresh-${i}`);
    let fresh;
    await pair(
      'firstCold',
      async () => {
        const t0 = now();
        const s = await cold.client.sessions.create('bench');
        const r = await ashTurn(cold.client, s.id, 'hello', t0);
        add('firstCold', 'ash', r.firstToken);
        await cold.client.sessions.end(s.id);
      },
      async () => {
        fresh = await directTurn(model.url, d.cwd, d.cfg, 'hello');
        add('firstCold', 'floor', fresh.firstToken);
      },
      flip,
    );
    // Warm-pool create → first token (the session can take a turn), vs a fresh query().
    await waitFor(async () => (await hot.client.health()).pool.warm >= 1, 120_000);
    const d2 = directDirs(work, `fresh2-${i}`);
    let resumable;
    await pair(
      'createWarm',
      async () => {
        const t0 = now();
        const s = await hot.client.sessions.create('bench');
        add('createWarmDb', 'ash', now() - t0);
        add('createWarm', 'ash', (await ashTurn(hot.client, s.id, 'hello', t0)).firstToken);
        resumable = s.id;
      },
      async () =>
        add('createWarm', 'floor', (await directTurn(model.url, d2.cwd, d2.cfg, 'hello')).firstToken),
      flip,
    );
    // Resume of a paused session → first token of its next turn, vs a fresh query() resuming its transcript.
    await hot.client.sessions.pause(resumable);
    await pair(
      'resume',
      async () => {
        const t0 = now();
        await hot.client.http.request('POST', `/api/sessions/${resumable}/resume`);
        add('resumeDb', 'ash', now() - t0);
        const r = await ashTurn(hot.client, resumable, 'again', t0);
        add('resume', 'ash', r.firstToken);
        // The turn after a resume starts the sandbox: its stream must open at once all the same.
        add('firstByteStarting', 'ash', r.firstByte);
      },
      async () =>
        add(
          'resume',
          'floor',
          (await directTurn(model.url, d.cwd, d.cfg, 'again', fresh.sessionId)).firstToken,
        ),
      flip,
    );
    await hot.client.sessions.end(resumable);
    // `ash serve` → healthy (no floor: target ≤ 1 s on an idle machine): after the servers above
    // refilled their warm pools, once the machine's CPU is idle.
    await waitFor(async () => (await hot.client.health()).pool.warm >= 1, 120_000);
    m.serveIdle = [...(m.serveIdle ?? []), await waitForIdleCpu({ maxMs: IDLE_WAIT_MS })];
    load('serve');
    add('serve', 'ash', await serveToHealthy(model.url));
    process.stdout.write(`round ${i + 1}/${N} done (load ${loadavg()[0].toFixed(2)})\n`);
  }
  floor.close();
  results.m = m;
  results.deltas = deltas;
  // Memory: an idle live session (its processes and their RSS), then paused.
  const s = await cold.client.sessions.create('bench');
  await ashTurn(cold.client, s.id, 'hello');
  await new Promise((r) => setTimeout(r, 1000));
  const pids = processesOf(s.id, cold.proc.child.pid);
  results.memory = {
    activeProcesses: pids.length,
    activeRssMb: pids.reduce((n, p) => n + rssOf(p), 0) / 1024 / 1024,
    activePssMb: pids.reduce((n, p) => n + pssOf(p), 0) / 1024 / 1024,
    // Each process: its name and PSS, MB (node = the bridge).
    split: pids.map((p) => `${commOf(p)} ${(pssOf(p) / 1024 / 1024).toFixed(0)}`).join(', '),
  };
  await cold.client.sessions.pause(s.id);
  await waitFor(async () => processesOf(s.id, cold.proc.child.pid).length === 0, 20_000);
  results.memory.pausedProcesses = processesOf(s.id, cold.proc.child.pid).length;
}

/** A process's command name ('' when gone). */
function commOf(pid) {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

/** Proportional set size of a process, bytes (shared pages divided among their users). */
function pssOf(pid) {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** A difference with its sign: +1.2 / −3.4. */
const signed = (x) => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(1)}`;

const loadText = (xs) =>
  xs.length
    ? `${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)} (mean ${(xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(1)})`
    : '';

/** Idle fractions as percentages: min–max. */
const idleText = (xs) =>
  xs?.length ? `${(Math.min(...xs) * 100).toFixed(0)}–${(Math.max(...xs) * 100).toFixed(0)}%` : '';

function report(r) {
  const date = new Date().toISOString().slice(0, 10);
  if (ONLY === 'checkpoint')
    return writeReport([
      `# Benchmark ${date} (checkpoint)`,
      '',
      machineLine(),
      '',
      ...checkpointLines(r.checkpoint),
      ...objectCheckpointLines(r.objects),
    ]);
  if (ONLY === 'burst')
    return writeReport([`# Benchmark ${date} (burst)`, '', machineLine(), '', ...burstLines(r.burst)]);
  const check = (ok) => (ok ? 'met' : '**NOT met**');
  const { m, deltas } = r;
  const row = (label, key, target, ok) => {
    const a = summary(m[key].ash);
    const f = summary(m[key].floor);
    const ratio = a.p50 / f.p50;
    return `| ${label} | ${ms(a.p50)} / ${ms(a.p95)} | ${ms(f.p50)} / ${ms(f.p95)} | ${ratio.toFixed(2)}x | ${target} | ${check(ok(ratio, a, f))} | ${loadText(m[key].loads)} |`;
  };
  const da = summary(deltas.ash);
  const df = summary(deltas.floor);
  const serve = summary(m.serve.ash);
  const lines = [
    `# Benchmark ${date}`,
    '',
    machineLine(),
    `Command: \`npm run bench\` (BENCH_N=${N} rounds, BENCH_DELTAS=${DELTAS}, BENCH_DELTA_MS=${DELTA_MS}, BENCH_BURST_ROUNDS=${BURST_ROUNDS}). Model: the scripted Messages API server on loopback; every answer is ${DELTAS} text deltas ${DELTA_MS} ms apart, each stamped with its write time. The real Agent SDK and Claude process throughout. Each round runs every Ash measure beside its floor, alternating which goes first; "load" is the 1-minute load average at the start of each pair (min–max, mean).`,
    '',
    '| measure (first token unless said) | Ash p50 / p95 | floor p50 / p95 | ratio (p50) | target | | load |',
    '|---|---|---|---|---|---|---|',
    row('later turn: live session vs SDK streaming-input query()', 'later', '≤ 1.1x', (x) => x <= 1.1),
    row(
      'first turn, no warm pool: POST /api/sessions → first token vs fresh query()',
      'firstCold',
      '≤ 1.1x',
      (x) => x <= 1.1,
    ),
    row(
      'warm-pool create → first token of the first turn vs fresh query()',
      'createWarm',
      '≤ 1.1x',
      (x) => x <= 1.1,
    ),
    row(
      'resume (paused) → first token of the next turn vs fresh query() resuming',
      'resume',
      '≤ 1.1x',
      (x) => x <= 1.1,
    ),
    `| per-delta latency model → client (Ash SSE client vs streaming query()'s stream_event) | ${ms(da.p50)} / ${ms(da.p95)} | ${ms(df.p50)} / ${ms(df.p95)} | ${signed(da.p50 - df.p50)} ms p50, ${signed(da.p95 - df.p95)} ms p95 | p50 ≤ floor + 3 ms, p95 ≤ floor + 15 ms | ${check(da.p50 <= df.p50 + 3 && da.p95 <= df.p95 + 15)} | ${loadText(m.later.loads)} |`,
    `| first SSE frame of a turn (headers + \`session_start\`), live sandbox / sandbox starting (after a resume) | ${ms(summary(m.firstByteLive.ash).p50)} / ${ms(summary(m.firstByteStarting.ash).p50)} (p50) | | | p50 ≤ 20 ms either way | ${check(summary(m.firstByteLive.ash).p50 <= 20 && summary(m.firstByteStarting.ash).p50 <= 20)} | ${loadText(m.resume.loads)} |`,
    `| \`ash serve\` → /health 200 | ${ms(serve.p50)} / ${ms(serve.p95)} | | | p50 ≤ 1000 ms (idle machine) | ${check(serve.p50 <= 1000)} | ${loadText(m.serve.loads)}; CPU idle before each start ${idleText(m.serveIdle)} |`,
    '',
    `Only the database write, for reference: warm-pool POST /api/sessions p50 ${ms(summary(m.createWarmDb.ash).p50)}, POST …/resume p50 ${ms(summary(m.resumeDb.ash).p50)}. Deltas measured: Ash ${da.n}, floor ${df.n}.`,
    '',
    `Memory: an idle live session runs ${r.memory.activeProcesses} processes using ${r.memory.activePssMb.toFixed(0)} MB PSS (${r.memory.split}; ${r.memory.activeRssMb.toFixed(0)} MB RSS) (target ≤ 60 MB PSS, ≤ 2 processes: ${check(r.memory.activePssMb <= 60 && r.memory.activeProcesses <= 2)}); a paused session runs ${r.memory.pausedProcesses}.`,
    '',
    ...(r.burst ? burstLines(r.burst) : []),
    ...(r.checkpoint ? checkpointLines(r.checkpoint) : []),
    ...(r.objects ? objectCheckpointLines(r.objects) : []),
  ];
  writeReport(lines);
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
  const dir = REPORT_DIR ?? join(ROOT, 'docs', 'benchmarks');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${date}.md`), text);
  process.stdout.write(`written to ${join(dir, `${date}.md`)}\n`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
