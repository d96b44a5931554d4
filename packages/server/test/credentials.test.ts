import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { ScriptedModel } from '@ash-ai/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { environsOf, grepTree } from './inspect.js';
import {
  api,
  bearer,
  createSession,
  deployAgent,
  sendTurn,
  startTestServer,
  type TestServer,
} from './harness.js';

const MASTER = 'credential-master-key-for-tests-0123456789';
const INTERNAL = 'credential-test-internal-secret-0123';
const SERVER_MODEL_KEY = 'sk-ant-server-key-0123456789abcdef';
const ANTHROPIC = 'sk-ant-tenant-credential-4f9d2c7a1b';
const OPENAI = 'sk-openai-tenant-credential-8e1f3a';
const CUSTOM = 'custom-tenant-credential-5b7c9d1e';
const BEDROCK = {
  accessKeyId: 'AKIAEXAMPLEKEY12345',
  secretAccessKey: 'bedrock-secret-access-key-abcdef123456',
  region: 'eu-west-1',
  sessionToken: 'bedrock-session-token-0987654321',
};
const BEDROCK_JSON = JSON.stringify(BEDROCK);
const VALUES = [ANTHROPIC, OPENAI, CUSTOM, BEDROCK_JSON, BEDROCK.secretAccessKey, BEDROCK.sessionToken];

/** The SQLite files of a data dir (the value must not be in any of them in plaintext). */
function databaseBytes(dataDir: string): Buffer[] {
  return ['ash.db', 'ash.db-wal', 'ash.db-shm']
    .map((f) => join(dataDir, f))
    .filter(existsSync)
    .map((f) => readFileSync(f));
}

