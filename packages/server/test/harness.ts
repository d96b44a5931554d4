import { appendFileSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { ScriptedModel, TEST_API_KEY, removeDir, serverEnv, tempDir } from '@ash-ai/testing';
import { SseDecoder, type StreamEvent } from '@ash-ai/shared';
import { createAshServer, loadConfig, type AshServer } from '../src/index.js';

/** A server running in this process (real sandboxes, real database) against a scripted model. */
export interface TestServer {
  url: string;
  server: AshServer;
  model: ScriptedModel;
  dataDir: string;
  /** Every log line the server wrote. */
  logs(): string;
  close(): Promise<void>;
}

/**
 * Starts a server on a free port with its own data dir. `env` overrides ASH_* variables. With
 * `dataDir`, the server uses that one (a restart) and `close()` leaves it in place.
 */
export async function startTestServer(
  opts: { env?: Record<string, string>; model?: ScriptedModel; dataDir?: string } = {},
): Promise<TestServer> {
  const model = opts.model ?? (await ScriptedModel.start());
  // A given data dir is the caller's (kept on close: restart tests reuse it).
  const dataDir = opts.dataDir ?? tempDir('ash-srv-');
  let logText = '';
  // ASH_TEST_LOG_DIR=dir: the log is also written to dir/server-<time>.log (debugging).
  const logFile = process.env.ASH_TEST_LOG_DIR
    ? join(process.env.ASH_TEST_LOG_DIR, `server-${Date.now()}-${process.pid}.log`)
    : undefined;
  const destination = new Writable({
    write(chunk, _enc, cb) {
      logText += chunk.toString();
      if (logFile) appendFileSync(logFile, chunk);
      cb();
    },
  });
  const config = loadConfig(
    serverEnv({
      dataDir,
      modelUrl: model.url,
      extra: { ASH_LOG_LEVEL: 'debug', ASH_PREWARM_COUNT: '0', ...opts.env },
    }),
  );
  const server = await createAshServer(config, { logDestination: destination });
  const url = await server.listen();
  return {
    url,
    server,
    model,
    dataDir,
    logs: () => logText,
    async close() {
      await server.close();
      if (!opts.model) await model.close();
      if (!opts.dataDir) removeDir(dataDir);
    },
  };
}

export { TEST_API_KEY };

/** `Authorization` header value for a key. */
export const bearer = (key: string) => `Bearer ${key}`;

/** Headers of an authenticated request with the test key. */
export const AUTH = { authorization: bearer(TEST_API_KEY) };

/** Base64 of bytes or a UTF-8 string (file and attachment uploads). */
export const b64 = (b: Buffer | string): string => Buffer.from(b).toString('base64');

/**
 * JSON request helper: resolves to status, parsed body and headers. Authenticates with
 * {@link TEST_API_KEY} unless `headers.authorization` is given (an empty string sends none).
 */
export async function api(
  url: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any; headers: Headers; text: string }> {
  const h: Record<string, string> = { authorization: bearer(TEST_API_KEY), ...headers };
  if (h.authorization === '') delete h.authorization;
  const res = await fetch(url + path, {
    method,
    headers: body !== undefined ? { 'content-type': 'application/json', ...h } : h,
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.status, body: parsed, headers: res.headers, text };
}

/** Sends a message and reads the whole SSE stream: the raw text and the decoded events. */
export async function sendTurn(
  url: string,
  sessionId: string,
  body: Record<string, unknown>,
  key = TEST_API_KEY,
): Promise<{ status: number; raw: string; events: StreamEvent[]; headers: Headers }> {
  const res = await fetch(`${url}/api/sessions/${sessionId}/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: bearer(key) },
    body: JSON.stringify(body),
  });
  const raw = await res.text();
  const events = new SseDecoder()
    .push(raw)
    .map((f) => ({ id: Number(f.id), event: f.event, data: JSON.parse(f.data) }) as StreamEvent);
  return { status: res.status, raw, events, headers: res.headers };
}

/** Deploys an agent from in-memory files. */
export async function deployAgent(
  url: string,
  name: string,
  files: Record<string, string>,
  extra: Record<string, unknown> = {},
  key = TEST_API_KEY,
) {
  const r = await api(
    url,
    'POST',
    '/api/agents',
    {
      name,
      files: Object.entries(files).map(([path, content]) => ({
        path,
        content: Buffer.from(content).toString('base64'),
      })),
      ...extra,
    },
    { authorization: bearer(key) },
  );
  // 200: a redeploy identical to the current version (nothing published).
  if (r.status !== 201 && r.status !== 200) throw new Error(`deploy failed: ${r.status} ${r.text}`);
  return r.body.agent;
}

export async function createSession(
  url: string,
  agent: string,
  extra: Record<string, unknown> = {},
  key = TEST_API_KEY,
): Promise<string> {
  const r = await api(url, 'POST', '/api/sessions', { agent, ...extra }, { authorization: bearer(key) });
  if (r.status !== 201) throw new Error(`create session failed: ${r.status} ${r.text}`);
  return r.body.session.id as string;
}

/**
 * What is left of a session's sandbox on the host: processes that mention its id (command line,
 * environment or cgroup), cgroup directories and runtime directories named after it.
 */
export function sandboxLeftovers(sessionId: string): {
  processes: number[];
  cgroups: string[];
  runtimeDirs: string[];
} {
  const processes: number[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    if (Number(pid) === process.pid) continue;
    try {
      const text = ['cmdline', 'environ', 'cgroup']
        .map((f) => readFileSync(`/proc/${pid}/${f}`, 'utf8'))
        .join('\n');
      if (text.includes(sessionId)) processes.push(Number(pid));
    } catch {
      // gone, or a kernel thread
    }
  }
  const cgroups: string[] = [];
  const walk = (dir: string, depth: number) => {
    if (depth > 6) return;
    let entries: import('node:fs').Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      const p = `${dir}/${e.name}`;
      if (e.name === sessionId || e.name.startsWith(`${sessionId}.`)) cgroups.push(p);
      else walk(p, depth + 1);
    }
  };
  walk('/sys/fs/cgroup', 0);
  const runtimeDirs: string[] = [];
  for (const d of readdirSync(tmpdir()).filter((n) => n.startsWith('ash-'))) {
    try {
      for (const e of readdirSync(join(tmpdir(), d)))
        if (e.startsWith(sessionId)) runtimeDirs.push(join(tmpdir(), d, e));
    } catch {
      // not a directory
    }
  }
  return { processes, cgroups, runtimeDirs };
}

/** Polls `fn` until it returns true (or throws after `timeoutMs`). */
export async function eventually(
  fn: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Pids of the bridge process of a session: the parent of its sandboxed processes. */
export function bridgePids(sessionId: string): number[] {
  const out = new Set<number>();
  for (const pid of sandboxLeftovers(sessionId).processes) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (readFileSync(`/proc/${ppid}/cmdline`, 'utf8').includes('bridge/dist/main.js')) out.add(ppid);
    } catch {
      // gone
    }
  }
  return [...out];
}

/** Asserts how a streamed turn ended; the failure message shows the turn's error, if any. */
export function expectOutcome(
  turn: { events: StreamEvent[] },
  outcome: 'completed' | 'error' | 'interrupted',
): void {
  const done = turn.events.at(-1);
  const actual =
    done?.event === 'done' ? (done.data as { outcome: string }).outcome : `no done (last: ${done?.event})`;
  if (actual !== outcome) {
    const errors = turn.events.filter((e) => e.event === 'error').map((e) => JSON.stringify(e.data));
    throw new Error(
      `expected the turn to end ${outcome}, it ended ${actual}; errors: ${errors.join(' ') || 'none'}`,
    );
  }
}

/**
 * Regular files under `dir`, recursively (what a secret scan reads); files of `maxBytes` or more
 * are left out (default: none). Unreadable entries are skipped.
 */
export function filesUnder(dir: string, maxBytes = Number.POSITIVE_INFINITY): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    let names: string[] = [];
    try {
      names = readdirSync(d);
    } catch {
      return;
    }
    for (const n of names) {
      const p = join(d, n);
      try {
        const st = statSync(p, { throwIfNoEntry: false });
        if (st?.isDirectory()) walk(p);
        else if (st?.isFile() && st.size < maxBytes) out.push(p);
      } catch {
        // unreadable
      }
    }
  };
  walk(dir);
  return out;
}
