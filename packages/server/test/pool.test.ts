import { readdirSync, readFileSync } from 'node:fs';
import { getPriority } from 'node:os';
import { TEST_API_KEY } from '@ash-ai/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  createSession,
  deployAgent,
  eventually,
  expectOutcome,
  sandboxLeftovers,
  sendTurn,
  startTestServer,
  type TestServer,
} from './harness.js';

const health = async (t: TestServer) => (await api(t.url, 'GET', '/health')).body;

describe('warm pool', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ env: { ASH_PREWARM_COUNT: '1' } });
    await deployAgent(t.url, 'warm', { 'CLAUDE.md': '# Warm\n' });
    await eventually(async () => (await health(t)).pool.warm === 1, 20_000, 'a warm sandbox');
  });
  afterAll(async () => t?.close());

  it('creates a plain session on a pre-warmed sandbox and replaces it', async () => {
    const before = (await health(t)).pool.preWarmHits;
    const id = await createSession(t.url, 'warm');
    expect((await health(t)).pool.preWarmHits).toBe(before + 1);
    t.model
      .forSession(id)
      .enqueue({ toolUse: { name: 'Bash', input: { command: 'cat CLAUDE.md' } } }, { text: 'warm answer' });
    const turn = await sendTurn(t.url, id, { content: 'hello warm' });
    expectOutcome(turn, 'completed');
    expect(
      (turn.events.find((e) => e.event === 'tool_result')!.data as { content: string }).content,
    ).toContain('# Warm');
    await eventually(async () => (await health(t)).pool.warm === 1, 20_000, 'the spare to be replaced');
    const metrics = await (
      await fetch(`${t.url}/metrics`, { headers: { authorization: `Bearer ${TEST_API_KEY}` } })
    ).text();
    expect(metrics).toMatch(/^ash_prewarm_hits_total \d+/m);
    expect(metrics).toMatch(/^ash_pool_sandboxes\{state="warm"\} 1/m);
    expect(metrics).toMatch(/^ash_pool_max_capacity \d+/m);
    expect(metrics).toMatch(/^ash_sandbox_memory_bytes_total [1-9]\d*/m);
    expect(metrics).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/); // no session ids
  });

  it('does not use a warm sandbox when the session has settings of its own, and honours them', async () => {
    const hits = (await health(t)).pool.preWarmHits;
    const id = await createSession(t.url, 'warm', {
      model: 'claude-special-model',
      extraEnv: { SESSION_FLAVOUR: 'vanilla' },
    });
    expect((await health(t)).pool.preWarmHits).toBe(hits);
    t.model
      .forSession(id)
      .enqueue(
        { toolUse: { name: 'Bash', input: { command: 'echo flavour=$SESSION_FLAVOUR' } } },
        { text: 'ok' },
      );
    const turn = await sendTurn(t.url, id, { content: 'which flavour?' });
    expectOutcome(turn, 'completed');
    expect((turn.events.find((e) => e.event === 'tool_result')!.data as { content: string }).content).toBe(
      'flavour=vanilla',
    );
    expect(t.model.messageRequests(id).every((r) => r.model === 'claude-special-model')).toBe(true);
  });

  it('replaces warm sandboxes when the agent env or limits change, so the next session gets the new ones', async () => {
    await deployAgent(t.url, 'envy', { 'CLAUDE.md': '# Envy\n' }, { env: { FLAVOUR: 'old' } });
    await eventually(async () => (await health(t)).pool.warm >= 2, 20_000, 'a spare of envy');
    expect((await api(t.url, 'PATCH', '/api/agents/envy', { env: { FLAVOUR: 'new' } })).status).toBe(200);
    await eventually(async () => (await health(t)).pool.warm >= 2, 20_000, 'the replaced spare');
    const id = await createSession(t.url, 'envy');
    t.model
      .forSession(id)
      .enqueue({ toolUse: { name: 'Bash', input: { command: 'echo flavour=$FLAVOUR' } } }, { text: 'ok' });
    const turn = await sendTurn(t.url, id, { content: 'flavour?' });
    expect((turn.events.find((e) => e.event === 'tool_result')!.data as { content: string }).content).toBe(
      'flavour=new',
    );
    await api(t.url, 'DELETE', '/api/agents/envy');
  });

  it('drops the spares of a redeployed or deleted agent', async () => {
    await deployAgent(t.url, 'warm', { 'CLAUDE.md': '# Warm v2\n' });
    await eventually(async () => (await health(t)).pool.warm === 1, 20_000, 'a spare of version 2');
    const id = await createSession(t.url, 'warm');
    expect((await api(t.url, 'GET', `/api/sessions/${id}`)).body.session.agentVersion).toBe(2);
    t.model
      .forSession(id)
      .enqueue({ toolUse: { name: 'Bash', input: { command: 'cat CLAUDE.md' } } }, { text: 'v2' });
    const turn = await sendTurn(t.url, id, { content: 'version?' });
    expect(
      (turn.events.find((e) => e.event === 'tool_result')!.data as { content: string }).content,
    ).toContain('v2');
    await api(t.url, 'DELETE', '/api/agents/warm');
    await eventually(async () => (await health(t)).pool.warm === 0, 10_000, 'spares to be dropped');
  });
});

