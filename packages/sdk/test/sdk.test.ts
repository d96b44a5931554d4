import { join } from 'node:path';
import {
  REPO_ROOT,
  ScriptedModel,
  TEST_API_KEY,
  removeDir,
  serverEnv,
  startAshProcess,
  tempDir,
  type AshProcess,
} from '@ash-ai/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AshApiError,
  AshClient,
  AshConnectionError,
  AuthenticationError,
  BadRequestError,
  ConflictError,
  GoneError,
  NotFoundError,
  type StreamEvent,
} from '../src/index.js';

const INTERNAL = 'sdk-test-internal-secret-0123456789';

describe('SDK against a real server process', () => {
  let model: ScriptedModel;
  let dataDir: string;
  let proc: AshProcess;
  let client: AshClient;

  beforeAll(async () => {
    model = await ScriptedModel.start();
    dataDir = tempDir('ash-sdk-');
    proc = await startAshProcess(
      serverEnv({
        dataDir,
        modelUrl: model.url,
        extra: { ASH_CREDENTIAL_KEY: 'sdk-test-master-key-0123456789', ASH_INTERNAL_SECRET: INTERNAL },
      }),
    );
    client = new AshClient({ serverUrl: proc.url, apiKey: TEST_API_KEY });
  });
  afterAll(async () => {
    await proc?.stop();
    await model?.close();
    removeDir(dataDir);
  });

  it('deploys a folder, creates a session and streams typed events', async () => {
    const agent = await client.agents.deployDirectory('notes', join(REPO_ROOT, 'examples/notes-keeper'));
    expect(agent).toMatchObject({ name: 'notes', version: 1 });
    expect(agent.fileCount).toBeGreaterThanOrEqual(4);
    const session = await client.sessions.create('notes');
    model
      .forSession(session.id)
      .enqueue(
        { toolUse: { name: 'Bash', input: { command: 'ls .claude/skills' } } },
        { text: 'I have a daily-summary skill.' },
      );
    const events: StreamEvent[] = [];
    let text = '';
    for await (const ev of client.sessions.send(session.id, 'What skills do you have?')) {
      events.push(ev);
      if (ev.event === 'text_delta') text += ev.data.delta;
    }
    expect(events[0]!.event).toBe('session_start');
    expect(events.at(-1)).toMatchObject({ event: 'done', data: { outcome: 'completed' } });
    expect(text).toBe('I have a daily-summary skill.');
    const result = events.find((e) => e.event === 'tool_result');
    expect(result?.event === 'tool_result' && result.data.content).toContain('daily-summary');
    const page = await client.sessions.messages(session.id);
    expect(page.items[0]!.text).toBe('What skills do you have?');
    // upstream-style flat methods
    expect((await client.listSessions('notes')).sessions.map((s) => s.id)).toContain(session.id);
    expect(await client.listSessionEvents(session.id, { type: 'done' })).toHaveLength(1);
    expect((await client.health()).status).toBe('ok');
  });

  it('throws typed errors carrying status and code', async () => {
    const err = await client.sessions.create('missing').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    expect(err).toBeInstanceOf(AshApiError);
    expect(err).toMatchObject({ status: 404, statusCode: 404, code: 'agent_not_found' });
    await expect(client.agents.deploy({ name: 'bad name', files: [] })).rejects.toBeInstanceOf(
      BadRequestError,
    );
    await expect(
      client.agents.deploy({ name: 'nomd', files: [{ path: 'a.txt', content: 'eA==' }] }),
    ).rejects.toMatchObject({
      status: 400,
      code: 'invalid_agent_folder',
    });
    expect(
      await client.agents
        .deploy({ name: 'nomd', files: [{ path: 'a.txt', content: 'eA==' }] })
        .catch((e) => e),
    ).toBeInstanceOf(BadRequestError);
    const validation = (await client.agents
      .deploy({ name: 'x', files: [{ path: 'CLAUDE.md', content: '!!' }] })
      .catch((e) => e)) as BadRequestError;
    expect(validation.code).toBe('invalid_base64');
    expect(validation.errors[0]!.path).toBe('/body/files/0/content');

    await client.agents.deploy({
      name: 'plain',
      files: [{ path: 'CLAUDE.md', content: Buffer.from('# plain').toString('base64') }],
    });
    const s = await client.sessions.create('plain');
    model.forSession(s.id).enqueue({ slow: { deltas: 10, intervalMs: 100 } });
    const running = (async () => {
      const evs: StreamEvent[] = [];
      for await (const ev of client.sessions.send(s.id, 'slow')) evs.push(ev);
      return evs;
    })();
    await model.waitForRequests(model.messageRequests().length + 1);
    const busy = await (async () => {
      for await (const _ of client.sessions.send(s.id, 'again')) break;
    })().catch((e) => e);
    expect(busy).toBeInstanceOf(ConflictError);
    expect(busy).toMatchObject({ code: 'session_busy' });
    expect((await running).at(-1)).toMatchObject({ event: 'done' });
    await client.sessions.end(s.id);
    const gone = await (async () => {
      for await (const _ of client.sessions.send(s.id, 'hello?')) break;
    })().catch((e) => e);
    expect(gone).toBeInstanceOf(GoneError);

    const offline = new AshClient({ serverUrl: 'http://127.0.0.1:9' });
    await expect(offline.health()).rejects.toBeInstanceOf(AshConnectionError);
  });

  it('manages API keys and credentials through client.apiKeys and client.credentials', async () => {
    const created = await client.apiKeys.create({ label: 'sdk' });
    expect(created.key).toMatch(/^ash_[A-Za-z0-9_-]{32}$/);
    const keyed = new AshClient({ serverUrl: proc.url, apiKey: created.key });
    expect(await keyed.agents.list()).toEqual(expect.any(Array));
    const keys = await client.apiKeys.list();
    expect(keys.find((k) => k.id === created.id)).toMatchObject({
      label: 'sdk',
      keyPrefix: created.key.slice(0, 8),
    });
    await client.apiKeys.revoke(created.id);
    const refused = await keyed.agents.list().catch((e) => e);
    expect(refused).toBeInstanceOf(AuthenticationError);
    expect(refused).toMatchObject({ status: 401, code: 'unauthorized' });
    await expect(client.apiKeys.revoke(created.id)).rejects.toMatchObject({ code: 'api_key_not_found' });
    // Tenants are provisioned with the internal secret.
    const other = await client.apiKeys.createForTenant('sdk-tenant', {
      internalSecret: INTERNAL,
      label: 'first',
    });
    expect(other.tenantId).toBe('sdk-tenant');
    const otherClient = new AshClient({ serverUrl: proc.url, apiKey: other.key });
    expect((await otherClient.apiKeys.list()).map((k) => k.tenantId)).toEqual(['sdk-tenant']);
    await expect(
      client.apiKeys.createForTenant('x', { internalSecret: 'wrong-secret-0123456789' }),
    ).rejects.toBeInstanceOf(AuthenticationError);

    const cred = await client.credentials.create({
      type: 'openai',
      key: 'sk-sdk-openai-0123456',
      label: 'one',
    });
    expect(cred).toMatchObject({ type: 'openai', label: 'one', active: true });
    expect(JSON.stringify(await client.credentials.list())).not.toContain('sk-sdk-openai-0123456');
    expect(await client.credentials.update(cred.id, { active: false })).toMatchObject({ active: false });
    await expect(client.sessions.create('plain', { credentialId: cred.id })).rejects.toMatchObject({
      status: 400,
      code: 'invalid_credential',
    });
    expect(await otherClient.listCredentials()).toEqual([]);
    await expect(otherClient.credentials.get(cred.id)).rejects.toBeInstanceOf(NotFoundError);
    await client.deleteCredential(cred.id);
    expect(await client.credentials.list()).toEqual([]);
    const flat = await client.storeCredential('custom', 'custom-sdk-value-0123');
    expect(flat.type).toBe('custom');
  });

  it('pauses, resumes, forks and rejoins streams', async () => {
    await client.agents.deploy({
      name: 'life',
      files: [{ path: 'CLAUDE.md', content: Buffer.from('# life').toString('base64') }],
    });
    const s = await client.createSession('life');
    model.forSession(s.id).enqueue({ text: 'first answer' });
    const first: StreamEvent[] = [];
    for await (const ev of client.sessions.send(s.id, 'one')) first.push(ev);
    expect((await client.pauseSession(s.id)).status).toBe('paused');
    expect((await client.sessions.resume(s.id)).status).toBe('active');
    expect((await client.stopSession(s.id)).status).toBe('stopped');
    const child = await client.forkSession(s.id);
    expect(child).toMatchObject({ parentSessionId: s.id, status: 'active' });
    // Rejoining a finished session's stream replays its history and ends.
    const replay: StreamEvent[] = [];
    for await (const ev of client.sessions.stream(s.id)) replay.push(ev);
    expect(replay.map((e) => e.id)).toEqual(first.map((e) => e.id));
    const after: StreamEvent[] = [];
    for await (const ev of client.sessions.stream(s.id, { after: first.at(-1)!.id })) after.push(ev);
    expect(after).toEqual([]);
    // Rejoining a running turn follows it to its done.
    model.forSession(s.id).enqueue({ slow: { deltas: 10, intervalMs: 100 } });
    const running = (async () => {
      const evs: StreamEvent[] = [];
      for await (const ev of client.sessions.send(s.id, 'two')) evs.push(ev);
      return evs;
    })();
    await model.waitForRequests(model.messageRequests().length + 1);
    const joined: StreamEvent[] = [];
    for await (const ev of client.sessions.stream(s.id, { after: first.at(-1)!.id })) joined.push(ev);
    const direct = await running;
    expect(joined.map((e) => e.id)).toEqual(direct.map((e) => e.id));
    expect(joined.at(-1)).toMatchObject({ event: 'done' });
  });
});