describe('credentials', () => {
  let model: ScriptedModel;
  let off: TestServer;
  let on: TestServer;
  const ids: Record<string, string> = {};
  /** Every response body seen in this file. */
  const responses: string[] = [];
  const call = async (...args: Parameters<typeof api>) => {
    const r = await api(...args);
    responses.push(r.text);
    return r;
  };

  beforeAll(async () => {
    model = await ScriptedModel.start();
    off = await startTestServer({ model });
    on = await startTestServer({
      model,
      env: { ASH_CREDENTIAL_KEY: MASTER, ASH_INTERNAL_SECRET: INTERNAL, ANTHROPIC_API_KEY: SERVER_MODEL_KEY },
    });
    await deployAgent(off.url, 'plain', { 'CLAUDE.md': '# Plain\n' });
    await deployAgent(on.url, 'worker', { 'CLAUDE.md': '# Worker\n' });
  });
  afterAll(async () => {
    await off?.close();
    await on?.close();
    await model?.close();
  });

  it('answers 503 feature_unavailable on every credential route without ASH_CREDENTIAL_KEY', async () => {
    const spec = (await api(off.url, 'GET', '/openapi.json')).body;
    const ops = Object.entries(spec.paths as Record<string, Record<string, unknown>>)
      .filter(([p]) => p.startsWith('/api/credentials'))
      .flatMap(([p, item]) => Object.keys(item).map((m) => [m.toUpperCase(), p] as const));
    expect(ops).toHaveLength(5);
    const bodies: Record<string, unknown> = {
      POST: { type: 'openai', key: 'sk-x' },
      PATCH: { active: false },
    };
    for (const [method, path] of ops) {
      const r = await api(off.url, method, path.replace('{id}', randomUUID()), bodies[method]);
      expect(r.status, `${method} ${path}`).toBe(503);
      expect(r.body.code).toBe('feature_unavailable');
      expect(r.body.detail).toMatch(/ASH_CREDENTIAL_KEY/);
    }
    const s = await api(off.url, 'POST', '/api/sessions', { agent: 'plain', credentialId: randomUUID() });
    expect(s.status).toBe(503);
    expect(s.body.code).toBe('feature_unavailable');
  });

  it('stores, lists, relabels and switches credentials; bad input is refused', async () => {
    for (const [type, key] of [
      ['anthropic', ANTHROPIC],
      ['openai', OPENAI],
      ['custom', CUSTOM],
      ['bedrock', BEDROCK_JSON],
    ] as const) {
      const r = await call(on.url, 'POST', '/api/credentials', { type, key, label: `${type} key` });
      expect(r.status).toBe(201);
      expect(r.body.credential).toMatchObject({ type, label: `${type} key`, active: true, lastUsedAt: null });
      expect(Object.keys(r.body.credential).sort()).toEqual(
        ['active', 'createdAt', 'id', 'label', 'lastUsedAt', 'type', 'updatedAt'].sort(),
      );
      ids[type] = r.body.credential.id;
    }
    const list = await call(on.url, 'GET', '/api/credentials');
    expect(list.body.credentials.map((c: { id: string }) => c.id)).toEqual(Object.values(ids));
    const patched = await call(on.url, 'PATCH', `/api/credentials/${ids.custom}`, { label: 'renamed' });
    expect(patched.body.credential).toMatchObject({ label: 'renamed', active: true });
    expect((await call(on.url, 'GET', `/api/credentials/${ids.custom}`)).body.credential.label).toBe(
      'renamed',
    );

    const bad = async (body: unknown, path: string) => {
      const r = await call(on.url, 'POST', '/api/credentials', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.code).toBe('validation_failed');
      expect(r.body.errors[0].path).toMatch(new RegExp(`^${path}`));
    };
    await bad({ type: 'bedrock', key: 'not json' }, '/body/key');
    await bad({ type: 'bedrock', key: JSON.stringify({ accessKeyId: 'a' }) }, '/body/key');
    await bad({ type: 'github', key: 'x' }, '/body/type');
    await bad({ type: 'openai', key: '' }, '/body/key');
    await bad({ type: 'openai', key: 'x', extra: 1 }, '/body/extra');
    const empty = await call(on.url, 'PATCH', `/api/credentials/${ids.custom}`, {});
    expect(empty.status).toBe(400);
    const missing = await call(on.url, 'GET', `/api/credentials/${randomUUID()}`);
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe('credential_not_found');
  });

  it('uses an anthropic credential only in the host-side model proxy: the model gets it, the sandbox never does', async () => {
    const id = await createSession(on.url, 'worker', { credentialId: ids.anthropic });
    model.forSession(id).enqueue(
      {
        toolUse: {
          name: 'Bash',
          input: {
            command:
              'env; cat /proc/self/environ | tr "\\0" "\\n"; env > /workspace/env-dump.txt; grep -rs sk-ant /workspace /tmp /home | head -5; echo SNOOPED',
          },
        },
      },
      { slow: { deltas: 10, intervalMs: 100, text: 'thinking ' } },
    );
    const running = sendTurn(on.url, id, { content: 'show me your environment' });
    await new Promise((r) => setTimeout(r, 1200));
    const live = [...environsOf('bridge/dist/main.js'), ...environsOf('/opt/claude/claude')];
    const turn = await running;
    expect(turn.events.at(-1)!.data).toMatchObject({ outcome: 'completed' });
    expect(live.length).toBeGreaterThan(0);
    for (const env of live) expect(env).not.toContain(ANTHROPIC);
    // The model server saw the credential's key on every call of this session (not the server's key).
    const requests = model.messageRequests(id);
    expect(requests.length).toBeGreaterThan(0);
    for (const r of requests) expect(r.apiKey).toBe(ANTHROPIC);
    const result = turn.events.find((e) => e.event === 'tool_result')!.data as { content: string };
    expect(result.content).toContain('SNOOPED');
    expect(result.content).toContain('ANTHROPIC_API_KEY=ash-model-proxy');
    expect(turn.raw).not.toContain(ANTHROPIC);
    expect(grepTree(join(on.dataDir, 'sessions', id), ANTHROPIC)).toEqual([]);
    expect(readFileSync(join(on.dataDir, 'sessions', id, 'workspace', 'env-dump.txt'), 'utf8')).not.toContain(
      ANTHROPIC,
    );
    // Used: lastUsedAt is set.
    for (let i = 0; i < 30; i++) {
      const c = (await call(on.url, 'GET', `/api/credentials/${ids.anthropic}`)).body.credential;
      if (c.lastUsedAt) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(
      (await call(on.url, 'GET', `/api/credentials/${ids.anthropic}`)).body.credential.lastUsedAt,
    ).toEqual(expect.any(String));
  });

  it('maps a bedrock credential to the AWS variables and CLAUDE_CODE_USE_BEDROCK=1', async () => {
    // Bedrock mode sends the model's calls to AWS, which the sandbox cannot reach; the
    // variables are checked in the Claude process the session pre-starts.
    const before = new Set(environsOf('/opt/claude/claude'));
    await createSession(on.url, 'worker', { credentialId: ids.bedrock });
    let env: string | undefined;
    for (let i = 0; i < 150 && !env; i++) {
      env = environsOf('/opt/claude/claude').find((e) => !before.has(e) && e.includes('AWS_ACCESS_KEY_ID='));
      if (!env) await new Promise((r) => setTimeout(r, 100));
    }
    expect(env).toBeDefined();
    const vars = env!.split('\0');
    expect(vars).toEqual(
      expect.arrayContaining([
        'CLAUDE_CODE_USE_BEDROCK=1',
        `AWS_ACCESS_KEY_ID=${BEDROCK.accessKeyId}`,
        `AWS_SECRET_ACCESS_KEY=${BEDROCK.secretAccessKey}`,
        `AWS_REGION=${BEDROCK.region}`,
        `AWS_SESSION_TOKEN=${BEDROCK.sessionToken}`,
        'ANTHROPIC_API_KEY=ash-model-proxy',
      ]),
    );
  });

  it('refuses inactive, deleted and other tenants’ credentials with 400 invalid_credential', async () => {
    const create = (credentialId: string, key?: string) =>
      call(
        on.url,
        'POST',
        '/api/sessions',
        { agent: 'worker', credentialId },
        key ? { authorization: bearer(key) } : {},
      );
    expect(
      (await call(on.url, 'PATCH', `/api/credentials/${ids.openai}`, { active: false })).body.credential
        .active,
    ).toBe(false);
    const inactive = await create(ids.openai!);
    expect(inactive.status).toBe(400);
    expect(inactive.body).toMatchObject({ code: 'invalid_credential' });
    expect(inactive.body.detail).toMatch(/inactive/);
    await call(on.url, 'PATCH', `/api/credentials/${ids.openai}`, { active: true });
    expect((await create(ids.openai!)).status).toBe(201);

    // Another tenant: exactly like an id that never existed.
    const other = await api(
      on.url,
      'POST',
      '/api/internal/api-keys',
      { tenantId: 'other' },
      { authorization: bearer(INTERNAL) },
    );
    await deployAgent(on.url, 'worker', { 'CLAUDE.md': '# Other\n' }, {}, other.body.key);
    const foreign = await create(ids.anthropic!, other.body.key);
    const random = randomUUID();
    const never = await create(random, other.body.key);
    expect(foreign.status).toBe(400);
    expect(foreign.body.code).toBe('invalid_credential');
    expect(foreign.text.split(ids.anthropic!).join('<id>')).toBe(never.text.split(random).join('<id>'));
    expect(
      (await call(on.url, 'GET', '/api/credentials', undefined, { authorization: bearer(other.body.key) }))
        .body,
    ).toEqual({
      credentials: [],
    });

    const doomed = (
      await call(on.url, 'POST', '/api/credentials', { type: 'custom', key: 'to-be-deleted-0123' })
    ).body.credential.id;
    expect((await call(on.url, 'DELETE', `/api/credentials/${doomed}`)).status).toBe(200);
    const deleted = await create(doomed);
    expect(deleted.status).toBe(400);
    expect(deleted.body.code).toBe('invalid_credential');
    expect((await call(on.url, 'DELETE', `/api/credentials/${doomed}`)).status).toBe(404);
  });

  it('never returns a value from any endpoint, and keeps none in the database file in plaintext', async () => {
    const spec = (await api(on.url, 'GET', '/openapi.json')).body;
    const known = [...Object.values(ids)];
    for (const s of (await api(on.url, 'GET', '/api/sessions?limit=500')).body.sessions) known.push(s.id);
    for (const [path, item] of Object.entries(spec.paths as Record<string, Record<string, unknown>>)) {
      if (!('get' in item) || path.startsWith('/api/internal') || path.endsWith('/stream')) continue;
      const targets = path.includes('{') ? known.map((id) => path.replace(/\{[^}]+\}/g, id)) : [path];
      for (const p of targets) responses.push((await api(on.url, 'GET', p)).text);
    }
    responses.push(...on.logs().split('\n'));
    expect(responses.length).toBeGreaterThan(50);
    for (const text of responses) for (const v of VALUES) expect(text).not.toContain(v);
    const files = databaseBytes(on.dataDir);
    expect(files.length).toBeGreaterThan(0);
    for (const bytes of files) for (const v of VALUES) expect(bytes.includes(v), v).toBe(false);
  });
  // Last: the agent prints these values, so they are in its history from here on (by design).
  it('gives openai and custom credentials to the agent as environment variables (visible to it)', async () => {
    for (const [type, variable, value] of [
      ['openai', 'OPENAI_API_KEY', OPENAI],
      ['custom', 'ASH_CUSTOM_API_KEY', CUSTOM],
    ] as const) {
      const id = await createSession(on.url, 'worker', { credentialId: ids[type] });
      model
        .forSession(id)
        .enqueue(
          { toolUse: { name: 'Bash', input: { command: `echo "v=$${variable}"` } } },
          { text: 'done' },
        );
      const turn = await sendTurn(on.url, id, { content: 'print it' });
      const result = turn.events.find((e) => e.event === 'tool_result')!.data as { content: string };
      expect(result.content).toContain(`v=${value}`);
      // The model itself is still reached with the server's key.
      for (const r of model.messageRequests(id)) expect(r.apiKey).toBe(SERVER_MODEL_KEY);
    }
  });
});

