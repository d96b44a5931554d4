import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, ScriptedModel, removeDir, runAsh, tempDir, freePort } from '@ash-ai/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** A free TCP port on 127.0.0.1. */

/** The shell block after the `<!-- quickstart` marker in README.md. */
function readmeQuickstart(): string {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const m = /<!-- quickstart[^>]*-->\s*```sh\n([\s\S]*?)```/.exec(readme);
  if (!m) throw new Error('README.md has no quickstart block');
  return m[1]!;
}

function bash(
  script: string,
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-euo', 'pipefail', '-c', script], {
      cwd: REPO_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

describe('README quickstart and the ash CLI against a real server process', () => {
  let model: ScriptedModel;
  let home: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    model = await ScriptedModel.start();
    home = tempDir('ash-cli-');
    // `ash` on the PATH, as install.sh links it (the install test checks install.sh itself).
    const bin = join(home, 'bin');
    mkdirSync(bin);
    symlinkSync(join(REPO_ROOT, 'packages/cli/bin/ash.js'), join(bin, 'ash'));
    env = {
      PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`,
      HOME: home,
      npm_config_cache: join(home, '.npm'),
      ASH_DATA_DIR: join(home, '.ash'),
      ASH_PORT: String(await freePort()),
      ANTHROPIC_BASE_URL: model.url,
      ASH_MODEL_MAX_RETRIES: '0',
    };
  });
  afterAll(async () => {
    await runAsh(['stop'], env);
    await model.close();
    removeDir(home);
  });

  it('runs the quickstart exactly as the README shows and prints a streamed answer', async () => {
    model.onRequest((r) =>
      r.messages.length <= 2
        ? { toolUse: { name: 'Bash', input: { command: 'echo hello-from-the-sandbox' } } }
        : undefined,
    );
    const r = await bash(readmeQuickstart(), env);
    model.onRequest(undefined);
    expect(r.stderr).not.toMatch(/^ash: /m);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Ash is running at http:\/\/127\.0\.0\.1:\d+/);
    // `ash start` showed how far the start got, then where the key is.
    expect(r.stdout).toMatch(
      /^Starting Ash \(pid \d+\)…\n {2}opening the database and applying migrations\n/m,
    );
    expect(r.stdout).toMatch(/^ {2}checking sandbox isolation/m);
    expect(r.stdout).toMatch(/Saved the server's first API key to .*config\.json/);
    expect(r.stdout).toContain('deployed hello (version 1');
    // The answer streamed, with the tool call and its result on their own lines.
    expect(r.stdout).toMatch(/^\[tool\] Bash \{"command":"echo hello-from-the-sandbox"\}$/m);
    expect(r.stdout).toMatch(/^\[result\] hello-from-the-sandbox$/m);
    expect(r.stdout).toMatch(/^Done\.$/m);
    expect(r.stdout).toMatch(/#1 user: Hello! What can you do\?/);
    expect(r.stdout).toContain('Ash stopped');
    // The real SDK produced it: the request came from the Claude CLI.
    expect(String(model.messageRequests()[0]!.headers['user-agent'])).toMatch(/claude-cli\//);
  });

  it('keeps agents, sessions, messages and events across a server restart, and the conversation continues', async () => {
    expect((await runAsh(['start'], env)).code).toBe(0);
    expect((await runAsh(['deploy', 'examples/notes-keeper', '--name', 'notes'], env)).code).toBe(0);
    const created = await runAsh(['session', 'create', 'notes'], env);
    const id = created.stdout.trim();
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    model.forSession(id).enqueue(
      {
        toolUse: {
          name: 'Write',
          input: { file_path: '/workspace/notes/cats.md', content: 'Cats purr.\n' },
        },
      },
      { text: 'Noted about cats.' },
    );
    const first = await runAsh(['session', 'send', id, 'Remember: cats purr'], env);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('Noted about cats.');
    const before = {
      agents: JSON.parse((await runAsh(['agent', 'list', '--json'], env)).stdout),
      session: JSON.parse((await runAsh(['session', 'get', id, '--json'], env)).stdout),
      messages: JSON.parse((await runAsh(['session', 'messages', id, '--json'], env)).stdout),
      events: JSON.parse((await runAsh(['session', 'events', id, '--json', '--limit', '1000'], env)).stdout),
    };
    expect((await runAsh(['stop'], env)).stdout).toContain('Ash stopped');
    expect((await runAsh(['status'], env)).code).toBe(1);
    expect((await runAsh(['start'], env)).code).toBe(0);
    const after = {
      agents: JSON.parse((await runAsh(['agent', 'list', '--json'], env)).stdout),
      session: JSON.parse((await runAsh(['session', 'get', id, '--json'], env)).stdout),
      messages: JSON.parse((await runAsh(['session', 'messages', id, '--json'], env)).stdout),
      events: JSON.parse((await runAsh(['session', 'events', id, '--json', '--limit', '1000'], env)).stdout),
    };
    expect(after.agents).toEqual(before.agents);
    expect(after.messages).toEqual(before.messages);
    expect(after.events.events.slice(0, before.events.events.length)).toEqual(before.events.events);
    expect(after.session.session.id).toBe(id);
    expect(['active', 'paused']).toContain(after.session.session.status);
    // The next message continues the same conversation in the restored workspace.
    model
      .forSession(id)
      .enqueue(
        { toolUse: { name: 'Bash', input: { command: 'cat /workspace/notes/cats.md' } } },
        { text: 'You told me cats purr.' },
      );
    const second = await runAsh(['session', 'send', id, 'What do you know about cats?'], env);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('[result] Cats purr.');
    const seen = JSON.stringify(model.messageRequests(id).at(-1)!.messages);
    expect(seen).toContain('Remember: cats purr');
    expect(seen).toContain('Noted about cats.');
  }, 180_000);

  it('surfaces bad input as one clear line and a non-zero exit', async () => {
    expect((await runAsh(['status'], env)).code).toBe(0);
    const cases: Array<[string[], RegExp]> = [
      [
        ['session', 'create', 'no-such-agent'],
        /^ash: Agent 'no-such-agent' was not found \(404 agent_not_found\)\n$/,
      ],
      [['session', 'get', '00000000-0000-4000-8000-000000000000'], /\(404 session_not_found\)\n$/],
      [['session', 'send', 'nope', 'hi'], /\(404 session_not_found\)\n$/],
      [['agent', 'get', 'nope'], /\(404 agent_not_found\)\n$/],
      [['deploy', 'packages', '--name', 'x'], /has no CLAUDE\.md/],
      [['deploy', 'examples/hello', '--name', 'bad name!'], /\(400 validation_failed\)\n$/],
      [['deploy', 'does-not-exist'], /not a directory/],
      [['session', 'create', 'notes', '-e', 'oops'], /expected KEY=VALUE/],
      [
        ['--server', 'http://127.0.0.1:9', 'agent', 'list'],
        /cannot reach the Ash server at http:\/\/127\.0\.0\.1:9/,
      ],
    ];
    for (const [args, pattern] of cases) {
      const r = await runAsh(args, env);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr, args.join(' ')).toMatch(pattern);
      expect(r.stderr.split('\n').filter(Boolean), args.join(' ')).toHaveLength(1);
    }
    const id = (await runAsh(['session', 'create', 'hello'], env)).stdout.trim();
    expect((await runAsh(['session', 'end', id], env)).code).toBe(0);
    const gone = await runAsh(['session', 'send', id, 'hi'], env);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/\(410 session_ended\)/);
    const unknownCommand = await runAsh(['frobnicate'], env);
    expect(unknownCommand.code).toBe(2);
  });

  it('pauses, resumes, forks, interrupts and rejoins sessions from the CLI', async () => {
    expect((await runAsh(['status'], env)).code).toBe(0);
    const id = (await runAsh(['session', 'create', 'hello'], env)).stdout.trim();
    model.forSession(id).enqueue({ text: 'first' });
    expect((await runAsh(['session', 'send', id, 'one'], env)).code).toBe(0);
    expect((await runAsh(['session', 'pause', id], env)).stdout).toBe(`${id} paused\n`);
    expect((await runAsh(['session', 'resume', id], env)).stdout).toBe(`${id} active\n`);
    const fork = await runAsh(['session', 'fork', id], env);
    expect(fork.code).toBe(0);
    const child = fork.stdout.trim();
    expect(child).toMatch(/^[0-9a-f-]{36}$/);
    expect(
      JSON.parse((await runAsh(['session', 'get', child, '--json'], env)).stdout).session.parentSessionId,
    ).toBe(id);
    const replay = await runAsh(['session', 'stream', id], env);
    expect(replay.code).toBe(0);
    expect(replay.stdout).toContain('first');
    model.forSession(id).enqueue({ slow: { deltas: 100, intervalMs: 100 } });
    const running = runAsh(['session', 'send', id, 'slowly'], env);
    await new Promise((r) => setTimeout(r, 1500));
    expect((await runAsh(['session', 'interrupt', id], env)).stdout).toBe('interrupted\n');
    const interrupted = await running;
    expect(interrupted.code).toBe(1);
    expect(interrupted.stderr).toContain('(interrupted)');
    expect((await runAsh(['session', 'interrupt', id], env)).stdout).toBe('no turn was running\n');
    const gone = await runAsh(['session', 'resume', '00000000-0000-4000-8000-000000000000'], env);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/404 session_not_found/);
  });
});
