import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  bearer,
  createSession,
  deployAgent,
  sendTurn,
  startTestServer,
  type TestServer,
} from './harness.js';

const INTERNAL_SECRET = 'tenancy-internal-secret-0123456789';
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Agent names only tenant A has (names B also has are legitimately B's own). */
const A_ONLY_AGENT = 'alpha-only-agent';

type JsonSchema = Record<string, any>;

/**
 * A minimal valid instance of a request-body schema from the OpenAPI document, so a request
 * passes validation and reaches the handler (whose tenant scoping is what is under test).
 */
function sample(schema: JsonSchema, spec: any): unknown {
  if (schema.$ref) return sample(spec.components.schemas[String(schema.$ref).split('/').pop()!], spec);
  if (schema.const !== undefined) return schema.const;
  if (schema.enum) return schema.enum[0];
  const alt = schema.anyOf ?? schema.oneOf;
  if (alt) return sample(alt[0], spec);
  if (schema.allOf) return Object.assign({}, ...schema.allOf.map((s: JsonSchema) => sample(s, spec)));
  switch (schema.type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      const props: Record<string, JsonSchema> = schema.properties ?? {};
      const required: string[] = schema.required ?? [];
      for (const k of required) out[k] = sample(props[k]!, spec);
      if (required.length < (schema.minProperties ?? 0)) {
        for (const k of Object.keys(props)) {
          if (Object.keys(out).length >= schema.minProperties) break;
          if (!(k in out)) out[k] = sample(props[k]!, spec);
        }
      }
      return out;
    }
    case 'string':
      if (schema.format === 'uuid') return randomUUID();
      if (schema.format === 'date-time') return new Date().toISOString();
      return 'x'.repeat(Math.max(1, schema.minLength ?? 1));
    case 'integer':
    case 'number':
      return Math.max(1, schema.minimum ?? 1);
    case 'boolean':
      return false;
    case 'array':
      return schema.minItems ? [sample(schema.items, spec)] : [];
    default:
      return 'x';
  }
}

/** Every string value in a JSON value that looks like an id: UUIDs, and agent `name`s. */
function harvest(value: unknown, into: Set<string>, agentNames: Set<string>): void {
  if (Array.isArray(value)) for (const v of value) harvest(v, into, agentNames);
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (typeof v === 'string') {
        if (UUID_RE.test(v)) into.add(v);
        if ((k === 'name' || k === 'agentName') && agentNames.has(v)) into.add(v);
      } else harvest(v, into, agentNames);
    }
  }
}

