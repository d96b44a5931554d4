import { spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { AshClient, type Health, type RunnerStatus } from '@ash-ai/sdk';
import { ashHome, configPath, DEFAULT_PORT, resolveServerUrl, writeCliConfig } from '../config.js';
import { CliError, printJson } from '../output.js';
import { isServerBin, serverBinPath } from '../server-bin.js';
import { runServe } from '../serve.js';
import type { GlobalOptions } from '../program.js';

/** Where a server writes the key it creates on its first start (same name as the server's INITIAL_KEY_FILE). */
const INITIAL_KEY_FILE = 'initial-api-key';
const pidFile = () => join(ashHome(), 'server.pid');
const logFile = () => join(ashHome(), 'server.log');

function readPid(): number | undefined {
  if (!existsSync(pidFile())) return undefined;
  const pid = Number.parseInt(readFileSync(pidFile(), 'utf8'), 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/**
 * True when `pid` is a server `ash start` started: its command line (`/proc/<pid>/cmdline`) is
 * `node <@ash-ai/server's bin/ash-server.js>`. A pid file can outlive its server and the pid be reused by
 * an unrelated process: that one must never be signalled.
 */
function isAshServer(pid: number): boolean {
  let args: string[];
  try {
    args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return false; // gone (or not visible to us)
  }
  return args.length >= 2 && args[2] === '' && isServerBin(args[1]!);
}

/**
 * True while process `pid` runs: it exists and is no zombie (a process that exited but was not yet
 * reaped has released its port and files, but its `/proc` entry stays).
 */
function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/**
 * True when `fetch` refuses the URL's port outright (the WHATWG "bad port" list, e.g. 4190 or
 * 6000): a server there could never be reached by our clients. Other failures are no answer.
 */
async function fetchRefusesPort(url: string): Promise<boolean> {
  try {
    await fetch(url, { signal: AbortSignal.timeout(1000) });
    return false;
  } catch (err) {
    const cause = (err as { cause?: { message?: string } }).cause;
    return /bad port/i.test(cause?.message ?? '');
  }
}

/** The `coordinatorId` a server running in process `pid` on this machine reports in `/health`. */
const coordinatorIdOf = (pid: number) => `${hostname()}-${pid}`;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `/health` until a server answers; resolves to its health, or undefined after `timeoutMs`. */
async function pollHealth(client: AshClient, timeoutMs: number): Promise<Health | undefined> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      return await client.health();
    } catch {
      await sleep(200);
    }
  }
  return undefined;
}

type StartOutcome =
  | { kind: 'healthy' }
  /** The child exited; `foreign` is the coordinatorId of another server that answered meanwhile. */
  | { kind: 'exited'; code: number | null; signal: NodeJS.Signals | null; foreign: string | undefined }
  | { kind: 'timeout'; foreign: string | undefined };

/**
 * Shows the start phases the server logs (`phase` lines of its log from `offset`: database and
 * migrations, sandbox check, recovery, warming sandboxes) as they appear, one line each.
 */
function followStartLog(file: string, offset: number): { stop(): void } {
  let at = offset;
  let rest = '';
  const seen = new Set<string>();
  const read = () => {
    let text: string;
    try {
      const size = fileSize(file);
      if (size <= at) return;
      const fd = openSync(file, 'r');
      try {
        const buf = Buffer.alloc(size - at);
        readSync(fd, buf, 0, buf.length, at);
        text = buf.toString('utf8');
      } finally {
        closeSync(fd);
      }
      at = size;
    } catch {
      return;
    }
    const lines = (rest + text).split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) {
      let entry: { phase?: unknown; msg?: unknown };
      try {
        entry = JSON.parse(line) as { phase?: unknown; msg?: unknown };
      } catch {
        continue;
      }
      if (typeof entry.phase !== 'string' || typeof entry.msg !== 'string' || seen.has(entry.msg)) continue;
      seen.add(entry.msg);
      process.stdout.write(`  ${entry.msg}\n`);
    }
  };
  const timer = setInterval(read, 150);
  return {
    stop() {
      clearInterval(timer);
      read();
    },
  };
}

