#!/usr/bin/env node
// Where a paused session's next turn spends its time before the first token, phase by phase, next
// to the floor (a fresh query() resuming the same kind of transcript), interleaved, RESUME_N rounds:
//   POST /resume answered → SSE headers + session_start → sandbox_starting → sandbox_ready (the
//   sandbox is up: disk image, model proxy, cgroup, bridge) → first text_delta (Claude process
//   started inside bubblewrap, transcript resumed, model request). With RESUME_LOG=1 the server's
//   debug log lines of the last round are printed with their time since POST /resume.
//
//   node bench/resume-phases.mjs     RESUME_N=5 RESUME_LOG=1 RESUME_PREWARM=1
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { query } from '@anthropic-ai/claude-agent-sdk';
import { AshClient } from '@ash-ai/sdk';
import { ScriptedModel, TEST_API_KEY, serverEnv, startAshProcess } from '@ash-ai/testing';

import { floorOptions } from './floor.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const N = Number(process.env.RESUME_N ?? 5);
const now = () => performance.now();
const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** The floor: a fresh query() resuming `resume` (or starting), ms to the first text delta. */
async function floorTurn(modelUrl, cwd, cfg, prompt, resume) {
  const t0 = now();
  let first;
  let sessionId;
  const q = query({
    prompt,
    options: floorOptions(modelUrl, cwd, cfg, resume ? { resume } : {}),
  });
  for await (const m of q) {
    sessionId ??= m.session_id;
    if (first === undefined && m.type === 'stream_event' && m.event?.type === 'content_block_delta')
      first = now() - t0;
  }
  return { first, sessionId };
}

async function main() {
  const model = await ScriptedModel.start();
  const work = mkdtempSync(join(tmpdir(), 'ash-resume-'));
  const server = await startAshProcess(
    serverEnv({
      dataDir: join(work, 'data'),
      modelUrl: model.url,
      extra: {
        // RESUME_PREWARM=1: sessions come from a warm pool, which refills while the resume runs
        // (what `npm run bench` does: its resume follows a warm-pool create).
        ASH_PREWARM_COUNT: process.env.RESUME_PREWARM ?? '0',
        ASH_IDLE_TIMEOUT_MS: '3600000',
        ASH_LOG_LEVEL: process.env.RESUME_LOG ? 'debug' : 'info',
      },
    }),
    120_000,
  );
  const phases = {
    resumeHttp: [],
    firstFrame: [],
    starting: [],
    boot: [],
    claude: [],
    total: [],
    floor: [],
    load: [],
  };
  let logFrom = 0;
  let lastT0Wall = 0;
  try {
    const client = new AshClient({ serverUrl: server.url, apiKey: TEST_API_KEY });
    await client.agents.deployDirectory('resume', join(ROOT, 'examples/hello'));
    const cwd = join(work, 'floor', 'ws');
    const cfg = join(work, 'floor', 'cfg');
    mkdirSync(cwd, { recursive: true });
    mkdirSync(cfg, { recursive: true });
    writeFileSync(join(cwd, 'CLAUDE.md'), readFileSync(join(ROOT, 'examples/hello/CLAUDE.md')));
    const floorSession = (await floorTurn(model.url, cwd, cfg, 'hello')).sessionId;
    for (let i = 0; i < N; i++) {
      const s = await client.sessions.create('resume');
      for await (const _ of client.sessions.send(s.id, 'hello'));
      await client.sessions.pause(s.id);
      const ash = async () => {
        phases.load.push(loadavg()[0]);
        logFrom = server.output().length;
        lastT0Wall = Date.now();
        const t0 = now();
        await client.http.request('POST', `/api/sessions/${s.id}/resume`);
        phases.resumeHttp.push(now() - t0);
        const sent = now();
        let starting;
        let ready;
        let firstFrame;
        let first;
        for await (const ev of client.sessions.send(s.id, 'again')) {
          firstFrame ??= now() - sent;
          if (ev.event === 'sandbox_starting') starting ??= now() - t0;
          if (ev.event === 'sandbox_ready') ready ??= now() - t0;
          if (ev.event === 'text_delta') first ??= now() - t0;
        }
        phases.firstFrame.push(firstFrame);
        phases.starting.push(starting);
        phases.boot.push(ready - starting);
        phases.claude.push(first - ready);
        phases.total.push(first);
      };
      const floor = async () =>
        phases.floor.push((await floorTurn(model.url, cwd, cfg, 'again', floorSession)).first);
      if (i % 2 === 0) {
        await ash();
        await floor();
      } else {
        await floor();
        await ash();
      }
      await client.sessions.end(s.id);
      process.stderr.write(`round ${i + 1}/${N} (load ${loadavg()[0].toFixed(1)})\n`);
    }
  } finally {
    await server.stop().catch(() => undefined);
    await model.close();
    rmSync(work, { recursive: true, force: true });
  }
  const f = (xs) => `${med(xs).toFixed(0)} ms (${xs.map((x) => x.toFixed(0)).join(', ')})`;
  const out = [
    `Resume phases, ${new Date().toISOString()}, warm pool ${process.env.RESUME_PREWARM ?? '0'}, ${N} rounds interleaved with the floor; 1-min load ${Math.min(...phases.load).toFixed(1)}–${Math.max(...phases.load).toFixed(1)}. Median (samples):`,
    '',
    '| phase (from POST /resume) | median (samples) |',
    '|---|---|',
    `| POST /resume answered | ${f(phases.resumeHttp)} |`,
    `| next turn: first SSE frame after sending | ${f(phases.firstFrame)} |`,
    `| \`sandbox_starting\` received | ${f(phases.starting)} |`,
    `| sandbox boot: \`sandbox_starting\` → \`sandbox_ready\` | ${f(phases.boot)} |`,
    `| Claude: \`sandbox_ready\` → first text_delta (process start in bwrap, transcript resume, model) | ${f(phases.claude)} |`,
    `| **total: POST /resume → first text_delta** | ${f(phases.total)} |`,
    `| floor: fresh query() resuming → first delta | ${f(phases.floor)} |`,
    `| ratio (medians) | ${(med(phases.total) / med(phases.floor)).toFixed(2)}x |`,
    '',
  ];
  if (process.env.RESUME_LOG) {
    out.push('Server log of the last round (ms since POST /resume):', '', '```');
    for (const line of server.output().slice(logFrom).split('\n')) {
      try {
        const j = JSON.parse(line);
        out.push(`${String(j.time - lastT0Wall).padStart(6)} ${j.msg}`);
      } catch {
        // not JSON
      }
    }
    out.push('```', '');
  }
  process.stdout.write(`${out.join('\n')}\n`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
