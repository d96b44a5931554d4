import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
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
import { ashInPty, plain } from './terminal.js';

/** `ash chat` and the progress display, driven through a real pseudo-terminal (util-linux `script`). */
describe('ash in a terminal: chat, progress bars, spinner', () => {
  let model: ScriptedModel;
  let home: string;
  let server: AshProcess;
  let env: Record<string, string>;
  const ash = (...args: string[]) => runAsh(['-s', server.url, ...args], env, { timeoutMs: 120_000 });
  const pty = (...args: string[]) => ashInPty(['-s', server.url, ...args], env);

  beforeAll(async () => {
    model = await ScriptedModel.start();
    home = tempDir('ash-cli-tty-');
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

  it('chats: sends, streams with tool calls on one line, Ctrl-C interrupts the turn, Ctrl-C twice exits', async () => {
    const chat = pty('chat', 'hello');
    try {
      const [, id] = await chat.waitFor(/session ([0-9a-f-]{36}) \(agent hello\)/);
      model
        .forSession(id!)
        .enqueue(
          { toolUse: { name: 'Bash', input: { command: 'echo tool-ran' } } },
          { text: 'Hello from the chat agent.' },
          { slow: { deltas: 600, intervalMs: 100, text: 'tick ' } },
          { text: 'Back after the interrupt.' },
        );
      await chat.waitFor(/> $/);
      let mark = chat.output().length;
      chat.write('hi there\r');
      await chat.waitFor(/Hello from the chat agent\./, 90_000, mark);
      const first = plain(chat.output().slice(mark));
      expect(first).toMatch(/\[tool\] Bash \{"command":"echo tool-ran"\}/);
      expect(first).toMatch(/\[result\] tool-ran/);
      // The spinner showed while waiting for the answer.
      expect(first).toMatch(/waiting for the agent…/);
      await chat.waitFor(/> $/, 30_000, mark);

      // A long answer: it streams; Ctrl-C interrupts it and the prompt comes back.
      mark = chat.output().length;
      chat.write('count slowly\r');
      await chat.waitFor(/tick tick tick /, 90_000, mark);
      chat.write('\x03');
      await chat.waitFor(/\(interrupted\)/, 60_000, mark);
      await chat.waitFor(/> $/, 30_000, mark);
      const turn = plain(chat.output().slice(mark));
      expect(turn).toContain('(interrupting… Ctrl-C again to exit)');
      expect((turn.match(/tick /g) ?? []).length).toBeLessThan(600);
      const s = JSON.parse((await ash('session', 'get', id!, '--json')).stdout).session;
      expect(s.activeTurnId ?? null).toBeNull();

      // The conversation goes on in the same session.
      mark = chat.output().length;
      chat.write('still there?\r');
      await chat.waitFor(/Back after the interrupt\./, 90_000, mark);
      await chat.waitFor(/> $/, 30_000, mark);

      // Ctrl-C at the prompt: a hint; a second one exits (130).
      mark = chat.output().length;
      chat.write('\x03');
      await chat.waitFor(/Ctrl-C again to exit, or \/exit/, 30_000, mark);
      chat.write('\x03');
      expect(await chat.exited).toBe(130);
      expect(plain(chat.output())).toContain(`continue later with: ash chat ${id}`);
    } finally {
      chat.kill();
    }
  });

  it('continues a session by id; Ctrl-C twice during a turn exits; /exit leaves cleanly', async () => {
    const id = (await ash('session', 'create', 'hello')).stdout.trim();
    model
      .forSession(id)
      .enqueue({ slow: { deltas: 600, intervalMs: 100, text: 'tock ' } }, { text: 'Seen you again.' });
    const chat = pty('chat', id);
    try {
      await chat.waitFor(new RegExp(`session ${id} \\(agent hello\\)`));
      await chat.waitFor(/> $/);
      chat.write('go\r');
      await chat.waitFor(/tock tock /, 90_000);
      chat.write('\x03');
      await chat.waitFor(/interrupting/);
      chat.write('\x03');
      expect(await chat.exited).toBe(130);
    } finally {
      chat.kill();
    }
    // The session was left usable: a new chat on it answers and /exit ends with 0.
    await waitIdle(id);
    const again = pty('chat', id);
    try {
      await again.waitFor(/> $/);
      again.write('hello again\r');
      await again.waitFor(/Seen you again\./, 90_000);
      await again.waitFor(/> $/, 30_000, again.output().indexOf('Seen you again.'));
      again.write('/exit\r');
      expect(await again.exited).toBe(0);
    } finally {
      again.kill();
    }
  });

  async function waitIdle(id: string): Promise<void> {
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const s = JSON.parse((await ash('session', 'get', id, '--json')).stdout).session;
      if (!s.activeTurnId) return;
      await new Promise((r) => setTimeout(r, 300));
    }
    throw new Error(`session ${id} still has a running turn`);
  }

  it('shows progress bars on a terminal (deploy, upload, workspace save/restore), none with --json or a pipe', async () => {
    const dir = join(home, 'bulky');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'CLAUDE.md'), '# Bulky\n');
    writeFileSync(join(dir, 'data.bin'), Buffer.alloc(3 * 1024 * 1024, 7));
    const deploy = pty('deploy', dir);
    expect(await deploy.exited).toBe(0);
    expect(plain(deploy.output())).toMatch(/upload \[#+\.*\]\s+\d+% [\d.]+ (MiB|KiB) \/ 3\.0 MiB/);
    expect(plain(deploy.output())).toContain('deployed bulky (version 1, 2 files)');

    const id = (await ash('session', 'create', 'bulky')).stdout.trim();
    const file = join(home, 'upload.bin');
    writeFileSync(file, Buffer.alloc(2 * 1024 * 1024, 1));
    const up = pty('session', 'upload', id, file);
    expect(await up.exited).toBe(0);
    expect(plain(up.output())).toMatch(/upload \[#+\.*\]\s+\d+% .* \/ 2\.0 MiB/);
    expect(plain(up.output())).toContain(`uploaded upload.bin (${2 * 1024 * 1024} bytes)`);

    const bundle = join(home, 'ws.tar.gz');
    const save = pty('session', 'workspace', 'save', id, '-o', bundle);
    expect(await save.exited).toBe(0);
    expect(plain(save.output())).toMatch(/download (\[#+\.*\]|.) .*(B|KiB|MiB)/);
    const restore = pty('session', 'workspace', 'restore', id, bundle);
    expect(await restore.exited).toBe(0);
    expect(plain(restore.output())).toMatch(/restore \[#+\.*\]\s+\d+%/);
    expect(plain(restore.output())).toMatch(/restored \d+ files/);

    // With --json on a terminal, and through a pipe: no bar, clean output.
    const quiet = pty('session', 'upload', id, file, '--json');
    expect(await quiet.exited).toBe(0);
    expect(plain(quiet.output())).not.toMatch(/upload \[/);
    expect(JSON.parse(plain(quiet.output())).files[0]).toMatchObject({ path: 'upload.bin', written: true });
    const piped = await ash('session', 'upload', id, file);
    expect(piped.code).toBe(0);
    expect(piped.stderr).toBe('');
    const pipedDeploy = await ash('deploy', dir, '--name', 'bulky2');
    expect(pipedDeploy.stderr).toBe('');

    // The spinner while a turn waits: on a terminal only, and not with --json.
    model.forSession(id).enqueue({ text: 'spun' }, { text: 'not spun' });
    const send = pty('session', 'send', id, 'hello');
    expect(await send.exited).toBe(0);
    expect(plain(send.output())).toMatch(/waiting for the agent…/);
    const sendJson = pty('session', 'send', id, 'hello', '--json');
    expect(await sendJson.exited).toBe(0);
    expect(plain(sendJson.output())).not.toMatch(/waiting for the agent/);
    for (const line of plain(sendJson.output()).split('\n').filter(Boolean))
      expect(() => JSON.parse(line)).not.toThrow();
  });
});
