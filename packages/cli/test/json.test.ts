import { spawn } from 'node:child_process';
import { join } from 'node:path';
import {
  ENTRIES,
  REPO_ROOT,
  ScriptedModel,
  removeDir,
  runAsh,
  serverEnv,
  startAshProcess,
  TEST_API_KEY,
  tempDir,
  type AshProcess,
} from '@ash-ai/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

describe('ash --json against a real server process', () => {
  let model: ScriptedModel;
  let home: string;
  let server: AshProcess;
  let cliEnv: Record<string, string>;

  beforeAll(async () => {
    model = await ScriptedModel.start();
    home = tempDir('ash-cli-json-');
    server = await startAshProcess(
      serverEnv({
        dataDir: join(home, 'data'),
        modelUrl: model.url,
        extra: { ASH_CREDENTIAL_KEY: 'cli-json-test-master-key-0123456789' },
      }),
    );
    cliEnv = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: home,
      ASH_DATA_DIR: join(home, 'cli'),
      ASH_API_KEY: TEST_API_KEY,
    };
  });
  afterAll(async () => {
    await server?.stop();
    await model?.close();
    removeDir(home);
  });

  /** `ash <args> --json`, parsed. */
  const cli = async (...args: string[]): Promise<unknown> => {
    const r = await runAsh(['-s', server.url, ...args, '--json'], cliEnv);
    expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
    return JSON.parse(r.stdout);
  };
  /** The API's response body for `GET <path>`. */
  const api = async (path: string): Promise<unknown> => {
    const res = await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${TEST_API_KEY}` } });
    expect(res.status, path).toBe(200);
    return res.json();
  };

  it("prints exactly the API's response body for every command", async () => {
    // Writes: the body the API answered with, e.g. {agent}, {session}, {item}, {credential}.
    const deployed = await cli('deploy', join(REPO_ROOT, 'examples/hello'), '--name', 'hello');
    expect(deployed).toEqual(await api('/api/agents/hello'));
    const created = (await cli('session', 'create', 'hello')) as { session: { id: string } };
    expect(Object.keys(created)).toEqual(['session']);
    const id = created.session.id;
    const sent = await runAsh(['-s', server.url, 'session', 'send', id, 'hi'], cliEnv);
    expect(sent.code, sent.stderr).toBe(0);
    const credential = (await cli(
      'credentials',
      'add',
      '--type',
      'custom',
      '--key',
      'secret-value-0123',
    )) as {
      credential: { id: string };
    };
    expect(credential).toEqual(await api(`/api/credentials/${credential.credential.id}`));
    const queued = (await cli('queue', 'add', 'hello', 'later', '--run-at', '2999-01-01T00:00:00Z')) as {
      item: { id: string };
    };
    expect(queued).toEqual(await api(`/api/queue/${queued.item.id}`));
    const key = (await cli('api-key', 'create', '--label', 'json')) as Record<string, unknown>;
    expect(Object.keys(key).sort()).toEqual(['apiKey', 'id', 'key', 'tenantId']);

    // Reads: the same body as the route.
    const reads: Array<[string[], string]> = [
      [['agent', 'list'], '/api/agents'],
      [['agent', 'get', 'hello'], '/api/agents/hello'],
      [['session', 'list'], '/api/sessions?limit=50&offset=0'],
      [['session', 'get', id], `/api/sessions/${id}`],
      [['session', 'messages', id], `/api/sessions/${id}/messages?after=0&limit=100`],
      [['session', 'events', id], `/api/sessions/${id}/events?after=0&limit=200`],
      [['api-key', 'list'], '/api/api-keys'],
      [['credentials', 'list'], '/api/credentials'],
      [['queue', 'list'], '/api/queue'],
      [['queue', 'get', queued.item.id], `/api/queue/${queued.item.id}`],
      [['queue', 'stats'], '/api/queue/stats'],
      [['usage', '--group-by', 'agent'], '/api/usage/stats?groupBy=agent'],
    ];
    for (const [args, path] of reads) expect(await cli(...args), args.join(' ')).toEqual(await api(path));
    const messages = (await cli('session', 'messages', id)) as { messages: unknown[]; hasMore: boolean };
    expect(messages.messages.length).toBeGreaterThan(0);
    expect(messages.hasMore).toBe(false);
    const health = (await cli('health')) as Record<string, unknown>;
    expect(Object.keys(health).sort()).toEqual(Object.keys((await api('/health')) as object).sort());

    const ended = await cli('session', 'end', id);
    expect(ended).toEqual(await api(`/api/sessions/${id}`));
  });

  it('ends quietly when the reader of its output goes away (`ash session send --json | head -1`)', async () => {
    const deployed = await cli('deploy', join(REPO_ROOT, 'examples/hello'), '--name', 'piped');
    expect(deployed).toBeTruthy();
    const { session } = (await cli('session', 'create', 'piped')) as { session: { id: string } };
    // A slow answer: the CLI is still writing events after the reader has gone.
    model.enqueue({ slow: { deltas: 30, intervalMs: 50 } });
    const child = spawn(
      process.execPath,
      [ENTRIES.cli, '-s', server.url, 'session', 'send', session.id, 'stream to a closed pipe', '--json'],
      { env: cliEnv, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // Read until the first text delta, then close the read end of the pipe, as `head` does.
    let seen = '';
    await new Promise<void>((resolve) => {
      child.stdout.on('data', (d: Buffer) => {
        seen += d.toString();
        if (seen.includes('"text_delta"')) {
          child.stdout.destroy();
          resolve();
        }
      });
    });
    const code = await new Promise<number | null>((resolve) => {
      if (child.exitCode !== null) resolve(child.exitCode);
      else child.once('exit', (c) => resolve(c));
    });
    expect(stderr).not.toMatch(/EPIPE|Unhandled|at .*\.js:\d+/);
    expect(code).toBe(0);
  }, 60_000);
});
