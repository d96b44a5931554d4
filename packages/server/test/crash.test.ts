import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ScriptedModel, removeDir, requestText, serverEnv, startAshProcess, tempDir } from '@ash-ai/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, eventually, expectOutcome, sandboxLeftovers, sendTurn } from './harness.js';

describe('a server killed with SIGKILL', () => {
  let model: ScriptedModel;
  let dataDir: string;
  beforeAll(async () => {
    model = await ScriptedModel.start();
    dataDir = tempDir('ash-crash-');
  });
  afterAll(async () => {
    await model.close();
    removeDir(dataDir);
  });

  it('leaves no orphan, and after a restart the interrupted turn is closed and the conversation continues', async () => {
    const env = serverEnv({ dataDir, modelUrl: model.url, extra: { ASH_PREWARM_COUNT: '0' } });
    const first = await startAshProcess(env);
    const files = [{ path: 'CLAUDE.md', content: Buffer.from('# Crash\n').toString('base64') }];
    expect((await api(first.url, 'POST', '/api/agents', { name: 'crash', files })).status).toBe(201);
    const id = (await api(first.url, 'POST', '/api/sessions', { agent: 'crash' })).body.session.id as string;
    model.forSession(id).enqueue(
      {
        toolUse: {
          name: 'Write',
          input: { file_path: '/workspace/keep.txt', content: 'kept across the crash\n' },
        },
      },
      { text: 'Wrote keep.txt.' },
      { slow: { deltas: 200, intervalMs: 100 } },
    );
    expectOutcome(await sendTurn(first.url, id, { content: 'write keep.txt' }), 'completed');
    const dying = sendTurn(first.url, id, { content: 'a long answer please' }).catch((err: unknown) => err);
    await eventually(() => model.messageRequests(id).length >= 3, 15_000, 'the slow model call');
    expect(sandboxLeftovers(id).processes.length).toBeGreaterThan(0);

    await first.kill();
    await dying;
    // Bridges die with the server (parent-death signal) and take their sandboxes with them.
    await eventually(() => sandboxLeftovers(id).processes.length === 0, 10_000, 'orphans to die');
    // The sandbox's own disk outlives the killed server: its image, still mounted, holds the files.
    const sessionDir = join(dataDir, 'sessions', id);
    const mountsOf = () =>
      readFileSync('/proc/self/mountinfo', 'utf8')
        .split('\n')
        .filter((l) => l.split(' ')[4]?.startsWith(`${sessionDir}/`));
    expect(existsSync(join(sessionDir, '.ash-disk.img'))).toBe(true);
    expect(mountsOf().length).toBe(3);

    const second = await startAshProcess(env);
    try {
      expect(sandboxLeftovers(id)).toEqual({ processes: [], cgroups: [], runtimeDirs: [] });
      // The restart copied the files back to the session's folders and removed the disk.
      expect(existsSync(join(sessionDir, '.ash-disk.img'))).toBe(false);
      expect(mountsOf()).toEqual([]);
      expect(readFileSync(join(sessionDir, 'workspace', 'keep.txt'), 'utf8')).toBe('kept across the crash\n');
      const session = (await api(second.url, 'GET', `/api/sessions/${id}`)).body.session;
      expect(session).toMatchObject({ status: 'paused', activeTurnId: null });
      const events = (await api(second.url, 'GET', `/api/sessions/${id}/events?limit=1000`)).body
        .events as Array<{ type: string; data: string; turnId: string }>;
      const last = events.at(-1)!;
      expect(last.type).toBe('done');
      expect(JSON.parse(last.data)).toMatchObject({ outcome: 'error' });
      expect(events.at(-2)!.type).toBe('error');
      expect(events.filter((e) => e.type === 'session_start').length).toBe(
        events.filter((e) => e.type === 'done').length,
      );

      model
        .forSession(id)
        .enqueue(
          { toolUse: { name: 'Bash', input: { command: 'cat keep.txt' } } },
          { text: 'Still have it.' },
        );
      const after = await sendTurn(second.url, id, { content: 'is keep.txt still there?' });
      expectOutcome(after, 'completed');
      expect((after.events.find((e) => e.event === 'tool_result')!.data as { content: string }).content).toBe(
        'kept across the crash',
      );
      const seen = requestText(model.messageRequests(id).at(-1)!);
      for (const s of [
        'write keep.txt',
        'kept across the crash',
        'Wrote keep.txt.',
        'is keep.txt still there?',
      ])
        expect(seen).toContain(s);
      expect(readFileSync(join(dataDir, 'sessions', id, 'workspace', 'keep.txt'), 'utf8')).toBe(
        'kept across the crash\n',
      );
    } finally {
      await second.stop();
    }
    expect(mountsOf()).toEqual([]);
    // A stopped server leaves no cgroup of its own behind either.
    const group = `ash-${createHash('sha256').update(dataDir).digest('hex').slice(0, 12)}`;
    for (const ctl of ['pids', 'cpu'])
      expect(existsSync(join('/sys/fs/cgroup', ctl, group)), ctl).toBe(false);
  }, 180_000);
});

