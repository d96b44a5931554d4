import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { API_KEY_PATTERN } from '@ash-ai/shared';
import { ScriptedModel, serverEnv } from '@ash-ai/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';
import { api, bearer, startTestServer, TEST_API_KEY, type TestServer } from './harness.js';

const INTERNAL_SECRET = 'internal-secret-for-tests-0123456789';
const noAuth = { authorization: '' };

/** The live OpenAPI document's operations: `[method, path]`, `{param}` placeholders kept. */
async function operations(url: string): Promise<Array<[string, string]>> {
  const spec = await api(url, 'GET', '/openapi.json', undefined, noAuth);
  const ops: Array<[string, string]> = [];
  for (const [path, item] of Object.entries(spec.body.paths as Record<string, Record<string, unknown>>))
    for (const method of Object.keys(item))
      if (method !== 'parameters') ops.push([method.toUpperCase(), path]);
  return ops;
}

/** The path with every `{param}` replaced by a fresh UUID. */
const fill = (path: string) => path.replace(/\{[^}]+\}/g, () => randomUUID());

function expectUnauthorized(
  r: { status: number; body: any; headers: Headers; text: string },
  detail: RegExp,
) {
  expect(r.status).toBe(401);
  expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(r.body).toMatchObject({ code: 'unauthorized', status: 401 });
  expect(r.body.detail).toMatch(detail);
  expect(r.headers.get('www-authenticate')).toMatch(/^Bearer realm="ash"/);
}

/** The stable code of an error body: problem details' `code`, or `/v1`'s Anthropic envelope's `error.details.error_code`. */
const errorCode = (body: any): unknown => body?.code ?? body?.error?.details?.error_code;

