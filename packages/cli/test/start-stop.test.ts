import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import {
  ENTRIES,
  ScriptedModel,
  removeDir,
  runAsh,
  serverEnv,
  startAshProcess,
  tempDir,
  type AshProcess,
  freePort,
} from '@ash-ai/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** True while `pid` runs (not gone, not a zombie nobody has reaped yet). */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** Asserts a CLI run exited 0, showing its output when it did not. */
function expectOk(r: { code: number | null; stdout: string; stderr: string }): void {
  expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
}

const INTERNAL = 'cli-start-internal-secret-0123456789';
const OPERATOR_KEY = 'ash_operator-key-given-to-ash-start-0001';
const STALE = 'a stale line an earlier run wrote to the log';

interface KeyList {
  keys: Array<{ id: string; tenantId: string; label: string | null }>;
}

describe('ash start, stop and status against real server processes', () => {
  let model: ScriptedModel;
  let home: string;
  let dataDir: string;
  let env: Record<string, string>;
  const pidFile = () => join(dataDir, 'server.pid');
  const logFile = () => join(dataDir, 'server.log');

  beforeAll(async () => {
    model = await ScriptedModel.start();
    home = tempDir('ash-cli-start-');
    dataDir = join(home, '.ash');
    env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: home,
      ASH_DATA_DIR: dataDir,
      ASH_PORT: String(await freePort()),
      ANTHROPIC_BASE_URL: model.url,
      ASH_MODEL_MAX_RETRIES: '0',
      ASH_INTERNAL_SECRET: INTERNAL,
    };
  });
  afterAll(async () => {
    await runAsh(['stop'], env);
    await model.close();
    removeDir(home);
  });

  it("does not give the server the CLI's ASH_API_KEY; ASH_SERVER_API_KEY gives it a key", async () => {
    const first = await runAsh(['start'], env);
    expect(first.code, first.stderr).toBe(0);
    const admin = (JSON.parse(readFileSync(join(dataDir, 'config.json'), 'utf8')) as { api_key: string })
      .api_key;
    const laptop = (await runAsh(['api-key', 'create', '--label', 'laptop'], env)).stdout.trim();
    const acme = JSON.parse(
      (await runAsh(['api-key', 'create', '--tenant', 'acme', '--json'], env)).stdout,
    ) as {
      key: string;
    };
    expectOk(await runAsh(['stop'], env));

    // As the README suggests: the user's own key exported in the shell that runs ash start.
    const withClientKey = { ...env, ASH_API_KEY: laptop };
    expectOk(await runAsh(['start'], withClientKey));
    const keys = JSON.parse((await runAsh(['api-key', 'list', '--json'], withClientKey)).stdout) as KeyList;
    expect(keys.keys.map((k) => k.id)).not.toContain('env');
    const laptopId = keys.keys.find((k) => k.label === 'laptop')!.id;
    expect((await runAsh(['--api-key', admin, 'api-key', 'revoke', laptopId], env)).code).toBe(0);
    const revoked = await runAsh(['agent', 'list'], withClientKey);
    expect(revoked.code).toBe(1);
    expect(revoked.stderr).toMatch(/\(401 unauthorized\)/);
    expectOk(await runAsh(['stop'], env));

    // Another tenant's key in the shell stays that tenant's key.
    const withAcmeKey = { ...env, ASH_API_KEY: acme.key };
    expectOk(await runAsh(['start'], withAcmeKey));
    const acmeKeys = JSON.parse((await runAsh(['api-key', 'list', '--json'], withAcmeKey)).stdout) as KeyList;
    expect(acmeKeys.keys.map((k) => k.tenantId)).toEqual(['acme']);
    expectOk(await runAsh(['stop'], env));

    // The operator's way to give the server a key of the default tenant.
    const withOperatorKey = { ...withAcmeKey, ASH_SERVER_API_KEY: OPERATOR_KEY };
    expectOk(await runAsh(['start'], withOperatorKey));
    const operatorKeys = JSON.parse(
      (await runAsh(['--api-key', OPERATOR_KEY, 'api-key', 'list', '--json'], env)).stdout,
    ) as KeyList;
    expect(operatorKeys.keys[0]).toMatchObject({ id: 'env', tenantId: 'default', label: 'ASH_API_KEY' });
    const stillAcme = JSON.parse(
      (await runAsh(['api-key', 'list', '--json'], withAcmeKey)).stdout,
    ) as KeyList;
    expect(stillAcme.keys.map((k) => k.tenantId)).toEqual(['acme']);
    expectOk(await runAsh(['stop'], env));

    const help = await runAsh(['start', '--help'], env);
    expect(help.stdout).toContain('ASH_SERVER_API_KEY');
  }, 180_000); // four server starts and stops: over a minute on a loaded 2-core machine

  it('fails at once, in one line, when another Ash server or another process holds the port', async () => {
    const port = await freePort();
    const otherDir = join(home, 'other');
    let other: AshProcess | undefined;
    try {
      other = await startAshProcess(
        serverEnv({ dataDir: otherDir, modelUrl: model.url, extra: { ASH_PORT: String(port) } }),
      );
      const startedAt = Date.now();
      const r = await runAsh(['start', '--port', String(port), '--timeout', '60000'], env);
      expect(r.code).toBe(1);
      // Only the start's progress lines, never a success.
      expect(r.stdout).toMatch(/^Starting Ash \(pid \d+\)…\n/);
      expect(r.stdout).not.toMatch(/Ash is running/);
      expect(r.stderr).toMatch(
        new RegExp(
          `^ash: port ${port} is taken by another Ash server \\(.+-${other.child.pid}\\); .*--port\\n$`,
        ),
      );
      expect(Date.now() - startedAt).toBeLessThan(30_000);
      expect(existsSync(pidFile())).toBe(false);
      // The other server is untouched.
      expect((await fetch(`${other.url}/health`)).status).toBe(200);
    } finally {
      await other?.stop();
      removeDir(otherDir);
    }
    // Any other listener: the server exits with EADDRINUSE, said in one line too.
    const listener = createServer((socket) => socket.resume()); // reads, never answers
    await new Promise<void>((resolve) => listener.listen(port, '127.0.0.1', resolve));
    try {
      const r = await runAsh(['start', '--port', String(port)], env);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(
        `ash: port ${port} is taken by another process; stop it or choose another port with --port\n`,
      );
      expect(existsSync(pidFile())).toBe(false);
    } finally {
      await new Promise((resolve) => listener.close(resolve));
    }
  });

  it('fails as soon as the server exits, showing only what this start logged', async () => {
    appendFileSync(logFile(), `${STALE}\n`);
    const startedAt = Date.now();
    const r = await runAsh(['start', '--timeout', '60000'], { ...env, ASH_MODEL_MAX_RETRIES: '1000' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^ash: the server exited \(code 1\) before it became healthy; its log/);
    expect(r.stderr).toContain('ASH_MODEL_MAX_RETRIES');
    expect(r.stderr).not.toContain(STALE);
    expect(r.stderr).not.toContain('listening');
    expect(Date.now() - startedAt).toBeLessThan(30_000);
    expect(existsSync(pidFile())).toBe(false);
    // The log keeps everything.
    expect(readFileSync(logFile(), 'utf8')).toContain(STALE);
  });

  it('refuses port 0 and ports fetch blocks, which would leave it polling a port it cannot reach', async () => {
    const logSize = statSync(logFile()).size;
    for (const [args, extra] of [
      [['start', '--port', '0'], {}],
      [['start'], { ASH_PORT: '0' }],
    ] as const) {
      const startedAt = Date.now();
      const r = await runAsh([...args], { ...env, ...extra });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^ash: ash start needs a fixed port: with --port 0 \(or ASH_PORT=0\).*\n$/);
      expect(Date.now() - startedAt).toBeLessThan(10_000);
    }
    const bad = await runAsh(['start', '--port', 'http'], env);
    expect(bad.stderr).toMatch(/^ash: --port must be a port number from 1 to 65535, got 'http'\n$/);
    // A port fetch refuses (the WHATWG bad-port list): the health poll could never reach it.
    const blocked = await runAsh(['start', '--port', '4190'], env);
    expect(blocked.code).toBe(1);
    expect(blocked.stderr).toMatch(/^ash: port 4190 is on the fetch standard's list of blocked ports.*\n$/);
    // Nothing was started.
    expect(statSync(logFile()).size).toBe(logSize);
    expect(existsSync(pidFile())).toBe(false);
  });

  it('ash stop and status leave a process that is not the Ash server alone', async () => {
    const sleeper = spawn('sleep', ['300'], { stdio: 'ignore' });
    try {
      mkdirSync(dataDir, { recursive: true });
      writeFileSync(pidFile(), String(sleeper.pid));
      const status = JSON.parse((await runAsh(['status', '--json'], env)).stdout) as { pid: number | null };
      expect(status.pid).toBeNull();
      const r = await runAsh(['stop'], env);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(
        /^Ash is not running \(removed the stale .*server\.pid: pid \d+ is not an Ash server\)\n$/,
      );
      expect(existsSync(pidFile())).toBe(false);
      expect(sleeper.exitCode).toBeNull();
      expect(sleeper.signalCode).toBeNull();
      expect(running(sleeper.pid!)).toBe(true);

      // ash start ignores such a pid file, and ash stop stops the server it started.
      writeFileSync(pidFile(), String(sleeper.pid));
      const started = await runAsh(['start'], env);
      expect(started.code, started.stderr).toBe(0);
      const pid = Number(readFileSync(pidFile(), 'utf8'));
      expect(pid).not.toBe(sleeper.pid);
      expect(started.stdout).toContain(`(pid ${pid};`);
      expect((await runAsh(['start'], env)).stdout).toContain(`Ash is already running at`);
      expect(JSON.parse((await runAsh(['status', '--json'], env)).stdout)).toMatchObject({
        running: true,
        pid,
      });
      expect((await runAsh(['stop'], env)).stdout).toBe(`Ash stopped (pid ${pid})\n`);
      expect(running(pid)).toBe(false);
      expect(sleeper.exitCode).toBeNull();
    } finally {
      sleeper.kill('SIGKILL');
    }
  });

  it('ash serve runs the server in the foreground as its own program and passes SIGTERM on', async () => {
    const port = await freePort();
    const serve = spawn(process.execPath, [ENTRIES.cli, 'serve', '--port', String(port)], {
      env: { ...env, ASH_DATA_DIR: join(home, 'serve-data') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    serve.stdout.on('data', (d: Buffer) => (out += d.toString()));
    serve.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => serve.once('exit', (code) => resolve(code)));
    try {
      let health: Response | undefined;
      for (let i = 0; i < 240 && !health?.ok; i++) {
        await new Promise((r) => setTimeout(r, 250));
        health = await fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined);
      }
      expect(health?.ok, out).toBe(true);
      // The server is a child process running the server's bin, not the CLI with the server loaded.
      const children = readFileSync(`/proc/${serve.pid}/task/${serve.pid}/children`, 'utf8')
        .trim()
        .split(/\s+/);
      const cmdlines = children.map((c) => readFileSync(`/proc/${c}/cmdline`, 'utf8').split('\0'));
      expect(cmdlines.some((a) => a.some((x) => x.endsWith('/server/bin/ash-server.js')))).toBe(true);
      serve.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(await fetch(`http://127.0.0.1:${port}/health`).catch(() => 'refused')).toBe('refused');
    } finally {
      if (serve.exitCode === null) serve.kill('SIGKILL');
    }
  });

  // SIGKILL cannot be passed on: the child notices it was orphaned and shuts itself down.
  for (const kind of ['serve', 'runner'] as const) {
    it(`ash ${kind} killed with SIGKILL: its ${kind === 'serve' ? 'server' : 'runner'} process stops too, freeing its port`, async () => {
      const port = await freePort();
      const args =
        kind === 'serve'
          ? ['serve', '--port', String(port)]
          : ['runner', '--coordinator', 'http://127.0.0.1:9', '--name', 'orphan', '--port', String(port)];
      const cli = spawn(process.execPath, [ENTRIES.cli, ...args], {
        env: {
          ...env,
          ASH_DATA_DIR: join(home, `orphan-${kind}`),
          ASH_INTERNAL_SECRET: 'orphan-test-internal-secret-0123456789',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      cli.stdout.on('data', (d: Buffer) => (out += d.toString()));
      cli.stderr.on('data', (d: Buffer) => (out += d.toString()));
      let child = 0;
      try {
        let health: Response | undefined;
        for (let i = 0; i < 240 && !health?.ok; i++) {
          await new Promise((r) => setTimeout(r, 250));
          health = await fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined);
        }
        expect(health?.ok, out).toBe(true);
        child = Number(
          readFileSync(`/proc/${cli.pid}/task/${cli.pid}/children`, 'utf8').trim().split(/\s+/)[0],
        );
        expect(running(child)).toBe(true);
        cli.kill('SIGKILL');
        for (let i = 0; i < 120 && running(child); i++) await new Promise((r) => setTimeout(r, 250));
        expect(running(child), out).toBe(false);
        expect(await fetch(`http://127.0.0.1:${port}/health`).catch(() => 'refused')).toBe('refused');
      } finally {
        if (cli.exitCode === null) cli.kill('SIGKILL');
        if (child && running(child)) process.kill(child, 'SIGKILL');
      }
    }, 90_000);
  }
});