describe('capacity, eviction and the idle sweep', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ env: { ASH_MAX_SANDBOXES: '2', ASH_IDLE_TIMEOUT_MS: '600000' } });
    await deployAgent(t.url, 'cap', { 'CLAUDE.md': '# Cap\n' });
  });
  afterAll(async () => t?.close());

  it('evicts the least recently used idle session (paused, resumable) and answers 503 when nothing can be evicted', async () => {
    const s1 = await createSession(t.url, 'cap');
    const s2 = await createSession(t.url, 'cap');
    await eventually(async () => (await health(t)).pool.live === 2, 20_000, 'two sandboxes');
    t.model.forSession(s1).enqueue({ slow: { deltas: 150, intervalMs: 100 } });
    const busy1 = sendTurn(t.url, s1, { content: 'busy one' });
    await eventually(() => t.model.messageRequests(s1).length > 0, 10_000, 's1 busy');

    const s3 = await createSession(t.url, 'cap'); // takes s2's slot
    expect((await api(t.url, 'GET', `/api/sessions/${s2}`)).body.session.status).toBe('paused');
    expect(sandboxLeftovers(s2).processes).toEqual([]);
    t.model.forSession(s3).enqueue({ slow: { deltas: 150, intervalMs: 100 } });
    const busy3 = sendTurn(t.url, s3, { content: 'busy three' });
    await eventually(() => t.model.messageRequests(s3).length > 0, 20_000, 's3 busy');

    const full = await api(t.url, 'POST', '/api/sessions', { agent: 'cap' });
    expect(full.status).toBe(503);
    expect(full.body.code).toBe('capacity_reached');
    expect(Number(full.headers.get('retry-after'))).toBeGreaterThan(0);
    const blocked = await api(t.url, 'POST', `/api/sessions/${s2}/messages`, { content: 'let me in' });
    expect(blocked.status).toBe(503);

    expectOutcome(await busy1, 'completed');
    expectOutcome(await busy3, 'completed');
    // Now s2 can come back: a message resumes it (evicting an idle one).
    t.model.forSession(s2).enqueue({ text: 'back from eviction' });
    expectOutcome(await sendTurn(t.url, s2, { content: 'hello again' }), 'completed');
    expect((await health(t)).pool.evictions).toBeGreaterThanOrEqual(2);
    const events = await api(t.url, 'GET', `/api/sessions/${s2}/events?type=lifecycle`);
    expect(events.body.events.map((e: { data: string }) => JSON.parse(e.data))).toContainEqual({
      action: 'paused',
      reason: 'capacity',
    });
  });
});

