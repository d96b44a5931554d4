#!/usr/bin/env node
// Runners in other processes against honest floors, in one run (see bench/run.mjs for the method):
//
//   1. time to the first SSE event (and first text_delta) of a later turn on a live session: a
//      server whose sandboxes run on one `ash runner` process (ASH_LOCAL_RUNNER=off) vs the embedded
//      server (in-process runner), the same scripted model, A/B alternating per round;
//   2. event fan-out: two servers on one Postgres + S3 and one runner; per stamped delta, the
//      latency model → a subscriber streaming through the server that owns the session vs through
//      the other server (GET /api/sessions/:id/stream with Last-Event-ID), both opened at once;
//   3. placement: sessions created on a server with two runners; where each one lands (runnerId).
//
// The 1-minute load average is printed beside every ratio. Writes docs/benchmarks/<date>-runners.md.
//
//   node bench/runners.mjs [rounds]        (default 20; or BENCH_RUNNERS_ROUNDS)
//   BENCH_ONLY=runners npm run bench       (the same, as a step of the benchmark)
//   BENCH_RUNNERS_SESSIONS=100             sessions to place over 2 runners (each a real sandbox)
//   BENCH_RUNNERS_PLACE_BUDGET_S=180       stop creating sessions after this many seconds
//   BENCH_RUNNERS_ONLY=first               item 1 only, printed (no report written)
//   BENCH_RUNNERS_PROF_DIR=<dir>           item 1: CPU profiles of the remote server and its runner
//                                          (bench/cpu-profile.cjs), written there when they stop
import { execSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, freemem, hostname, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AshClient } from '@ash-ai/sdk';
import {
  ScriptedModel,
  TEST_API_KEY,
  freePort,
  deltaStampMs,
  deltaStampNow,
  removeDir,
  serverEnv,
  startAshProcess,
  startRunnerProcess,
  startTestS3,
  tempDir,
} from '@ash-ai/testing';
import { startThrowawayPostgres } from '@ash-ai/testing/postgres-server';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SECRET = 'bench-runner-link-secret-0000000001';
const SESSIONS = Number(process.env.BENCH_RUNNERS_SESSIONS ?? 100);
const PLACE_BUDGET_MS = Number(process.env.BENCH_RUNNERS_PLACE_BUDGET_S ?? 180) * 1000;
const FAN_DELTAS = 20;
const FAN_DELTA_MS = 30;

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const now = () => performance.now();
const f1 = (x) => (x === undefined ? 'n/a' : x.toFixed(1));
const loadText = (xs) =>
  xs.length
    ? `${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)} (mean ${(xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(2)})`
    : 'n/a';
const log = (s) => process.stdout.write(`${s}\n`);

