import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SseDecoder, type StreamEvent } from '@ash-ai/shared';
import { TEST_API_KEY, requestText } from '@ash-ai/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  bridgePids,
  createSession,
  deployAgent,
  eventually,
  expectOutcome,
  sandboxLeftovers,
  sendTurn,
  startTestServer,
  type TestServer,
} from './harness.js';

const AUTH = `Bearer ${TEST_API_KEY}`;
const ws = (t: TestServer, id: string, file: string) => join(t.dataDir, 'sessions', id, 'workspace', file);

/** A process's command line ('' once it is gone). */
function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
}

describe('session lifecycle: pause, resume, stop, fork, interrupt, failures, reconnect', () => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer({ env: { ASH_TURN_IDLE_TIMEOUT_MS: '3000', ASH_INTERRUPT_GRACE_MS: '1500' } });
    await deployAgent(t.url, 'life', { 'CLAUDE.md': '# Life\n' });
  });
  afterAll(async () => t?.close());

  it('pause then message, and stop then resume, continue the same conversation with the workspace intact', async () => {
    const id = await createSession(t.url, 'life');
    t.model
      .forSession(id)
      .enqueue(
        { toolUse: { name: 'Bash', input: { command: 'echo apples > fruit.txt && echo saved' } } },
        { text: 'Saved apples.' },
      );
    expect((await sendTurn(t.url, id, { content: 'save apples' })).events.at(-1)!.data).toMatchObject({
      outcome: 'completed',
    });

    const paused = await api(t.url, 'POST', `/api/sessions/${id}/pause`);
    expect(paused.status).toBe(200);
    expect(paused.body.session.status).toBe('paused');
    expect(sandboxLeftovers(id)).toEqual({ processes: [], cgroups: [], runtimeDirs: [] });
    expect((await api(t.url, 'POST', `/api/sessions/${id}/pause`)).body.session.status).toBe('paused');

    t.model
      .forSession(id)
      .enqueue(
        { toolUse: { name: 'Bash', input: { command: 'cat fruit.txt' } } },
        { text: 'You saved apples.' },
      );
    const after = await sendTurn(t.url, id, { content: 'what did we save?' });
    expect(after.events.at(-1)!.data).toMatchObject({ outcome: 'completed' });
    expect((after.events.find((e) => e.event === 'tool_result')!.data as { content: string }).content).toBe(
      'apples',
    );
    const seen = requestText(t.model.messageRequests(id).at(-1)!);
    for (const s of ['save apples', 'echo apples > fruit.txt', 'Saved apples.', 'what did we save?'])
      expect(seen).toContain(s);
    expect((await api(t.url, 'GET', `/api/sessions/${id}`)).body.session.status).toBe('active');

    const stopped = await api(t.url, 'POST', `/api/sessions/${id}/stop`);
    expect(stopped.body.session.status).toBe('stopped');
    await eventually(() => sandboxLeftovers(id).processes.length === 0, 5000, 'processes gone after stop');
    const resumed = await api(t.url, 'POST', `/api/sessions/${id}/resume`);
    expect(resumed.status).toBe(200);
    expect(resumed.body.session.status).toBe('active');
    t.model.forSession(id).enqueue({ text: 'Still here.' });
    expect((await sendTurn(t.url, id, { content: 'third' })).events.at(-1)!.data).toMatchObject({
      outcome: 'completed',
    });
    const third = requestText(t.model.messageRequests(id).at(-1)!);
    expect(third).toContain('You saved apples.');
    expect(readFileSync(ws(t, id, 'fruit.txt'), 'utf8')).toBe('apples\n');
    // resuming an active session is a warm no-op
    expect((await api(t.url, 'POST', `/api/sessions/${id}/resume`)).body.session.status).toBe('active');
    const lifecycle = await api(t.url, 'GET', `/api/sessions/${id}/events?type=lifecycle`);
    const actions = lifecycle.body.events.map((e: { data: string }) => JSON.parse(e.data).action);
    expect(actions).toEqual(expect.arrayContaining(['created', 'paused', 'stopped', 'resumed']));
  });

  it('refuses to resume an ended session (410) and a session whose agent files are gone (422)', async () => {
    const id = await createSession(t.url, 'life');
    await api(t.url, 'DELETE', `/api/sessions/${id}`);
    const r = await api(t.url, 'POST', `/api/sessions/${id}/resume`);
    expect(r.status).toBe(410);
    expect(r.body.code).toBe('session_ended');
    expect((await api(t.url, 'POST', `/api/sessions/${id}/pause`)).status).toBe(410);

    await deployAgent(t.url, 'fragile', { 'CLAUDE.md': '# Fragile\n' });
    const s = await createSession(t.url, 'fragile');
    await api(t.url, 'POST', `/api/sessions/${s}/pause`);
    rmSync(join(t.dataDir, 'agents', 'default', 'fragile'), { recursive: true, force: true });
    // Gone from object storage too (else the folder is restored from its archive).
    rmSync(join(t.dataDir, 'storage', 'agents', 'default', 'fragile'), { recursive: true, force: true });
    for (const action of ['resume', 'fork']) {
      const res = await api(t.url, 'POST', `/api/sessions/${s}/${action}`);
      expect(res.status, action).toBe(422);
      expect(res.body.code).toBe('agent_folder_missing');
      expect(res.body.detail).toMatch(/redeploy/);
    }
  });

  it('forks a session into an independent copy of history, transcript and workspace', async () => {
    const parent = await createSession(t.url, 'life', { model: 'fork-model' });
    t.model.forSession(parent).enqueue(
      {
        toolUse: { name: 'Write', input: { file_path: '/workspace/shared.txt', content: 'before fork\n' } },
      },
      { text: 'Wrote it.' },
    );
    await sendTurn(t.url, parent, { content: 'write the shared file' });
    const forked = await api(t.url, 'POST', `/api/sessions/${parent}/fork`);
    expect(forked.status).toBe(201);
    const child = forked.body.session;
    expect(child).toMatchObject({
      parentSessionId: parent,
      status: 'active',
      agentName: 'life',
      config: { model: 'fork-model' },
    });
    expect(child.id).not.toBe(parent);
    const parentMsgs = (await api(t.url, 'GET', `/api/sessions/${parent}/messages`)).body.messages;
    const childMsgs = (await api(t.url, 'GET', `/api/sessions/${child.id}/messages`)).body.messages;
    expect(childMsgs.map((m: { sequence: number; text: string }) => [m.sequence, m.text])).toEqual(
      parentMsgs.map((m: { sequence: number; text: string }) => [m.sequence, m.text]),
    );
    expect(readFileSync(ws(t, child.id, 'shared.txt'), 'utf8')).toBe('before fork\n');

    // Diverge: each writes its own file and message.
    t.model
      .forSession(child.id)
      .enqueue(
        { toolUse: { name: 'Bash', input: { command: 'echo child > who.txt && cat shared.txt' } } },
        { text: 'child done' },
      );
    t.model
      .forSession(parent)
      .enqueue(
        { toolUse: { name: 'Bash', input: { command: 'echo parent > who.txt' } } },
        { text: 'parent done' },
      );
    const childTurn = await sendTurn(t.url, child.id, { content: 'child turn' });
    const parentTurn = await sendTurn(t.url, parent, { content: 'parent turn' });
    expect(
      (childTurn.events.find((e) => e.event === 'tool_result')!.data as { content: string }).content,
    ).toContain('before fork');
    expect(parentTurn.events.at(-1)!.data).toMatchObject({ outcome: 'completed' });
    expect(readFileSync(ws(t, child.id, 'who.txt'), 'utf8')).toBe('child\n');
    expect(readFileSync(ws(t, parent, 'who.txt'), 'utf8')).toBe('parent\n');
    // The child's model call saw the parent's earlier turn, but not the parent's later one.
    const childSeen = requestText(t.model.messageRequests(child.id).at(-1)!);
    expect(childSeen).toContain('write the shared file');
    expect(childSeen).not.toContain('parent turn');
    const parentSeen = requestText(t.model.messageRequests(parent).at(-1)!);
    expect(parentSeen).not.toContain('child turn');
    const childTexts = (await api(t.url, 'GET', `/api/sessions/${child.id}/messages`)).body.messages.map(
      (m: { text: string }) => m.text,
    );
    const parentTexts = (await api(t.url, 'GET', `/api/sessions/${parent}/messages`)).body.messages.map(
      (m: { text: string }) => m.text,
    );
    expect(childTexts).toContain('child turn');
    expect(childTexts).not.toContain('parent turn');
    expect(parentTexts).toContain('parent turn');
    expect(parentTexts).not.toContain('child turn');
  });

  it('interrupts a slow turn within 5 s with an interrupted outcome, then runs the next turn', async () => {
    const id = await createSession(t.url, 'life');
    t.model
      .forSession(id)
      .enqueue({ slow: { deltas: 300, intervalMs: 100, text: '.' } }, { text: 'after the interrupt' });
    const turn = sendTurn(t.url, id, { content: 'go slowly' });
    await eventually(() => t.model.messageRequests(id).length > 0, 10_000, 'the model call');
    const started = Date.now();
    const r = await api(t.url, 'POST', `/api/sessions/${id}/interrupt`);
    expect(r.body).toEqual({ interrupted: true });
    const done = await turn;
    expect(Date.now() - started).toBeLessThan(5000);
    expect(done.events.at(-1)).toMatchObject({ event: 'done', data: { outcome: 'interrupted' } });
    expect((await api(t.url, 'GET', `/api/sessions/${id}`)).body.session.activeTurnId).toBeNull();
    const next = await sendTurn(t.url, id, { content: 'and now?' });
    expect(next.events.at(-1)!.data).toMatchObject({ outcome: 'completed' });
    expect(
      next.events
        .filter((e) => e.event === 'text_delta')
        .map((e) => (e.data as { delta: string }).delta)
        .join(''),
    ).toBe('after the interrupt');
    expect((await api(t.url, 'POST', `/api/sessions/${id}/interrupt`)).body).toEqual({ interrupted: false });
  });

  it('ends a stalled model stream and a crashed bridge with error then done, and never leaves the session busy', async () => {
    const id = await createSession(t.url, 'life');
    t.model.forSession(id).enqueue({ stall: true });
    const started = Date.now();
    const stalled = await sendTurn(t.url, id, { content: 'stall' });
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(stalled.events.slice(-2).map((e) => e.event)).toEqual(['error', 'done']);
    expect(stalled.events.at(-2)!.data).toMatchObject({ code: 'turn_timeout' });
    expect(stalled.events.at(-1)!.data).toMatchObject({ outcome: 'error' });
    expect((await api(t.url, 'GET', `/api/sessions/${id}`)).body.session.activeTurnId).toBeNull();
    t.model.forSession(id).enqueue({ text: 'recovered' });
    expectOutcome(await sendTurn(t.url, id, { content: 'again' }), 'completed');

    // Crash: kill the session's bridge process in the middle of a turn.
    t.model
      .forSession(id)
      .enqueue({ slow: { deltas: 100, intervalMs: 100 } }, { text: 'back after the crash' });
    const crashing = sendTurn(t.url, id, { content: 'crash' });
    await eventually(() => t.model.messageRequests(id).length >= 3, 10_000, 'the slow model call');
    const pids = bridgePids(id);
    expect(pids.length).toBe(1);
    process.kill(pids[0]!, 'SIGKILL');
    const crashed = await crashing;
    expect(crashed.events.slice(-2).map((e) => e.event)).toEqual(['error', 'done']);
    expect(crashed.events.at(-2)!.data).toMatchObject({ code: 'sandbox_crashed' });
    await eventually(
      () => sandboxLeftovers(id).processes.length === 0,
      5000,
      'the crashed sandbox to be cleaned',
    );
    expectOutcome(await sendTurn(t.url, id, { content: 'still there?' }), 'completed');
    expect(requestText(t.model.messageRequests(id).at(-1)!)).toContain('recovered');
  });

  it('exec on a session whose sandbox died starts it for the command and gives the start permit back', async () => {
    const id = await createSession(t.url, 'life');
    t.model.forSession(id).enqueue({ text: 'first' });
    expectOutcome(await sendTurn(t.url, id, { content: 'hi' }), 'completed');
    const pids = bridgePids(id);
    expect(pids.length).toBe(1);
    process.kill(pids[0]!, 'SIGKILL');
    // Cleaned (its cgroup and runtime directory gone) only after the server saw it die.
    await eventually(
      () => {
        const left = sandboxLeftovers(id);
        return left.processes.length + left.cgroups.length + left.runtimeDirs.length === 0;
      },
      10_000,
      'the killed sandbox to be cleaned',
    );
    const exec = await api(t.url, 'POST', `/api/sessions/${id}/exec`, { command: 'echo exec-ok' });
    expect(exec.status).toBe(200);
    expect(exec.body, JSON.stringify(exec.body)).toMatchObject({ exitCode: 0, stdout: 'exec-ok\n' });
    // The command's start made no Claude process: no start stays admitted for it (before, the
    // permit was held until the session's next turn, and other sessions' starts queued behind it).
    const pool = (await api(t.url, 'GET', '/health')).body.pool;
    expect(pool).toMatchObject({ startsRunning: 0, startsQueued: 0 });
    t.model.forSession(id).enqueue({ text: 'after exec' });
    expectOutcome(await sendTurn(t.url, id, { content: 'still there?' }), 'completed');
    // A sandbox dying while a command runs: a clear 503, not the launcher's failure as output.
    const running = api(t.url, 'POST', `/api/sessions/${id}/exec`, { command: 'sleep 20; echo late' });
    await eventually(
      () => sandboxLeftovers(id).processes.some((p) => cmdline(p).includes('sleep')),
      10_000,
      'the command to run',
    );
    process.kill(bridgePids(id)[0]!, 'SIGKILL');
    const died = await running;
    expect(died.status).toBe(503);
    expect(died.body.code).toBe('sandbox_unavailable');
    expect(died.headers.get('retry-after')).toBe('1');
  });

  it('lets a client that lost the stream rejoin with Last-Event-ID and get every event exactly once', async () => {
    const id = await createSession(t.url, 'life');
    t.model.forSession(id).enqueue({ slow: { deltas: 30, intervalMs: 50, text: 'x' } });
    const ctrl = new AbortController();
    const res = await fetch(`${t.url}/api/sessions/${id}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: AUTH },
      body: JSON.stringify({ content: 'stream please' }),
      signal: ctrl.signal,
    });
    const reader = res.body!.getReader();
    const decoder = new SseDecoder();
    const first: StreamEvent[] = [];
    while (first.filter((e) => e.event === 'text_delta').length < 5) {
      const { value } = await reader.read();
      for (const f of decoder.push(new TextDecoder().decode(value)))
        first.push({ id: Number(f.id), event: f.event, data: JSON.parse(f.data) } as StreamEvent);
    }
    ctrl.abort();
    const lastId = first.at(-1)!.id;
    const again = await fetch(`${t.url}/api/sessions/${id}/stream`, {
      headers: { 'last-event-id': String(lastId), authorization: AUTH },
    });
    expect(again.status).toBe(200);
    const rest = new SseDecoder()
      .push(await again.text())
      .map((f) => ({ id: Number(f.id), event: f.event, data: JSON.parse(f.data) }) as StreamEvent);
    const all = [...first, ...rest];
    expect(all.at(-1)!.event).toBe('done');
    const ids = all.map((e) => e.id);
    // gap-free and duplicate-free within the turn
    for (let i = 1; i < ids.length; i++) expect(ids[i]).toBe(ids[i - 1]! + 1);
    expect(all.filter((e) => e.event === 'text_delta')).toHaveLength(30);
    // equal to what was persisted
    const persisted = await api(t.url, 'GET', `/api/sessions/${id}/events?limit=1000&after=${ids[0]! - 1}`);
    expect(persisted.body.events.map((e: { sequence: number }) => e.sequence)).toEqual(ids);
    // ?after= works too, and a finished turn replays from history
    const replay = await fetch(`${t.url}/api/sessions/${id}/stream?after=${ids[0]}`, {
      headers: { authorization: AUTH },
    });
    const replayed = new SseDecoder().push(await replay.text()).map((f) => Number(f.id));
    expect(replayed).toEqual(ids.slice(1));
  });

  it('leaves no process, cgroup or socket behind after end', async () => {
    const id = await createSession(t.url, 'life');
    t.model.forSession(id).enqueue(
      {
        toolUse: {
          name: 'Bash',
          input: {
            command: 'nohup sleep 600 >/dev/null 2>&1 & setsid sleep 600 >/dev/null 2>&1 & echo spawned',
          },
        },
      },
      { text: 'left some sleepers' },
    );
    await sendTurn(t.url, id, { content: 'spawn background jobs' });
    expect(sandboxLeftovers(id).processes.length).toBeGreaterThan(0);
    expect(sandboxLeftovers(id).cgroups.length).toBeGreaterThan(0);
    await api(t.url, 'DELETE', `/api/sessions/${id}`);
    expect(sandboxLeftovers(id)).toEqual({ processes: [], cgroups: [], runtimeDirs: [] });
    writeFileSync(join(t.dataDir, 'marker'), 'x');
    expect(existsSync(ws(t, id, 'CLAUDE.md'))).toBe(true); // the workspace is kept
  });
});