/**
 * Waits until the server answering `/health` is the child itself (its `coordinatorId` names the
 * child's pid): another server already on the port also answers, while the child dies with
 * EADDRINUSE. Returns as soon as the child exits.
 */
async function waitForChild(
  client: AshClient,
  pid: number,
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>,
  timeoutMs: number,
): Promise<StartOutcome> {
  const deadline = Date.now() + timeoutMs;
  const mine = coordinatorIdOf(pid);
  let foreign: string | undefined;
  const exit = exited.then((e) => ({ exit: e }));
  while (Date.now() < deadline) {
    const probe = client.health().then(
      (health) => ({ health }),
      () => ({ health: undefined }),
    );
    const first = await Promise.race([probe, exit]);
    if ('exit' in first) return { kind: 'exited', ...first.exit, foreign };
    if (first.health?.coordinatorId === mine) return { kind: 'healthy' };
    if (first.health) foreign = first.health.coordinatorId;
    const next = await Promise.race([sleep(200).then(() => undefined), exit]);
    if (next) return { kind: 'exited', ...next.exit, foreign };
  }
  return { kind: 'timeout', foreign };
}

/**
 * Moves the key a server wrote on its first start (`<data dir>/initial-api-key`) into the CLI
 * config (0600), so the next command is authenticated with no manual step, then deletes the
 * file: the plaintext then exists in one place only. Returns true when a key was picked up.
 */
function adoptInitialKey(home: string): boolean {
  const file = join(home, INITIAL_KEY_FILE);
  if (!existsSync(file)) return false;
  const key = readFileSync(file, 'utf8').trim();
  if (!key) return false;
  writeCliConfig({ api_key: key });
  rmSync(file, { force: true });
  return true;
}

function fileSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/** The last `lines` lines written to `file` after byte `offset` (what this start wrote). */
function tailFrom(file: string, offset: number, lines: number): string {
  try {
    return readFileSync(file)
      .subarray(offset)
      .toString('utf8')
      .trimEnd()
      .split('\n')
      .slice(-lines)
      .join('\n');
  } catch {
    return '';
  }
}

/**
 * The environment of the server `ash start` runs. `ASH_API_KEY` is the CLI's own client key (the
 * README has users export it): passed on, the server would take it as the default tenant's key,
 * so a revoked key would keep working and another tenant's key would act for the default
 * tenant. The operator gives the server a key with `ASH_SERVER_API_KEY` instead.
 */
export function serverEnvForStart(
  env: NodeJS.ProcessEnv,
  settings: { port: string; host: string; dataDir: string },
): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {
    ...env,
    ASH_PORT: settings.port,
    ASH_HOST: settings.host,
    ASH_DATA_DIR: settings.dataDir,
  };
  delete out.ASH_API_KEY;
  delete out.ASH_SERVER_API_KEY;
  if (env.ASH_SERVER_API_KEY) out.ASH_API_KEY = env.ASH_SERVER_API_KEY;
  return out;
}

/** Validates `ash start`'s port: a fixed one, since the CLI must know where to find the server. */
function startPort(value: string): number {
  const port = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (port === 0)
    throw new CliError(
      'ash start needs a fixed port: with --port 0 (or ASH_PORT=0) the server would pick a random one the CLI cannot find; give a port such as 4100 (ash serve accepts 0)',
    );
  if (!Number.isInteger(port) || port > 65535)
    throw new CliError(`--port must be a port number from 1 to 65535, got '${value}'`);
  return port;
}

/**
 * The runners a server places sessions on, one line each: name, labels, state, capacity, live
 * sessions, warm spares (when any), last heartbeat (nothing when the server lists none).
 */
