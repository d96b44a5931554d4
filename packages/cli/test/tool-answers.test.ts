import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
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
 * `ash session send` on a session with `askTools` / `customTools` when stdin is not a terminal:
 * it prints the `ash session answer` command and keeps streaming while the turn waits;
 * `ash session answer` (POST /api/sessions/:id/tool-answers) lets the turn go on. `--yes` allows.
 */
describe('ash session send with tool approvals, and ash session answer', () => {
  let model: ScriptedModel;
  let home: string;
  let server: AshProcess;
  let env: Record<string, string>;
  let id: string;
  let workspace: string;
  const ash = (...args: string[]) => runAsh(['-s', server.url, ...args], env, { timeoutMs: 120_000 });

  /** Starts `ash session send` in the background; `until(text)` waits for its output to contain text. */
  function sendInBackground(...args: string[]) {
    const child = spawn(process.execPath, [ENTRIES.cli, '-s', server.url, 'session', 'send', id, ...args], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    return {
      child,
      exited,
      out: () => ({ stdout, stderr }),
      async until(re: RegExp): Promise<RegExpMatchArray> {
        const deadline = Date.now() + 90_000;
        for (;;) {
          const m = re.exec(stderr);
          if (m) return m;
          if (Date.now() > deadline) throw new Error(`no ${re} in:\n${stdout}\n${stderr}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      },
    };
  }

  beforeAll(async () => {
    model = await ScriptedModel.start();
    home = tempDir('ash-cli-answers-');
    server = await startAshProcess(serverEnv({ dataDir: join(home, 'data'), modelUrl: model.url }));
    env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: home,
      ASH_DATA_DIR: join(home, 'cli'),
      ASH_API_KEY: TEST_API_KEY,
    };
    expect((await ash('deploy', join(REPO_ROOT, 'examples/hello'), '--name', 'hello')).code).toBe(0);
    const res = await fetch(`${server.url}/api/sessions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_API_KEY}` },
      body: JSON.stringify({
        agent: 'hello',
        askTools: ['Bash'],
        customTools: [
          {
            name: 'get_weather',
            description: 'The weather of a city, from the client.',
            inputSchema: { type: 'object', properties: { city: { type: 'string' } } },
          },
        ],
      }),
    });
    expect(res.status).toBe(201);
    id = ((await res.json()) as { session: { id: string } }).session.id;
    workspace = join(home, 'data', 'sessions', id, 'workspace');
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
    await model?.close();
    removeDir(home);
  });

  it('not a terminal: prints how to answer; ash session answer allow lets the turn run the tool', async () => {
    model
      .forSession(id)
      .enqueue(
        { toolUse: { name: 'Bash', input: { command: 'touch cli-allowed.txt' } } },
        { text: 'Made it.' },
      );
    const send = sendInBackground('make the file');
    try {
      const m = await send.until(/ash session answer (\S+) (\S+) allow\|deny/);
      expect(m[1]).toBe(id);
      const requestId = m[2]!;
      expect(existsSync(join(workspace, 'cli-allowed.txt'))).toBe(false);

      const bad = await ash('session', 'answer', id, requestId, 'maybe');
      expect(bad.code).toBe(1);
      expect(bad.stderr).toContain('allow, deny or result');
      const unknown = await ash('session', 'answer', id, 'toolu_nope', 'allow');
      expect(unknown.code).toBe(1);
      expect(unknown.stderr).toContain('validation_failed');

      const ok = await ash('session', 'answer', id, requestId, 'allow');
      expect(ok.code, ok.stderr).toBe(0);
      expect(ok.stdout).toBe('allow delivered\n');
      expect(await send.exited).toBe(0);
      expect(send.out().stdout).toContain('[approval needed] Bash');
      expect(send.out().stdout).toContain('[answer] allow');
      expect(existsSync(join(workspace, 'cli-allowed.txt'))).toBe(true);

      const again = await ash('session', 'answer', id, requestId, 'deny', '-m', 'late');
      expect(again.code).toBe(1);
      expect(again.stderr).toContain('already answered');
    } finally {
      send.child.kill('SIGKILL');
    }
  }, 180_000);

  it('a custom tool: ash session answer … result --content reaches the model', async () => {
    model
      .forSession(id)
      .enqueue(
        { toolUse: { name: 'mcp__ash_custom__get_weather', input: { city: 'Oslo' } } },
        { text: 'Cold.' },
      );
    const send = sendInBackground('weather?');
    try {
      const m = await send.until(/ash session answer \S+ (\S+) result --content/);
      const ok = await ash('session', 'answer', id, m[1]!, 'result', '--content', 'SNOW-MINUS-7', '--json');
      expect(ok.code, ok.stderr).toBe(0);
      expect(JSON.parse(ok.stdout)).toMatchObject({ answer: { kind: 'custom_tool' }, outcome: 'delivered' });
      expect(await send.exited).toBe(0);
      const seen = JSON.stringify(model.messageRequests(id).map((r) => r.messages));
      expect(seen).toContain('SNOW-MINUS-7');
    } finally {
      send.child.kill('SIGKILL');
    }
  }, 180_000);

  it('--yes allows without asking', async () => {
    model
      .forSession(id)
      .enqueue({ toolUse: { name: 'Bash', input: { command: 'touch cli-yes.txt' } } }, { text: 'Done.' });
    const r = await ash('session', 'send', id, 'again', '--yes');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('[answer] allow');
    expect(existsSync(join(workspace, 'cli-yes.txt'))).toBe(true);
  }, 180_000);
  it('ash session create --ask-tools / --network make such sessions; bad values are clear errors', async () => {
    const made = await ash(
      'session',
      'create',
      'hello',
      '--ask-tools',
      'Bash, Write',
      '--network',
      '{"allow":["api.github.com"]}',
      '--json',
    );
    expect(made.code, made.stderr).toBe(0);
    const sid = JSON.parse(made.stdout).session.id as string;
    const got = await fetch(`${server.url}/api/sessions/${sid}`, {
      headers: { authorization: `Bearer ${TEST_API_KEY}` },
    });
    const config = ((await got.json()) as { session: { config: Record<string, unknown> } }).session.config;
    expect(config).toMatchObject({ askTools: ['Bash', 'Write'], network: { allow: ['api.github.com'] } });
    const notJson = await ash('session', 'create', 'hello', '--network', '{allow');
    expect(notJson.code).toBe(1);
    expect(notJson.stderr).toContain('--network must be a JSON object');
    const badPattern = await ash('session', 'create', 'hello', '--network', '{"allow":["http://x"]}');
    expect(badPattern.code).toBe(1);
    expect(badPattern.stderr).toContain('validation_failed');
    const empty = await ash('session', 'create', 'hello', '--ask-tools', ' , ');
    expect(empty.code).toBe(1);
    expect(empty.stderr).toContain('--ask-tools needs at least one tool name');
  }, 120_000);

  it('ash chat answers a waiting call from the next line: y allows, other text denies, a custom tool gets the line as its result', async () => {
    const chat = (input: string) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
        const child = spawn(process.execPath, [ENTRIES.cli, '-s', server.url, 'chat', id], {
          env,
          stdio: ['pipe', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error(`timed out:\n${stdout}\n${stderr}`));
        }, 150_000);
        child.once('exit', (code) => {
          clearTimeout(timer);
          resolve({ code, stdout, stderr });
        });
        child.stdin.end(input);
      });
    model
      .forSession(id)
      .enqueue(
        { toolUse: { name: 'Bash', input: { command: 'touch chat-yes.txt' } } },
        { text: 'Made.' },
        { toolUse: { name: 'Bash', input: { command: 'touch chat-no.txt' } } },
        { text: 'Not made.' },
        { toolUse: { name: 'mcp__ash_custom__get_weather', input: { city: 'Bergen' } } },
        { text: 'Wet.' },
      );
    const r = await chat('make one\ny\nmake another\nno thanks\nweather?\nRAIN-CHAT-12\n');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('allow Bash? [y/N]');
    expect(r.stderr).toContain('result of get_weather');
    expect(r.stdout).toContain('[answer] allow');
    expect(r.stdout).toContain('[answer] deny');
    expect(existsSync(join(workspace, 'chat-yes.txt'))).toBe(true);
    expect(existsSync(join(workspace, 'chat-no.txt'))).toBe(false);
    expect(JSON.stringify(model.messageRequests(id).map((q) => q.messages))).toContain('RAIN-CHAT-12');
  }, 240_000);

  it('on a terminal it asks allow? [y/N]: y runs the tool, anything else denies it', async () => {
    // `script` gives the CLI a pseudo-terminal; what we write to its stdin is typed there.
    const run = (cmd: string, reply: string) =>
      new Promise<{ code: number | null; out: string }>((resolve, reject) => {
        const child = spawn('script', ['-qfec', cmd, '/dev/null'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
        let out = '';
        let replied = false;
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error(`timed out:\n${out}`));
        }, 120_000);
        const onData = (d: Buffer) => {
          out += d.toString();
          if (!replied && out.includes('allow Bash? [y/N]')) {
            replied = true;
            child.stdin.write(reply);
          }
        };
        child.stdout.on('data', onData);
        child.stderr.on('data', onData);
        child.once('exit', (code) => {
          clearTimeout(timer);
          resolve({ code, out });
        });
      });
    const cli = `${process.execPath} ${ENTRIES.cli} -s ${server.url} session send ${id}`;
    model
      .forSession(id)
      .enqueue({ toolUse: { name: 'Bash', input: { command: 'touch tty-yes.txt' } } }, { text: 'Ok.' });
    const yes = await run(`${cli} 'make it'`, 'y\r');
    expect(yes.code, yes.out).toBe(0);
    expect(yes.out).toContain('[answer] allow');
    expect(existsSync(join(workspace, 'tty-yes.txt'))).toBe(true);
    model
      .forSession(id)
      .enqueue({ toolUse: { name: 'Bash', input: { command: 'touch tty-no.txt' } } }, { text: 'Ok then.' });
    const no = await run(`${cli} 'make another'`, '\r');
    expect(no.code, no.out).toBe(0);
    expect(no.out).toContain('[answer] deny');
    expect(existsSync(join(workspace, 'tty-no.txt'))).toBe(false);
  }, 240_000);
});
