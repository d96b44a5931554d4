import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  bridgeEntryPath,
  resolveClaudeExecutable,
  SandboxManager,
  silentLogger,
  type ModelCallUsage,
  type TurnEvent,
} from '@ash-ai/sandbox';
import { ScriptedModel, removeDir, tempDir } from '@ash-ai/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InProcessRunner, type SandboxPaths, type SandboxStarter } from '../src/index.js';

/**
 * The in-process runner with real sandboxes (bubblewrap, cgroups, the built bridge, the Claude
 * executable) against the scripted model: the RunnerClient calls the server's session engine
 * makes, end to end, without a server.
 */
describe('InProcessRunner with real sandboxes', () => {
  let model: ScriptedModel;
  let root: string;
  let manager: SandboxManager;
  let runner: InProcessRunner;
  let paths: SandboxPaths;

  beforeAll(async () => {
    model = await ScriptedModel.start();
    root = tempDir('ash-runner-');
    paths = {
      sessionDir: (id) => join(root, 'sessions', id),
      workspace: (id) => join(root, 'sessions', id, 'workspace'),
      claudeConfig: (id) => join(root, 'sessions', id, 'claude'),
    };
    manager = await SandboxManager.create({
      mode: 'bwrap',
      bridgeEntry: bridgeEntryPath(),
      claudeExecutable: resolveClaudeExecutable(),
      groupName: `ash-runner-test-${process.pid}`,
      modelUpstreamUrl: model.url,
      baseClaudeEnv: { CLAUDE_CODE_MAX_RETRIES: '0' },
      sessionsRoot: join(root, 'sessions'),
      spareBridges: 0,
      log: silentLogger,
    });
    runner = new InProcessRunner({
      factory: manager,
      paths,
      maxSandboxes: 1,
      idleTimeoutMs: 600_000,
      startGate: { maxConcurrent: 1, maxQueued: 4, maxWaitMs: 60_000 },
      log: silentLogger,
    });
  });

  afterAll(async () => {
    await runner?.shutdown();
    await manager?.close();
    await model?.close();
    removeDir(root);
  });

  it('starts a session sandbox, runs a turn, metering its model call, runs a command, stops', async () => {
    const id = randomUUID();
    mkdirSync(paths.workspace(id), { recursive: true });
    mkdirSync(paths.claudeConfig(id), { recursive: true });
    writeFileSync(join(paths.workspace(id), 'CLAUDE.md'), '# Runner test\n');
    const usage: ModelCallUsage[] = [];
    let prepared = 0;
    const starter: SandboxStarter = {
      prepare: async () => {
        prepared++;
        return {
          env: { RUNNER_TEST: 'yes' },
          model: { resolveApiKey: () => 'sk-ant-test-0123456789abcdef', onUsage: (u) => usage.push(u) },
        };
      },
    };
    await Promise.all([runner.ensureSandbox(id, starter), runner.ensureSandbox(id, starter)]);
    expect(prepared).toBe(1);
    expect(runner.hasLiveSandbox(id)).toBe(true);
    expect(runner.stats()).toMatchObject({ live: 1, reserved: 0, maxCapacity: 1 });
    // Full (one slot) and the session is pinned by a turn: no room for another sandbox.
    runner.pin(id);
    await expect(runner.reserve()).rejects.toThrow(/every sandbox is busy/);

    model.enqueue({ text: 'hello from the runner' });
    const turn = runner.runTurn(id, {
      turnId: randomUUID(),
      prompt: 'hi',
      options: {},
      conversation: { sessionId: id },
    });
    const events: TurnEvent[] = [];
    for await (const ev of turn.events) events.push(ev);
    runner.unpin(id);
    const end = events.at(-1)!;
    expect(end.ev).toBe('turn_end');
    expect(end.ev === 'turn_end' && end.outcome).toBe('completed');
    expect(JSON.stringify(events)).toContain('hello from the runner');
    expect(usage.length).toBeGreaterThan(0);
    const cpu = turn.cpuSeconds();
    expect(cpu === undefined || cpu >= 0).toBe(true);
    // The Claude process is up: the start permit went back.
    expect(runner.stats().startsRunning).toBe(0);

    const r = await runner.exec(id, 'echo "$RUNNER_TEST" && pwd', {
      timeoutMs: 10_000,
      maxOutputBytes: 4096,
    });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe('yes\n/workspace\n');
    expect((await runner.logs(id, 0)).map((l) => l.text).join('\n')).toContain('echo');

    // Idle now: a new start takes the least recently used session's slot (evicted).
    const evicted: string[] = [];
    runner.listen({ evicted: async (sessionId) => void evicted.push(sessionId) });
    (await runner.reserve()).release();
    expect(evicted).toEqual([id]);
    expect(runner.hosts(id)).toBe(false);
    expect(runner.stats().live).toBe(0);
    await runner.stop(id); // nothing left: a no-op
  });
});
