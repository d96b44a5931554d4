#!/usr/bin/env node
// A/B of the later-turn first token between two builds of Ash (two checkouts), interleaved in one
// process against one scripted model, beside the floor (the Agent SDK's query() in streaming-input
// mode fed the next message). Each round runs one turn on each side, the order rotating, so a load
// change hits every side; the 1-minute load average is printed.
//
//   AB_A=/path/to/checkout-a AB_B=/path/to/checkout-b AB_N=16 node bench/later-turn-ab.mjs
//   (each checkout built; default B = this checkout)
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { floorOptions, messageQueue } from './floor.mjs';

const HERE = fileURLToPath(new URL('..', import.meta.url));
const A = process.env.AB_A;
const B = process.env.AB_B ?? HERE;
const N = Number(process.env.AB_N ?? 16);
const DELTAS = Number(process.env.AB_DELTAS ?? 3);
if (!A) throw new Error('set AB_A to the checkout to compare with');
const now = () => performance.now();
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

const here = await import(join(HERE, 'packages/testing/dist/index.js'));
const { AshClient } = await import(join(HERE, 'packages/sdk/dist/index.js'));
const { query } = await import(join(HERE, 'node_modules/@anthropic-ai/claude-agent-sdk/sdk.mjs'));
const model = await here.ScriptedModel.start();
model.onRequest(() => ({ slow: { deltas: DELTAS, intervalMs: 20, stamp: true } }));
const work = mkdtempSync(join(tmpdir(), 'ash-ab-'));

/** One Ash server of a checkout with one live session (its first two turns not measured). */
async function ashSide(name, tree) {
  const testing = await import(join(tree, 'packages/testing/dist/index.js'));
  const env = testing.serverEnv({
    dataDir: join(work, name),
    modelUrl: model.url,
    extra: { ASH_PREWARM_COUNT: '0', ASH_SPARE_BRIDGES: '0', ASH_IDLE_TIMEOUT_MS: '3600000' },
  });
  const proc = await testing.startAshProcess(env, 120_000);
  const client = new AshClient({ serverUrl: proc.url, apiKey: testing.TEST_API_KEY });
  await client.agents.deployDirectory('ab', join(tree, 'examples/hello'));
  const s = await client.sessions.create('ab');
  const turn = async (text) => {
    const t0 = now();
    let first;
    let frame;
    for await (const ev of client.sessions.send(s.id, text)) {
      frame ??= now() - t0;
      if (ev.event === 'text_delta') first ??= now() - t0;
      if (ev.event === 'done' && ev.data.outcome !== 'completed')
        throw new Error(`${name}: ${ev.data.outcome}`);
    }
    return { first, frame };
  };
  await turn('hello');
  await turn('again');
  return { name, turn, stop: () => proc.stop() };
}

/** The floor: one streaming-input query() for the whole run. */
function floorSide() {
  const cwd = join(work, 'floor', 'ws');
  const cfg = join(work, 'floor', 'cfg');
  mkdirSync(cwd, { recursive: true });
  mkdirSync(cfg, { recursive: true });
  writeFileSync(join(cwd, 'CLAUDE.md'), readFileSync(join(HERE, 'examples/hello/CLAUDE.md')));
  const { input, push } = messageQueue();
  const q = query({ prompt: input, options: floorOptions(model.url, cwd, cfg) });
  const it = q[Symbol.asyncIterator]();
  const turn = async (text) => {
    const t0 = now();
    push(text);
    let first;
    for (;;) {
      const { value: m, done } = await it.next();
      if (done) throw new Error('the streaming query ended');
      if (m.type === 'stream_event' && m.event?.type === 'content_block_delta') first ??= now() - t0;
      if (m.type === 'result') return { first };
    }
  };
  return { name: 'floor', turn, stop: async () => q.close?.() };
}

const sides = [await ashSide('A', A), await ashSide('B', B), floorSide()];
await sides[2].turn('hello');
const res = Object.fromEntries(sides.map((s) => [s.name, { first: [], frame: [] }]));
const loads = [];
try {
  for (let i = 0; i < N; i++) {
    loads.push(loadavg()[0]);
    const order = [0, 1, 2].map((k) => sides[(i + k) % 3]);
    for (const s of order) {
      const r = await s.turn(`turn ${i}`);
      res[s.name].first.push(r.first);
      if (r.frame !== undefined) res[s.name].frame.push(r.frame);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
} finally {
  for (const s of sides) await s.stop().catch(() => undefined);
  await model.close();
  rmSync(work, { recursive: true, force: true });
}
const f = res.floor.first;
const line = (name, label) => {
  const x = res[name].first;
  const fr = res[name].frame;
  return `| ${label} | ${pct(x, 50).toFixed(1)} / ${pct(x, 95).toFixed(1)} | ${(pct(x, 50) / pct(f, 50)).toFixed(2)}x | ${fr.length ? `${pct(fr, 50).toFixed(1)} ms` : '—'} |`;
};
console.log(
  [
    `Later turn, POST → first text token (ms), ${N} rounds interleaved (A, B, floor rotating), ${DELTAS} deltas 20 ms apart; 1-min load ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)} (mean ${(loads.reduce((a, b) => a + b, 0) / loads.length).toFixed(1)}).`,
    '',
    '| side | p50 / p95 | p50 vs floor | first SSE frame p50 |',
    '|---|---|---|---|',
    line('A', `A: ${A}`),
    line('B', `B: ${B}`),
    `| floor: SDK streaming-input query() | ${pct(f, 50).toFixed(1)} / ${pct(f, 95).toFixed(1)} | 1.00x | — |`,
  ].join('\n'),
);