describe('revoking a credential in use', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ env: { ASH_CREDENTIAL_KEY: MASTER } });
    await deployAgent(t.url, 'worker', { 'CLAUDE.md': '# Worker\n' });
  });
  afterAll(async () => t?.close());

  for (const how of ['delete', 'deactivate'] as const) {
    it(`pauses the live sessions using it when it is ${how}d; their next message fails with invalid_credential`, async () => {
      const created = await api(t.url, 'POST', '/api/credentials', {
        type: 'anthropic',
        key: `sk-ant-revoked-${how}-0123456789`,
      });
      const credId = created.body.credential.id as string;
      const id = await createSession(t.url, 'worker', { credentialId: credId });
      t.model.forSession(id).enqueue({ text: 'with the credential' });
      expect((await sendTurn(t.url, id, { content: 'hi' })).events.at(-1)!.data).toMatchObject({
        outcome: 'completed',
      });
      expect(t.model.messageRequests(id).at(-1)!.apiKey).toBe(`sk-ant-revoked-${how}-0123456789`);
      const r =
        how === 'delete'
          ? await api(t.url, 'DELETE', `/api/credentials/${credId}`)
          : await api(t.url, 'PATCH', `/api/credentials/${credId}`, { active: false });
      expect(r.status).toBe(200);
      const session = (await api(t.url, 'GET', `/api/sessions/${id}`)).body.session;
      expect(session.status).toBe('paused');
      const before = t.model.messageRequests(id).length;
      const next = await sendTurn(t.url, id, { content: 'and now?' });
      expect(next.events.at(-1)!.data).toMatchObject({ outcome: 'error' });
      expect(next.events.find((e) => e.event === 'error')!.data).toMatchObject({
        code: 'invalid_credential',
      });
      expect(t.model.messageRequests(id).length).toBe(before);
    });
  }
});
