import { spawn } from 'node:child_process';
import { join } from 'node:path';
import {
  ENTRIES,
  REPO_ROOT,
  removeDir,
  runAsh,
  ScriptedModel,
  serverEnv,
  startAshProcess,
  TEST_API_KEY,
  tempDir,
  type AshProcess,
} from '@ash-ai/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * `ash session exec` and `ash session logs [--follow]` on `POST /api/sessions/:id/exec` and
 * `GET /api/sessions/:id/logs` (the upstream Ash routes: `{command, timeout}` →
 * `{exitCode, stdout, stderr, …}`; `?after` → `{logs: [{index, level, text, ts}], source}`).
 */
describe('ash session exec and logs', () => {
  let model: ScriptedModel;
  let home: string;
  let server: AshProcess;
  let env: Record<string, string>;
  let id: string;
  const ash = (...args: string[]) => runAsh(['-s', server.url, ...args], env, { timeoutMs: 120_000 });

  beforeAll(async () => {
    model = await ScriptedModel.start();
    home = tempDir('ash-cli-exec-');
    server = await startAshProcess(serverEnv({ dataDir: join(home, 'data'), modelUrl: model.url }));
    env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: home,
      ASH_DATA_DIR: join(home, 'cli'),
      ASH_API_KEY: TEST_API_KEY,
    };
    expect((await ash('deploy', join(REPO_ROOT, 'examples/hello'), '--name', 'hello')).code).toBe(0);
    id = (await ash('session', 'create', 'hello')).stdout.trim();
    // A turn, so the session's sandbox is live.
    model.forSession(id).enqueue({ text: 'ready' });
    expect((await ash('session', 'send', id, 'wake up')).code).toBe(0);
  });
  afterAll(async () => {
    await server?.stop();
    await model?.close();
    removeDir(home);
  });

  it('runs a command in the sandbox: its stdout, stderr and exit code become the CLI’s', async () => {
    const r = await ash('session', 'exec', id, '--', 'echo hello-from-exec; echo oops >&2; exit 3');
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('hello-from-exec\n');
    expect(r.stderr).toBe('oops\n');
    // Several words are joined like ssh does, and run in the workspace.
    const words = await ash('session', 'exec', id, '--', 'cat', 'CLAUDE.md');
    expect(words.code, words.stderr).toBe(0);
    expect(words.stdout.length).toBeGreaterThan(0);
    const json = await ash('session', 'exec', id, '--json', '--', 'printf', 'x');
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ exitCode: 0, stdout: 'x', stderr: '' });
    const missing = await ash('session', 'exec', '00000000-0000-4000-8000-000000000000', '--', 'true');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^ash: .*\(404 session_not_found\)\n$/);
  });

  it('prints the sandbox output lines, as text or JSON', async () => {
    expect((await ash('session', 'exec', id, '--', 'echo logged-line; echo logged-err >&2')).code).toBe(0);
    const r = await ash('session', 'logs', id);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('logged-line');
    expect(r.stderr).toContain('logged-err');
    const json = await ash('session', 'logs', id, '--json');
    const entries = json.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { index: number; level: string; text: string; ts: string });
    expect(entries.length).toBeGreaterThan(0);
    for (const e of entries) {
      expect(['stdout', 'stderr', 'system']).toContain(e.level);
      expect(Number.isInteger(e.index)).toBe(true);
      expect(Number.isNaN(Date.parse(e.ts))).toBe(false);
    }
    expect(entries.some((e) => e.level === 'stdout' && e.text.includes('logged-line'))).toBe(true);
    const indexes = entries.map((e) => e.index);
    expect([...indexes].sort((a, b) => a - b)).toEqual(indexes);
  });

  it('follows new lines with --follow until Ctrl-C', async () => {
    const child = spawn(
      process.execPath,
      [ENTRIES.cli, '-s', server.url, 'session', 'logs', id, '--follow', '--interval', '200'],
      { env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      const until = async (text: string) => {
        const deadline = Date.now() + 60_000;
        while (!out.includes(text)) {
          if (Date.now() > deadline) throw new Error(`no '${text}' in the followed logs:\n${out}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      };
      await until('logged-line'); // the earlier lines first
      expect((await ash('session', 'exec', id, '--', 'echo followed-line-1')).code).toBe(0);
      await until('followed-line-1');
      expect((await ash('session', 'exec', id, '--', 'echo followed-line-2')).code).toBe(0);
      await until('followed-line-2');
      // Each line once, although it was polled many times.
      expect(out.split('\n').filter((l) => l === 'followed-line-1')).toHaveLength(1);
      child.kill('SIGINT');
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