describe('authentication and API keys', () => {
  let model: ScriptedModel;
  let t: TestServer;

  beforeAll(async () => {
    model = await ScriptedModel.start();
    t = await startTestServer({ model, env: { ASH_INTERNAL_SECRET: INTERNAL_SECRET } });
  });
  afterAll(async () => {
    await t?.close();
    await model?.close();
  });

  it('refuses every route without a key, except /health, /openapi.json and /docs', async () => {
    const ops = await operations(t.url);
    expect(ops.length).toBeGreaterThan(15);
    for (const [method, path] of ops) {
      const r = await api(
        t.url,
        method,
        fill(path),
        method === 'GET' || method === 'DELETE' ? undefined : {},
        noAuth,
      );
      if (path === '/health') {
        expect(r.status, `${method} ${path}`).toBe(200);
        continue;
      }
      expect(r.status, `${method} ${path}`).toBe(401);
      expect(errorCode(r.body)).toBe('unauthorized');
      expect(r.headers.get('www-authenticate')).toMatch(/^Bearer/);
    }
    expect((await api(t.url, 'GET', '/openapi.json', undefined, noAuth)).status).toBe(200);
    const docs = await fetch(`${t.url}/docs/`);
    expect(docs.status).toBe(200);
    expect((await api(t.url, 'GET', '/no/such/route', undefined, noAuth)).status).toBe(401);
    expect((await api(t.url, 'GET', '/no/such/route')).status).toBe(404);
    // The spec documents the scheme.
    const spec = (await api(t.url, 'GET', '/openapi.json', undefined, noAuth)).body;
    expect(spec.components.securitySchemes.apiKey).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(spec.security).toEqual([{ apiKey: [] }]);
    expect(spec.paths['/health'].get.security).toEqual([]);
    expect(spec.paths['/api/internal/api-keys'].post.security).toEqual([{ internalSecret: [] }]);
  });

  it('parses Authorization strictly and says what is wrong without echoing the key', async () => {
    expectUnauthorized(await api(t.url, 'GET', '/api/agents', undefined, noAuth), /needs an API key/);
    const malformed = [
      TEST_API_KEY,
      `Bearer  ${TEST_API_KEY}`,
      `Bearer ${TEST_API_KEY} extra`,
      `Basic ${Buffer.from(`x:${TEST_API_KEY}`).toString('base64')}`,
      `Token ${TEST_API_KEY}`,
      'Bearer',
    ];
    for (const header of malformed) {
      const r = await api(t.url, 'GET', '/api/agents', undefined, { authorization: header });
      expectUnauthorized(r, /malformed Authorization header/);
      expect(r.headers.get('www-authenticate')).toContain('error="invalid_request"');
      expect(r.text).not.toContain(TEST_API_KEY);
    }
    const wrong = `ash_${'x'.repeat(32)}`;
    const r = await api(t.url, 'GET', '/api/agents', undefined, { authorization: bearer(wrong) });
    expectUnauthorized(r, /unknown or has been revoked/);
    expect(r.headers.get('www-authenticate')).toContain('error="invalid_token"');
    expect(r.text).not.toContain(wrong);
    const headerText: string[] = [];
    r.headers.forEach((v, k) => {
      headerText.push(`${k}: ${v}`);
    });
    expect(headerText.join('\n')).not.toContain(wrong);
    // Case-insensitive scheme (RFC 9110 §11.1) is fine.
    expect(
      (await api(t.url, 'GET', '/api/agents', undefined, { authorization: `bearer ${TEST_API_KEY}` })).status,
    ).toBe(200);
  });

  it('creates keys (shown once), lists them without the key, and a revoked key fails on the next request', async () => {
    const created = await api(t.url, 'POST', '/api/api-keys', { label: 'ci' });
    expect(created.status).toBe(201);
    const { key, id } = created.body;
    expect(key).toMatch(new RegExp(API_KEY_PATTERN));
    expect(created.body).toMatchObject({
      tenantId: 'default',
      apiKey: { id, label: 'ci', keyPrefix: key.slice(0, 8) },
    });
    const asNew = { authorization: bearer(key) };
    expect((await api(t.url, 'GET', '/api/agents', undefined, asNew)).status).toBe(200);

    const list = await api(t.url, 'GET', '/api/api-keys');
    expect(list.status).toBe(200);
    expect(list.text).not.toContain(key);
    const entry = list.body.keys.find((k: { id: string }) => k.id === id);
    expect(entry).toMatchObject({ label: 'ci', keyPrefix: key.slice(0, 8), createdAt: expect.any(String) });
    // ASH_API_KEY is listed as `env`, with a short prefix only.
    const env = list.body.keys.find((k: { id: string }) => k.id === 'env');
    expect(env).toMatchObject({ label: 'ASH_API_KEY', tenantId: 'default' });
    expect(TEST_API_KEY.startsWith(env.keyPrefix)).toBe(true);
    expect(env.keyPrefix.length).toBeLessThanOrEqual(8);
    // Use is recorded (asynchronously, at most once a minute).
    for (let i = 0; i < 50; i++) {
      const k = (await api(t.url, 'GET', '/api/api-keys')).body.keys.find((x: { id: string }) => x.id === id);
      if (k.lastUsedAt) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const used = (await api(t.url, 'GET', '/api/api-keys')).body.keys.find(
      (x: { id: string }) => x.id === id,
    );
    expect(used.lastUsedAt).toEqual(expect.any(String));

    // Revoke it with itself: this request succeeds, the next one is refused.
    expect((await api(t.url, 'DELETE', `/api/api-keys/${id}`, undefined, asNew)).status).toBe(200);
    expectUnauthorized(
      await api(t.url, 'GET', '/api/agents', undefined, asNew),
      /unknown or has been revoked/,
    );
    expect(
      (await api(t.url, 'GET', '/api/api-keys')).body.keys.map((k: { id: string }) => k.id),
    ).not.toContain(id);
    const again = await api(t.url, 'DELETE', `/api/api-keys/${id}`);
    expect(again.status).toBe(404);
    expect(again.body.code).toBe('api_key_not_found');
    const envDelete = await api(t.url, 'DELETE', '/api/api-keys/env');
    expect(envDelete.status).toBe(409);
    expect(envDelete.body.detail).toMatch(/ASH_API_KEY/);
    // Stored: only the hash.
    const db = readFileSync(join(t.dataDir, 'ash.db'));
    const wal = readFileSync(join(t.dataDir, 'ash.db-wal'));
    expect(db.includes(key)).toBe(false);
    expect(wal.includes(key)).toBe(false);
    expect(statSync(join(t.dataDir, 'key-hash-secret')).mode & 0o777).toBe(0o600);
  });

  it('guards every internal route with the internal secret (runner routes included)', async () => {
    const ops = (await operations(t.url)).filter(([, p]) => p.startsWith('/api/internal/'));
    expect(ops.map(([m, p]) => `${m} ${p}`).sort()).toEqual(
      [
        'GET /api/internal/runners',
        'POST /api/internal/agents/files',
        'POST /api/internal/api-keys',
        'POST /api/internal/runners/deregister',
        'POST /api/internal/runners/heartbeat',
        'POST /api/internal/runners/register',
        'POST /api/internal/runners/{runnerId}/drain',
        'POST /api/internal/runners/{runnerId}/evicted',
        'POST /api/internal/sessions/{id}/checkout',
        'POST /api/internal/sessions/{id}/checkpoint',
        'POST /api/internal/sessions/{id}/egress',
      ].sort(),
    );
    const bodies: Record<string, unknown> = {
      '/api/internal/api-keys': { tenantId: 'acme' },
      '/api/internal/runners/register': { runnerId: 'r-1', host: '10.1.2.3', port: 4200 },
      '/api/internal/runners/heartbeat': { runnerId: 'r-1', activeCount: 2 },
      '/api/internal/runners/deregister': { runnerId: 'r-1' },
    };
    for (const [method, path] of ops) {
      const body = bodies[path];
      for (const authorization of [
        '',
        bearer('wrong-secret-0123456789'),
        bearer(TEST_API_KEY),
        'Basic abc',
      ]) {
        const r = await api(t.url, method, path, body, { authorization });
        expect(r.status, `${method} ${path} with '${authorization}'`).toBe(401);
        expect(r.body.code).toBe('unauthorized');
        expect(r.text).not.toContain(INTERNAL_SECRET);
      }
    }
    const ok = { authorization: bearer(INTERNAL_SECRET) };
    expect((await api(t.url, 'GET', '/api/internal/runners', undefined, ok)).body).toEqual({
      runners: [],
      count: 0,
      hasLocal: true,
    });
    const hb = await api(
      t.url,
      'POST',
      '/api/internal/runners/heartbeat',
      bodies['/api/internal/runners/heartbeat'],
      ok,
    );
    expect(hb.status).toBe(404);
    expect(hb.body.code).toBe('resource_not_found');
    expect(
      (
        await api(
          t.url,
          'POST',
          '/api/internal/runners/register',
          bodies['/api/internal/runners/register'],
          ok,
        )
      ).status,
    ).toBe(200);
    expect(
      (
        await api(
          t.url,
          'POST',
          '/api/internal/runners/heartbeat',
          bodies['/api/internal/runners/heartbeat'],
          ok,
        )
      ).status,
    ).toBe(200);
    const runners = (await api(t.url, 'GET', '/api/internal/runners', undefined, ok)).body;
    expect(runners).toMatchObject({
      count: 1,
      runners: [{ runnerId: 'r-1', host: '10.1.2.3', port: 4200, active: 2, max: 100 }],
    });
    expect(
      (await api(t.url, 'POST', '/api/internal/runners/deregister', { runnerId: 'r-1' }, ok)).status,
    ).toBe(200);
    expect((await api(t.url, 'GET', '/api/internal/runners', undefined, ok)).body.count).toBe(0);
    // The internal secret is no API key.
    expect((await api(t.url, 'GET', '/api/agents', undefined, ok)).status).toBe(401);
    // Tenant provisioning: a key for a new tenant, which sees only its own keys.
    const acme = await api(t.url, 'POST', '/api/internal/api-keys', { tenantId: 'acme', label: 'first' }, ok);
    expect(acme.status).toBe(201);
    expect(acme.body).toMatchObject({
      tenantId: 'acme',
      key: expect.stringMatching(new RegExp(API_KEY_PATTERN)),
    });
    const acmeKeys = await api(t.url, 'GET', '/api/api-keys', undefined, {
      authorization: bearer(acme.body.key),
    });
    expect(acmeKeys.body.keys).toEqual([
      expect.objectContaining({ id: acme.body.id, tenantId: 'acme', label: 'first' }),
    ]);
    for (const tenantId of ['', 'a b', 'x'.repeat(65), '../etc', 'ünï']) {
      const bad = await api(t.url, 'POST', '/api/internal/api-keys', { tenantId }, ok);
      expect(bad.status, tenantId).toBe(400);
      expect(bad.body.code).toBe('validation_failed');
    }
  });

  it('rejects prototype-polluting bodies on every JSON route, and oversized bodies', async () => {
    const ops = (await operations(t.url)).filter(([m]) => ['POST', 'PATCH', 'PUT'].includes(m));
    const spec = (await api(t.url, 'GET', '/openapi.json', undefined, noAuth)).body;
    let checked = 0;
    for (const [method, path] of ops) {
      const content = spec.paths[path][method.toLowerCase()].requestBody?.content ?? {};
      if (!content['application/json']) continue;
      const auth: Record<string, string> = path.startsWith('/api/internal/')
        ? { authorization: bearer(INTERNAL_SECRET) }
        : {};
      for (const raw of ['{"__proto__":{"polluted":1}}', '{"constructor":{"prototype":{"polluted":1}}}']) {
        const r = await api(t.url, method, fill(path), raw, auth);
        expect(r.status, `${method} ${path} ${raw}`).toBe(400);
        expect(errorCode(r.body)).toBe('invalid_json');
      }
      checked++;
    }
    expect(checked).toBeGreaterThanOrEqual(8);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const big = (n: number) => 'x'.repeat(n);
    expect((await api(t.url, 'POST', '/api/api-keys', { label: big(8 * 1024) })).status).toBe(413);
    expect(
      (await api(t.url, 'POST', '/api/credentials', { type: 'openai', key: big(80 * 1024) })).status,
    ).toBe(413);
    expect(
      (
        await api(
          t.url,
          'POST',
          '/api/internal/api-keys',
          { tenantId: big(20 * 1024) },
          { authorization: bearer(INTERNAL_SECRET) },
        )
      ).status,
    ).toBe(413);
  });

  it('sends standard security headers; /docs keeps working', async () => {
    const r = await api(t.url, 'GET', '/api/agents');
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    expect(r.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(r.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(r.headers.get('strict-transport-security')).toMatch(/max-age=/);
    expect(r.headers.get('referrer-policy')).toBe('no-referrer');
    expect(
      (await api(t.url, 'GET', '/api/agents', undefined, noAuth)).headers.get('x-content-type-options'),
    ).toBe('nosniff');
    const docs = await fetch(`${t.url}/docs/`);
    const csp = docs.headers.get('content-security-policy')!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('upgrade-insecure-requests');
    const html = await docs.text();
    const script = /src="\.\/(static\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    expect((await fetch(`${t.url}/docs/${script}`)).status).toBe(200);
  });

  it('refuses configurations that would open internal routes beyond this machine', () => {
    const base = serverEnv({ dataDir: '/tmp/x', modelUrl: 'http://127.0.0.1:1' });
    expect(() => loadConfig({ ...base, ASH_INTERNAL_OPEN: '1', ASH_HOST: '0.0.0.0' })).toThrow(ConfigError);
    expect(() => loadConfig({ ...base, ASH_INTERNAL_OPEN: '1', ASH_HOST: '127.0.0.1' })).not.toThrow();
    expect(() => loadConfig({ ...base, ASH_API_KEY: 'short' })).toThrow(/ASH_API_KEY/);
    expect(() => loadConfig({ ...base, ASH_ALLOWED_ORIGINS: 'https://a.example/path' })).toThrow(
      /ASH_ALLOWED_ORIGINS/,
    );
    expect(
      loadConfig({ ...base, ASH_ALLOWED_ORIGINS: 'https://a.example, http://localhost:3000' }).allowedOrigins,
    ).toEqual(['https://a.example', 'http://localhost:3000']);
    expect(() => loadConfig({ ...base, ASH_ADVERTISE_URL: 'server-a:4100' })).toThrow(/ASH_ADVERTISE_URL/);
    expect(loadConfig({ ...base, ASH_ADVERTISE_URL: 'https://a.internal:4100/' }).advertiseUrl).toBe(
      'https://a.internal:4100',
    );
  });
});

describe('first start, internal routes switched off or opened, rate limit and CORS', () => {
  let model: ScriptedModel;
  let fresh: TestServer;
  let open: TestServer;

  beforeAll(async () => {
    model = await ScriptedModel.start();
    fresh = await startTestServer({
      model,
      env: { ASH_API_KEY: '', ASH_RATE_LIMIT_MAX: '5', ASH_ALLOWED_ORIGINS: 'https://good.example' },
    });
    open = await startTestServer({ model, env: { ASH_INTERNAL_OPEN: '1' } });
  });
  afterAll(async () => {
    await fresh?.close();
    await open?.close();
    await model?.close();
  });

  it('creates the first key on a fresh data dir (0600) and logs only its path', async () => {
    const file = join(fresh.dataDir, 'initial-api-key');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const key = readFileSync(file, 'utf8').trim();
    expect(key).toMatch(new RegExp(API_KEY_PATTERN));
    expect(fresh.logs()).toContain(file);
    expect(fresh.logs()).not.toContain(key);
    expect((await api(fresh.url, 'GET', '/api/agents', undefined, noAuth)).status).toBe(401);
    const r = await api(fresh.url, 'GET', '/api/api-keys', undefined, { authorization: bearer(key) });
    expect(r.status).toBe(200);
    expect(r.body.keys).toEqual([expect.objectContaining({ tenantId: 'default', label: 'initial' })]);
    // The test key is not valid here: this server has no ASH_API_KEY.
    expect((await api(fresh.url, 'GET', '/api/agents')).status).toBe(401);
  });

  it('refuses internal routes when no secret is set, unless opened on a loopback-only server', async () => {
    const r = await api(fresh.url, 'POST', '/api/internal/api-keys', { tenantId: 'x' }, noAuth);
    expect(r.status).toBe(403);
    expect(r.body.code).toBe('forbidden');
    expect(r.body.detail).toMatch(/ASH_INTERNAL_SECRET/);
    expect((await api(fresh.url, 'GET', '/api/internal/runners', undefined, noAuth)).status).toBe(403);
    const opened = await api(open.url, 'POST', '/api/internal/api-keys', { tenantId: 'devtenant' }, noAuth);
    expect(opened.status).toBe(201);
    expect((await api(open.url, 'GET', '/api/internal/runners', undefined, noAuth)).status).toBe(200);
  });

  it('limits requests per key with 429 + Retry-After; other keys and /health are unaffected', async () => {
    const key = readFileSync(join(fresh.dataDir, 'initial-api-key'), 'utf8').trim();
    const created = await api(fresh.url, 'POST', '/api/api-keys', {}, { authorization: bearer(key) });
    expect(created.status).toBe(201);
    const other = created.body.key as string;
    const statuses: number[] = [];
    let limited: Awaited<ReturnType<typeof api>> | undefined;
    for (let i = 0; i < 8; i++) {
      const r = await api(fresh.url, 'GET', '/api/agents', undefined, { authorization: bearer(other) });
      statuses.push(r.status);
      if (r.status === 429) limited ??= r;
    }
    expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
    expect(statuses.slice(5)).toEqual([429, 429, 429]);
    expect(limited!.body).toMatchObject({ code: 'rate_limited', status: 429 });
    expect(limited!.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(Number(limited!.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(limited!.text).not.toContain(other);
    for (let i = 0; i < 10; i++)
      expect((await api(fresh.url, 'GET', '/health', undefined, noAuth)).status).toBe(200);
    // Unauthenticated floods are limited per client address too.
    const anon: number[] = [];
    for (let i = 0; i < 7; i++)
      anon.push((await api(fresh.url, 'GET', '/api/agents', undefined, noAuth)).status);
    // (earlier tests spent part of this address's budget)
    const first429 = anon.indexOf(429);
    expect(first429).toBeGreaterThanOrEqual(0);
    expect(anon.slice(0, first429).every((s) => s === 401)).toBe(true);
    expect(anon.slice(first429).every((s) => s === 429)).toBe(true);
  });

  it('counts failed authentications per address, so made-up keys do not each get a fresh budget', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      const r = await api(fresh.url, 'GET', '/api/agents', undefined, {
        authorization: bearer(`ash_madeup${i}${'x'.repeat(24)}`),
      });
      statuses.push(r.status);
    }
    expect(statuses).toContain(429);
    const first429 = statuses.indexOf(429);
    expect(statuses.slice(0, first429).every((s) => s === 401)).toBe(true);
    expect(statuses.slice(first429).every((s) => s === 429)).toBe(true);
  });

  it('sends CORS headers to allowed origins only (default-deny)', async () => {
    const probe = async (origin: string, method = 'GET') =>
      fetch(`${fresh.url}/health`, {
        method,
        headers:
          method === 'OPTIONS'
            ? {
                origin,
                'access-control-request-method': 'POST',
                'access-control-request-headers': 'authorization',
              }
            : { origin },
      });
    const evil = await probe('https://evil.example');
    expect(evil.headers.get('access-control-allow-origin')).toBeNull();
    const evilPreflight = await probe('https://evil.example', 'OPTIONS');
    expect(evilPreflight.headers.get('access-control-allow-origin')).toBeNull();
    expect(evilPreflight.headers.get('access-control-allow-methods')).toBeNull();
    const good = await probe('https://good.example');
    expect(good.headers.get('access-control-allow-origin')).toBe('https://good.example');
    const goodPreflight = await probe('https://good.example', 'OPTIONS');
    expect(goodPreflight.status).toBe(204);
    expect(goodPreflight.headers.get('access-control-allow-origin')).toBe('https://good.example');
    expect(goodPreflight.headers.get('access-control-allow-headers')).toMatch(/authorization/);
    // A server with no allowlist sends CORS headers to nobody.
    const none = await fetch(`${open.url}/health`, { headers: { origin: 'https://good.example' } });
    expect(none.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('failed-authentication lockout never refuses a valid key (QA #5)', () => {
  let model: ScriptedModel;
  let direct: TestServer;
  let proxied: TestServer;
  const madeUp = (i: number) => ({ authorization: bearer(`ash_attacker${i}${'x'.repeat(24)}`) });

  beforeAll(async () => {
    model = await ScriptedModel.start();
    // Failure limit: max(5, 200/50) = 5 per address; the per-key limit (200) is not reached.
    direct = await startTestServer({ model, env: { ASH_RATE_LIMIT_MAX: '200' } });
    proxied = await startTestServer({
      model,
      env: { ASH_RATE_LIMIT_MAX: '200', ASH_TRUST_PROXY: '127.0.0.1' },
    });
  });
  afterAll(async () => {
    await direct?.close();
    await proxied?.close();
    await model?.close();
  });

  it('blocks made-up keys from a locked-out address, but a valid key from it still works', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++)
      statuses.push((await api(direct.url, 'GET', '/api/agents', undefined, madeUp(i))).status);
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(statuses.slice(5)).toEqual([429, 429, 429]);
    // Missing keys are refused with 429 too while the address is blocked.
    expect((await api(direct.url, 'GET', '/api/agents', undefined, noAuth)).status).toBe(429);
    // The legitimate user behind the same address is unaffected.
    for (let i = 0; i < 3; i++) expect((await api(direct.url, 'GET', '/api/agents')).status).toBe(200);
  });

  it('ignores X-Forwarded-For unless ASH_TRUST_PROXY is set', async () => {
    // Without ASH_TRUST_PROXY a forged header does not give the attacker fresh addresses.
    const spoofed: number[] = [];
    for (let i = 0; i < 3; i++)
      spoofed.push(
        (
          await api(direct.url, 'GET', '/api/agents', undefined, {
            ...madeUp(100 + i),
            'x-forwarded-for': `203.0.113.${i + 1}`,
          })
        ).status,
      );
    expect(spoofed).toEqual([429, 429, 429]);
  });

  it('with ASH_TRUST_PROXY, counts failures per forwarded client address', async () => {
    const from = (ip: string, i: number) => ({ ...madeUp(i), 'x-forwarded-for': ip });
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++)
      statuses.push(
        (await api(proxied.url, 'GET', '/api/agents', undefined, from('198.51.100.7', i))).status,
      );
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(statuses.slice(5)).toEqual([429, 429]);
    // Another client behind the same proxy is not blocked.
    expect((await api(proxied.url, 'GET', '/api/agents', undefined, from('198.51.100.8', 50))).status).toBe(
      401,
    );
    // And a valid key from the blocked client still works.
    const ok = await api(proxied.url, 'GET', '/api/agents', undefined, { 'x-forwarded-for': '198.51.100.7' });
    expect(ok.status).toBe(200);
  });

  it('validates ASH_TRUST_PROXY', () => {
    const base = serverEnv({ dataDir: '/tmp/x', modelUrl: 'http://127.0.0.1:1' });
    expect(loadConfig(base).trustProxy).toBe(false);
    expect(loadConfig({ ...base, ASH_TRUST_PROXY: 'true' }).trustProxy).toBe(true);
    expect(() => loadConfig({ ...base, ASH_TRUST_PROXY: '2' })).toThrow(/ASH_TRUST_PROXY/);
    expect(loadConfig({ ...base, ASH_TRUST_PROXY: '127.0.0.1, 10.0.0.0/8' }).trustProxy).toEqual([
      '127.0.0.1',
      '10.0.0.0/8',
    ]);
    expect(() => loadConfig({ ...base, ASH_TRUST_PROXY: 'not an address' })).toThrow(ConfigError);
  });
});