export function runnerLines(runners: RunnerStatus[], now = Date.now()): string {
  if (runners.length === 0) return '';
  const lines = runners.map((r) => {
    const labels = Object.entries(r.labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    const beat = r.lastHeartbeat
      ? `, last heartbeat ${Math.max(0, Math.round((now - Date.parse(r.lastHeartbeat)) / 1000))}s ago`
      : '';
    return `  ${r.name}${labels ? ` [${labels}]` : ''}: ${r.state}, ${r.capacity.active}/${r.capacity.max} sandboxes, ${r.liveSessions} live sessions${r.warm ? `, ${r.warm} warm` : ''}${beat}${r.url ? ` (${r.url})` : ''}\n`;
  });
  return `runners:\n${lines.join('')}`;
}

/** `ash start`, `ash stop`, `ash status`, `ash serve`, `ash health`. */
export function registerServerCommands(program: Command, globals: () => GlobalOptions): void {
  program
    .command('start')
    .description('start the Ash server in the background and wait until it is healthy')
    .option(
      '-p, --port <port>',
      'port to listen on, not 0 (default: $ASH_PORT or 4100)',
      process.env.ASH_PORT ?? String(DEFAULT_PORT),
    )
    .option(
      '--host <host>',
      'interface to listen on (default: $ASH_HOST or 127.0.0.1)',
      process.env.ASH_HOST ?? '127.0.0.1',
    )
    .option('--timeout <ms>', 'how long to wait for the server to become healthy', '60000')
    .addHelpText(
      'after',
      `
The server gets this shell's environment (ANTHROPIC_API_KEY, ASH_* settings) except ASH_API_KEY,
which is the CLI's own client key. To give the server an API key of the default tenant (its
ASH_API_KEY), set ASH_SERVER_API_KEY:
  ASH_SERVER_API_KEY=<key> ash start`,
    )
    .action(async (opts: { port: string; host: string; timeout: string }) => {
      const port = startPort(opts.port);
      const timeoutMs = Number(opts.timeout);
      if (!Number.isFinite(timeoutMs) || timeoutMs <= 0)
        throw new CliError(`--timeout must be a number of milliseconds, got '${opts.timeout}'`);
      const home = ashHome();
      mkdirSync(home, { recursive: true, mode: 0o700 });
      const url = `http://${opts.host === '0.0.0.0' ? '127.0.0.1' : opts.host}:${port}`;
      if (await fetchRefusesPort(url))
        throw new CliError(
          `port ${port} is on the fetch standard's list of blocked ports: HTTP clients (Node's fetch, browsers, the SDKs) refuse to connect to it; choose another --port`,
        );
      const client = new AshClient({ serverUrl: url, timeoutMs: 2000 });
      const existing = readPid();
      if (existing && isAshServer(existing)) {
        const health = await pollHealth(client, 2000);
        if (health?.coordinatorId === coordinatorIdOf(existing)) {
          adoptInitialKey(home);
          process.stdout.write(`Ash is already running at ${url} (pid ${existing})\n`);
          return;
        }
        throw new CliError(
          `an Ash server started by ash start (pid ${existing}) is running but does not answer at ${url}; see ${logFile()} or run: ash stop`,
        );
      }
      // Whatever the pid file named is gone or is not our server: forget it.
      rmSync(pidFile(), { force: true });
      const logOffset = fileSize(logFile());
      const log = openSync(logFile(), 'a');
      const child = spawn(process.execPath, [serverBinPath()], {
        detached: true,
        stdio: ['ignore', log, log],
        env: serverEnvForStart(process.env, { port: String(port), host: opts.host, dataDir: home }),
      });
      closeSync(log);
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
        child.once('exit', (code, signal) => resolve({ code, signal })),
      );
      const spawned = await new Promise<Error | undefined>((resolve) => {
        child.once('spawn', () => resolve(undefined));
        child.once('error', resolve);
      });
      if (spawned || !child.pid) throw new CliError(`could not start the server: ${spawned?.message}`);
      const pid = child.pid;
      writeFileSync(pidFile(), String(pid));
      child.unref();
      process.stdout.write(`Starting Ash (pid ${pid})…\n`);
      const progress = followStartLog(logFile(), logOffset);
      const outcome = await waitForChild(client, pid, exited, timeoutMs).finally(() => progress.stop());
      if (outcome.kind !== 'healthy') {
        if (outcome.kind === 'timeout' && isAshServer(pid)) process.kill(pid, 'SIGTERM');
        rmSync(pidFile(), { force: true });
        const written = tailFrom(logFile(), logOffset, 15);
        const taken = /EADDRINUSE/.test(written) || (outcome.kind === 'timeout' && outcome.foreign);
        if (taken)
          throw new CliError(
            `port ${port} is taken by another ${outcome.foreign ? `Ash server (${outcome.foreign})` : 'process'}; stop it or choose another port with --port`,
          );
        const what =
          outcome.kind === 'exited'
            ? `the server exited (${outcome.signal ? `signal ${outcome.signal}` : `code ${outcome.code}`}) before it became healthy`
            : `the server did not become healthy in ${timeoutMs} ms`;
        throw new CliError(
          `${what}; ${written ? `its log (${logFile()}):\n${written}` : `it wrote nothing to ${logFile()}`}`,
        );
      }
      writeCliConfig({ server_url: url });
      const adopted = adoptInitialKey(home);
      process.stdout.write(`Ash is running at ${url} (pid ${pid}; logs: ${logFile()})\n`);
      if (adopted) process.stdout.write(`Saved the server's first API key to ${configPath()} (mode 0600)\n`);
      else if (!process.env.ASH_SERVER_API_KEY)
        process.stdout.write(`API key: the one in ${configPath()} (or ASH_API_KEY)\n`);
    });

  program
    .command('stop')
    .description('stop the background server started with ash start')
    .action(async () => {
      const pid = readPid();
      if (!pid || !isAshServer(pid)) {
        const stale = existsSync(pidFile());
        rmSync(pidFile(), { force: true });
        process.stdout.write(
          stale
            ? `Ash is not running (removed the stale ${pidFile()}${pid ? `: pid ${pid} is not an Ash server` : ''})\n`
            : 'Ash is not running\n',
        );
        return;
      }
      process.kill(pid, 'SIGTERM');
      const deadline = Date.now() + 20_000;
      while (isRunning(pid) && Date.now() < deadline) await sleep(100);
      if (isRunning(pid)) {
        process.kill(pid, 'SIGKILL');
        // Its port and data dir lock are free only once it has exited.
        const killDeadline = Date.now() + 10_000;
        while (isRunning(pid) && Date.now() < killDeadline) await sleep(50);
      }
      rmSync(pidFile(), { force: true });
      process.stdout.write(`Ash stopped (pid ${pid})\n`);
    });

  program
    .command('status')
    .description('show whether the server is running and healthy')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const g = globals();
      const url = resolveServerUrl(g.server);
      const pid = readPid();
      let health: Awaited<ReturnType<AshClient['health']>> | undefined;
      try {
        health = await new AshClient({ serverUrl: url }).health();
      } catch {
        health = undefined;
      }
      if (opts.json) {
        printJson({
          running: !!health,
          url,
          pid: pid && isAshServer(pid) ? pid : null,
          health: health ?? null,
        });
      } else if (health) {
        process.stdout.write(
          `running at ${url} (version ${health.version}, ${health.activeSessions} active sessions, ${health.activeSandboxes} sandboxes, isolation ${health.sandbox.mode})\n`,
        );
        process.stdout.write(runnerLines(health.runners ?? []));
      } else {
        process.stdout.write(`not running at ${url}\n`);
      }
      if (!health) process.exitCode = 1;
    });

  program
    .command('serve')
    .description('run the server in the foreground (configured by ASH_* environment variables)')
    .option('-p, --port <port>', 'port (overrides ASH_PORT)')
    .option('--host <host>', 'interface (overrides ASH_HOST)')
    .action(async (opts: { port?: string; host?: string }) => {
      process.exitCode = await runServe(opts);
    });

  program
    .command('health')
    .description("show the server's health")
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const g = globals();
      const health = await g.client().health();
      if (opts.json) printJson(health);
      else {
        process.stdout.write(
          `status ${health.status}, version ${health.version}, uptime ${Math.round(health.uptime)}s, ${health.activeSessions} active sessions, ${health.activeSandboxes} sandboxes (isolation ${health.sandbox.mode}, limits ${health.sandbox.limits})\n`,
        );
        process.stdout.write(runnerLines(health.runners ?? []));
      }
    });
}
