import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  TEST_API_KEY,
  api,
  bearer,
  createSession,
  deployAgent,
  sendTurn,
  startTestServer,
  type TestServer,
} from './harness.js';

const INTERNAL = 'log-test-internal-secret-0123456789';
const MASTER = 'log-test-credential-master-key-0123';
const SERVER_MODEL_KEY = 'sk-ant-log-test-server-key-778899';
const CRED = {
  anthropic: 'sk-ant-log-test-credential-aa11bb22',
  openai: 'sk-openai-log-test-credential-cc33',
  custom: 'custom-log-test-credential-dd44ee55',
  bedrock: JSON.stringify({
    accessKeyId: 'AKIALOGTEST000001',
    secretAccessKey: 'log-test-bedrock-secret-ff66gg77',
    region: 'us-east-1',
    sessionToken: 'log-test-bedrock-token-hh88ii99',
  }),
};

describe('a debug-level log of a full scenario holds no key and no credential value', () => {
  let t: TestServer;
  const secrets: string[] = [TEST_API_KEY, INTERNAL, MASTER, SERVER_MODEL_KEY, ...Object.values(CRED)];

  beforeAll(async () => {
    t = await startTestServer({
      env: {
        ASH_LOG_LEVEL: 'debug',
        ASH_INTERNAL_SECRET: INTERNAL,
        ASH_CREDENTIAL_KEY: MASTER,
        ANTHROPIC_API_KEY: SERVER_MODEL_KEY,
      },
    });
    secrets.push(readFileSync(join(t.dataDir, 'key-hash-secret'), 'utf8').trim());
    for (const part of Object.values(JSON.parse(CRED.bedrock) as Record<string, string>))
      if (part.length >= 12) secrets.push(part);
  });
  afterAll(async () => t?.close());

  it('runs keys, tenants, credentials and turns, then finds none of their secrets in the log', async () => {
    const internal = { authorization: bearer(INTERNAL) };
    // Tenants and keys.
    const tenant = await api(
      t.url,
      'POST',
      '/api/internal/api-keys',
      { tenantId: 'logco', label: 'x' },
      internal,
    );
    expect(tenant.status).toBe(201);
    secrets.push(tenant.body.key);
    const extra = await api(t.url, 'POST', '/api/api-keys', { label: 'temp' });
    secrets.push(extra.body.key);
    expect(
      (await api(t.url, 'GET', '/api/api-keys', undefined, { authorization: bearer(extra.body.key) })).status,
    ).toBe(200);
    await api(t.url, 'DELETE', `/api/api-keys/${extra.body.id}`);
    expect(
      (await api(t.url, 'GET', '/api/agents', undefined, { authorization: bearer(extra.body.key) })).status,
    ).toBe(401);
    // Wrong and malformed credentials, wrong internal secrets.
    const wrongKey = 'ash_WrongWrongWrongWrongWrongWrong1234';
    secrets.push(wrongKey);
    await api(t.url, 'GET', '/api/agents', undefined, { authorization: bearer(wrongKey) });
    await api(t.url, 'GET', '/api/agents', undefined, { authorization: `Bearer ${TEST_API_KEY} trailing` });
    await api(t.url, 'GET', '/api/agents', undefined, { authorization: TEST_API_KEY });
    await api(t.url, 'GET', '/api/internal/runners', undefined, { authorization: bearer(`${INTERNAL}x`) });
    await api(t.url, 'GET', '/api/internal/runners', undefined, internal);

    // Credentials, including bad input that carries a value.
    const ids: Record<string, string> = {};
    for (const [type, key] of Object.entries(CRED)) {
      const r = await api(t.url, 'POST', '/api/credentials', { type, key });
      expect(r.status).toBe(201);
      ids[type] = r.body.credential.id;
    }
    const badBedrock =
      '{"accessKeyId":"AKIALOGTESTBAD0001","secretAccessKey":"log-test-bad-bedrock-secret-jj00",';
    secrets.push('log-test-bad-bedrock-secret-jj00');
    expect((await api(t.url, 'POST', '/api/credentials', { type: 'bedrock', key: badBedrock })).status).toBe(
      400,
    );

    // Turns: one on the anthropic credential, one where the agent prints its openai key.
    await deployAgent(
      t.url,
      'logger',
      { 'CLAUDE.md': '# Logger\n' },
      { env: { AGENT_TOKEN: 'agent-env-token-kk11ll22' } },
    );
    secrets.push('agent-env-token-kk11ll22');
    const s1 = await createSession(t.url, 'logger', { credentialId: ids.anthropic });
    t.model
      .forSession(s1)
      .enqueue({ toolUse: { name: 'Bash', input: { command: 'echo $AGENT_TOKEN' } } }, { text: 'ok' });
    expect((await sendTurn(t.url, s1, { content: 'go' })).events.at(-1)!.data).toMatchObject({
      outcome: 'completed',
    });
    const s2 = await createSession(t.url, 'logger', {
      credentialId: ids.openai,
      extraEnv: { EXTRA: 'extra-env-mm33nn44' },
    });
    secrets.push('extra-env-mm33nn44');
    t.model
      .forSession(s2)
      .enqueue(
        { toolUse: { name: 'Bash', input: { command: 'echo $OPENAI_API_KEY $EXTRA' } } },
        { text: 'printed' },
      );
    const turn = await sendTurn(t.url, s2, { content: 'print' });
    expect(turn.raw).toContain(CRED.openai); // the agent may see it (documented), the log may not
    await api(t.url, 'PATCH', `/api/credentials/${ids.custom}`, { active: false });
    await api(t.url, 'DELETE', `/api/credentials/${ids.custom}`);
    await api(t.url, 'DELETE', `/api/sessions/${s1}`);
    await api(t.url, 'DELETE', `/api/sessions/${s2}`);

    const log = t.logs();
    expect(t.server.logger.level).toBe('debug');
    expect(log).toContain('"level":20'); // debug lines were written
    expect(log).toContain('"msg":"turn finished"');
    expect(log.split('\n').length).toBeGreaterThan(50);
    for (const s of secrets) expect(log.includes(s), `the log contains ${s.slice(0, 12)}…`).toBe(false);
  });
});