describe('idle sweep', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ env: { ASH_IDLE_TIMEOUT_MS: '1500' } });
    await deployAgent(t.url, 'idle', { 'CLAUDE.md': '# Idle\n' });
  });
  afterAll(async () => t?.close());

  it('parks sessions idle longer than the timeout (processes gone) and wakes them with the whole conversation and workspace', async () => {
    const id = await createSession(t.url, 'idle');
    expectOutcome(await sendTurn(t.url, id, { content: 'hi' }), 'completed');
    // A tool call that leaves a file: both must survive the park.
    t.model.forSession(id).enqueue(
      {
        toolUse: {
          name: 'Bash',
          input: { command: 'echo parked-note > /workspace/note.txt && echo wrote-it' },
        },
      },
      { text: 'noted' },
    );
    expectOutcome(await sendTurn(t.url, id, { content: 'write a note' }), 'completed');
    await eventually(
      async () => (await api(t.url, 'GET', `/api/sessions/${id}`)).body.session.status === 'paused',
      15_000,
      'the idle sweep',
    );
    await eventually(() => sandboxLeftovers(id).processes.length === 0, 5000, 'processes gone');
    expect(sandboxLeftovers(id)).toEqual({ processes: [], cgroups: [], runtimeDirs: [] });
    t.model
      .forSession(id)
      .enqueue(
        { toolUse: { name: 'Bash', input: { command: 'cat /workspace/note.txt' } } },
        { text: 'awake' },
      );
    const woken = await sendTurn(t.url, id, { content: 'wake up' });
    expectOutcome(woken, 'completed');
    // The whole conversation reached the model: the first turn, the earlier tool call and its result.
    const seen = JSON.stringify(t.model.messageRequests(id).at(-1)!.messages);
    expect(seen).toContain('Echo: hi');
    expect(seen).toContain('echo parked-note > /workspace/note.txt');
    expect(seen).toContain('wrote-it');
    // And the workspace: the file written before the park is read back after it.
    const results = woken.events.filter((e) => e.event === 'tool_result').map((e) => JSON.stringify(e.data));
    expect(results.join('\n')).toContain('parked-note');
  });
});

describe('idle warm sandboxes', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ env: { ASH_PREWARM_COUNT: '1', ASH_IDLE_TIMEOUT_MS: '1500' } });
    await deployAgent(t.url, 'sleepy', { 'CLAUDE.md': '# Sleepy\n' });
  });
  afterAll(async () => t?.close());

  it('stops spares nobody took within the idle timeout, and brings them back with the next session', async () => {
    await eventually(async () => (await health(t)).pool.warm === 1, 20_000, 'a spare');
    await eventually(
      async () => (await health(t)).pool.warm === 0 && (await health(t)).pool.live === 0,
      15_000,
      'the idle spare to go',
    );
    await createSession(t.url, 'sleepy');
    await eventually(async () => (await health(t)).pool.warm === 1, 20_000, 'a new spare');
  });
});

/** Bridge processes this test process started (in-process server): pid → nice of each thread. */
function bridgeNice(): Map<number, number[]> {
  const out = new Map<number, number[]>();
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) !== process.pid) continue; // ppid
      if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('bridge')) continue;
      const nice = readdirSync(`/proc/${pid}/task`).map((tid) => {
        const s = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        return Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[16]); // field 19: nice
      });
      out.set(Number(pid), nice);
    } catch {
      // gone
    }
  }
  return out;
}

describe.runIf(process.getuid?.() === 0)('spare bridges', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ env: { ASH_PREWARM_COUNT: '0' } });
    await deployAgent(t.url, 'plain', { 'CLAUDE.md': '# Plain\n' });
  });
  afterAll(async () => t?.close());

  it("boot at a low CPU priority and get the server's priority back when a session takes one", async () => {
    // nice(1) adds to the caller's value (capped at 19); a taken spare returns to the server's.
    const base = getPriority();
    const low = Math.min(base + 19, 19);
    let spare = 0;
    await eventually(
      async () => {
        const all = [...bridgeNice()];
        spare = all.find(([, nice]) => nice.every((n) => n === low))?.[0] ?? 0;
        return spare > 0;
      },
      20_000,
      'a spare bridge at nice 19',
    );
    // Under load a spare is visible (niced) before it is ready; only a ready one is taken.
    await eventually(async () => t.server.sandboxes!.spareBridgeCount > 0, 30_000, 'a ready spare bridge');
    const id = await createSession(t.url, 'plain');
    t.model.forSession(id).enqueue({ text: 'hi' });
    expectOutcome(await sendTurn(t.url, id, { content: 'hello' }), 'completed');
    // The spare now serves the session, at normal priority (every thread), and a new spare waits.
    expect(
      bridgeNice()
        .get(spare)
        ?.every((n) => n === base),
    ).toBe(true);
    await eventually(
      async () => [...bridgeNice()].some(([pid, nice]) => pid !== spare && nice.every((n) => n === low)),
      20_000,
      'a new spare at nice 19',
    );
  });
});
