import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  lastUserText,
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
import { messageContent } from '../src/commands/sessions.js';
import { runAshWithInput } from './terminal.js';

/** Messages too large for a shell argument, bad flags, and the small CLI fixes of issue 16. */
describe('ash: messages from stdin or a file, flag errors named as flags', () => {
  let model: ScriptedModel;
  let home: string;
  let server: AshProcess;
  let env: Record<string, string>;
  const ash = (...args: string[]) => runAsh(['-s', server.url, ...args], env, { timeoutMs: 120_000 });
  const lines = (s: string) => s.split('\n').filter(Boolean);

  beforeAll(async () => {
    model = await ScriptedModel.start();
    home = tempDir('ash-cli-input-');
    server = await startAshProcess(serverEnv({ dataDir: join(home, 'data'), modelUrl: model.url }));
    env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: home,
      ASH_DATA_DIR: join(home, 'cli'),
      ASH_API_KEY: TEST_API_KEY,
    };
    const d = await ash('deploy', join(REPO_ROOT, 'examples/hello'), '--name', 'hello');
    expect(d.code, d.stderr).toBe(0);
  });
  afterAll(async () => {
    await server?.stop();
    await model?.close();
    removeDir(home);
  });

  it('sends a 1 MiB message from --file, from `-` and from a pipe, byte for byte', async () => {
    const id = (await ash('session', 'create', 'hello')).stdout.trim();
    const big = (tag: string) =>
      `${tag}:${'lorem ipsum dolor sit amet '.repeat(40_000)}`.slice(0, 1024 * 1024);
    const file = join(home, 'message.txt');
    writeFileSync(file, big('file'));
    model
      .forSession(id)
      .enqueue({ text: 'read the file' }, { text: 'read stdin' }, { text: 'read the pipe' });

    const fromFile = await ash('session', 'send', id, '--file', file);
    expect(fromFile.code, fromFile.stderr).toBe(0);
    expect(fromFile.stdout).toContain('read the file');
    const dash = await runAshWithInput(['-s', server.url, 'session', 'send', id, '-'], env, big('dash'));
    expect(dash.code, dash.stderr).toBe(0);
    expect(dash.stdout).toContain('read stdin');
    const piped = await runAshWithInput(['-s', server.url, 'session', 'send', id], env, big('pipe'));
    expect(piped.code, piped.stderr).toBe(0);
    expect(piped.stdout).toContain('read the pipe');

    // A message over 500,000 characters goes as consecutive text blocks: the model reads them as one text.
    const sent = model
      .messageRequests(id)
      .filter((r) => r.tools.length > 0)
      .map((r) => {
        const last = [...r.messages].reverse().find((m) => m.role === 'user');
        if (!last || !Array.isArray(last.content)) return lastUserText(r);
        return last.content
          .filter((b) => (b as { type?: string }).type === 'text')
          .map((b) => String((b as { text?: unknown }).text ?? ''))
          .filter((t) => !t.startsWith('<system-reminder>'))
          .join('');
      });
    for (const tag of ['file', 'dash', 'pipe']) {
      const text = sent.find((t) => t.startsWith(`${tag}:`));
      expect(text, `the ${tag} message reached the model`).toBeDefined();
      expect(Buffer.byteLength(text!)).toBe(1024 * 1024);
      expect(text).toBe(big(tag));
    }

    // Neither, both, or an empty one: one clear line.
    const both = await ash('session', 'send', id, 'hi', '--file', file);
    expect(both.code).toBe(1);
    expect(lines(both.stderr)).toEqual([
      'ash: give the message either as an argument or with --file, not both',
    ]);
    const missing = await ash('session', 'send', id, '--file', join(home, 'nope.txt'));
    expect(lines(missing.stderr)).toEqual([`ash: --file: no such file: ${join(home, 'nope.txt')}`]);
    const empty = await runAshWithInput(['-s', server.url, 'session', 'send', id], env, '');
    expect(empty.code).toBe(1);
    expect(lines(empty.stderr)).toEqual(['ash: the message is empty']);
  });

  it('names the flag in every flag error, and a usage error prints one line plus that command’s usage', async () => {
    const cases: Array<[string[], string, string]> = [
      [
        ['session', 'list', '--limit', 'abc'],
        'ash: --limit must be an integer',
        'ash session list [options]',
      ],
      [['session', 'list', '--limit', '0'], 'ash: --limit must be at least 1', 'ash session list [options]'],
      [
        ['session', 'list', '--offset', '1.5'],
        'ash: --offset must be an integer',
        'ash session list [options]',
      ],
      [
        ['session', 'messages', 'x', '--after', 'later'],
        'ash: --after must be an integer',
        'ash session messages [options] <id>',
      ],
      [
        ['session', 'events', 'x', '-l', '-3'],
        'ash: --limit must be at least 1',
        'ash session events [options] <id>',
      ],
      [['queue', 'list', '--limit', 'ten'], 'ash: --limit must be an integer', 'ash queue list [options]'],
      [
        ['queue', 'add', 'hello', 'x', '--max-retries', 'many'],
        'ash: --max-retries must be an integer',
        'ash queue add [options] <agent> <prompt>',
      ],
      [
        ['session', 'exec', 'x', '--timeout', 'soon', '--', 'true'],
        'ash: --timeout must be an integer',
        'ash session exec [options] <id> -- <command...>',
      ],
      [
        ['session', 'create', 'hello', '--model', ''],
        'ash: --model must not be empty',
        'ash session create [options] <agent>',
      ],
      [['chat', 'hello', '--model', ' '], 'ash: --model must not be empty', 'ash chat [options] <target>'],
      [['session', 'get'], "ash: missing required argument 'id'", 'ash session get [options] <id>'],
      [
        ['session', 'send'],
        "ash: missing required argument 'id'",
        'ash session send [options] <id> [message]',
      ],
      [['deploy'], "ash: missing required argument 'dir'", 'ash deploy [options] <dir>'],
      [['session', 'list', '--bogus'], "ash: unknown option '--bogus'", 'ash session list [options]'],
    ];
    for (const [args, message, usage] of cases) {
      const r = await ash(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stdout, args.join(' ')).toBe('');
      expect(lines(r.stderr), args.join(' ')).toEqual([message, `Usage: ${usage}`]);
    }
    // Nothing reached the server as `/query/limit`.
    expect(server.output()).not.toContain('/query/limit');
  });

  it('says a server URL is invalid (not unreachable), refuses queueing for an unknown agent at once', async () => {
    const bad = await runAsh(['--server', 'notaurl', 'agent', 'list'], env);
    expect(bad.code).toBe(1);
    expect(lines(bad.stderr)).toEqual([
      "ash: --server 'notaurl' is not a valid URL; give one like http://localhost:4100",
    ]);
    const badEnv = await runAsh(['agent', 'list'], { ...env, ASH_SERVER_URL: 'ftp://x' });
    expect(lines(badEnv.stderr)).toEqual([
      "ash: the server URL (ASH_SERVER_URL or the saved config) 'ftp://x' is not a valid URL; give one like http://localhost:4100",
    ]);

    const ghost = await ash('queue', 'add', 'ghost', 'hello?');
    expect(ghost.code).toBe(1);
    expect(lines(ghost.stderr)).toEqual(["ash: Agent 'ghost' was not found (404 agent_not_found)"]);
    const list = JSON.parse((await ash('queue', 'list', '--json')).stdout) as {
      items: Array<{ agentName: string }>;
    };
    expect(list.items.filter((i) => i.agentName === 'ghost')).toEqual([]);
  });

  it('keeps the version when an unchanged folder is redeployed, and bumps it when a file changed', async () => {
    const dir = join(home, 'steady');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'CLAUDE.md'), '# Steady\n');
    writeFileSync(join(dir, 'notes.txt'), 'same\n');
    const first = await ash('deploy', dir);
    expect(first.stdout).toBe('deployed steady (version 1, 2 files)\n');
    const before = JSON.parse((await ash('agent', 'get', 'steady', '--json')).stdout).agent;
    const again = await ash('deploy', dir);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toBe('unchanged steady (version 1, 2 files)\n');
    const json = JSON.parse((await ash('deploy', dir, '--json')).stdout);
    expect(json).toMatchObject({ unchanged: true, agent: { name: 'steady', version: 1 } });
    const after = JSON.parse((await ash('agent', 'get', 'steady', '--json')).stdout).agent;
    expect(after.updatedAt).toBe(before.updatedAt);
    writeFileSync(join(dir, 'notes.txt'), 'changed\n');
    expect((await ash('deploy', dir)).stdout).toBe('deployed steady (version 2, 2 files)\n');
    // New env is a change too.
    expect((await ash('deploy', dir, '-e', 'A=1')).stdout).toBe('deployed steady (version 3, 2 files)\n');
    expect((await ash('deploy', dir, '-e', 'A=1')).stdout).toBe('unchanged steady (version 3, 2 files)\n');
  });

  it('splits a message over 500,000 characters into text blocks, never inside a surrogate pair', () => {
    expect(messageContent('short')).toBe('short');
    expect(messageContent('x'.repeat(500_000))).toBe('x'.repeat(500_000));
    const emoji = '😀'; // two UTF-16 code units
    const text = `${'a'.repeat(499_999)}${emoji}${'b'.repeat(10)}`;
    const blocks = messageContent(text) as Array<{ type: string; text: string }>;
    expect(blocks.map((b) => b.text.length)).toEqual([499_999, 12]);
    expect(blocks.map((b) => b.text).join('')).toBe(text);
    expect(blocks[1]!.text.startsWith(emoji)).toBe(true);
    expect(() => messageContent('y'.repeat(10_000_001))).toThrow(/at most 10000000/);
  });

  it('chats from a pipe too: each line a turn, the end of input ends the chat', async () => {
    const r = await runAshWithInput(['-s', server.url, 'chat', 'hello'], env, 'first line\nsecond line\n');
    expect(r.code, r.stderr).toBe(0);
    const id = /session ([0-9a-f-]{36})/.exec(r.stderr)![1]!;
    const texts = model
      .messageRequests(id)
      .filter((q) => q.tools.length > 0)
      .map((q) => lastUserText(q));
    expect(texts).toEqual(expect.arrayContaining(['first line', 'second line']));
    expect(r.stderr).toContain(`continue later with: ash chat ${id}`);
  });

  it('prints each answer once in `session messages`', async () => {
    const id = (await ash('session', 'create', 'hello')).stdout.trim();
    model.forSession(id).enqueue({ text: 'The one and only answer.' });
    expect((await ash('session', 'send', id, 'answer once')).code).toBe(0);
    const r = await ash('session', 'messages', id);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split('The one and only answer.').length - 1).toBe(1);
    expect(r.stdout).toMatch(/user: answer once/);
    // --json keeps every message (the result included).
    const json = JSON.parse((await ash('session', 'messages', id, '--json')).stdout) as {
      messages: Array<{ type: string; text: string }>;
    };
    expect(
      json.messages.filter((m) => m.text.includes('The one and only answer.')).length,
    ).toBeGreaterThanOrEqual(2);
  });
});