async function waitFor(fn, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const runnersOk = async (client, n) =>
  ((await client.health()).runners ?? []).filter((r) => r.state === 'ok').length >= n;

const runnerEnv = (extra = {}) => ({
  ASH_INTERNAL_SECRET: SECRET,
  ASH_RUNNER_HEARTBEAT_MS: '1000',
  ASH_SPARE_BRIDGES: '0',
  ASH_MODEL_MAX_RETRIES: '0',
  ASH_LOG_LEVEL: 'info',
  ASH_SANDBOX_DISK_MB: '256',
  ASH_IDLE_TIMEOUT_MS: '3600000',
  ...extra,
});

/**
 * One turn: ms from sending to the first SSE event and to the first text_delta; the wall time
 * (deltaStampNow) it was sent at, and the first delta's model → client latency when stamped.
 */
async function turn(client, id, content) {
  const sentWall = deltaStampNow();
  const t0 = now();
  let firstEvent;
  let firstText;
  let deltaLatency;
  let error;
  for await (const ev of client.sessions.send(id, content)) {
    firstEvent ??= now() - t0;
    if (ev.event === 'text_delta' && firstText === undefined) {
      firstText = now() - t0;
      const at = deltaStampMs(ev.data.delta);
      if (at !== undefined) deltaLatency = deltaStampNow() - at;
    }
    if (ev.event === 'error') error = ev.data;
    if (ev.event === 'done' && ev.data.outcome !== 'completed')
      throw new Error(`turn ended ${ev.data.outcome}: ${JSON.stringify(error)}`);
  }
  return { firstEvent, firstText, sentWall, deltaLatency };
}

/** Everything a bench started, stopped in reverse order. */
class Stack {
  constructor() {
    this.items = [];
  }
  push(fn) {
    this.items.push(fn);
  }
  async close() {
    for (const fn of this.items.reverse()) await Promise.resolve(fn()).catch(() => undefined);
  }
}

async function deploy(client) {
  await client.agents.deployDirectory('bench', join(ROOT, 'examples/hello'));
}

/** 1: first SSE event of a later turn, remote runner vs embedded, alternating. */
async function firstEventBench(rounds, stack) {
  const model = await ScriptedModel.start();
  stack.push(() => model.close());
  // A short answer (4 deltas, stamped): the first delta's latency model → client is measured, and
  // when the turn's model request arrived (send → model request).
  let requestAt;
  model.onRequest((req) => {
    if (req.tools.length > 0) requestAt ??= deltaStampNow();
    return { slow: { deltas: 4, intervalMs: 1, stamp: true } };
  });
  const dirs = {
    embedded: tempDir('ash-rb-emb-'),
    remote: tempDir('ash-rb-rem-'),
    runner: tempDir('ash-rb-r1-'),
  };
  for (const d of Object.values(dirs)) stack.push(() => removeDir(d));
  const common = { ASH_PREWARM_COUNT: '0', ASH_IDLE_TIMEOUT_MS: '3600000', ASH_LOG_LEVEL: 'info' };
  const profDir = process.env.BENCH_RUNNERS_PROF_DIR;
  const prof = profDir
    ? { NODE_OPTIONS: `--require ${join(ROOT, 'bench/cpu-profile.cjs')}`, BENCH_CPU_PROFILE_DIR: profDir }
    : {};
  const emb = await startAshProcess(
    serverEnv({ dataDir: dirs.embedded, modelUrl: model.url, extra: common }),
    120_000,
  );
  stack.push(() => emb.stop());
  const rem = await startAshProcess(
    serverEnv({
      dataDir: dirs.remote,
      modelUrl: model.url,
      extra: {
        ...common,
        ASH_LOCAL_RUNNER: 'off',
        ASH_INTERNAL_SECRET: SECRET,
        ASH_RATE_LIMIT_MAX: '100000',
        ...prof,
      },
    }),
    120_000,
  );
  stack.push(() => rem.stop());
  const r1 = await startRunnerProcess({
    name: 'r1',
    coordinators: [rem.url],
    dataDir: dirs.runner,
    env: runnerEnv({ ASH_MAX_SANDBOXES: '128', ...prof }),
  });
  stack.push(() => r1.stop());
  const sides = {
    embedded: new AshClient({ serverUrl: emb.url, apiKey: TEST_API_KEY }),
    remote: new AshClient({ serverUrl: rem.url, apiKey: TEST_API_KEY }),
  };
  await waitFor(() => runnersOk(sides.remote, 1), 30_000, 'runner r1 registered');
  for (const c of Object.values(sides)) await deploy(c);
  const ids = {};
  for (const [k, c] of Object.entries(sides)) {
    ids[k] = (await c.sessions.create('bench')).id;
    // Warm-up: the first turn starts the sandbox; two more settle caches.
    for (let i = 0; i < 3; i++) await turn(c, ids[k], `warm ${i}`);
  }
  const side = () => ({ event: [], text: [], toModel: [], fromModel: [] });
  const m = { embedded: side(), remote: side(), loads: [] };
  for (let i = 0; i < rounds; i++) {
    m.loads.push(loadavg()[0]);
    const order = i % 2 ? ['remote', 'embedded'] : ['embedded', 'remote'];
    for (const k of order) {
      requestAt = undefined;
      const r = await turn(sides[k], ids[k], `turn ${i}`);
      m[k].event.push(r.firstEvent);
      m[k].text.push(r.firstText);
      if (requestAt !== undefined) m[k].toModel.push(requestAt - r.sentWall);
      if (r.deltaLatency !== undefined) m[k].fromModel.push(r.deltaLatency);
    }
  }
  return {
    m,
    rounds,
    server: rem,
    client: sides.remote,
    runnerDir: tempDir('ash-rb-r2-'),
    liveRemote: ids.remote,
    model,
  };
}

/** 2: per-delta fan-out latency through the owning server vs the other server. */
async function fanoutBench(rounds, stack) {
  // A Postgres of its own (durable settings, a free port): the shared one on 5432 is started and
  // stopped by test runs beside this one. BENCH_POSTGRES_URL=<url> uses that one instead.
  let dbUrl = process.env.BENCH_POSTGRES_URL;
  if (!dbUrl) {
    const pgServer = startThrowawayPostgres(await freePort(), { durable: true });
    stack.push(() => pgServer.stop());
    dbUrl = pgServer.url;
  }
  const s3 = await startTestS3();
  stack.push(() => s3.close());
  const model = await ScriptedModel.start();
  stack.push(() => model.close());
  model.onRequest(() => ({ slow: { deltas: FAN_DELTAS, intervalMs: FAN_DELTA_MS, stamp: true } }));
  const env = {
    ...s3.env,
    ASH_DATABASE_URL: dbUrl,
    ASH_LOCAL_RUNNER: 'off',
    ASH_INTERNAL_SECRET: SECRET,
    ASH_PREWARM_COUNT: '0',
    ASH_IDLE_TIMEOUT_MS: '3600000',
    ASH_LOG_LEVEL: 'info',
    ASH_RATE_LIMIT_MAX: '100000',
  };
  const servers = {};
  for (const name of ['a', 'b']) {
    const dataDir = tempDir(`ash-rb-fan-${name}-`);
    stack.push(() => removeDir(dataDir));
    const proc = await startAshProcess(serverEnv({ dataDir, modelUrl: model.url, extra: env }), 120_000);
    stack.push(() => proc.stop());
    servers[name] = { proc, client: new AshClient({ serverUrl: proc.url, apiKey: TEST_API_KEY }) };
  }
  const runnerDir = tempDir('ash-rb-fan-r-');
  stack.push(() => removeDir(runnerDir));
  const runner = await startRunnerProcess({
    name: 'fan-r1',
    coordinators: [servers.a.proc.url, servers.b.proc.url],
    dataDir: runnerDir,
    env: runnerEnv(),
  });
  stack.push(() => runner.stop());
  for (const s of Object.values(servers))
    await waitFor(() => runnersOk(s.client, 1), 30_000, 'runner listed');
  await deploy(servers.a.client);
  const id = (await servers.a.client.sessions.create('bench')).id;
  await turn(servers.a.client, id, 'warm 0');
  await turn(servers.a.client, id, 'warm 1');

  /** A subscriber: GET …/stream after `after`; per stamped delta written after `since`, its latency. */
  const subscribe = async (client, after, out) => {
    const lat = new Map();
    for await (const ev of client.sessions.stream(id, { after })) {
      if (ev.event === 'text_delta') {
        const at = deltaStampMs(ev.data.delta);
        if (at !== undefined) lat.set(at, deltaStampNow() - at);
      }
      if (ev.event === 'done') break;
    }
    out.lat = lat;
  };
  const diffs = [];
  const own = [];
  const other = [];
  const loads = [];
  for (let i = 0; i < rounds; i++) {
    loads.push(loadavg()[0]);
    const subs = { a: {}, b: {} };
    let opened;
    let openedAt;
    for await (const ev of servers.a.client.sessions.send(id, `fan ${i}`)) {
      if (!opened) {
        // Both subscribers join right after the turn's first event, in alternating order.
        const after = ev.id - 1;
        const order = i % 2 ? ['b', 'a'] : ['a', 'b'];
        opened = Promise.all(order.map((k) => subscribe(servers[k].client, after, subs[k])));
        openedAt = deltaStampNow();
      }
    }
    await opened;
    // Deltas written well after both joined (the live path, not the replay of what was stored).
    for (const [at, la] of subs.a.lat) {
      const lb = subs.b.lat.get(at);
      if (lb === undefined || at < openedAt + 2 * FAN_DELTA_MS) continue;
      own.push(la);
      other.push(lb);
      diffs.push(lb - la);
    }
  }
  return { own, other, diffs, loads, rounds, deltas: FAN_DELTAS, intervalMs: FAN_DELTA_MS };
}

/** 3: sessions placed over two runners of one server. */
async function placementBench(first, stack) {
  const { client, server, runnerDir } = first;
  stack.push(() => removeDir(runnerDir));
  // The item-1 session ends: both runners start empty.
  await client.sessions.end(first.liveRemote);
  const r2 = await startRunnerProcess({
    name: 'r2',
    coordinators: [server.url],
    dataDir: runnerDir,
    env: runnerEnv({ ASH_MAX_SANDBOXES: '128' }),
  });
  stack.push(() => r2.stop());
  await waitFor(() => runnersOk(client, 2), 30_000, 'two runners listed');
  const t0 = Date.now();
  const ids = [];
  const placed = new Map();
  let stopped = '';
  const BATCH = 4;
  while (ids.length < SESSIONS) {
    if (Date.now() - t0 > PLACE_BUDGET_MS) {
      stopped = `time budget (${PLACE_BUDGET_MS / 1000} s) reached`;
      break;
    }
    if (freemem() < 3 * 2 ** 30) {
      stopped = 'free memory below 3 GiB';
      break;
    }
    const batch = await Promise.all(
      Array.from({ length: Math.min(BATCH, SESSIONS - ids.length) }, async () => {
        const s = await client.sessions.create('bench');
        // Placement happens at the prewarm the create starts; a message makes it certain.
        await turn(client, s.id, 'hi');
        return s.id;
      }),
    );
    ids.push(...batch);
    if (ids.length % 20 === 0) log(`  placed ${ids.length} sessions (load ${loadavg()[0].toFixed(2)})`);
  }
  for (const id of ids) {
    const s = await client.sessions.get(id);
    const r = s.runnerId ?? 'none';
    placed.set(r, (placed.get(r) ?? 0) + 1);
  }
  const health = (await client.health()).runners.map((r) => ({ name: r.name, live: r.liveSessions }));
  return {
    asked: SESSIONS,
    created: ids.length,
    counts: Object.fromEntries(placed),
    health,
    stopped,
    seconds: (Date.now() - t0) / 1000,
    load: loadavg()[0],
    freeGiB: freemem() / 2 ** 30,
  };
}

/** Runs the three measures. */
export async function runnersBench(rounds = 20) {
  const stack = new Stack();
  try {
    log(`runners bench: ${rounds} rounds`);
    const first = await firstEventBench(rounds, stack);
    log(`first event: done (load ${loadavg()[0].toFixed(2)})`);
    if (process.env.BENCH_RUNNERS_ONLY === 'first') return { first: { m: first.m, rounds } };
    const fanout = await fanoutBench(rounds, stack);
    log(`fan-out: done (load ${loadavg()[0].toFixed(2)})`);
    const placement = await placementBench(first, stack);
    log(`placement: done (load ${loadavg()[0].toFixed(2)})`);
    return { first: { m: first.m, rounds }, fanout, placement };
  } finally {
    await stack.close();
  }
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

/** Item 1's table rows (remote vs embedded per measure); goal rows are pushed to `goals`. */
function firstRows(m, goals) {
  const check = (ok) => (ok ? 'met' : '**NOT met**');
  const row = (label, key, goal = true) => {
    const rem = m.remote[key];
    const emb = m.embedded[key];
    const ratio = pct(rem, 50) / pct(emb, 50);
    const added = pct(rem, 50) - pct(emb, 50);
    const ok = ratio <= 1.1 && added <= 5;
    if (goal) goals.push([label, ok]);
    return `| ${label} | ${f1(pct(rem, 50))} / ${f1(pct(rem, 95))} ms | ${f1(pct(emb, 50))} / ${f1(pct(emb, 95))} ms | ${ratio.toFixed(2)}x | ${added >= 0 ? '+' : ''}${added.toFixed(1)} ms | ${goal ? `≤ 1.1x and ≤ 5 ms | ${check(ok)}` : '(breakdown) |'} | ${loadText(m.loads)} |`;
  };
  return [
    '| measure | runner process p50 / p95 | embedded p50 / p95 | ratio (p50) | added (p50) | target | | load |',
    '|---|---|---|---|---|---|---|---|',
    row('send → first SSE event', 'event'),
    row('send → first text_delta', 'text'),
    row('… of which: send → the model receives the request', 'toModel', false),
    row('… of which: the model writes the first delta → client', 'fromModel', false),
  ];
}

/** Item 1 alone (BENCH_RUNNERS_ONLY=first). */
function firstLines(r) {
  return [`item 1, ${r.first.rounds} rounds:`, ...firstRows(r.first.m, [])];
}

/** The runners report (markdown lines). */
export function runnersLines(r) {
  const check = (ok) => (ok ? 'met' : '**NOT met**');
  const { m } = r.first;
  const goals = [];
  const fo = r.fanout;
  const dp50 = pct(fo.diffs, 50);
  const p = r.placement;
  const counts = Object.entries(p.counts)
    .map(([k, v]) => `${k}: ${v}`)
    .join(', ');
  const most = Math.max(...Object.values(p.counts));
  const limit = Math.floor(p.created * 0.55);
  return [
    `# Benchmark ${new Date().toISOString().slice(0, 10)} (runners in other processes)`,
    '',
    machineLine(),
    `Command: \`node bench/runners.mjs ${r.first.rounds}\` (= \`BENCH_ONLY=runners BENCH_RUNNERS_ROUNDS=${r.first.rounds} npm run bench\`). Real processes throughout: servers (\`ash-server\`), \`ash runner\`, bubblewrap sandboxes with the real Agent SDK and Claude process; the only stand-in is the scripted Messages API on loopback. "load" is the 1-minute load average at the start of each round (min–max, mean); the machine is shared with other work.`,
    '',
    `## 1. Time to first SSE event of a later turn (live session, ${r.first.rounds} rounds after 3 warm-up turns, A/B alternating)`,
    '',
    `Ash with its runner in another process (\`ASH_LOCAL_RUNNER=off\` + one \`ash runner\`, the NDJSON turn link) vs the floor: the embedded server (in-process runner), same scripted model (4 stamped deltas), SQLite. On the runner path a model request goes sandbox → the runner's model proxy → the coordinator's gateway → the model, and events come back bridge → runner → NDJSON → coordinator → SSE; on the embedded path sandbox → the server's model proxy → the model and bridge → server → SSE. The two breakdown rows locate the added time.`,
    '',
    ...firstRows(m, goals),
    '',
    `## 2. Event fan-out to a subscriber on another server (${fo.rounds} turns)`,
    '',
    `Two servers on one Postgres (the bench's own, durable settings) + S3 (s3rver), one runner registered with both; the session is created and sent through server A (its owner); B serves its \`/stream\` by forwarding the request to the owner (plugins/session-forwarding.ts). Each answer is ${fo.deltas} deltas ${fo.intervalMs} ms apart, each stamped by the model with its write time. Right after the turn's first event two subscribers join with \`GET /api/sessions/:id/stream\` + \`Last-Event-ID\` — one through A, one through B (alternating which opens first); per delta written after both joined, the latency model → subscriber on each, and B − A (the floor is the owning server's own stream).`,
    '',
    '| measure | p50 | p95 | n | target | | load |',
    '|---|---|---|---|---|---|---|',
    `| model → subscriber through A (owner) | ${f1(pct(fo.own, 50))} ms | ${f1(pct(fo.own, 95))} ms | ${fo.own.length} | floor | | ${loadText(fo.loads)} |`,
    `| model → subscriber through B (other server) | ${f1(pct(fo.other, 50))} ms | ${f1(pct(fo.other, 95))} ms | ${fo.other.length} | | | |`,
    `| added by B (per delta, B − A) | ${f1(dp50)} ms | ${f1(pct(fo.diffs, 95))} ms | ${fo.diffs.length} | p50 ≤ 10 ms | ${check(dp50 <= 10)} | ratio B/A p50 ${(pct(fo.other, 50) / pct(fo.own, 50)).toFixed(2)}x |`,
    '',
    '## 3. Placement over two runners',
    '',
    `${p.created} of ${p.asked} sessions created on a server with two runners (\`ASH_MAX_SANDBOXES=128\` each), ${4} at a time, each sent one message (a real sandbox each, kept live); then each session's \`runnerId\` read back.${p.created < p.asked ? ` Stopped early: ${p.stopped}.` : ''} ${p.seconds.toFixed(0)} s, load ${p.load.toFixed(2)} at the end, ${p.freeGiB.toFixed(1)} GiB free.`,
    '',
    '| sessions | per runner | /health live sessions | most on one runner | target | |',
    '|---|---|---|---|---|---|',
    `| ${p.created} | ${counts} | ${p.health.map((h) => `${h.name}: ${h.live}`).join(', ')} | ${most} | ≤ 55 of 100 (≤ ${limit} of ${p.created}) | ${check(most <= limit)} |`,
    '',
    '## Goals',
    '',
    ...goals.map(([label, ok]) => `- 1. ${label}: p50 ≤ 1.1x and ≤ 5 ms added — ${check(ok)}.`),
    `- 2. fan-out to a subscriber on another server: p50 ≤ 10 ms added — ${check(dp50 <= 10)}.`,
    `- 3. ${p.created} sessions over 2 runners, neither more than 55%: ${check(most <= limit)}${p.created < p.asked ? ` (only ${p.created} of ${p.asked} fitted)` : ''}.`,
    '',
  ];
}

/** Runs the bench and writes docs/benchmarks/<date>-runners.md. */
export async function runnersMain(rounds) {
  const r = await runnersBench(rounds);
  if (!r.fanout) {
    log(firstLines(r).join('\n'));
    return;
  }
  const text = runnersLines(r).join('\n');
  log(text);
  const dir = join(ROOT, 'docs', 'benchmarks');
  mkdirSync(dir, { recursive: true });
  const file = `${new Date().toISOString().slice(0, 10)}-runners.md`;
  writeFileSync(join(dir, file), text);
  log(`written to docs/benchmarks/${file}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  runnersMain(Number(process.argv[2] ?? process.env.BENCH_RUNNERS_ROUNDS ?? 20)).then(
    () => process.exit(0),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
