#!/usr/bin/env node
// A sandbox start phase by phase, for a new session (no warm pool) and for a paused session's
// resume, on two builds side by side (A/B, alternating which goes first each round) and the floor
// (a fresh query(), or one resuming), from one process with the load printed:
//   POST → sandbox_starting → sandbox_ready → the first model request reaches the model → first
//   text_delta, plus the server's own debug timings of the start (slot + start gate, prepare =
//   claim/spec, disk image, /etc, model proxy, cgroup, launch, bridge) when the build logs them.
//
//   BOOT_A=/work/wt/cand BOOT_B=. BOOT_N=6 node bench/boot-phases.mjs
// BOOT_A / BOOT_B: checkouts whose packages/server/dist/main.js is started (default: this one for
// both). BOOT_GAP_MS: pause between measurements (default 3000: the spare bridge is back).
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { query } from '@anthropic-ai/claude-agent-sdk';
import { AshClient } from '@ash-ai/sdk';
import { ScriptedModel, TEST_API_KEY, serverEnv } from '@ash-ai/testing';

import { floorOptions } from './floor.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const N = Number(process.env.BOOT_N ?? 6);
const GAP_MS = Number(process.env.BOOT_GAP_MS ?? 3000);
const SIDES = {
  A: resolve(process.env.BOOT_A ?? ROOT),
  B: resolve(process.env.BOOT_B ?? ROOT),
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const med = (xs) => {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  return v.length ? v[Math.floor(v.length / 2)] : Number.NaN;
};

/** Starts `<checkout>/packages/server/dist/main.js`; resolves with its URL and output. */
async function startServer(checkout, env) {
  const child = spawn(process.execPath, [join(checkout, 'packages/server/dist/main.js')], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const url = await new Promise((res, rej) => {
    const t = setInterval(() => {
      const m = /"address":"(http:\/\/[^"]+)"/.exec(out);
      if (m) {
        clearInterval(t);
        res(m[1]);
      }
    }, 20);
    child.once('exit', () => {
      clearInterval(t);
      rej(new Error(`server exited:\n${out}`));
    });
  });
  return {
    url,
    output: () => out,
    stop: () =>
      new Promise((r) => {
        child.once('exit', r);
        child.kill('SIGTERM');
      }),
  };
}

/** Server debug lines from `from` on, parsed. */
function logLines(server, from) {
  const out = [];
  for (const line of server.output().slice(from).split('\n')) {
    try {
      out.push(JSON.parse(line));
    } catch {
      // not JSON
    }
  }
  return out;
}

/** The first Messages API request that arrived at or after `t0` (wall clock), ms after t0. */
function firstModelRequest(model, t0) {
  const r = model.requests.find(
    (q) => q.method === 'POST' && q.path.startsWith('/v1/messages') && q.at >= t0,
  );
  return r ? r.at - t0 : undefined;
}

/** One Ash start: `begin()` (create or resume), then a turn; marks in ms since t0 (wall clock). */
async function ashStart(server, client, model, begin, prompt) {
  const from = server.output().length;
  const t0 = Date.now();
  const id = await begin();
  const http = Date.now() - t0;
  const marks = { http };
  for await (const ev of client.sessions.send(id, prompt)) {
    marks.firstFrame ??= Date.now() - t0;
    if (ev.event === 'sandbox_starting') marks.starting ??= Date.now() - t0;
    if (ev.event === 'sandbox_ready') marks.ready ??= Date.now() - t0;
    if (ev.event === 'text_delta') marks.first ??= Date.now() - t0;
  }
  marks.model = firstModelRequest(model, t0);
  await sleep(100);
  for (const j of logLines(server, from)) {
    if (j.msg === 'session sandbox started' && j.sessionId === id) {
      marks.slotAndGate = j.slotAndGateMs;
      marks.prepare = j.prepareMs;
      marks.start = j.startMs;
    }
    if (j.msg === 'sandbox started' && j.sandboxId === id && j.phases)
      for (const [k, v] of Object.entries(j.phases)) marks[`m.${k}`] = v;
  }
  return { id, marks };
}

/** The floor: a fresh query() (resuming `resume` when given); marks in ms since the call. */
async function floorTurn(modelUrl, model, cwd, cfg, prompt, resume) {
  const t0 = Date.now();
  const marks = {};
  let sessionId;
  const q = query({
    prompt,
    options: floorOptions(modelUrl, cwd, cfg, resume ? { resume } : {}),
  });
  for await (const m of q) {
    sessionId ??= m.session_id;
    if (marks.first === undefined && m.type === 'stream_event' && m.event?.type === 'content_block_delta')
      marks.first = Date.now() - t0;
  }
  marks.model = firstModelRequest(model, t0);
  return { sessionId, marks };
}

