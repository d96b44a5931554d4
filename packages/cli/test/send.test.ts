import { join } from 'node:path';
import {
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
import { retryNote } from '../src/commands/sessions.js';

describe('ash session send against a real server process', () => {
  let model: ScriptedModel;
  let home: string;
  let server: AshProcess;
  let cliEnv: Record<string, string>;
  const ash = (...args: string[]) => runAsh(['-s', server.url, ...args], cliEnv);

  beforeAll(async () => {
    model = await ScriptedModel.start();
    home = tempDir('ash-cli-send-');
    // The Claude process retries failed model calls twice (the SDK default is 10).
    server = await startAshProcess(
      serverEnv({ dataDir: join(home, 'data'), modelUrl: model.url, extra: { ASH_MODEL_MAX_RETRIES: '2' } }),
    );
    cliEnv = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: home,
      ASH_DATA_DIR: join(home, 'cli'),
      ASH_API_KEY: TEST_API_KEY,
    };
    expect((await ash('deploy', join(REPO_ROOT, 'examples/hello'), '--name', 'hello')).code).toBe(0);
  });
  afterAll(async () => {
    await server?.stop();
    await model?.close();
    removeDir(home);
  });

  it('prints one line per model API retry on stderr while the model API fails', async () => {
    const id = (await ash('session', 'create', 'hello')).stdout.trim();
    model
      .forSession(id)
      .enqueue(
        { error: { status: 529, type: 'overloaded_error', message: 'scripted overload' } },
        { error: { status: 529, type: 'overloaded_error', message: 'scripted overload' } },
        { text: 'Answered after two retries.' },
      );
    const r = await ash('session', 'send', id, 'are you there?');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Answered after two retries.');
    const lines = r.stderr.split('\n').filter(Boolean);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^\[retrying: attempt 1 of 2 in \d+\.\ds after 529 overloaded\]$/);
    expect(lines[1]).toMatch(/^\[retrying: attempt 2 of 2 in \d+\.\ds after 529 overloaded\]$/);
    // The retries are the SDK's own messages, streamed as `message` events.
    const events = JSON.parse((await ash('session', 'events', id, '--json', '--type', 'message')).stdout) as {
      events: Array<{ data: string }>;
    };
    const retries = events.events
      .map((e) => JSON.parse(e.data) as Record<string, unknown>)
      .filter((m) => m.subtype === 'api_retry');
    expect(retries).toHaveLength(2);
    expect(retries[0]).toMatchObject({ type: 'system', attempt: 1, max_retries: 2, error_status: 529 });
  });

  it('words retries without an HTTP status, and ignores other messages', () => {
    const base = { type: 'system', subtype: 'api_retry', attempt: 3, max_retries: 10, retry_delay_ms: 2250 };
    expect(retryNote({ ...base, error_status: null, error: 'unknown' })).toBe(
      '[retrying: attempt 3 of 10 in 2.3s after a connection error]',
    );
    expect(
      retryNote({
        ...base,
        error_status: null,
        error: 'unknown',
        no_response: { waited_ms: 1, retry_wait_ms: 2 },
      }),
    ).toBe('[retrying: attempt 3 of 10 in 2.3s after no response]');
    expect(retryNote({ ...base, error_status: 429, error: 'rate_limit' })).toBe(
      '[retrying: attempt 3 of 10 in 2.3s after 429 rate limit]',
    );
    expect(retryNote({ type: 'system', subtype: 'init' })).toBeUndefined();
    expect(retryNote({ type: 'assistant', message: {} })).toBeUndefined();
  });
});
