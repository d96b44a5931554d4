#!/usr/bin/env node
// Where an idle live session's memory goes: every process an `ash-server` started (found as its
// descendants), each one's PSS from /proc/<pid>/smaps split by what is mapped (V8/Bun heap and
// other anonymous memory, the malloc heap, the node or claude executable, shared libraries, other
// files), with 1 and then 3 idle sessions so the pages the sessions share show up (PSS divides a
// shared page among its users; RSS does not).
//
// Then an experiment for the issue's idea "drive the SDK from the host and spawn only Claude inside
// bubblewrap": one node process (standing in for the server or runner) runs 1 and then 3 live
// streaming-input query() sessions whose Claude process it wraps in bwrap itself through the SDK's
// `spawnClaudeCodeProcess` (no bridge process); the host's own growth per session is measured too.
//
//   node bench/footprint.mjs            (needs bubblewrap, cgroups, root like the server)
//   FOOTPRINT_ONLY=host node bench/footprint.mjs   (only the host-driven experiment)
//   FOOTPRINT_ONLY=ash  node bench/footprint.mjs   (only the Ash sessions)
//   PROF15_BRIDGE_ARGS='--max-semi-space-size=1' …   (A/B of node flags on the bridge: passed to
//       ash-server; only a build whose sandbox manager was patched to read it passes it on)
//   FOOTPRINT_CLAUDE_ENV='{"K":"V"}'   (extra environment for Claude in the host-driven experiment)
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { query } from '@anthropic-ai/claude-agent-sdk';
import { AshClient } from '@ash-ai/sdk';
import { ScriptedModel, TEST_API_KEY, serverEnv, startAshProcess } from '@ash-ai/testing';

import { messageQueue } from './floor.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ONLY = process.env.FOOTPRINT_ONLY;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Parent pid of every process. */
function parents() {
  const out = new Map();
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(Number(pid), Number(rest[1]));
    } catch {
      // gone
    }
  }
  return out;
}

/** Every descendant of `root` (not itself). */
export function descendants(root) {
  const pp = parents();
  const out = [];
  const walk = (p) => {
    for (const [c, parent] of pp)
      if (parent === p) {
        out.push(c);
        walk(c);
      }
  };
  walk(root);
  return out;
}

/** What a mapping is, by its path. */
function kind(path) {
  if (!path) return 'anon';
  if (path === '[heap]') return 'malloc heap';
  if (path.startsWith('[stack')) return 'stack';
  if (path.startsWith('[')) return 'other';
  if (/\/node$/.test(path) || /\/nodejs\//.test(path)) return 'node binary';
  if (/\/claude( \(deleted\))?$/.test(path)) return 'claude binary';
  if (/\.so(\.[\d.]+)?( \(deleted\))?$/.test(path)) return 'shared libs';
  if (path.startsWith('/memfd:') || path.startsWith('/dev/shm')) return 'anon';
  return 'files';
}

/** One process's memory, kB: PSS and RSS, private and shared, and PSS by kind of mapping. */
export function memoryOf(pid) {
  let text;
  let comm;
  let cmd;
  try {
    text = readFileSync(`/proc/${pid}/smaps`, 'utf8');
    comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return undefined;
  }
  const r = { pid, comm, cmd, pss: 0, rss: 0, priv: 0, shared: 0, swap: 0, byKind: {} };
  let current = 'anon';
  for (const line of text.split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      current = kind(head[1]);
      continue;
    }
    const f = /^(\w+):\s+(\d+) kB/.exec(line);
    if (!f) continue;
    const v = Number(f[2]);
    if (f[1] === 'Pss') {
      r.pss += v;
      r.byKind[current] = (r.byKind[current] ?? 0) + v;
    } else if (f[1] === 'Rss') r.rss += v;
    else if (f[1] === 'Private_Clean' || f[1] === 'Private_Dirty') r.priv += v;
    else if (f[1] === 'Shared_Clean' || f[1] === 'Shared_Dirty') r.shared += v;
    else if (f[1] === 'Swap') r.swap += v;
  }
  return r;
}