describe('isolation that is not available', () => {
  it('refuses to start without bubblewrap unless the operator opts in, and says so in /health when they do', async () => {
    const model = await ScriptedModel.start();
    const dataDir = tempDir('ash-unsafe-');
    try {
      const refused = await startAshProcess(
        serverEnv({ dataDir, modelUrl: model.url, extra: { ASH_BWRAP_PATH: '/nonexistent/bwrap' } }),
      ).catch((err: Error) => err);
      expect(refused).toBeInstanceOf(Error);
      expect(String(refused)).toMatch(
        /bubblewrap was not found at \/nonexistent\/bwrap.*ASH_SANDBOX=unsafe-process/s,
      );

      const unsafe = await startAshProcess(
        serverEnv({
          dataDir,
          modelUrl: model.url,
          extra: { ASH_SANDBOX: 'unsafe-process', ASH_PREWARM_COUNT: '0' },
        }),
      );
      try {
        expect(unsafe.output()).toMatch(
          /unsafe-process: sessions run as plain processes without filesystem or network isolation/,
        );
        const health = (await api(unsafe.url, 'GET', '/health')).body;
        expect(health.sandbox.mode).toBe('unsafe-process');
        expect(health.sandbox.warnings.join(' ')).toMatch(/without filesystem or network isolation/);
        const files = [{ path: 'CLAUDE.md', content: Buffer.from('# Plain\n').toString('base64') }];
        await api(unsafe.url, 'POST', '/api/agents', { name: 'plain', files });
        const id = (await api(unsafe.url, 'POST', '/api/sessions', { agent: 'plain' })).body.session
          .id as string;
        model
          .forSession(id)
          .enqueue({ toolUse: { name: 'Bash', input: { command: 'pwd' } } }, { text: 'ran' });
        const turn = await sendTurn(unsafe.url, id, { content: 'where are you?' });
        expectOutcome(turn, 'completed');
        expect(
          (turn.events.find((e) => e.event === 'tool_result')!.data as { content: string }).content,
        ).toBe(join(dataDir, 'sessions', id, 'workspace'));
      } finally {
        await unsafe.stop();
      }
    } finally {
      await model.close();
      removeDir(dataDir);
    }
  });
});

describe('startup checks', () => {
  it('refuses a second server on the same data dir, a client key as ASH_API_KEY, a missing Claude executable; warns without a model key', async () => {
    const model = await ScriptedModel.start();
    const dataDir = tempDir('ash-startup-');
    try {
      const env = serverEnv({ dataDir, modelUrl: model.url, extra: { ASH_PREWARM_COUNT: '0' } });
      const first = await startAshProcess(env);
      try {
        const second = await startAshProcess(env).catch((err: Error) => err);
        expect(String(second)).toMatch(
          new RegExp(`another Ash server \\(pid ${first.child.pid}\\) is using the data dir`),
        );
        expect((await api(first.url, 'GET', '/health')).status).toBe(200);
        const created = await api(first.url, 'POST', '/api/api-keys', { label: 'client' });
        expect(created.status).toBe(201);
        const clientKey = created.body.key as string;
        await first.stop();
        const withClientKey = await startAshProcess({ ...env, ASH_API_KEY: clientKey }).catch(
          (err: Error) => err,
        );
        expect(String(withClientKey)).toMatch(/ASH_API_KEY holds a key that was created through the API/);
      } finally {
        await first.stop();
      }
      const noClaude = await startAshProcess({ ...env, CLAUDE_CODE_EXECUTABLE: '/nonexistent/claude' }).catch(
        (err: Error) => err,
      );
      expect(String(noClaude)).toMatch(
        /CLAUDE_CODE_EXECUTABLE points to \/nonexistent\/claude, which does not exist/,
      );
      const { ANTHROPIC_API_KEY: _unused, ...withoutKey } = env;
      const keyless = await startAshProcess(withoutKey);
      try {
        const health = (await api(keyless.url, 'GET', '/health')).body;
        expect(health.warnings.join(' ')).toMatch(/ANTHROPIC_API_KEY is not set/);
      } finally {
        await keyless.stop();
      }
    } finally {
      await model.close();
      removeDir(dataDir);
    }
  }, 180_000);
});
