import { createServer } from 'node:net';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Built entry points of the repo's executables (tests run them as real processes). */
export const ENTRIES = {
  cli: fileURLToPath(new URL('../../cli/dist/main.js', import.meta.url)),
  server: fileURLToPath(new URL('../../server/dist/main.js', import.meta.url)),
  runner: fileURLToPath(new URL('../../runner/dist/bin.js', import.meta.url)),
};

/** The repository root. */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** A fresh temporary directory; remove it with `rmSync(dir, {recursive:true})` or {@link removeDir}. */
export function tempDir(prefix = 'ash-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  // A server killed for good (never restarted) leaves its sandboxes' disks mounted in its data dir.
  unmountUnder(dir);
  rmSync(dir, { recursive: true, force: true });
}

/** Detaches every mount under `dir`, deepest first (root only; a no-op when there are none). */
function unmountUnder(dir: string): void {
  let lines: string[];
  try {
    lines = readFileSync('/proc/self/mountinfo', 'utf8').split('\n');
  } catch {
    return;
  }
  const prefix = `${dir.replace(/\/+$/, '')}/`;
  const points = lines
    .map((l) => l.split(' ')[4])
    .filter((p): p is string => p?.startsWith(prefix) === true)
    .sort((a, b) => b.length - a.length);
  for (const p of points) spawnSync('umount', ['-l', p], { stdio: 'ignore' });
}

/**
 * The API key servers under test accept (as `ASH_API_KEY`, a key of the `default` tenant) unless a
 * test overrides it. Test clients send it as `Authorization: Bearer <key>`.
 */
export const TEST_API_KEY = 'ash_test-key-for-the-test-suite-00001';

/**
 * Environment for a server under test: isolated data dir, scripted model, no retries, and
 * {@link TEST_API_KEY} as its `ASH_API_KEY` (pass `extra: { ASH_API_KEY: '' }` for a server
 * without one, e.g. to see the first-start key).
 */
export function serverEnv(opts: {
  dataDir: string;
  modelUrl: string;
  extra?: Record<string, string>;
}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/root',
    ASH_DATA_DIR: opts.dataDir,
    ASH_PORT: '0',
    ASH_HOST: '127.0.0.1',
    ANTHROPIC_BASE_URL: opts.modelUrl,
    ANTHROPIC_API_KEY: 'sk-ant-test-0123456789abcdef',
    ASH_MODEL_MAX_RETRIES: '0',
    ASH_LOG_LEVEL: 'info',
    ASH_API_KEY: TEST_API_KEY,
    ...opts.extra,
  };
}

/** A server running as a child process. */
export interface AshProcess {
  url: string;
  child: ChildProcess;
  /** Everything the process printed (stdout + stderr). */
  output(): string;
  /** SIGTERM and wait for exit. */
  stop(): Promise<void>;
  /** SIGKILL and wait for exit (a crash). */
  kill(): Promise<void>;
}

/**
 * Starts `ash-server` as a real process and waits for its "listening" log line. `node` is the
 * Node executable to run it with (default this process's).
 * @throws Error with the process output when it exits or takes longer than `timeoutMs`.
 */
export async function startAshProcess(
  env: Record<string, string>,
  timeoutMs = 30_000,
  node = process.execPath,
): Promise<AshProcess> {
  const child = spawn(node, [ENTRIES.server], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  return superviseChild(child, {
    label: 'server',
    logName: `server-${child.pid}.log`,
    ready: /"address":"(http:\/\/[^"]+)"/,
    readyOn: 'stdout',
    timeoutMs,
  });
}

/**
 * Collects a started child's output (also into ASH_TEST_LOG_DIR/`logName` when that is set, for
 * debugging) and waits until `ready` matches it; the first capture group is the URL. A child that
 * never gets ready is killed, not left running.
 * @throws Error with the process output when it exits or takes longer than `timeoutMs`.
 */
async function superviseChild(
  child: ChildProcess,
  opts: { label: string; logName: string; ready: RegExp; readyOn: 'stdout' | 'both'; timeoutMs: number },
): Promise<AshProcess> {
  let out = '';
  const logDir = process.env.ASH_TEST_LOG_DIR;
  const logFile = logDir ? join(logDir, opts.logName) : undefined;
  const collect = (d: Buffer) => {
    out += d.toString();
    if (logFile) appendFileSync(logFile, d);
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      reject(new Error(`${opts.label} did not start in ${opts.timeoutMs} ms:\n${out}`));
    }, opts.timeoutMs);
    const check = () => {
      const m = opts.ready.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout!.on('data', check);
    if (opts.readyOn === 'both') child.stderr!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${opts.label} exited with ${code}:\n${out}`));
    });
  });
  const wait = async () => {
    if (child.exitCode === null && child.signalCode === null) await exited;
  };
  return {
    url,
    child,
    output: () => out,
    async stop() {
      child.kill('SIGTERM');
      await wait();
    },
    async kill() {
      child.kill('SIGKILL');
      await wait();
    },
  };
}

/** A runner (`ash runner`) running as a child process. */
export interface RunnerProcess extends AshProcess {
  name: string;
  pid: number;
}

/**
 * Starts the runner's bin as a real process registered with `coordinators` and waits for its
 * ready line (`ash runner <name> listening on <url>`). `env` must hold ASH_INTERNAL_SECRET.
 * @throws Error with the process output when it exits or takes longer than `timeoutMs`.
 */
export async function startRunnerProcess(opts: {
  name: string;
  coordinators: string[];
  dataDir: string;
  env: Record<string, string>;
  labels?: Record<string, string>;
  /** More flags (e.g. `--tls-cert`, `--tls-key`). */
  args?: string[];
  timeoutMs?: number;
}): Promise<RunnerProcess> {
  const args = [
    ENTRIES.runner,
    '--coordinator',
    opts.coordinators.join(','),
    '--name',
    opts.name,
    '--port',
    '0',
    '--host',
    '127.0.0.1',
    '--data-dir',
    opts.dataDir,
  ];
  for (const [k, v] of Object.entries(opts.labels ?? {})) args.push('--label', `${k}=${v}`);
  args.push(...(opts.args ?? []));
  const child = spawn(process.execPath, args, {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const proc = await superviseChild(child, {
    label: 'runner',
    logName: `runner-${opts.name}-${child.pid}.log`,
    ready: /listening on (https?:\/\/[^\s"]+)/,
    readyOn: 'both',
    timeoutMs: opts.timeoutMs ?? 60_000,
  });
  return { ...proc, name: opts.name, pid: child.pid! };
}

/** Result of a CLI run. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the built `ash` CLI as a process. */
export function runAsh(
  args: string[],
  env: Record<string, string>,
  opts: { cwd?: string; timeoutMs?: number } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [ENTRIES.cli, ...args], {
      env,
      cwd: opts.cwd ?? REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`ash ${args.join(' ')} timed out\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, opts.timeoutMs ?? 60_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

/** A TCP port free on 127.0.0.1 right now (the OS picks it; another process may take it later). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}