async function main() {
  const model = await ScriptedModel.start();
  const work = mkdtempSync(join(tmpdir(), 'ash-boot-'));
  const servers = {};
  const clients = {};
  const results = { create: {}, resume: {} };
  const loads = [];
  const add = (kind, side, marks) => {
    results[kind][side] ??= [];
    results[kind][side].push(marks);
  };
  try {
    for (const [side, checkout] of Object.entries(SIDES)) {
      servers[side] = await startServer(
        checkout,
        serverEnv({
          dataDir: join(work, `data-${side}`),
          modelUrl: model.url,
          extra: { ASH_PREWARM_COUNT: '0', ASH_IDLE_TIMEOUT_MS: '3600000', ASH_LOG_LEVEL: 'debug' },
        }),
      );
      clients[side] = new AshClient({ serverUrl: servers[side].url, apiKey: TEST_API_KEY });
      await clients[side].agents.deployDirectory('boot', join(ROOT, 'examples/hello'));
    }
    const cwd = join(work, 'floor', 'ws');
    const cfg = join(work, 'floor', 'cfg');
    mkdirSync(cwd, { recursive: true });
    mkdirSync(cfg, { recursive: true });
    writeFileSync(join(cwd, 'CLAUDE.md'), readFileSync(join(ROOT, 'examples/hello/CLAUDE.md')));
    // Warm-up (not measured): one start on each side and one fresh query().
    for (const side of Object.keys(SIDES)) {
      const c = clients[side];
      const s = await c.sessions.create('boot');
      for await (const _ of c.sessions.send(s.id, 'hello'));
      await c.sessions.end(s.id);
    }
    await floorTurn(model.url, model, cwd, cfg, 'hello');
    await sleep(GAP_MS);
    for (let i = 0; i < N; i++) {
      loads.push(loadavg()[0]);
      const order = i % 2 === 0 ? ['A', 'B', 'floor'] : ['floor', 'B', 'A'];
      const paused = {};
      let floorSession;
      for (const side of order) {
        if (side === 'floor') {
          const f = await floorTurn(model.url, model, cwd, cfg, 'hello');
          floorSession = f.sessionId;
          add('create', side, f.marks);
        } else {
          const c = clients[side];
          const r = await ashStart(
            servers[side],
            c,
            model,
            async () => (await c.sessions.create('boot')).id,
            'hello',
          );
          add('create', side, r.marks);
          await c.sessions.pause(r.id);
          paused[side] = r.id;
        }
        await sleep(GAP_MS);
      }
      for (const side of order) {
        if (side === 'floor') {
          add('resume', side, (await floorTurn(model.url, model, cwd, cfg, 'again', floorSession)).marks);
        } else {
          const c = clients[side];
          const id = paused[side];
          const r = await ashStart(
            servers[side],
            c,
            model,
            async () => {
              await c.http.request('POST', `/api/sessions/${id}/resume`);
              return id;
            },
            'again',
          );
          add('resume', side, r.marks);
          await c.sessions.end(id);
        }
        await sleep(GAP_MS);
      }
      process.stderr.write(`round ${i + 1}/${N} (load ${loadavg()[0].toFixed(2)})\n`);
    }
  } finally {
    for (const s of Object.values(servers)) await s.stop().catch(() => undefined);
    await model.close();
    rmSync(work, { recursive: true, force: true });
  }
  const out = [
    `Boot phases, ${new Date().toISOString()}: A = ${SIDES.A}, B = ${SIDES.B}, ${N} rounds (A, B, floor alternating order), gap ${GAP_MS} ms; 1-min load ${Math.min(...loads).toFixed(2)}–${Math.max(...loads).toFixed(2)}.`,
    "Medians in ms since the POST (Ash) or the query() call (floor); `m.*` are the sandbox manager's own step durations.",
    '',
  ];
  for (const kind of ['create', 'resume']) {
    const keys = new Set();
    for (const side of ['A', 'B', 'floor'])
      for (const m of results[kind][side] ?? []) for (const k of Object.keys(m)) keys.add(k);
    const order = [
      'http',
      'firstFrame',
      'starting',
      'slotAndGate',
      'prepare',
      'start',
      'ready',
      'model',
      'first',
    ];
    const sorted = [
      ...order.filter((k) => keys.has(k)),
      ...[...keys].filter((k) => !order.includes(k)).sort(),
    ];
    out.push(`### ${kind}`, '', '| mark | A | B | floor |', '|---|---|---|---|');
    for (const k of sorted) {
      const cell = (side) => {
        const xs = (results[kind][side] ?? []).map((m) => m[k]);
        const m = med(xs);
        return Number.isNaN(m)
          ? ''
          : `${m.toFixed(0)} (${xs.map((x) => (x === undefined ? '-' : Math.round(x))).join(' ')})`;
      };
      out.push(`| ${k} | ${cell('A')} | ${cell('B')} | ${cell('floor')} |`);
    }
    const ratio = (side) =>
      (med(results[kind][side].map((m) => m.first)) / med(results[kind].floor.map((m) => m.first))).toFixed(
        2,
      );
    out.push(`| **first token / floor** | ${ratio('A')}x | ${ratio('B')}x | |`, '');
  }
  process.stdout.write(`${out.join('\n')}\n`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