describe('tenant isolation on every id-bearing route of the live OpenAPI document', () => {
  let t: TestServer;
  let spec: any;
  let keyA: string;
  let keyB: string;
  const asA = () => ({ authorization: bearer(keyA) });
  const asB = () => ({ authorization: bearer(keyB) });
  /** A's ids and names, harvested from A's own responses. */
  const idsA = new Set<string>();
  let sessionA: string;

  beforeAll(async () => {
    t = await startTestServer({
      env: {
        ASH_INTERNAL_SECRET: INTERNAL_SECRET,
        ASH_CREDENTIAL_KEY: 'tenancy-credential-master-key-0123',
        // Every id against every route is many requests; rate limits are tested elsewhere.
        ASH_RATE_LIMIT_MAX: '0',
      },
    });
    const provision = async (tenantId: string) => {
      const r = await api(
        t.url,
        'POST',
        '/api/internal/api-keys',
        { tenantId },
        { authorization: bearer(INTERNAL_SECRET) },
      );
      expect(r.status).toBe(201);
      return r.body.key as string;
    };
    keyA = await provision('tenant-a');
    keyB = await provision('tenant-b');
    spec = (await api(t.url, 'GET', '/openapi.json')).body;

    // Tenant A's resources: an agent, a session with a finished turn (messages, events), a
    // credential and a second API key. Routes merged later that own other resources should
    // create one here too; anything reachable from these is harvested automatically.
    await deployAgent(t.url, A_ONLY_AGENT, { 'CLAUDE.md': '# A\n' }, {}, keyA);
    sessionA = await createSession(t.url, A_ONLY_AGENT, {}, keyA);
    t.model.forSession(sessionA).enqueue({ text: 'hello A' });
    const turn = await sendTurn(t.url, sessionA, { content: 'hi' }, keyA);
    expect(turn.events.at(-1)!.data).toMatchObject({ outcome: 'completed' });
    const cred = await api(
      t.url,
      'POST',
      '/api/credentials',
      { type: 'openai', key: 'sk-tenant-a-openai-key' },
      asA(),
    );
    expect(cred.status).toBe(201);
    const key2 = await api(t.url, 'POST', '/api/api-keys', { label: 'a-second' }, asA());
    expect(key2.status).toBe(201);
    // A queue item that stays pending (due next year).
    const later = new Date(Date.now() + 365 * 24 * 3600_000).toISOString();
    const item = await api(
      t.url,
      'POST',
      '/api/queue',
      { agentName: A_ONLY_AGENT, prompt: 'later', runAt: later },
      asA(),
    );
    expect(item.status).toBe(201);
    // An attachment and a file in A's workspace.
    const att = await api(
      t.url,
      'POST',
      `/api/sessions/${sessionA}/attachments`,
      { filename: 'a.txt', content: Buffer.from('tenant A').toString('base64') },
      asA(),
    );
    expect(att.status).toBe(201);
    // B has resources of its own, too.
    await deployAgent(t.url, 'bravo-agent', { 'CLAUDE.md': '# B\n' }, {}, keyB);
    await createSession(t.url, 'bravo-agent', {}, keyB);

    // Harvest every id A can see: list routes, then every GET route filled with what was found.
    const names = new Set([A_ONLY_AGENT]);
    const getOps = Object.keys(spec.paths).filter(
      (p) => spec.paths[p].get && !p.startsWith('/api/internal/'),
    );
    for (const p of getOps.filter((p) => !p.includes('{'))) {
      const r = await api(t.url, 'GET', p, undefined, asA());
      if (r.status === 200 && r.body) harvest(r.body, idsA, names);
    }
    for (let round = 0; round < 2; round++) {
      for (const p of getOps.filter((p) => p.includes('{') && !p.endsWith('/stream'))) {
        for (const id of [...idsA]) {
          const r = await api(t.url, 'GET', p.replace(/\{[^}]+\}/g, id), undefined, asA());
          if (r.status === 200 && r.body) harvest(r.body, idsA, names);
        }
      }
    }
  });
  afterAll(async () => t?.close());

  it("answers B's requests for A's ids exactly like requests for ids that never existed", async () => {
    expect(idsA.has(sessionA)).toBe(true);
    expect(idsA.has(A_ONLY_AGENT)).toBe(true);
    expect(idsA.size).toBeGreaterThanOrEqual(6);
    const messagesBefore = (await api(t.url, 'GET', `/api/sessions/${sessionA}/messages`, undefined, asA()))
      .body;
    const ops: Array<[string, string]> = [];
    for (const [path, item] of Object.entries(spec.paths as Record<string, Record<string, unknown>>)) {
      if (!path.includes('{') || path.startsWith('/api/internal/')) continue;
      for (const method of Object.keys(item)) ops.push([method.toUpperCase(), path]);
    }
    // Destructive methods last, so a scoping bug shows as a mismatch before it erases anything.
    const rank = (m: string) => ({ GET: 0, HEAD: 0, POST: 1, PUT: 1, PATCH: 1, DELETE: 2 })[m] ?? 1;
    ops.sort((a, b) => rank(a[0]) - rank(b[0]));
    expect(ops.map(([m, p]) => `${m} ${p}`)).toEqual(
      expect.arrayContaining([
        'GET /api/agents/{name}',
        'PATCH /api/agents/{name}',
        'DELETE /api/agents/{name}',
        'GET /api/sessions/{id}',
        'DELETE /api/sessions/{id}',
        'POST /api/sessions/{id}/messages',
        'GET /api/sessions/{id}/messages',
        'GET /api/sessions/{id}/events',
        'GET /api/sessions/{id}/stream',
        'POST /api/sessions/{id}/interrupt',
        'GET /api/credentials/{id}',
        'PATCH /api/credentials/{id}',
        'DELETE /api/credentials/{id}',
        'DELETE /api/api-keys/{id}',
      ]),
    );

    let compared = 0;
    for (const [method, path] of ops) {
      const op = spec.paths[path][method.toLowerCase()];
      const bodySchema = op.requestBody?.content?.['application/json']?.schema;
      const body = bodySchema ? sample(bodySchema, spec) : undefined;
      const params = path.match(/\{[^}]+\}/g)!;
      const call = async (values: string[]) => {
        let i = 0;
        const url = path.replace(/\{[^}]+\}/g, () => encodeURIComponent(values[i++]!));
        const r = await api(t.url, method, url, body, asB());
        let text = r.text;
        for (const v of values) text = text.split(v).join('<id>');
        // Every /v1 error carries its own request id.
        text = text.replace(/req_[0-9a-f]{32}/g, '<request-id>');
        return { status: r.status, type: r.headers.get('content-type'), text };
      };
      const baseline = await call(params.map(() => randomUUID()));
      expect(baseline.status, `${method} ${path} with a random id: ${baseline.text}`).toBe(404);
      for (let p = 0; p < params.length; p++) {
        for (const id of idsA) {
          const values = params.map((_, i) => (i === p ? id : randomUUID()));
          const r = await call(values);
          expect(r, `${method} ${path} with A's ${id} as ${params[p]}`).toEqual(baseline);
          compared++;
        }
      }
    }
    expect(compared).toBeGreaterThan(ops.length * 5);

    // Nothing of A's changed: no turn started, nothing deleted or revoked.
    expect((await api(t.url, 'GET', `/api/sessions/${sessionA}/messages`, undefined, asA())).body).toEqual(
      messagesBefore,
    );
    expect(
      (await api(t.url, 'GET', `/api/sessions/${sessionA}`, undefined, asA())).body.session.status,
    ).not.toBe('ended');
    expect((await api(t.url, 'GET', `/api/agents/${A_ONLY_AGENT}`, undefined, asA())).status).toBe(200);
    expect((await api(t.url, 'GET', '/api/credentials', undefined, asA())).body.credentials).toHaveLength(1);
    expect((await api(t.url, 'GET', '/api/api-keys', undefined, asA())).body.keys).toHaveLength(2);
  });

  it('never mixes tenants in lists', async () => {
    const listOps = Object.keys(spec.paths).filter(
      (p) =>
        spec.paths[p].get && !p.includes('{') && !p.startsWith('/api/internal/') && p.startsWith('/api/'),
    );
    expect(listOps).toEqual(
      expect.arrayContaining(['/api/agents', '/api/sessions', '/api/credentials', '/api/api-keys']),
    );
    const idsB = new Set<string>();
    for (const p of listOps) {
      const b = await api(t.url, 'GET', p, undefined, asB());
      expect(b.status, p).toBe(200);
      for (const id of idsA) expect(b.text, `${p} as B shows A's ${id}`).not.toContain(id);
      harvest(b.body, idsB, new Set(['bravo-agent']));
    }
    expect(idsB.size).toBeGreaterThan(0);
    for (const p of listOps) {
      const a = await api(t.url, 'GET', p, undefined, asA());
      for (const id of idsB) expect(a.text, `${p} as A shows B's ${id}`).not.toContain(id);
    }
    const filtered = await api(t.url, 'GET', `/api/sessions?agent=${A_ONLY_AGENT}`, undefined, asB());
    expect(filtered.body).toMatchObject({ sessions: [], total: 0 });
  });

  it('keeps agent names unique per tenant, not across tenants', async () => {
    await deployAgent(t.url, 'shared-name', { 'CLAUDE.md': '# A version\n' }, { description: 'A' }, keyA);
    await deployAgent(t.url, 'shared-name', { 'CLAUDE.md': '# B version\n' }, { description: 'B' }, keyB);
    await deployAgent(t.url, 'shared-name', { 'CLAUDE.md': '# B again\n' }, { description: 'B2' }, keyB);
    const a = (await api(t.url, 'GET', '/api/agents/shared-name', undefined, asA())).body.agent;
    const b = (await api(t.url, 'GET', '/api/agents/shared-name', undefined, asB())).body.agent;
    expect(a).toMatchObject({ version: 1, description: 'A', tenantId: 'tenant-a' });
    expect(b).toMatchObject({ version: 2, description: 'B2', tenantId: 'tenant-b' });
    expect(a.id).not.toBe(b.id);
    expect((await api(t.url, 'DELETE', '/api/agents/shared-name', undefined, asB())).status).toBe(200);
    expect((await api(t.url, 'GET', '/api/agents/shared-name', undefined, asA())).body.agent.version).toBe(1);
  });
});
