import { closeSync, openSync, readFileSync, readSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { SseDecoder } from '@ash-ai/shared';
import {
  type AshProcess,
  createTestPostgresDatabase,
  type RunnerProcess,
  removeDir,
  requestText,
  ScriptedModel,
  serverEnv,
  startAshProcess,
  startRunnerProcess,
  startTestS3,
  tempDir,
  type TestDatabase,
  type TestS3,
} from '@ash-ai/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AUTH,
  api,
  createSession,
  deployAgent,
  eventually,
  expectOutcome,
  sandboxLeftovers,
  sendTurn,
  filesUnder,
} from './harness.js';

const SECRET = 'cluster-runner-link-secret-000000001';
/** The provider key the servers hold (serverEnv's); no runner may ever see it. */
const PROVIDER_KEY = 'sk-ant-test-0123456789abcdef';
/** A stored credential's value (an `anthropic` key used by one session); never on a runner either. */
const CREDENTIAL_VALUE = 'sk-ant-stored-credential-value-77aa99';
const LEASE_MS = 3000;

/** True when the file contains `needle`, read in chunks (sandbox disk images are GiBs, mostly sparse). */
function fileContains(path: string, needle: string): boolean {
  const n = Buffer.from(needle);
  const chunk = Buffer.alloc(8 * 1024 * 1024);
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return false; // gone since the walk (a sandbox's temporary file)
  }
  try {
    let pos = 0;
    let carry = Buffer.alloc(0);
    for (;;) {
      const got = readSync(fd, chunk, 0, chunk.length, pos);
      if (got === 0) return false;
      const window = Buffer.concat([carry, chunk.subarray(0, got)]);
      if (window.includes(n)) return true;
      carry = window.subarray(Math.max(0, window.length - n.length + 1));
      pos += got;
    }
  } finally {
    closeSync(fd);
  }
}

/** SSE frames of one stream request (undefined status when the server was unreachable). */
async function readStream(
  url: string,
  id: string,
  lastEventId: number,
): Promise<{ status: number | undefined; frames: Array<{ id: number; event: string; data: any }> }> {
  try {
    const res = await fetch(`${url}/api/sessions/${id}/stream`, {
      headers: { ...AUTH, 'last-event-id': String(lastEventId) },
      signal: AbortSignal.timeout(60_000),
    });
    if (res.status !== 200) return { status: res.status, frames: [] };
    const frames: Array<{ id: number; event: string; data: any }> = [];
    const dec = new SseDecoder();
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>)
        for (const f of dec.push(Buffer.from(chunk).toString()))
          if (f.id !== undefined) frames.push({ id: Number(f.id), event: f.event, data: JSON.parse(f.data) });
    } catch {
      // the server died mid-stream: what arrived counts
    }
    return { status: 200, frames };
  } catch {
    return { status: undefined, frames: [] };
  }
}

/**
 * The production shape: two servers (real processes) sharing Postgres and S3, no sandboxes of
 * their own (ASH_LOCAL_RUNNER=off), and two `ash runner` processes registered with both.
 */
