import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createConfig, lint } from '@redocly/openapi-core';
import { STREAM_EVENT_NAMES } from '@ash-ai/shared';
import openapiTS, { astToString } from 'openapi-typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPERATION_IDS } from '../src/openapi.js';
import { api, b64, startTestServer, TEST_API_KEY, type TestServer } from './harness.js';

const here = dirname(fileURLToPath(import.meta.url));
const COMMITTED = join(here, '..', 'openapi.json');
const REPO = join(here, '..', '..', '..');
const run = promisify(execFile);

describe('OpenAPI document', () => {
  let t: TestServer;
  let served: any;
  let servedText: string;

  beforeAll(async () => {
    t = await startTestServer();
    const res = await api(t.url, 'GET', '/openapi.json', undefined, { authorization: '' });
    served = res.body;
    servedText = res.text;
  }, 60_000);
  afterAll(async () => {
    await t?.close();
  });

  it('is the committed packages/server/openapi.json (regenerate: npm run openapi -w packages/server)', () => {
    expect(served).toEqual(JSON.parse(readFileSync(COMMITTED, 'utf8')));
    // Byte for byte, key order included (the committed file is the same JSON, indented).
    expect(servedText).toBe(JSON.stringify(JSON.parse(readFileSync(COMMITTED, 'utf8'))));
  });

  it('names every operation, references named schemas, declares problem+json errors, SSE and servers', () => {
    const ids: string[] = [];
    for (const [path, item] of Object.entries(served.paths as Record<string, Record<string, any>>))
      for (const [method, op] of Object.entries(item)) {
        expect(op.operationId, `${method} ${path}`).toMatch(/^[a-z][A-Za-z]+$/);
        ids.push(op.operationId);
        for (const [status, res] of Object.entries(op.responses as Record<string, any>)) {
          if (Number(status) >= 400) {
            expect(Object.keys(res.content), `${method} ${path} ${status}`).toEqual([
              'application/problem+json',
            ]);
            expect(res.content['application/problem+json'].schema.$ref).toBe('#/components/schemas/Problem');
          }
          const json = res.content?.['application/json']?.schema;
          if (json) expect(json.$ref, `${method} ${path} ${status}`).toMatch(/^#\/components\/schemas\//);
        }
        const body = op.requestBody?.content?.['application/json']?.schema;
        if (body) expect(body.$ref, `${method} ${path} body`).toMatch(/^#\/components\/schemas\//);
      }
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of Object.values(OPERATION_IDS)) expect(ids).toContain(id);
    const schemas = served.components.schemas;
    for (const name of ['Agent', 'Session', 'Message', 'SessionEvent', 'Problem', 'StreamEvent', 'DoneEvent'])
      expect(schemas[name], name).toBeDefined();
    // Named schemas are referenced, not copied inline.
    expect(schemas.SessionResponse.properties.session).toEqual({ $ref: '#/components/schemas/Session' });
    expect(schemas.ListMessagesResponse.properties.messages.items).toEqual({
      $ref: '#/components/schemas/Message',
    });
    const sse =
      served.paths['/api/sessions/{id}/messages'].post.responses['200'].content['text/event-stream'];
    expect(sse.schema).toEqual({ $ref: '#/components/schemas/StreamEvent' });
    expect(schemas.StreamEvent.oneOf).toHaveLength(STREAM_EVENT_NAMES.length);
    expect(served.servers[0].url).toBe('http://localhost:4100');
  });

  it('passes the Redocly linter (recommended rules) with no errors', async () => {
    const config = await createConfig({ extends: ['recommended'] });
    const problems = await lint({ ref: COMMITTED, config });
    const errors = problems.filter((p) => p.severity === 'error');
    expect(errors.map((e) => `${e.ruleId}: ${e.message} at ${e.location[0]?.pointer}`)).toEqual([]);
  });

  it('generates a TypeScript client (openapi-typescript + openapi-fetch) whose program type-checks and runs', async () => {
    const dir = join(REPO, 'packages', 'server', `.openapi-client-${process.pid}`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    try {
      writeFileSync(join(dir, 'schema.d.ts'), astToString(await openapiTS(served)));
      writeFileSync(
        join(dir, 'program.ts'),
        `import createClient from 'openapi-fetch';
import type { components, paths } from './schema.js';

type Session = components['schemas']['Session'];
type Message = components['schemas']['Message'];

const client = createClient<paths>({
  baseUrl: process.env.ASH_URL!,
  headers: { authorization: \`Bearer \${process.env.ASH_KEY!}\` },
});
const created = await client.POST('/api/sessions', { body: { agent: 'gen-agent', model: 'claude-sonnet-4-5' } });
if (!created.data) throw new Error(\`create failed: \${created.error?.code}\`);
const session: Session = created.data.session;
const listed = await client.GET('/api/sessions/{id}/messages', {
  params: { path: { id: session.id }, query: { after: 0, limit: 10 } },
});
if (!listed.data) throw new Error('list failed');
const messages: Message[] = listed.data.messages;
const missing = await client.GET('/api/sessions/{id}', { params: { path: { id: 'nope' } } });
const code: string | undefined = missing.error?.code;
console.log(JSON.stringify({ status: session.status, messages: messages.length, code }));
`,
      );
      writeFileSync(
        join(dir, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            target: 'ES2022',
            module: 'NodeNext',
            moduleResolution: 'NodeNext',
            strict: true,
            noUncheckedIndexedAccess: true,
            skipLibCheck: false,
            types: ['node'],
            outDir: 'out',
          },
          files: ['program.ts', 'schema.d.ts'],
        }),
      );
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module', private: true }));
      const tsc = join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
      // Asynchronously: the server runs in this process.
      await run(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json')], { encoding: 'utf8' });
      // The program runs against the server.
      const deploy = await api(t.url, 'POST', '/api/agents', {
        name: 'gen-agent',
        files: [{ path: 'CLAUDE.md', content: b64('# gen') }],
      });
      expect(deploy.status).toBe(201);
      const { stdout: out } = await run(process.execPath, [join(dir, 'out', 'program.js')], {
        encoding: 'utf8',
        env: { ...process.env, ASH_URL: t.url, ASH_KEY: TEST_API_KEY },
      });
      expect(JSON.parse(out)).toEqual({ status: 'active', messages: 0, code: 'session_not_found' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
