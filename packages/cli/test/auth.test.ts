import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  ScriptedModel,
  removeDir,
  runAsh,
  serverEnv,
  startAshProcess,
  tempDir,
  type AshProcess,
  freePort,
} from '@ash-ai/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const OLD_MASTER = 'cli-test-master-key-old-0123456789';
const NEW_MASTER = 'cli-test-master-key-new-9876543210';
const INTERNAL = 'cli-test-internal-secret-0123456789';
const MODEL_KEY = 'sk-ant-cli-credential-value-5a6b7c8d';

describe('first start, keys and credentials from the ash CLI against real server processes', () => {
  let model: ScriptedModel;
  let home: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    model = await ScriptedModel.start();
    home = tempDir('ash-cli-auth-');
    env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: home,
      ASH_DATA_DIR: join(home, '.ash'),
      ASH_PORT: String(await freePort()),
      ANTHROPIC_BASE_URL: model.url,
      ANTHROPIC_API_KEY: 'sk-ant-cli-server-key-000000000',
      ASH_MODEL_MAX_RETRIES: '0',
      ASH_INTERNAL_SECRET: INTERNAL,
      ASH_CREDENTIAL_KEY: OLD_MASTER,
    };
  });
  afterAll(async () => {
    await runAsh(['stop'], env);
    await model.close();
    removeDir(home);
  });

  it('a fresh server writes its first key to a 0600 file, logs only the path, and refuses keyless requests', async () => {
    const dataDir = tempDir('ash-first-');
    let proc: AshProcess | undefined;
    try {
      proc = await startAshProcess(serverEnv({ dataDir, modelUrl: model.url, extra: { ASH_API_KEY: '' } }));
      const file = join(dataDir, 'initial-api-key');
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const key = readFileSync(file, 'utf8').trim();
      expect(key).toMatch(/^ash_[A-Za-z0-9_-]{32}$/);
      expect(proc.output()).toContain(file);
      expect(proc.output()).not.toContain(key);
      const none = await fetch(`${proc.url}/api/agents`);
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect((await none.json()).code).toBe('unauthorized');
      expect(
        (await fetch(`${proc.url}/api/agents`, { headers: { authorization: `Bearer ${key}` } })).status,
      ).toBe(200);
      // A restart keeps the key and creates no other.
      await proc.stop();
      proc = await startAshProcess(serverEnv({ dataDir, modelUrl: model.url, extra: { ASH_API_KEY: '' } }));
      expect(readFileSync(file, 'utf8').trim()).toBe(key);
      const keys = await fetch(`${proc.url}/api/api-keys`, { headers: { authorization: `Bearer ${key}` } });
      expect(((await keys.json()) as { keys: unknown[] }).keys).toHaveLength(1);
    } finally {
      await proc?.stop();
      removeDir(dataDir);
    }
  });

  it('ash start saves the first key for the CLI, so ash agent list just works', async () => {
    const start = await runAsh(['start'], env);
    expect(start.stderr).toBe('');
    expect(start.code).toBe(0);
    expect(start.stdout).toContain('Saved the server');
    const configFile = join(home, '.ash', 'config.json');
    expect(statSync(configFile).mode & 0o777).toBe(0o600);
    const config = JSON.parse(readFileSync(configFile, 'utf8')) as { api_key?: string; server_url?: string };
    expect(config.api_key).toMatch(/^ash_/);
    expect(existsSync(join(home, '.ash', 'initial-api-key'))).toBe(false);
    expect(readFileSync(join(home, '.ash', 'server.log'), 'utf8')).not.toContain(config.api_key!);
    const list = await runAsh(['agent', 'list'], env);
    expect(list.stderr).toBe('');
    expect(list.code).toBe(0);
    expect((await fetch(`${config.server_url}/api/agents`)).status).toBe(401);
    // Without the saved key, the CLI gets a clear 401.
    const wrong = await runAsh(['--api-key', `ash_${'z'.repeat(32)}`, 'agent', 'list'], env);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^ash: the API key is unknown or has been revoked \(401 unauthorized\)\n$/);
  });

  it('creates, lists and revokes API keys; provisions a tenant with the internal secret', async () => {
    const created = await runAsh(['api-key', 'create', '--label', 'deploy-bot'], env);
    expect(created.code).toBe(0);
    const key = created.stdout.trim();
    expect(key).toMatch(/^ash_[A-Za-z0-9_-]{32}$/);
    expect(created.stderr).toMatch(/not shown again/);
    const list = (
      JSON.parse((await runAsh(['api-key', 'list', '--json'], env)).stdout) as {
        keys: Array<{ id: string; label: string; keyPrefix: string }>;
      }
    ).keys;
    const entry = list.find((k) => k.label === 'deploy-bot')!;
    expect(entry.keyPrefix).toBe(key.slice(0, 8));
    expect(JSON.stringify(list)).not.toContain(key);
    expect((await runAsh(['--api-key', key, 'agent', 'list'], env)).code).toBe(0);
    expect((await runAsh(['api-key', 'revoke', entry.id], env)).stdout).toContain(`revoked ${entry.id}`);
    const after = await runAsh(['--api-key', key, 'agent', 'list'], env);
    expect(after.code).toBe(1);
    expect(after.stderr).toMatch(/\(401 unauthorized\)/);

    const tenant = await runAsh(['api-key', 'create', '--tenant', 'acme', '--json'], env);
    expect(tenant.code).toBe(0);
    const acme = JSON.parse(tenant.stdout) as { tenantId: string; key: string };
    expect(acme.tenantId).toBe('acme');
    const acmeList = JSON.parse(
      (await runAsh(['--api-key', acme.key, 'api-key', 'list', '--json'], env)).stdout,
    );
    expect(acmeList.keys).toHaveLength(1);
    const noSecret = await runAsh(['api-key', 'create', '--tenant', 'acme'], {
      ...env,
      ASH_INTERNAL_SECRET: '',
    });
    expect(noSecret.code).toBe(1);
    expect(noSecret.stderr).toMatch(/\(401 unauthorized\)/);
    // Operator commands without the secret say which variable to set.
    expect(noSecret.stderr).toMatch(/set ASH_INTERNAL_SECRET/);
    const drain = await runAsh(['runner', 'drain', 'r9'], { ...env, ASH_INTERNAL_SECRET: '' });
    expect(drain.code).toBe(1);
    expect(drain.stderr).toMatch(/set ASH_INTERNAL_SECRET.*\(401 unauthorized\)/);
  });

  it('adds, lists and deletes credentials, and rotate-key re-encrypts them under a new master key', async () => {
    expect((await runAsh(['deploy', 'examples/hello', '--name', 'hello'], env)).code).toBe(0);
    const added = await runAsh(
      ['credentials', 'add', '--type', 'anthropic', '--label', 'team', '--key-env', 'MY_KEY'],
      {
        ...env,
        MY_KEY: MODEL_KEY,
      },
    );
    expect(added.stderr).toBe('');
    const credId = added.stdout.trim();
    expect(credId).toMatch(/^[0-9a-f-]{36}$/);
    const temp = (
      await runAsh(['credentials', 'add', '--type', 'openai', '--key', 'sk-openai-temp-0123456'], env)
    ).stdout.trim();
    const table = await runAsh(['credentials', 'list'], env);
    expect(table.stdout).toMatch(/ID\s+TYPE\s+LABEL\s+ACTIVE/);
    expect(table.stdout).toContain(credId);
    expect(table.stdout).not.toContain(MODEL_KEY);
    expect((await runAsh(['credentials', 'delete', temp], env)).stdout).toContain(`deleted ${temp}`);
    expect((await runAsh(['credentials', 'list', '--json'], env)).stdout).not.toContain(temp);
    const bad = await runAsh(['credentials', 'add', '--type', 'github', '--key', 'x'], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/--type must be one of/);

    // The session's model calls carry the credential's key.
    const session = (await runAsh(['session', 'create', 'hello', '--credential', credId], env)).stdout.trim();
    model.forSession(session).enqueue({ text: 'hi from the credential' });
    expect((await runAsh(['session', 'send', session, 'hello'], env)).stdout).toContain(
      'hi from the credential',
    );
    expect(model.messageRequests(session).at(-1)!.apiKey).toBe(MODEL_KEY);

    // Rotate offline: stop, re-encrypt, restart with the new key.
    expect((await runAsh(['stop'], env)).code).toBe(0);
    const missing = await runAsh(['credentials', 'rotate-key'], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/ASH_NEW_CREDENTIAL_KEY/);
    const rotated = await runAsh(['credentials', 'rotate-key'], {
      ...env,
      ASH_NEW_CREDENTIAL_KEY: NEW_MASTER,
    });
    expect(rotated.stderr).toBe('');
    expect(rotated.stdout).toMatch(/^rotated 1 credential\(s\); restart the server with ASH_CREDENTIAL_KEY/);
    const again = await runAsh(['credentials', 'rotate-key', '--json'], {
      ...env,
      ASH_NEW_CREDENTIAL_KEY: NEW_MASTER,
    });
    expect(JSON.parse(again.stdout)).toEqual({ rotated: 0, alreadyRotated: 1, failed: [] });

    // The old key no longer opens it: a clear 503, not a crash.
    expect((await runAsh(['start'], env)).code).toBe(0);
    const stale = await runAsh(['session', 'create', 'hello', '--credential', credId], env);
    expect(stale.code).toBe(1);
    expect(stale.stderr).toMatch(/cannot be decrypted.*\(503 feature_unavailable\)/);
    expect(readFileSync(join(home, '.ash', 'server.log'), 'utf8')).toMatch(
      /do not decrypt with ASH_CREDENTIAL_KEY/,
    );
    expect((await runAsh(['stop'], env)).code).toBe(0);

    const newEnv = { ...env, ASH_CREDENTIAL_KEY: NEW_MASTER };
    expect((await runAsh(['start'], newEnv)).code).toBe(0);
    const s2 = (await runAsh(['session', 'create', 'hello', '--credential', credId], newEnv)).stdout.trim();
    expect(s2).toMatch(/^[0-9a-f-]{36}$/);
    model.forSession(s2).enqueue({ text: 'still works' });
    expect((await runAsh(['session', 'send', s2, 'hello'], newEnv)).stdout).toContain('still works');
    expect(model.messageRequests(s2).at(-1)!.apiKey).toBe(MODEL_KEY);
    expect(readFileSync(join(home, '.ash', 'ash.db')).includes(MODEL_KEY)).toBe(false);

    // Deleted after the session was created: the session's next sandbox start is refused.
    expect((await runAsh(['credentials', 'delete', credId], newEnv)).code).toBe(0);
    expect((await runAsh(['stop'], newEnv)).code).toBe(0);
    expect((await runAsh(['start'], newEnv)).code).toBe(0);
    const before = model.messageRequests(s2).length;
    const refused = await runAsh(['session', 'send', s2, 'hello again'], newEnv);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^error: credential '.*' does not exist \(invalid_credential\)$/m);
    expect(model.messageRequests(s2)).toHaveLength(before);
  }, 180_000);
});
