import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { SseDecoder } from '@ash-ai/shared';
import {
  type AshProcess,
  createTestPostgresDatabase,
  removeDir,
  requestText,
  ScriptedModel,
  serverEnv,
  startAshProcess,
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
  startTestServer,
  type TestServer,
  b64,
} from './harness.js';

/** Short in tests: a dead server's sessions can be taken over after this long. */
const LEASE_MS = 3000;

/** Asserts a 409 `session_owned_elsewhere` problem-details answer. */
function expectOwnedElsewhere(r: { status: number; body: any; headers: Headers }, what: string): void {
  expect(r.status, `${what}: ${JSON.stringify(r.body)}`).toBe(409);
  expect(r.body).toMatchObject({ code: 'session_owned_elsewhere', status: 409 });
  expect(r.body.detail).toContain('live on another server');
  expect(r.headers.get('content-type')).toContain('application/problem+json');
  expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
}

describe('several servers sharing Postgres and S3: one owner per session, any server answers', () => {
  let s3: TestS3;
  let db: TestDatabase;
  let model: ScriptedModel;
  let a: TestServer | undefined;
  let b: TestServer | undefined;
  let env: Record<string, string>;

  beforeAll(async () => {
    s3 = await startTestS3();
    db = await createTestPostgresDatabase('ash_multi');
    model = await ScriptedModel.start();
    env = { ...s3.env, ASH_DATABASE_URL: db.url, ASH_OWNER_LEASE_MS: String(LEASE_MS) };
    a = await startTestServer({ model, env });
    b = await startTestServer({ model, env });
    await deployAgent(a.url, 'owned', { 'CLAUDE.md': '# Owned\nRemember what you are told.\n' });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await model?.close();
    await db?.drop();
    await s3?.close();
  });

  let id: string;

  it('any server answers for any session: created on A, a turn sent through B runs on A and streams back while A streams it live; every session route works through B', async () => {
    id = await createSession(a!.url, 'owned');
    model
      .forSession(id)
      .enqueue(
        { toolUse: { name: 'Bash', input: { command: 'echo kumquat > memory.txt && echo SAVED' } } },
        { text: 'I will remember kumquat.' },
      );
    expectOutcome(await sendTurn(a!.url, id, { content: 'Remember the word kumquat.' }), 'completed');
    const before = (await api(a!.url, 'GET', `/api/sessions/${id}/events?limit=1000`)).body.events;
    const lastSeen = before.at(-1).sequence as number;

    // A turn sent through B: B forwards it to A (A runs the session); the answer streams back through B.
    model.forSession(id).enqueue({ slow: { deltas: 20, intervalMs: 50, text: 'Still kumquat. ' } });
    const viaB = sendTurn(b!.url, id, { content: 'Still there?' });
    // Meanwhile a client streams the same turn through A, from the last event it had.
    await eventually(() => a!.server.runtime.turnFor(id)?.finished === false, 20_000, 'the turn to run on A');
    const streamA = await fetch(`${a!.url}/api/sessions/${id}/stream`, {
      headers: { ...AUTH, 'last-event-id': String(lastSeen) },
    });
    expect(streamA.status).toBe(200);
    const seenOnA = new SseDecoder().push(await streamA.text());
    const turn = await viaB;
    expect(turn.status, turn.raw).toBe(200);
    expectOutcome(turn, 'completed');
    expect(turn.headers.get('x-ash-forwarded-to')).toBeTruthy();
    expect(turn.events.filter((e) => e.event === 'text_delta').length).toBeGreaterThanOrEqual(20);
    // Both clients saw the same events, in order, through done.
    expect(seenOnA.map((f) => Number(f.id))).toEqual(turn.events.map((e) => e.id));
    expect(seenOnA.at(-1)!.event).toBe('done');
    // It ran on A, with the conversation A holds; B never hosted it.
    expect(requestText(model.messageRequests(id).at(-1)!)).toContain('Remember the word kumquat.');
    expect(existsSync(join(b!.dataDir, 'sessions', id))).toBe(false);

    // The live workspace through B: reads, writes, bundles, snapshots, attachments.
    const list = await api(b!.url, 'GET', `/api/sessions/${id}/files`);
    expect(list.status).toBe(200);
    expect(JSON.stringify(list.body)).toContain('memory.txt');
    const mem = await api(b!.url, 'GET', `/api/sessions/${id}/files/memory.txt?format=json`);
    expect(mem.body).toMatchObject({ content: 'kumquat\n', source: 'live' });
    const wrote = await api(b!.url, 'POST', `/api/sessions/${id}/files`, {
      files: [{ path: 'note.txt', content: b64('written through B\n') }],
    });
    expect(wrote.status, wrote.text).toBeLessThan(300);
    const note = await api(a!.url, 'GET', `/api/sessions/${id}/files/note.txt?format=json`);
    expect(note.body).toMatchObject({ content: 'written through B\n', source: 'live' });
    expect((await api(b!.url, 'DELETE', `/api/sessions/${id}/files/note.txt`)).status).toBeLessThan(300);
    expect((await api(a!.url, 'GET', `/api/sessions/${id}/files/note.txt?format=json`)).status).toBe(404);
    const bundle = await fetch(`${b!.url}/api/sessions/${id}/workspace`, { headers: AUTH });
    expect(bundle.status).toBe(200);
    expect((await bundle.arrayBuffer()).byteLength).toBeGreaterThan(0);
    expect((await api(b!.url, 'POST', `/api/sessions/${id}/workspace/snapshot`)).status).toBe(201);
    const attached = await api(b!.url, 'POST', `/api/sessions/${id}/attachments`, {
      filename: 'a.txt',
      content: b64('attached'),
    });
    expect(attached.status, attached.text).toBe(201);
    expect(existsSync(join(b!.dataDir, 'sessions', id))).toBe(false);

    // A request is forwarded once at most: one that already was (a loop) gets the 409.
    const looped = await fetch(`${b!.url}/api/sessions/${id}/resume`, {
      method: 'POST',
      headers: { ...AUTH, 'x-ash-forwarded-by': 'elsewhere' },
    });
    expectOwnedElsewhere(
      { status: looped.status, body: await looped.json(), headers: looped.headers },
      'a request forwarded before',
    );

    // A keeps the session past several lease periods (it renews its lease); B still forwards.
    await new Promise((r) => setTimeout(r, LEASE_MS * 1.5));
    model.forSession(id).enqueue({ text: 'Yes, kumquat.' });
    const later = await sendTurn(b!.url, id, { content: 'Still kumquat?' });
    expectOutcome(later, 'completed');
    expect(later.headers.get('x-ash-forwarded-to')).toBeTruthy();
    expect(existsSync(join(b!.dataDir, 'sessions', id))).toBe(false);
  });

  it('after A pauses, B takes the session over with its files and the whole conversation; a racing claim has one winner', async () => {
    const paused = await api(a!.url, 'POST', `/api/sessions/${id}/pause`);
    expect(paused.status).toBe(200);
    expect(paused.body.session.status).toBe('paused');

    // Both servers resume at once: the conditional claim lets exactly one win.
    const [ra, rb] = await Promise.all([
      api(a!.url, 'POST', `/api/sessions/${id}/resume`),
      api(b!.url, 'POST', `/api/sessions/${id}/resume`),
    ]);
    // Whoever lost the claim either answers 409 (it lost the race) or, if it saw the winner's
    // claim first, forwards its resume to the winner (200).
    for (const r of [ra, rb]) {
      expect([200, 409], r.text).toContain(r.status);
      if (r.status === 409) expect(r.body.code).toBe('session_owned_elsewhere');
    }
    expect([ra.status, rb.status]).toContain(200);
    const aOwns = !existsSync(join(b!.dataDir, 'sessions', id));
    if (aOwns) {
      // A won: it gives the session back (pausing stores the snapshot again).
      await eventually(
        async () => (await api(a!.url, 'POST', `/api/sessions/${id}/pause`)).status === 200,
        10_000,
        'A to pause',
      );
      const again = await api(b!.url, 'POST', `/api/sessions/${id}/resume`);
      expect(again.status, again.text).toBe(200);
    }

    // B now owns it: A forwards to B (no takeover), and B has the files A wrote.
    const viaA = await api(a!.url, 'POST', `/api/sessions/${id}/resume`);
    expect(viaA.status, viaA.text).toBe(200);
    expect(viaA.headers.get('x-ash-forwarded-to')).toBeTruthy();
    const mem = await api(b!.url, 'GET', `/api/sessions/${id}/files/memory.txt?format=json`);
    expect(mem.body).toMatchObject({ content: 'kumquat\n' });

    model
      .forSession(id)
      .enqueue(
        { toolUse: { name: 'Bash', input: { command: 'cat memory.txt' } } },
        { text: 'The word was kumquat.' },
      );
    const turn = await sendTurn(b!.url, id, { content: 'Which word did I ask you to remember?' });
    expectOutcome(turn, 'completed');
    expect(JSON.stringify(turn.events.filter((e) => e.event === 'tool_result'))).toContain('kumquat');
    // The model sees every earlier turn, including the ones A ran.
    const seen = requestText(model.messageRequests(id).at(-1)!);
    for (const text of [
      'Remember the word kumquat.',
      'I will remember kumquat.',
      'Still there?',
      'Still kumquat?',
      'Which word did I ask you to remember?',
    ])
      expect(seen).toContain(text);
    const texts = (await api(b!.url, 'GET', `/api/sessions/${id}/messages?limit=500`)).body.messages.map(
      (m: { text: string }) => m.text,
    );
    expect(texts.filter((t: string) => t === 'Remember the word kumquat.')).toHaveLength(1);
    expect(texts.at(-1)).toContain('kumquat');
  });

  it('ending works from any server: the owner stops its sandbox at its next lease renewal', async () => {
    const e = await createSession(a!.url, 'owned');
    model.forSession(e).enqueue({ text: 'Up and running.' });
    expectOutcome(await sendTurn(a!.url, e, { content: 'Start.' }), 'completed');
    expect(sandboxLeftovers(e).processes.length).toBeGreaterThan(0);
    const ended = await api(b!.url, 'DELETE', `/api/sessions/${e}`);
    expect(ended.status).toBe(200);
    expect(ended.body.session.status).toBe('ended');
    await eventually(() => sandboxLeftovers(e).processes.length === 0, LEASE_MS * 3, 'A to stop the sandbox');
    const after = await sendTurn(a!.url, e, { content: 'Still there?' });
    expect(after.status).toBe(410);
    expect(JSON.parse(after.raw).code).toBe('session_ended');
  });

  it('a session the idle sweep evicts is released with its snapshot: another server continues it', async () => {
    const c = await startTestServer({ model, env: { ...env, ASH_IDLE_TIMEOUT_MS: '1000' } });
    try {
      const idle = await createSession(c.url, 'owned');
      model
        .forSession(idle)
        .enqueue(
          { toolUse: { name: 'Bash', input: { command: 'echo plum > fruit.txt && echo OK' } } },
          { text: 'Saved plum.' },
        );
      expectOutcome(await sendTurn(c.url, idle, { content: 'Save the fruit plum.' }), 'completed');
      await eventually(
        async () => (await api(b!.url, 'GET', `/api/sessions/${idle}`)).body.session.status === 'paused',
        20_000,
        'the idle sweep to pause the session',
      );
      expect(existsSync(join(b!.dataDir, 'sessions', idle))).toBe(false);
      model
        .forSession(idle)
        .enqueue({ toolUse: { name: 'Bash', input: { command: 'cat fruit.txt' } } }, { text: 'Plum.' });
      const turn = await sendTurn(b!.url, idle, { content: 'Which fruit did I name?' });
      expectOutcome(turn, 'completed');
      expect(JSON.stringify(turn.events.filter((e) => e.event === 'tool_result'))).toContain('plum');
      expect(requestText(model.messageRequests(idle).at(-1)!)).toContain('Save the fruit plum.');
      // C forwards to the new owner instead of taking the session back.
      const viaC = await api(c.url, 'POST', `/api/sessions/${idle}/resume`);
      expect(viaC.status, viaC.text).toBe(200);
      expect(viaC.headers.get('x-ash-forwarded-to')).toBeTruthy();
    } finally {
      await c.close();
    }
  });

  describe('a server that dies', () => {
    let dead: AshProcess | undefined;
    let deadDir: string;
    afterAll(async () => {
      await dead?.kill();
      if (deadDir) removeDir(deadDir);
    });

    it('B takes its sessions over once its lease expired (a snapshot restored, the open turn closed); without a snapshot: 404 workspace_not_found', async () => {
      deadDir = tempDir('ash-dying-');
      dead = await startAshProcess(
        serverEnv({ dataDir: deadDir, modelUrl: model.url, extra: { ...env, ASH_PREWARM_COUNT: '0' } }),
      );
      const saved = await createSession(dead.url, 'owned');
      const unsaved = await createSession(dead.url, 'owned');
      model
        .forSession(saved)
        .enqueue(
          { toolUse: { name: 'Bash', input: { command: 'echo 4711 > code.txt && echo OK' } } },
          { text: 'Noted: the code is 4711.' },
          { slow: { deltas: 200, intervalMs: 100 } },
        );
      expectOutcome(
        await sendTurn(dead.url, saved, { content: 'The code is 4711; write it down.' }),
        'completed',
      );
      expect((await api(dead.url, 'POST', `/api/sessions/${saved}/workspace/snapshot`)).status).toBe(201);
      model.forSession(unsaved).enqueue({ text: 'Hello from the unsaved session.' });
      expectOutcome(await sendTurn(dead.url, unsaved, { content: 'Say hello.' }), 'completed');

      // A turn is running on the server when it dies.
      const dying = sendTurn(dead.url, saved, { content: 'a long answer please' }).catch(
        (err: unknown) => err,
      );
      await eventually(() => model.messageRequests(saved).length >= 3, 15_000, 'the slow model call');
      await dead.kill();
      await dying;
      const killedAt = Date.now();
      const unsavedBefore = (await api(b!.url, 'GET', `/api/sessions/${unsaved}`)).body.session;
      const unsavedMessages = (await api(b!.url, 'GET', `/api/sessions/${unsaved}/messages`)).body.messages;

      // Its lease is still current (renewed every LEASE_MS / 3): B must not run the session yet;
      // it cannot forward to the dead owner either.
      if (Date.now() - killedAt < LEASE_MS / 3) {
        const early = await sendTurn(b!.url, saved, { content: 'too early' });
        expect(early.status, early.raw).toBe(503);
        expect(JSON.parse(early.raw).code).toBe('owner_unreachable');
        expect(Number(early.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      }

      // Once the lease has run out, B takes over from the stored snapshot.
      await new Promise((r) => setTimeout(r, Math.max(0, killedAt + LEASE_MS + 300 - Date.now())));
      model
        .forSession(saved)
        .enqueue(
          { toolUse: { name: 'Bash', input: { command: 'cat code.txt' } } },
          { text: 'The code is 4711.' },
        );
      const turn = await sendTurn(b!.url, saved, { content: 'What is the code?' });
      expectOutcome(turn, 'completed');
      expect(JSON.stringify(turn.events.filter((e) => e.event === 'tool_result'))).toContain('4711');
      const seen = requestText(model.messageRequests(saved).at(-1)!);
      expect(seen).toContain('The code is 4711; write it down.');
      expect(seen).toContain('Noted: the code is 4711.');
      // The turn the dead server left open was closed (error + done), before the new one.
      let events: Array<{ type: string; data: string; turnId: string | null }> = [];
      const dones = () => events.filter((e) => e.type === 'done').map((e) => JSON.parse(e.data).outcome);
      await eventually(
        async () => {
          events = (await api(b!.url, 'GET', `/api/sessions/${saved}/events?limit=1000`)).body.events;
          return dones().length >= 3;
        },
        10_000,
        'the events to be stored',
      ).catch(() => undefined);
      expect(dones()).toEqual(['completed', 'error', 'completed']);
      expect(events.filter((e) => e.type === 'session_start')).toHaveLength(3);
      expect((await api(b!.url, 'GET', `/api/sessions/${saved}`)).body.session).toMatchObject({
        status: 'active',
        activeTurnId: null,
      });

      // The other session never had a snapshot: its files died with the server.
      const lost = await sendTurn(b!.url, unsaved, { content: 'Still there?' });
      expect(lost.status, lost.raw).toBe(404);
      expect(JSON.parse(lost.raw)).toMatchObject({ code: 'workspace_not_found', status: 404 });
      const resume = await api(b!.url, 'POST', `/api/sessions/${unsaved}/resume`);
      expect(resume.status).toBe(404);
      expect(resume.body.code).toBe('workspace_not_found');
      expect(resume.body.detail).toContain('no snapshot');
      expect((await api(b!.url, 'GET', `/api/sessions/${unsaved}/files`)).body.code).toBe(
        'workspace_not_found',
      );
      // Nothing was changed by the refusals.
      expect((await api(b!.url, 'GET', `/api/sessions/${unsaved}`)).body.session).toEqual(unsavedBefore);
      expect((await api(b!.url, 'GET', `/api/sessions/${unsaved}/messages`)).body.messages).toEqual(
        unsavedMessages,
      );
      expect(existsSync(join(b!.dataDir, 'sessions', unsaved, 'workspace'))).toBe(false);
    });
  });
});
