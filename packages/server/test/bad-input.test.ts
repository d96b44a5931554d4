import { connect } from 'node:net';
import { createTestPostgresDatabase, type TestDatabase } from '@ash-ai/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AUTH,
  api,
  b64,
  createSession,
  deployAgent,
  sendTurn,
  startTestServer,
  type TestServer,
} from './harness.js';

// Issue 10: bad input gets the documented 4xx in problem-details shape, never a 500, on SQLite
// and PostgreSQL alike.

/** Asserts a problem-details answer with `status` and `code`; returns its body. */
function expectProblem(r: { status: number; body: any; headers: Headers }, status: number, code: string) {
  expect({ status: r.status, code: r.body?.code }, JSON.stringify(r.body)).toEqual({ status, code });
  expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(r.body.status).toBe(status);
  expect(typeof r.body.detail).toBe('string');
  return r.body as { detail: string; errors?: Array<{ path: string; message: string }> };
}

/** Sends `text` as the raw request bytes; resolves to the whole raw answer (status line, headers, body). */
function rawExchange(url: string, text: string): Promise<{ status: number; headers: string; body: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(u.port), u.hostname);
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      const all = Buffer.concat(chunks).toString('utf8');
      const [head = '', body = ''] = all.split('\r\n\r\n');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
      if (!status) reject(new Error(`no HTTP answer: ${JSON.stringify(all.slice(0, 200))}`));
      else resolve({ status, headers: head, body });
    });
    socket.write(text);
  });
}

/** Values that must never reach a log line: env values, credential material, request bodies. */
const MARK = {
  env: 'envvalue-7f3a9c1d-never-logged',
  credential: 'credvalue-55aa0e2b-never-logged',
  body: 'bodytext-91be44c0-never-logged',
};