describe('a cluster: Postgres, S3, two servers and two runners as real processes', () => {
  let s3: TestS3;
  let db: TestDatabase;
  let model: ScriptedModel;
  let root: string;
  let env: Record<string, string>;
  const servers: Record<'a' | 'b', { proc: AshProcess; dataDir: string } | undefined> = {
    a: undefined,
    b: undefined,
  };
  const runners: Record<string, { proc: RunnerProcess; dataDir: string }> = {};

  const url = (s: 'a' | 'b') => servers[s]!.proc.url;
  const runnerOf = async (id: string, via: 'a' | 'b' = 'b') =>
    (await api(url(via), 'GET', `/api/sessions/${id}`)).body.session.runnerId as string;

  async function startServer(name: 'a' | 'b'): Promise<void> {
    const dataDir = tempDir(`ash-cluster-${name}-`);
    const proc = await startAshProcess(serverEnv({ dataDir, modelUrl: model.url, extra: env }), 60_000);
    servers[name] = { proc, dataDir };
  }

  async function startRunner(name: string): Promise<void> {
    const dataDir = runners[name]?.dataDir ?? join(root, name);
    const proc = await startRunnerProcess({
      name,
      coordinators: [url('a'), url('b')],
      dataDir,
      env: {
        ASH_INTERNAL_SECRET: SECRET,
        ASH_RUNNER_HEARTBEAT_MS: '300',
        ASH_SPARE_BRIDGES: '0',
        ASH_MODEL_MAX_RETRIES: '0',
        ASH_LOG_LEVEL: 'debug',
        // Small sandbox disk images: the secret scan reads every file under the runner's data dir.
        ASH_SANDBOX_DISK_MB: '256',
      },
    });
    runners[name] = { proc, dataDir };
  }

  beforeAll(async () => {
    s3 = await startTestS3();
    db = await createTestPostgresDatabase('ash_cluster');
    model = await ScriptedModel.start();
    root = tempDir('ash-cluster-runners-');
    env = {
      ...s3.env,
      ASH_DATABASE_URL: db.url,
      ASH_LOCAL_RUNNER: 'off',
      ASH_INTERNAL_SECRET: SECRET,
      ASH_RUNNER_TIMEOUT_MS: '4000',
      ASH_OWNER_LEASE_MS: String(LEASE_MS),
      ASH_CREDENTIAL_KEY: 'cluster-master-key-0123456789abcdef',
      ASH_PREWARM_COUNT: '0',
      ASH_LOG_LEVEL: 'debug',
      ASH_RATE_LIMIT_MAX: '100000',
    };
    await startServer('a');
    await startServer('b');
    await startRunner('r1');
    await startRunner('r2');
    for (const s of ['a', 'b'] as const)
      await eventually(
        async () => {
          const rs = (await api(url(s), 'GET', '/health')).body.runners as Array<{
            name: string;
            state: string;
          }>;
          return rs.filter((r) => r.state === 'ok').length >= 2;
        },
        30_000,
        `server ${s} lists both runners`,
      );
    await deployAgent(url('a'), 'clustered', { 'CLAUDE.md': '# Clustered\nRemember what you are told.\n' });
  }, 240_000);

  afterAll(async () => {
    for (const r of Object.values(runners)) await r.proc.kill().catch(() => undefined);
    for (const s of Object.values(servers)) await s?.proc.kill().catch(() => undefined);
    await model?.close();
    await db?.drop().catch(() => undefined);
    await s3?.close();
    for (const s of Object.values(servers)) if (s) removeDir(s.dataDir);
    if (root) removeDir(root);
  });

  let id: string;

  it('create through A, send through B, stream through A: all succeed, no 409', async () => {
    id = await createSession(url('a'), 'clustered');
    model
      .forSession(id)
      .enqueue(
        { toolUse: { name: 'Bash', input: { command: 'echo kumquat > memory.txt && echo SAVED' } } },
        { text: 'I will remember kumquat.' },
      );
    const first = await sendTurn(url('b'), id, { content: 'Remember the word kumquat.' });
    expect(first.status, first.raw).toBe(200);
    expectOutcome(first, 'completed');
    expect(['r1', 'r2']).toContain(await runnerOf(id));

    const lastSeen = first.events.at(-1)!.id;
    model.forSession(id).enqueue({ slow: { deltas: 20, intervalMs: 50, text: 'Still kumquat. ' } });
    const viaB = sendTurn(url('b'), id, { content: 'Still there?' });
    // The second turn has started once one of its stream events (not a lifecycle row, which the
    // events API also lists) is stored after the first turn's last one.
    await eventually(
      async () =>
        (
          (await api(url('a'), 'GET', `/api/sessions/${id}/events?limit=1000`)).body.events as Array<{
            sequence: number;
            type: string;
          }>
        ).some((e) => e.sequence > lastSeen && e.type !== 'lifecycle'),
      30_000,
      'the second turn to start',
    );
    const onA = await readStream(url('a'), id, lastSeen);
    expect(onA.status).toBe(200);
    const turn = await viaB;
    expect(turn.status, turn.raw).toBe(200);
    expectOutcome(turn, 'completed');
    expect(onA.frames.map((f) => f.id)).toEqual(turn.events.map((e) => e.id));
    expect(onA.frames.at(-1)!.event).toBe('done');
    for (const s of ['a', 'b'] as const) {
      const r = await api(url(s), 'GET', `/api/sessions/${id}/files/memory.txt?format=json`);
      expect(r.status, `${s}: ${r.text}`).toBe(200);
      expect(r.body.content).toBe('kumquat\n');
    }
  }, 180_000);

  it('SIGKILL the runner between turns: the next message (through either server) runs on the other runner with every earlier turn and the files', async () => {
    const host = await runnerOf(id);
    const other = host === 'r1' ? 'r2' : 'r1';
    await runners[host]!.proc.kill();
    model
      .forSession(id)
      .enqueue(
        { toolUse: { name: 'Bash', input: { command: 'cat memory.txt' } } },
        { text: 'Kumquat it is.' },
      );
    const next = await sendTurn(url('a'), id, { content: 'What was the word?' });
    expectOutcome(next, 'completed');
    expect((next.events.find((e) => e.event === 'tool_result')!.data as { content: string }).content).toBe(
      'kumquat',
    );
    expect(await runnerOf(id)).toBe(other);
    const seen = requestText(model.messageRequests(id).at(-1)!);
    for (const s of [
      'Remember the word kumquat.',
      'echo kumquat > memory.txt',
      'I will remember kumquat.',
      'Still there?',
    ])
      expect(seen).toContain(s);
    // Through the other server too.
    model.forSession(id).enqueue({ text: 'Yes, B.' });
    expectOutcome(await sendTurn(url('b'), id, { content: 'and through B?' }), 'completed');
    await startRunner(host);
  }, 240_000);

  it('SIGKILL server A while a client streams a turn through it: the runner keeps the turn and B takes it over; reconnecting to B with Last-Event-ID gives a gap-free, duplicate-free sequence through a successful done, stored once', async () => {
    const sid = await createSession(url('a'), 'clustered');
    model
      .forSession(sid)
      .enqueue(
        { toolUse: { name: 'Bash', input: { command: 'echo before > before.txt && echo OK' } } },
        { text: 'Warm.' },
      );
    const warm = await sendTurn(url('a'), sid, { content: 'warm up' });
    expectOutcome(warm, 'completed');
    const host = await runnerOf(sid);
    // The turn: a few deltas and a tool call through A; A dies while the tool runs; the answer
    // after it (a slow stream of deltas) is made after the takeover, through B's gateway.
    model.forSession(sid).enqueue(
      {
        text: 'Let me wait a little. ',
        toolUse: { name: 'Bash', input: { command: 'sleep 3; echo after > after.txt; echo WOKE' } },
      },
      { slow: { deltas: 30, intervalMs: 50, text: 'tick ' } },
    );
    const seen: Array<{ id: number; event: string; data: any }> = [
      ...warm.events.map((e) => ({ id: e.id, event: e.event, data: e.data })),
    ];
    let turnStart = 0;
    const streaming = (async () => {
      const res = await fetch(`${url('a')}/api/sessions/${sid}/messages`, {
        method: 'POST',
        headers: { ...AUTH, 'content-type': 'application/json' },
        body: JSON.stringify({ content: 'wait, then count' }),
      });
      const dec = new SseDecoder();
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>)
          for (const f of dec.push(Buffer.from(chunk).toString()))
            if (f.id !== undefined) {
              if (!turnStart) turnStart = Number(f.id);
              seen.push({ id: Number(f.id), event: f.event, data: JSON.parse(f.data) });
            }
      } catch {
        // A died
      }
    })();
    await eventually(
      () => seen.some((e) => e.id >= turnStart && turnStart > 0 && e.event === 'tool_use'),
      60_000,
      'the tool call through A',
    );
    await servers.a!.proc.kill();
    try {
      await streaming;
      expect(
        seen.some((e) => e.event === 'done' && e.id >= turnStart),
        'A died before the turn ended',
      ).toBe(false);
      // Reconnect to B from the last id seen until done arrives (B answers 503 owner_unreachable
      // until A's lease runs out, then takes the turn over and streams the rest).
      const deadline = Date.now() + 90_000;
      const tries: string[] = [];
      while (seen.at(-1)!.event !== 'done' && Date.now() < deadline) {
        const r = await readStream(url('b'), sid, seen.at(-1)!.id);
        tries.push(`${r.status}:${r.frames.length}`);
        if (r.status === 200) seen.push(...r.frames);
        else expect([503, undefined], tries.join(' ')).toContain(r.status);
        if (seen.at(-1)!.event !== 'done') await new Promise((res) => setTimeout(res, 500));
      }
      expect(seen.at(-1)!.event, tries.join(' ')).toBe('done');
      const ids = seen.map((e) => e.id);
      expect(new Set(ids).size, 'no duplicate').toBe(ids.length);
      for (let i = 1; i < ids.length; i++) expect(ids[i], `gap after ${ids[i - 1]}`).toBe(ids[i - 1]! + 1);
      // The turn ended as it would have on A: completed, no error, every delta of the answer.
      const turn = seen.filter((e) => e.id >= turnStart);
      if (turn.at(-1)!.data.outcome !== 'completed') {
        const pick = (t: string) =>
          t
            .split('\n')
            .filter((l) => /took|take|turn|attach|detach|coordinator|lease|claim/i.test(l) && l.includes(sid))
            .join('\n');
        console.log('B:', pick(servers.b!.proc.output()));
        for (const [n, r] of Object.entries(runners)) console.log(n, pick(r.proc.output()));
      }
      expect(turn.at(-1)!.data.outcome, tries.join(' ')).toBe('completed');
      expect(turn.filter((e) => e.event === 'error')).toEqual([]);
      expect(turn.find((e) => e.event === 'tool_result')?.data.content).toBe('WOKE');
      expect(turn.filter((e) => e.event === 'text_delta' && e.data.delta === 'tick ').length).toBe(30);
      // The stored log says the same.
      const stored = (await api(url('b'), 'GET', `/api/sessions/${sid}/events?limit=1000`)).body
        .events as Array<{ sequence: number; type: string }>;
      // (Lifecycle records are history only, never streamed.)
      expect(stored.filter((e) => e.type !== 'lifecycle').map((e) => e.sequence)).toEqual(ids);
      // Every message of the turn once; its usage rows once.
      const turnId = turn[0]!.data.turnId as string;
      const messages = (await api(url('b'), 'GET', `/api/sessions/${sid}/messages?limit=1000`)).body
        .messages as Array<{ turnId: string; type: string; content: unknown; sequence: number }>;
      const mine = messages.filter((m) => m.turnId === turnId);
      const contents = mine.map((m) => JSON.stringify(m.content));
      expect(new Set(contents).size, 'no message stored twice').toBe(contents.length);
      expect(mine.filter((m) => m.type === 'result').length).toBe(1);
      expect(contents.filter((c) => c.includes('tick tick')).length).toBeGreaterThanOrEqual(1);
      const seqs = messages.map((m) => m.sequence);
      for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBe(seqs[i - 1]! + 1);
      const usage = (await api(url('b'), 'GET', `/api/usage?sessionId=${sid}&limit=1000`)).body
        .records as Array<{
        kind: string;
        turnId: string;
      }>;
      const ofTurn = usage.filter((u) => u.turnId === turnId);
      expect(ofTurn.filter((u) => u.kind === 'turn').length).toBe(1);
      expect(ofTurn.filter((u) => u.kind === 'tool_call').length).toBe(1);
      // One model call before the death (A's gateway), one after (B's): each metered once.
      expect(ofTurn.filter((u) => u.kind === 'model_call').length).toBe(2);
      // B's copy of the files has what the turn wrote (the runner's checkpoint after the
      // takeover went to B, relative to B's copy).
      const after = await api(url('b'), 'GET', `/api/sessions/${sid}/files/after.txt?format=json`);
      expect(after.status, after.text).toBe(200);
      expect(after.body.content).toBe('after\n');
      // The same runner's sandbox goes on, files intact.
      expect(await runnerOf(sid)).toBe(host);
      model
        .forSession(sid)
        .enqueue(
          { toolUse: { name: 'Bash', input: { command: 'cat before.txt after.txt' } } },
          { text: 'Continued on B.' },
        );
      const next = await sendTurn(url('b'), sid, { content: 'still there?' });
      expectOutcome(next, 'completed');
      expect((next.events.find((e) => e.event === 'tool_result')!.data as { content: string }).content).toBe(
        'before\nafter',
      );
      expect(await runnerOf(sid)).toBe(host);
    } finally {
      // The next tests use A again (a new server id: its data dir is new).
      await startServer('a');
    }
  }, 240_000);

  it('SIGKILL server A mid-turn with no client reconnecting: a server takes the turn over on its own and completes it', async () => {
    const sid = await createSession(url('a'), 'clustered');
    model.forSession(sid).enqueue(
      {
        text: 'Working. ',
        toolUse: { name: 'Bash', input: { command: 'sleep 2; echo done > bg.txt; echo BG' } },
      },
      { slow: { deltas: 10, intervalMs: 50, text: 'tack ' } },
    );
    const started = (async () => {
      const res = await fetch(`${url('a')}/api/sessions/${sid}/messages`, {
        method: 'POST',
        headers: { ...AUTH, 'content-type': 'application/json' },
        body: JSON.stringify({ content: 'work in the background' }),
      });
      await res.text().catch(() => undefined);
    })();
    await eventually(
      async () =>
        (
          (await api(url('b'), 'GET', `/api/sessions/${sid}/events?limit=1000`)).body.events as Array<{
            type: string;
          }>
        ).some((e) => e.type === 'tool_use'),
      60_000,
      'the tool call through A',
    );
    await servers.a!.proc.kill();
    await started;
    try {
      // Nobody streams: B's lease loop finds the turn of the dead owner and takes it over.
      await eventually(
        async () =>
          (
            (await api(url('b'), 'GET', `/api/sessions/${sid}/events?limit=1000`)).body.events as Array<{
              type: string;
            }>
          ).some((e) => e.type === 'done'),
        60_000,
        'the turn to end without a client',
      );
      const events = (await api(url('b'), 'GET', `/api/sessions/${sid}/events?limit=1000`)).body
        .events as Array<{
        type: string;
        sequence: number;
        data: any;
      }>;
      const turn = events
        .filter((e) => e.type !== 'lifecycle')
        .map((e) => ({ ...e, data: typeof e.data === 'string' ? JSON.parse(e.data) : e.data }));
      if (turn.at(-1)!.data.outcome !== 'completed') {
        console.log(JSON.stringify(turn.slice(-6)));
        const pick = (t: string) =>
          t
            .split('\n')
            .filter((l) => l.includes(sid))
            .slice(-25)
            .join('\n');
        console.log('B:', pick(servers.b!.proc.output()));
        for (const [n, r] of Object.entries(runners)) console.log(n, pick(r.proc.output()));
      }
      expect(turn.at(-1)!.data.outcome).toBe('completed');
      expect(turn.filter((e) => e.type === 'error')).toEqual([]);
      expect(turn.filter((e) => e.type === 'text_delta' && e.data.delta === 'tack ').length).toBe(10);
      const seqs = events.map((e) => e.sequence);
      for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBe(seqs[i - 1]! + 1);
      expect((await api(url('b'), 'GET', `/api/sessions/${sid}`)).body.session.activeTurnId).toBeNull();
      // A first turn: nothing was stored in S3 before A died; the runner's checkpoint brought B
      // the whole workspace.
      const bg = await api(url('b'), 'GET', `/api/sessions/${sid}/files/bg.txt?format=json`);
      expect(bg.status, bg.text).toBe(200);
      expect(bg.body.content).toBe('done\n');
      const md = await api(url('b'), 'GET', `/api/sessions/${sid}/files/CLAUDE.md?format=json`);
      expect(md.status, md.text).toBe(200);
    } finally {
      await startServer('a');
    }
  }, 240_000);

  it('SIGSTOP a runner mid-turn past its timeout, then SIGCONT: the session has moved; nothing the stale runner does afterwards is stored; its sandbox is gone', async () => {
    const sid = await createSession(url('b'), 'clustered');
    model
      .forSession(sid)
      .enqueue(
        { toolUse: { name: 'Bash', input: { command: 'sleep 3; echo late > late.txt; echo woke' } } },
        { text: 'A stale answer.' },
      );
    const streaming = sendTurn(url('b'), sid, { content: 'run the slow tool' });
    await eventually(() => model.messageRequests(sid).length >= 1, 60_000, 'the model called');
    const host = await runnerOf(sid);
    const stale = runners[host]!.proc;
    // The tool is running in the sandbox; the runner freezes (a partition, a stalled VM).
    await new Promise((r) => setTimeout(r, 800));
    process.kill(stale.pid, 'SIGSTOP');
    let lost: Awaited<typeof streaming>;
    try {
      lost = await streaming;
      expect(lost.events.find((e) => e.event === 'error')?.data).toMatchObject({ code: 'runner_lost' });
      expect(lost.events.at(-1)).toMatchObject({ event: 'done', data: { outcome: 'error' } });
      // The next message (through the other server) runs on another runner.
      model.forSession(sid).enqueue({ text: 'Fresh start.' });
      const after = await sendTurn(url('a'), sid, { content: 'after the freeze' });
      expect(after.status, after.raw).toBe(200);
      expectOutcome(after, 'completed');
      expect(await runnerOf(sid)).not.toBe(host);
    } finally {
      process.kill(stale.pid, 'SIGCONT');
    }
    const events = async () =>
      ((await api(url('b'), 'GET', `/api/sessions/${sid}/events?limit=1000`)).body.events as unknown[])
        .length;
    const messages = async () =>
      ((await api(url('b'), 'GET', `/api/sessions/${sid}/messages?limit=1000`)).body.messages as unknown[])
        .length;
    const usage = async () =>
      ((await api(url('b'), 'GET', `/api/usage?sessionId=${sid}`)).body.records as unknown[]).length;
    const before = {
      events: await events(),
      messages: await messages(),
      usage: await usage(),
      calls: model.messageRequests(sid).length,
    };
    // Back: its tool finishes, its Claude process wants the model, it tries to checkpoint; its
    // heartbeat names the session foreign. Its sandbox goes away.
    await eventually(
      async () => {
        const r = await fetch(`${stale.url}/runner/v1/state`, {
          headers: { authorization: `Bearer ${SECRET}` },
        });
        return !((await r.json()) as { sessions: Array<{ id: string }> }).sessions.some((x) => x.id === sid);
      },
      30_000,
      'the stale runner stopped its sandbox',
    );
    // Give anything still in flight from it time to arrive, then compare.
    await new Promise((r) => setTimeout(r, 5000));
    expect({
      events: await events(),
      messages: await messages(),
      usage: await usage(),
      calls: model.messageRequests(sid).length,
    }).toEqual(before);
    const late = await api(url('b'), 'GET', `/api/sessions/${sid}/files/late.txt?format=json`);
    expect(late.status, 'the stale checkpoint was refused').toBe(404);
    // No process of its sandbox is left under the stale runner.
    const descendants = (pid: number): number[] => {
      const out: number[] = [];
      for (const p of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
        try {
          let cur = Number(p);
          for (let depth = 0; depth < 20 && cur > 1; depth++) {
            const stat = readFileSync(`/proc/${cur}/stat`, 'utf8');
            cur = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
            if (cur === pid) {
              out.push(Number(p));
              break;
            }
          }
        } catch {
          // gone
        }
      }
      return out;
    };
    // (The stale runner may host other sessions: only this session's processes count.)
    await eventually(
      () => {
        const mine = new Set(sandboxLeftovers(sid).processes);
        return descendants(stale.pid).every((p) => !mine.has(p));
      },
      15_000,
      'no process of the session left under the stale runner',
    );
  }, 240_000);

  it('no provider key or stored credential value on a runner (environment, arguments, files, logs); usage metered by the servers', async () => {
    const cred = await api(url('b'), 'POST', '/api/credentials', {
      type: 'anthropic',
      key: CREDENTIAL_VALUE,
    });
    expect(cred.status, cred.text).toBe(201);
    const credentialId = (cred.body.credential?.id ?? cred.body.id) as string;
    const sid = await createSession(url('b'), 'clustered', { credentialId });
    model.forSession(sid).enqueue({ text: 'Paid by the credential.' });
    expectOutcome(await sendTurn(url('a'), sid, { content: 'use the stored key' }), 'completed');
    expect(model.messageRequests(sid).at(-1)!.apiKey).toBe(CREDENTIAL_VALUE);
    const usage = await api(url('a'), 'GET', `/api/usage?sessionId=${sid}&kind=model_call`);
    expect(usage.body.records.length).toBeGreaterThanOrEqual(1);
    for (const [name, r] of Object.entries(runners)) {
      if (r.proc.child.exitCode !== null || r.proc.child.signalCode !== null) continue;
      const environ = readFileSync(`/proc/${r.proc.pid}/environ`, 'utf8');
      const cmdline = readFileSync(`/proc/${r.proc.pid}/cmdline`, 'utf8');
      for (const secret of [PROVIDER_KEY, CREDENTIAL_VALUE]) {
        expect(environ.includes(secret), `${name} environment`).toBe(false);
        expect(cmdline.includes(secret), `${name} arguments`).toBe(false);
        expect(r.proc.output().includes(secret), `${name} logs`).toBe(false);
        for (const f of filesUnder(r.dataDir))
          expect(fileContains(f, secret), `${name} file ${f}`).toBe(false);
      }
      expect(environ).not.toContain('ANTHROPIC_API_KEY=');
      expect(environ).not.toContain('ASH_CREDENTIAL_KEY');
      expect(environ).not.toContain('ASH_DATABASE_URL');
    }
  }, 180_000);
});