/** A short role for a process of a sandbox. */
function role(m) {
  const c = m.cmd.join(' ');
  if (m.comm === 'bwrap') return 'bwrap';
  if (m.comm === 'claude' || /\/claude\b/.test(m.cmd[0] ?? '')) return 'claude';
  if (/bridge/.test(c)) return 'bridge (node)';
  if (m.comm === 'node') return 'node';
  return m.comm;
}

const KINDS = [
  'anon',
  'malloc heap',
  'node binary',
  'claude binary',
  'shared libs',
  'files',
  'stack',
  'other',
];
const mb = (kb) => (kb / 1024).toFixed(1);

function table(title, rows) {
  const lines = [
    `#### ${title}`,
    '',
    `| process | PSS MB | RSS MB | private MB | shared MB | ${KINDS.map((k) => `PSS ${k}`).join(' | ')} |`,
    `|---|---|---|---|---|${KINDS.map(() => '---').join('|')}|`,
  ];
  const total = { pss: 0, rss: 0, priv: 0, shared: 0, byKind: {} };
  for (const m of rows) {
    lines.push(
      `| ${m.label} | ${mb(m.pss)} | ${mb(m.rss)} | ${mb(m.priv)} | ${mb(m.shared)} | ${KINDS.map((k) => mb(m.byKind[k] ?? 0)).join(' | ')} |`,
    );
    for (const k of ['pss', 'rss', 'priv', 'shared']) total[k] += m[k];
    for (const k of KINDS) total.byKind[k] = (total.byKind[k] ?? 0) + (m.byKind[k] ?? 0);
  }
  lines.push(
    `| **total** | **${mb(total.pss)}** | ${mb(total.rss)} | ${mb(total.priv)} | ${mb(total.shared)} | ${KINDS.map((k) => mb(total.byKind[k] ?? 0)).join(' | ')} |`,
    '',
  );
  return { lines, total };
}

/** The processes of each session: the bridge whose config names it, and the tree under that bridge. */
function sessionGroups(serverPid) {
  const pp = parents();
  const kids = (p) => [...pp].filter(([, parent]) => parent === p).map(([c]) => c);
  const groups = [];
  for (const top of kids(serverPid)) {
    const tree = [top];
    for (let i = 0; i < tree.length; i++) tree.push(...kids(tree[i]));
    const ms = tree.map(memoryOf).filter(Boolean);
    for (const m of ms) m.label = `${role(m)} (pid ${m.pid})`;
    groups.push(ms);
  }
  return groups;
}