const LONG = 'x'.repeat(256);
// 86 three-byte characters: 86 characters, 258 bytes — the limit is in bytes.
const LONG_MULTIBYTE = '日'.repeat(86);

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`bad input (${dialect})`, () => {
    let t: TestServer;
    let pg: TestDatabase | undefined;
    let session: string;

    beforeAll(async () => {
      if (dialect === 'postgres') pg = await createTestPostgresDatabase('ash_badin');
      t = await startTestServer({
        env: {
          ASH_CREDENTIAL_KEY: 'bad-input-master-key-0123456789abcdef',
          ...(pg ? { ASH_DATABASE_URL: pg.url } : {}),
        },
      });
      await deployAgent(t.url, 'bad', { 'CLAUDE.md': '# Bad input\n' });
      session = await createSession(t.url, 'bad');
      const up = await api(t.url, 'POST', `/api/sessions/${session}/files`, {
        files: [{ path: 'ok.txt', content: b64('fine') }],
      });
      expect(up.status).toBe(200);
    });
    afterAll(async () => {
      await t?.close();
      await pg?.drop();
    });

    it('a path component over 255 bytes is 400 invalid_path naming it, on every files route and in deploys', async () => {
      const s = `/api/sessions/${session}`;
      for (const name of [LONG, LONG_MULTIBYTE]) {
        const enc = encodeURIComponent(name);
        const cases: Array<[string, string, unknown?]> = [
          ['GET', `${s}/files/${enc}`],
          ['GET', `${s}/files/dir/${enc}/f.txt?format=json`],
          ['DELETE', `${s}/files/${enc}`],
          ['GET', `${s}/files?path=${enc}`],
          ['POST', `${s}/files`, { files: [{ path: `a/${name}`, content: b64('x') }] }],
          ['POST', `${s}/files`, { targetPath: name, files: [{ path: 'a.txt', content: b64('x') }] }],
          ['GET', `/api/agents/bad/files/${enc}`],
          ['DELETE', `/api/agents/bad/files/${enc}`],
          ['POST', '/api/agents/bad/files', { files: [{ path: name, content: b64('x') }] }],
          [
            'POST',
            '/api/agents',
            {
              name: 'bad2',
              files: [
                { path: 'CLAUDE.md', content: b64('#') },
                { path: `k/${name}`, content: b64('x') },
              ],
            },
          ],
        ];
        for (const [method, path, body] of cases) {
          const r = await api(t.url, method, path, body);
          const p = expectProblem(r, 400, 'invalid_path');
          expect(p.detail, `${method} ${path.slice(0, 80)}`).toContain(`${Buffer.byteLength(name)} bytes`);
          expect(p.detail).toContain('255 bytes');
          expect(p.detail).toContain(name.slice(0, 20));
        }
      }
      // Exactly 255 bytes is a valid name.
      const ok = 'y'.repeat(255);
      const up = await api(t.url, 'POST', `${s}/files`, { files: [{ path: ok, content: b64('edge') }] });
      expect(up.status).toBe(200);
      const get = await api(t.url, 'GET', `${s}/files/${ok}?format=json`);
      expect(get.status).toBe(200);
      expect(get.body.content).toBe('edge');
    });

    it('a NUL character in any stored string is 400 naming the field, and nothing is stored', async () => {
      const NUL = `a\u0000b ${MARK.body}`;
      const cases: Array<[string, string, unknown, string]> = [
        ['POST', '/api/api-keys', { label: NUL }, '/body/label'],
        ['POST', '/api/credentials', { type: 'custom', key: `${MARK.credential}${NUL}` }, '/body/key'],
        ['POST', '/api/credentials', { type: 'custom', key: 'fine-value-1234', label: NUL }, '/body/label'],
        [
          'POST',
          '/api/agents',
          { name: 'nul', files: [{ path: 'CLAUDE.md', content: b64('#') }], description: NUL },
          '/body/description',
        ],
        [
          'POST',
          '/api/agents',
          {
            name: 'nul',
            files: [{ path: 'CLAUDE.md', content: b64('#') }],
            env: { TOKEN: `${MARK.env}${NUL}` },
          },
          '/body/env/TOKEN',
        ],
        ['PATCH', '/api/agents/bad', { env: { 'K\u0000': 'v' } }, '/body/env/K\u0000'],
        ['PATCH', '/api/agents/bad', { description: NUL }, '/body/description'],
        ['POST', '/api/queue', { agentName: 'bad', prompt: NUL }, '/body/prompt'],
        ['POST', '/api/sessions', { agent: 'bad', systemPrompt: NUL }, '/body/systemPrompt'],
        ['POST', '/api/sessions', { agent: 'bad', extraEnv: { A: `${MARK.env}${NUL}` } }, '/body/extraEnv/A'],
        ['PATCH', '/api/agents/bad', { env: { TOKEN: `${MARK.env}${NUL}` } }, '/body/env/TOKEN'],
        ['PATCH', `/api/sessions/${session}/config`, { systemPrompt: NUL }, '/body/systemPrompt'],
        [
          'POST',
          `/api/sessions/${session}/attachments`,
          { filename: `f${NUL}.txt`, content: b64('x') },
          '/body/filename',
        ],
        ['POST', `/api/sessions/${session}/messages`, { content: `hi${NUL}` }, '/body/content'],
        ['GET', `/api/sessions/${session}/files?path=a%00b`, undefined, '/query/path'],
        ['GET', '/api/agents/a%00b', undefined, '/params/name'],
        ['DELETE', '/api/agents/a%00b', undefined, '/params/name'],
        ['GET', `/api/sessions/${session}/files/a%00b`, undefined, '/params/*'],
        ['POST', '/api/api-keys', { label: NUL }, '/body/label'],
      ];
      for (const [method, path, body, field] of cases) {
        const r = await api(t.url, method, path, body);
        const p = expectProblem(r, 400, 'validation_failed');
        expect(p.errors?.[0]?.path, `${method} ${path}`).toBe(field);
        // A key that no schema pattern admits is refused as unknown before the NUL check.
        expect(p.errors?.[0]?.message).toMatch(/NUL|not a known field/);
      }
      expect((await api(t.url, 'GET', '/api/agents/nul')).status).toBe(404);
      expect((await api(t.url, 'GET', '/api/queue')).body.items ?? []).toHaveLength(0);
      expect((await api(t.url, 'GET', '/api/credentials')).body.credentials).toHaveLength(0);
      expect((await api(t.url, 'GET', '/api/agents/bad')).body.agent.description ?? '').not.toContain(
        '\u0000',
      );
    });

    it('framework refusals come as problem details with a stable code', async () => {
      // A 10 000-character id: longer than any valid one.
      const longId = await api(t.url, 'GET', `/api/sessions/${'a'.repeat(10_000)}`);
      expectProblem(longId, 414, 'uri_too_long');
      const longName = await api(t.url, 'DELETE', `/api/agents/${'n'.repeat(2000)}`);
      expectProblem(longName, 414, 'uri_too_long');
      // A 255-character agent name is a valid name (not a 414).
      expect((await api(t.url, 'GET', `/api/agents/${'n'.repeat(255)}`)).status).toBe(404);
      // Malformed percent-encodings.
      for (const path of [`/api/sessions/%zz`, `/api/agents/a%`, `/api/sessions/${session}/files/%E0%A4%A`]) {
        expectProblem(await api(t.url, 'GET', path), 400, 'invalid_url');
      }
      // Headers (request line included) over Node's 16 KiB: the parser refuses them before Fastify.
      const big = await rawExchange(
        t.url,
        `GET /api/health HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(20_000)}\r\n\r\n`,
      );
      expect(big.status).toBe(431);
      expect(big.headers).toMatch(/content-type: application\/problem\+json/i);
      expect(JSON.parse(big.body)).toMatchObject({ code: 'headers_too_large', status: 431 });
      const longUrl = await rawExchange(
        t.url,
        `GET /api/agents?x=${'u'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
      );
      expect(longUrl.status).toBe(431);
      expect(JSON.parse(longUrl.body).code).toBe('headers_too_large');
      // Not HTTP at all.
      const garbage = await rawExchange(t.url, 'HELLO THERE\r\n\r\n');
      expect(garbage.status).toBe(400);
      expect(garbage.headers).toMatch(/content-type: application\/problem\+json/i);
      expect(JSON.parse(garbage.body).code).toBe('invalid_request');
      // A missing field is named once: "/body/content is required".
      const missing = await api(t.url, 'POST', `/api/sessions/${session}/messages`, {});
      expectProblem(missing, 400, 'validation_failed');
      expect(missing.body.detail).toBe('/body/content is required');
      expect(missing.body.errors).toEqual([{ path: '/body/content', message: 'is required' }]);
      // The server is unharmed.
      expect((await api(t.url, 'GET', '/api/agents/bad')).status).toBe(200);
    });

    it('attachment names with control characters are refused; downloads fall back to a safe basename', async () => {
      for (const name of ['a\u0001b.txt', 'line\nbreak.txt', 'tab\t.txt', 'del\u007f.txt', 'c1\u0085.txt']) {
        const r = await api(t.url, 'POST', `/api/sessions/${session}/attachments`, {
          filename: name,
          content: b64('x'),
        });
        const p = expectProblem(r, 400, 'validation_failed');
        expect(p.errors?.[0]?.path).toBe('/body/filename');
      }
      for (const name of [
        '../../../etc/passwd',
        '..',
        '.',
        'dir/..',
        '..\\..\\boot.ini',
        '.env',
        'ok..name.txt',
      ]) {
        const r = await api(t.url, 'POST', `/api/sessions/${session}/attachments`, {
          filename: name,
          content: b64('payload'),
        });
        expect(r.status, name).toBe(201);
        expect(r.body.attachment.filename).toBe(name);
        const dl = await fetch(`${t.url}/api/attachments/${r.body.attachment.id}`, { headers: AUTH });
        expect(dl.status).toBe(200);
        const header = dl.headers.get('content-disposition') ?? '';
        const fallback = /filename="([^"]*)"/.exec(header)?.[1] ?? '';
        expect(fallback, name).toMatch(/^[\x20-\x7e]+$/);
        expect(fallback, name).not.toMatch(/[/\\]/);
        expect(fallback, name).not.toContain('..');
        expect(fallback, name).not.toMatch(/^\./);
        expect(fallback.length, name).toBeGreaterThan(0);
        const star = /filename\*=UTF-8''(\S+)/.exec(header)?.[1] ?? '';
        expect(decodeURIComponent(star)).toBe(name);
        expect(await dl.text()).toBe('payload');
      }
    });

    it('no log line holds an env value, credential material or a request body', async () => {
      // Accepted writes of the same secrets, and bodies refused for other reasons.
      const agent = await api(t.url, 'POST', '/api/agents', {
        name: 'logged',
        files: [{ path: 'CLAUDE.md', content: b64('# L\n') }],
        env: { TOKEN: MARK.env },
      });
      expect(agent.status).toBe(201);
      expect((await api(t.url, 'PATCH', '/api/agents/logged', { env: { TOKEN: MARK.env } })).status).toBe(
        200,
      );
      const cred = await api(t.url, 'POST', '/api/credentials', { type: 'custom', key: MARK.credential });
      expect(cred.status).toBe(201);
      const logged = await api(t.url, 'POST', '/api/sessions', {
        agent: 'logged',
        extraEnv: { X: MARK.env },
      });
      expect(logged.status).toBe(201);
      // A whole turn whose agent and session env hold the value, and whose prompt is a body.
      t.model
        .forSession(logged.body.session.id)
        .enqueue({ toolUse: { name: 'Bash', input: { command: 'echo ran' } } }, { text: 'finished' });
      const turn = await sendTurn(t.url, logged.body.session.id, { content: `please ${MARK.body}` });
      expect(turn.events.at(-1)?.event).toBe('done');
      expect(
        (await api(t.url, 'POST', '/api/agents', `{"name": "x", "env": {"T": "${MARK.env}"`)).status,
      ).toBe(400);
      expect(
        (await api(t.url, 'POST', '/api/queue', { agentName: 'logged', prompt: MARK.body, bogus: MARK.body }))
          .status,
      ).toBe(400);
      expect(
        (await api(t.url, 'POST', '/api/credentials', { type: 'nope', key: MARK.credential })).status,
      ).toBe(400);
      const logs = t.logs();
      expect(logs.length).toBeGreaterThan(1000);
      for (const value of Object.values(MARK)) expect(logs.includes(value), value).toBe(false);
    }, 180_000);
  });
}
