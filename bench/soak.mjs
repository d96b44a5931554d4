#!/usr/bin/env node
// Soak: SOAK_SESSIONS live sessions × SOAK_TURNS turns each, every turn with a tool call (Bash in
// the sandbox), all sessions at once against one `ash-server` process and the scripted model.
// Reports errors, p50/p95 turn time, the server's RSS over the last turns (flat: ≤ 5% growth over
// the last 10 turns), and what is left after every session ended: processes, file descriptors of
// the server, cgroups. Exit code 1 when any check fails.
//
//   npm run soak                              (30 sessions × 20 turns)
//   SOAK_SESSIONS=6 SOAK_TURNS=12 npm run soak
import { readdirSync, readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AshClient } from '@ash-ai/sdk';
import { ScriptedModel, TEST_API_KEY, lastUserText, serverEnv, startAshProcess } from '@ash-ai/testing';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SESSIONS = Number(process.env.SOAK_SESSIONS ?? 30);
const TURNS = Number(process.env.SOAK_TURNS ?? 20);
const FLAT_WINDOW = Math.min(10, Math.max(1, TURNS - 1));

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const rssMb = (pid) => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
};
const fdCount = (pid) => readdirSync(`/proc/${pid}/fd`).length;

/** Processes whose command line, environment or cgroup names one of `ids`. */
function processesOf(ids) {
  const out = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    if (Number(pid) === process.pid) continue;
    try {
      const text = ['cmdline', 'environ', 'cgroup']
        .map((f) => readFileSync(`/proc/${pid}/${f}`, 'utf8'))
        .join('\n');
      if (ids.some((id) => text.includes(id))) out.push(Number(pid));
    } catch {
      // gone
    }
  }
  return out;
}

/** Cgroup directories named after one of `ids`. */
function cgroupsOf(ids) {
  const found = [];
  const walk = (dir, depth) => {
    if (depth > 6) return;
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      const p = `${dir}/${e.name}`;
      if (ids.some((id) => e.name === id || e.name.startsWith(`${id}.`))) found.push(p);
      else walk(p, depth + 1);
    }
  };
  walk('/sys/fs/cgroup', 0);
  return found;
}

async function main() {
  const model = await ScriptedModel.start();
  // Every turn: one Bash call in the sandbox, then a short answer ("Done." after the tool result).
  model.onRequest((rec) =>
    lastUserText(rec).startsWith('soak')
      ? { toolUse: { name: 'Bash', input: { command: 'echo soak; ls /' } } }
      : undefined,
  );
  const dataDir = mkdtempSync(join(tmpdir(), 'ash-soak-'));
  const server = await startAshProcess(
    serverEnv({
      dataDir,
      modelUrl: model.url,
      extra: {
        ASH_PREWARM_COUNT: '0',
        ASH_MAX_SANDBOXES: String(SESSIONS + 2),
        ASH_IDLE_TIMEOUT_MS: '3600000',
        ASH_START_QUEUE_MAX: String(SESSIONS * 2),
        ASH_START_QUEUE_TIMEOUT_MS: '1800000',
        ASH_TURN_IDLE_TIMEOUT_MS: '600000',
      },
    }),
    120_000,
  );
  const pid = server.child.pid;
  const client = new AshClient({ serverUrl: server.url, apiKey: TEST_API_KEY });
  await client.agents.deployDirectory('soak', join(ROOT, 'examples/hello'));
  const fdsBefore = fdCount(pid);
  const started = Date.now();
  const errors = [];
  const turnMs = [];
  const progress = new Array(SESSIONS).fill(0);
  /** Server RSS when the slowest session had finished k turns, k = 1..TURNS. */
  const rssAt = [];
  const ids = [];
  /** The server's V8 heap in use at the same points, MB (its /metrics), to tell garbage from growth. */
  const heapAt = [];
  const heapUsedMb = async () => {
    const text = await (
      await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${TEST_API_KEY}` } })
    ).text();
    const m = /^nodejs_heap_size_used_bytes (\d+(?:\.\d+)?)/m.exec(text);
    return m ? Number(m[1]) / 2 ** 20 : Number.NaN;
  };
  const sample = () => {
    const k = Math.min(...progress);
    while (rssAt.length < k) {
      rssAt.push(rssMb(pid));
      const at = heapAt.length;
      heapAt.push(Number.NaN);
      void heapUsedMb().then(
        (mb) => (heapAt[at] = mb),
        () => undefined,
      );
    }
  };
  const loadStart = loadavg()[0];
  try {
    await Promise.all(
      Array.from({ length: SESSIONS }, async (_, s) => {
        const session = await client.sessions.create('soak');
        ids.push(session.id);
        for (let t = 0; t < TURNS; t++) {
          const t0 = Date.now();
          let outcome;
          let tools = 0;
          try {
            for await (const ev of client.sessions.send(session.id, `soak ${s}.${t}`)) {
              if (ev.event === 'tool_result') tools++;
              if (ev.event === 'error') errors.push({ session: s, turn: t, error: ev.data });
              if (ev.event === 'done') outcome = ev.data.outcome;
            }
            if (outcome !== 'completed') errors.push({ session: s, turn: t, outcome });
            else if (tools < 1) errors.push({ session: s, turn: t, error: 'no tool call ran' });
          } catch (err) {
            errors.push({ session: s, turn: t, error: String(err) });
          }
          turnMs.push(Date.now() - t0);
          progress[s] = t + 1;
          sample();
        }
      }),
    );
    const loadEnd = loadavg()[0];
    for (const id of ids) await client.sessions.end(id);
    // Give the kernel a moment to reap what the ends stopped.
    await new Promise((r) => setTimeout(r, 2000));
    const leakedProcesses = processesOf(ids);
    const leakedCgroups = cgroupsOf(ids);
    const fdsAfter = fdCount(pid);
    const base = rssAt[rssAt.length - 1 - FLAT_WINDOW] ?? rssAt[0];
    const lastMax = Math.max(...rssAt.slice(-FLAT_WINDOW));
    const growth = (lastMax - base) / base;
    const checks = {
      noErrors: errors.length === 0,
      rssFlat: growth <= 0.05,
      noLeakedProcesses: leakedProcesses.length === 0,
      noLeakedCgroups: leakedCgroups.length === 0,
      // The server's own descriptors back where they were before the sessions (a little slack for
      // pooled keep-alive sockets and log handles).
      noLeakedFds: fdsAfter <= fdsBefore + 5,
    };
    const result = {
      sessions: SESSIONS,
      turnsPerSession: TURNS,
      turns: turnMs.length,
      errors: errors.length,
      firstErrors: errors.slice(0, 5),
      turnMs: { p50: pct(turnMs, 50), p95: pct(turnMs, 95), max: Math.max(...turnMs) },
      serverRssMb: rssAt.map((x) => Math.round(x)),
      serverHeapUsedMb: heapAt.map((x) => Math.round(x)),
      rssGrowthLastTurns: `${(growth * 100).toFixed(1)}% over the last ${FLAT_WINDOW} turns`,
      fds: { before: fdsBefore, after: fdsAfter },
      leakedProcesses,
      leakedCgroups,
      wallSeconds: Math.round((Date.now() - started) / 1000),
      load: { start: loadStart, end: loadEnd },
      checks,
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    process.exitCode = Object.values(checks).every(Boolean) ? 0 : 1;
  } finally {
    await server.stop().catch(() => undefined);
    await model.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