async function ashPart(out) {
  const model = await ScriptedModel.start();
  const work = mkdtempSync(join(tmpdir(), 'ash-footprint-'));
  const extra = {
    ASH_PREWARM_COUNT: '0',
    ASH_SPARE_BRIDGES: '0',
    ASH_IDLE_TIMEOUT_MS: '3600000',
    ASH_LOG_LEVEL: 'info',
  };
  // A/B of node flags on the bridge: only a build patched to read PROF15_BRIDGE_ARGS honours it.
  if (process.env.PROF15_BRIDGE_ARGS) extra.PROF15_BRIDGE_ARGS = process.env.PROF15_BRIDGE_ARGS;
  const server = await startAshProcess(
    serverEnv({ dataDir: join(work, 'data'), modelUrl: model.url, extra }),
    120_000,
  );
  try {
    const client = new AshClient({ serverUrl: server.url, apiKey: TEST_API_KEY });
    await client.agents.deployDirectory('fp', join(ROOT, 'examples/hello'));
    const turn = async (id) => {
      for await (const ev of client.sessions.send(id, 'hello'))
        if (ev.event === 'done' && ev.data.outcome !== 'completed')
          throw new Error(`turn ${ev.data.outcome}`);
    };
    const sessions = [];
    const measure = async (n) => {
      while (sessions.length < n) {
        const s = await client.sessions.create('fp');
        await turn(s.id);
        sessions.push(s.id);
      }
      await sleep(3000); // idle: the turn's garbage collected, nothing running
      const groups = sessionGroups(server.child.pid);
      const serverMem = memoryOf(server.child.pid);
      serverMem.label = `ash-server (pid ${server.child.pid})`;
      const perSession = groups.map((g) => g.reduce((a, m) => a + m.pss, 0));
      out.push(
        `### ${n} idle live session${n > 1 ? 's' : ''} (load ${loadavg()[0].toFixed(1)})`,
        '',
        `PSS per session (its whole tree): ${perSession.map((k) => `${mb(k)} MB`).join(', ')}; processes per session: ${groups.map((g) => g.length).join(', ')}.`,
        '',
      );
      out.push(...table(`session 1's processes, with ${n} live`, groups[0] ?? []).lines);
      out.push(...table('the server itself', [serverMem]).lines);
      return { perSession, groups, serverMem };
    };
    const one = await measure(1);
    const three = await measure(3);
    for (const id of sessions) await client.sessions.end(id);
    return { one, three };
  } finally {
    await server.stop().catch(() => undefined);
    await model.close();
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * The host-driven experiment, run in a child node process (so its own PSS is the host's):
 * `FOOTPRINT_CHILD=host` below.
 */
async function hostPart(out) {
  const model = await ScriptedModel.start();
  try {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url)], {
      env: { ...process.env, FOOTPRINT_CHILD: 'host', FOOTPRINT_MODEL_URL: model.url },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    let text = '';
    const results = [];
    child.stdout.on('data', (d) => {
      text += d;
      let i = text.indexOf('\n');
      while (i >= 0) {
        const line = text.slice(0, i);
        text = text.slice(i + 1);
        i = text.indexOf('\n');
        if (!line.startsWith('{')) continue;
        const msg = JSON.parse(line);
        const host = memoryOf(child.pid);
        host.label = `host node: SDK + ${msg.n} query() (pid ${child.pid})`;
        const tree = descendants(child.pid)
          .map(memoryOf)
          .filter(Boolean)
          .map((m) => ({ ...m, label: `${role(m)} (pid ${m.pid})` }));
        results.push({ n: msg.n, host, tree });
        child.stdin.write('\n');
      }
    });
    await new Promise((resolve, reject) => {
      child.once('exit', (code, sig) =>
        code === 0 ? resolve() : reject(new Error(`host experiment exited ${code ?? sig}`)),
      );
    });
    const base = results.find((r) => r.n === 0)?.host.pss ?? 0;
    for (const r of results) {
      const sandboxes = r.tree.reduce((a, m) => a + m.pss, 0);
      out.push(
        `### host-driven, ${r.n} live session${r.n === 1 ? '' : 's'} (load ${loadavg()[0].toFixed(1)})`,
        '',
        `Host growth over the SDK loaded with no session: ${mb(r.host.pss - base)} MB PSS (${r.n ? mb((r.host.pss - base) / r.n) : '0'} MB per session); sandboxes (bwrap + claude): ${mb(sandboxes)} MB PSS (${r.n ? mb(sandboxes / r.n) : '0'} MB per session), ${r.n ? r.tree.length / r.n : 0} processes per session.`,
        '',
        ...table(`host and its ${r.tree.length} sandbox processes`, [r.host, ...r.tree]).lines,
      );
    }
    return results;
  } finally {
    await model.close();
  }
}

/** Child: loads the SDK, reports, then runs 1 and 3 live bwrap-wrapped streaming sessions, reporting after each. */
async function hostChild() {
  const modelUrl = process.env.FOOTPRINT_MODEL_URL;
  const work = mkdtempSync(join(tmpdir(), 'ash-fp-host-'));
  let go;
  process.stdin.on('data', () => go?.());
  const report = async (n) => {
    await sleep(3000);
    const waited = new Promise((r) => {
      go = r;
    });
    process.stdout.write(`${JSON.stringify({ n })}\n`);
    await waited;
  };
  // Claude's binary, as the SDK finds it.
  const bin = join(ROOT, 'node_modules/@anthropic-ai/claude-agent-sdk-linux-x64/claude');
  const sessions = [];
  const start = async (i) => {
    const ws = join(work, `s${i}`, 'ws');
    const cfg = join(work, `s${i}`, 'cfg');
    mkdirSync(ws, { recursive: true });
    mkdirSync(cfg, { recursive: true });
    writeFileSync(join(ws, 'CLAUDE.md'), readFileSync(join(ROOT, 'examples/hello/CLAUDE.md')));
    const { input, push } = messageQueue();
    const q = query({
      prompt: input,
      options: {
        cwd: '/workspace',
        includePartialMessages: true,
        permissionMode: 'bypassPermissions',
        allowDangerouslySkipPermissions: true,
        settingSources: ['project'],
        pathToClaudeCodeExecutable: '/opt/claude/claude',
        env: {
          PATH: '/usr/bin:/bin',
          HOME: '/home/agent',
          CLAUDE_CONFIG_DIR: '/home/agent/.claude',
          ANTHROPIC_BASE_URL: modelUrl,
          ANTHROPIC_API_KEY: 'placeholder',
          CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
          IS_SANDBOX: '1',
          ...JSON.parse(process.env.FOOTPRINT_CLAUDE_ENV ?? '{}'),
        },
        // Only Claude inside bubblewrap: the host drives the SDK (network shared here only to reach the
        // scripted model on loopback; Ash uses a unix socket proxy instead).
        spawnClaudeCodeProcess: (o) =>
          spawn(
            '/usr/bin/bwrap',
            [
              ...[
                '--ro-bind',
                '/usr',
                '/usr',
                '--symlink',
                'usr/lib',
                '/lib',
                '--symlink',
                'usr/lib64',
                '/lib64',
              ],
              ...['--symlink', 'usr/bin', '/bin', '--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp'],
              ...[
                '--bind',
                ws,
                '/workspace',
                '--bind',
                cfg,
                '/home/agent/.claude',
                '--ro-bind',
                bin,
                '/opt/claude/claude',
              ],
              ...['--unshare-all', '--share-net', '--die-with-parent', '--new-session', '--clearenv'],
              ...Object.entries(o.env).flatMap(([k, v]) => (v === undefined ? [] : ['--setenv', k, v])),
              ...['--chdir', '/workspace', '--', o.command, ...o.args],
            ],
            { stdio: ['pipe', 'pipe', 'pipe'], signal: o.signal },
          ),
      },
    });
    const it = q[Symbol.asyncIterator]();
    const turn = async () => {
      push('hello');
      for (;;) {
        const { value, done } = await it.next();
        if (done) throw new Error('query ended');
        if (value.type === 'result') return;
      }
    };
    await turn();
    sessions.push(q);
  };
  await report(0);
  await start(0);
  await report(1);
  await start(1);
  await start(2);
  await report(3);
  for (const q of sessions) q.close();
  rmSync(work, { recursive: true, force: true });
  process.exit(0);
}

async function main() {
  if (process.env.FOOTPRINT_CHILD === 'host') return hostChild();
  const out = [
    `Footprint, ${new Date().toISOString()}, Node ${process.version}, load ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')}.`,
    '',
  ];
  if (ONLY !== 'host') await ashPart(out);
  if (ONLY !== 'ash') await hostPart(out);
  process.stdout.write(`${out.join('\n')}\n`);
}

// Run only as a script (bench/delta-path.mjs imports its helpers).
if (process.argv[1] === fileURLToPath(import.meta.url))
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
