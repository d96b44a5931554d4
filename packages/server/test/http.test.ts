import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { tempDir, removeDir } from '@ash-ai/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  createSession,
  deployAgent,
  sendTurn,
  startTestServer,
  type TestServer,
  b64,
} from './harness.js';

/** Every error leaves as problem details with a stable code, never a 500. */
function expectProblem(r: { status: number; body: any; headers: Headers }, status: number, code: string) {
  expect(r.status).toBe(status);
  expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(r.body).toMatchObject({ status, statusCode: status, code, type: `urn:ash:error:${code}` });
  expect(typeof r.body.detail).toBe('string');
  expect(r.body.error).toBe(r.body.detail);
  // No internals in error bodies.
  expect(JSON.stringify(r.body)).not.toMatch(/\/tmp\/|\/root\/|at .*\.js:|SELECT |INSERT /);
}

describe('HTTP API: shapes and bad input', () => {
  let t: TestServer;
  let scratch: string;

  beforeAll(async () => {
    scratch = tempDir('ash-http-');
    t = await startTestServer({ env: { ASH_DEPLOY_PATH_ROOTS: scratch } });
    await deployAgent(t.url, 'basic', { 'CLAUDE.md': '# Basic\n' });
  });
  afterAll(async () => {
    await t?.close();
    removeDir(scratch);
  });

  it('serves health with version, uptime and figures', async () => {
    const r = await api(t.url, 'GET', '/health');
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      status: 'ok',
      version: expect.stringMatching(/^\d+\.\d+\.\d+/),
      activeSessions: expect.any(Number),
    });
    expect(r.body.uptime).toBeGreaterThanOrEqual(0);
    expect(r.body.sandbox.mode).toBe('bwrap');
    // The embedded server places sessions on its own runner only.
    expect(r.body.runners).toEqual([
      expect.objectContaining({ name: 'local', local: true, url: null, state: 'ok', lastHeartbeat: null }),
    ]);
    expect(r.body.runners[0].capacity.max).toBeGreaterThan(0);
  });

  it('serves the OpenAPI document and the docs UI', async () => {
    const spec = await api(t.url, 'GET', '/openapi.json');
    expect(spec.status).toBe(200);
    expect(spec.body.openapi).toMatch(/^3\./);
    for (const p of [
      '/api/agents',
      '/api/agents/{name}',
      '/api/sessions',
      '/api/sessions/{id}',
      '/api/sessions/{id}/messages',
      '/api/sessions/{id}/events',
      '/health',
    ]) {
      expect(Object.keys(spec.body.paths)).toContain(p);
    }
    // Wildcard routes publish a named path parameter, not Fastify's `{*}`.
    const paths = Object.keys(spec.body.paths);
    expect(paths.filter((p) => p.includes('{*}'))).toEqual([]);
    expect(paths).toContain('/api/sessions/{id}/files/{path}');
    expect(paths).toContain('/api/agents/{name}/files/{path}');
    const read = spec.body.paths['/api/sessions/{id}/files/{path}'].get;
    expect(
      read.parameters
        .filter((p: any) => p.in === 'path')
        .map((p: any) => p.name)
        .sort(),
    ).toEqual(['id', 'path']);
    expect(spec.body.components.schemas).toHaveProperty('Session');
    expect(spec.body.components.schemas).toHaveProperty('Problem');
    const docs = await fetch(`${t.url}/docs/`);
    expect(docs.status).toBe(200);
    expect(await docs.text()).toMatch(/swagger/i);
  });

  it('deploys from a path and from uploads; redeploy bumps the version; env is redacted', async () => {
    const dir = join(scratch, 'folder-agent');
    mkdirSync(join(dir, '.claude'), { recursive: true });
    writeFileSync(join(dir, 'CLAUDE.md'), '# From path\n');
    writeFileSync(join(dir, '.claude', 'settings.json'), '{}');
    const a = await api(t.url, 'POST', '/api/agents', {
      name: 'from-path',
      path: dir,
      env: { TOKEN: 'abc123' },
    });
    expect(a.status).toBe(201);
    expect(a.body.agent).toMatchObject({
      name: 'from-path',
      version: 1,
      fileCount: 2,
      env: { TOKEN: '***' },
    });
    // The same folder again: nothing changes (no version, spares kept).
    const same = await api(t.url, 'POST', '/api/agents', { name: 'from-path', path: dir });
    expect(same.status).toBe(200);
    expect(same.body).toMatchObject({ unchanged: true, agent: { version: 1 } });
    writeFileSync(join(dir, 'CLAUDE.md'), '# From path, edited\n');
    const b = await api(t.url, 'POST', '/api/agents', { name: 'from-path', path: dir });
    expect(b.status).toBe(201);
    expect(b.body.unchanged).toBeUndefined();
    expect(b.body.agent.version).toBe(2);
    expect(b.body.agent.env).toEqual({ TOKEN: '***' });
    const list = await api(t.url, 'GET', '/api/agents');
    expect(list.body.agents.map((x: { name: string }) => x.name)).toEqual(
      expect.arrayContaining(['basic', 'from-path']),
    );
    const got = await api(t.url, 'GET', '/api/agents/from-path');
    expect(got.body.agent.version).toBe(2);
    const del = await api(t.url, 'DELETE', '/api/agents/from-path');
    expect(del.status).toBe(200);
    expectProblem(await api(t.url, 'GET', '/api/agents/from-path'), 404, 'agent_not_found');
  });

  it('deploys by path only from the configured folders, never from the data dir', async () => {
    const outside = await api(t.url, 'POST', '/api/agents', {
      name: 'steal',
      path: '/etc',
      systemPrompt: 'x',
    });
    expectProblem(outside, 403, 'forbidden');
    expectProblem(
      await api(t.url, 'POST', '/api/agents', { name: 'steal2', path: t.dataDir, systemPrompt: 'x' }),
      403,
      'forbidden',
    );
    // A symlink inside the allowed folder that points out of it does not open a way out.
    symlinkSync('/etc', join(scratch, 'etc-link'));
    expectProblem(
      await api(t.url, 'POST', '/api/agents', {
        name: 'steal3',
        path: join(scratch, 'etc-link'),
        systemPrompt: 'x',
      }),
      403,
      'forbidden',
    );
    const off = await startTestServer();
    try {
      const r = await api(off.url, 'POST', '/api/agents', { name: 'any', path: scratch, systemPrompt: 'x' });
      expectProblem(r, 403, 'forbidden');
      expect(r.body.detail).toMatch(/upload the folder/);
    } finally {
      await off.close();
    }
  });

  it('skips .git in uploads, names an unacceptable path, and follows links that stay inside a deployed folder', async () => {
    const git = await api(t.url, 'POST', '/api/agents', {
      name: 'with-git',
      files: [
        { path: 'CLAUDE.md', content: b64('# G') },
        { path: '.git/config', content: b64('[core]') },
      ],
    });
    expect(git.status).toBe(201);
    expect(git.body.agent.fileCount).toBe(1);
    const odd = await api(t.url, 'POST', '/api/agents', {
      name: 'odd',
      files: [
        { path: 'CLAUDE.md', content: b64('# O') },
        { path: 'new\nline.txt', content: b64('x') },
      ],
    });
    expectProblem(odd, 400, 'invalid_path');
    expect(odd.body.detail).toContain('files[1].path "new\\nline.txt"');
    const dir = join(scratch, 'linked');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'AGENTS.md'), '# Linked instructions\n');
    symlinkSync('AGENTS.md', join(dir, 'CLAUDE.md'));
    symlinkSync('/etc/hostname', join(dir, 'outside.txt'));
    const linked = await api(t.url, 'POST', '/api/agents', { name: 'linked', path: dir });
    expect(linked.status).toBe(201);
    expect(linked.body.agent.fileCount).toBe(2); // AGENTS.md and CLAUDE.md, not the link out
  });

  it('rejects bad agent input with the right status', async () => {
    const badName = await api(t.url, 'POST', '/api/agents', {
      name: 'bad name!',
      files: [{ path: 'CLAUDE.md', content: b64('x') }],
    });
    expectProblem(badName, 400, 'validation_failed');
    expect(badName.body.errors[0].path).toBe('/body/name');
    expectProblem(
      await api(t.url, 'POST', '/api/agents', {
        name: 'no-claude',
        files: [{ path: 'README.md', content: b64('x') }],
      }),
      400,
      'invalid_agent_folder',
    );
    const noClaudeDir = join(scratch, 'empty');
    mkdirSync(noClaudeDir, { recursive: true });
    expectProblem(
      await api(t.url, 'POST', '/api/agents', { name: 'empty', path: noClaudeDir }),
      400,
      'invalid_agent_folder',
    );
    expectProblem(
      await api(t.url, 'POST', '/api/agents', { name: 'ghost', path: join(scratch, 'nope') }),
      400,
      'invalid_agent_folder',
    );
    expectProblem(
      await api(t.url, 'POST', '/api/agents', {
        name: 'b64',
        files: [{ path: 'CLAUDE.md', content: 'not base64!!' }],
      }),
      400,
      'invalid_base64',
    );
    expectProblem(
      await api(t.url, 'POST', '/api/agents', {
        name: 'esc',
        files: [{ path: '../CLAUDE.md', content: b64('x') }],
      }),
      400,
      'invalid_path',
    );
    expectProblem(
      await api(t.url, 'POST', '/api/agents', {
        name: 'abs',
        files: [{ path: '/etc/CLAUDE.md', content: b64('x') }],
      }),
      400,
      'invalid_path',
    );
    expectProblem(await api(t.url, 'POST', '/api/agents', { name: 'neither' }), 400, 'validation_failed');
    const unknown = await api(t.url, 'POST', '/api/agents', { name: 'x', path: '/tmp', colour: 'blue' });
    expectProblem(unknown, 400, 'validation_failed');
    expect(unknown.body.errors[0].path).toBe('/body/colour');
  });

  it('rejects malformed bodies', async () => {
    expectProblem(await api(t.url, 'POST', '/api/sessions', '{"agent": "basic"'), 400, 'invalid_json');
    expectProblem(
      await api(t.url, 'POST', '/api/sessions', '{"agent":"basic","__proto__":{"x":1}}'),
      400,
      'invalid_json',
    );
    expectProblem(
      await api(t.url, 'POST', '/api/sessions', 'agent=basic', {
        'content-type': 'application/x-www-form-urlencoded',
      }),
      415,
      'unsupported_media_type',
    );
    expectProblem(
      await api(t.url, 'POST', '/api/sessions', { agent: 'x'.repeat(2 * 1024 * 1024) }),
      413,
      'payload_too_large',
    );
    expectProblem(await api(t.url, 'POST', '/api/sessions', {}), 400, 'validation_failed');
    // An empty JSON body is refused where the route takes a body, and is no body on a bodiless
    // action (the upstream Python client POSTs pause/stop/fork so).
    expectProblem(await api(t.url, 'POST', '/api/sessions', ''), 400, 'invalid_json');
    const idle = await createSession(t.url, 'basic');
    const paused = await api(t.url, 'POST', `/api/sessions/${idle}/pause`, '');
    expect(paused.status).toBe(200);
    expect(paused.body.session.status).toBe('paused');
    expectProblem(await api(t.url, 'GET', '/api/sessions?limit=0'), 400, 'validation_failed');
    const badStatus = await api(t.url, 'GET', '/api/sessions?status=sleeping');
    expectProblem(badStatus, 400, 'validation_failed');
    expect(badStatus.body.errors[0]).toEqual({
      path: '/query/status',
      message: 'must be one of: "starting", "active", "paused", "stopped", "ended", "error"',
    });
    expectProblem(await api(t.url, 'GET', '/api/nothing-here'), 404, 'route_not_found');
  });

  it('validates bodies strictly (no type coercion) and coerces only the query string', async () => {
    expectProblem(await api(t.url, 'POST', '/api/sessions', { agent: 123 }), 400, 'validation_failed');
    expectProblem(
      await api(t.url, 'POST', '/api/sessions', '{"agent":"basic"}', { 'content-type': 'text/plain' }),
      415,
      'unsupported_media_type',
    );
    const id = await createSession(t.url, 'basic');
    // A one-block content array is an array, not its element.
    const one = await sendTurn(t.url, id, { content: [{ type: 'text', text: 'one block' }] });
    expect(one.status).toBe(200);
    expect(one.events.at(-1)!.data).toMatchObject({ outcome: 'completed' });
    expect(JSON.stringify(t.model.messageRequests(id).at(-1)!.messages)).toContain('one block');
    expectProblem(
      await api(t.url, 'POST', `/api/sessions/${id}/messages`, { content: 'x', maxTurns: '2' }),
      400,
      'validation_failed',
    );
    const page = await api(t.url, 'GET', '/api/sessions?limit=1&offset=0');
    expect(page.status).toBe(200);
    expect(page.body.sessions).toHaveLength(1);
    await api(t.url, 'DELETE', `/api/sessions/${id}`);
  });

  it('answers unknown agents, unknown sessions and ended sessions clearly', async () => {
    expectProblem(await api(t.url, 'POST', '/api/sessions', { agent: 'nope' }), 404, 'agent_not_found');
    expectProblem(await api(t.url, 'GET', `/api/sessions/${randomUUID()}`), 404, 'session_not_found');
    expectProblem(await api(t.url, 'GET', '/api/sessions/not-a-uuid'), 404, 'session_not_found');
    expectProblem(
      await api(t.url, 'POST', `/api/sessions/${randomUUID()}/messages`, { content: 'hi' }),
      404,
      'session_not_found',
    );
    expectProblem(await api(t.url, 'GET', `/api/sessions/${randomUUID()}/events`), 404, 'session_not_found');
    const id = await createSession(t.url, 'basic');
    expectProblem(
      await api(t.url, 'POST', `/api/sessions/${id}/messages`, { content: '' }),
      400,
      'validation_failed',
    );
    expectProblem(
      await api(t.url, 'POST', `/api/sessions/${id}/messages`, { content: 'x', maxTurns: 0 }),
      400,
      'validation_failed',
    );
    const ended = await api(t.url, 'DELETE', `/api/sessions/${id}`);
    expect(ended.body.session).toMatchObject({ status: 'ended', endedAt: expect.any(String) });
    expectProblem(
      await api(t.url, 'POST', `/api/sessions/${id}/messages`, { content: 'hello?' }),
      410,
      'session_ended',
    );
    // History of an ended session stays readable, ending twice is harmless.
    expect((await api(t.url, 'GET', `/api/sessions/${id}/events`)).status).toBe(200);
    expect((await api(t.url, 'DELETE', `/api/sessions/${id}`)).status).toBe(200);
  });

  it('lists sessions newest first, filtered and paginated', async () => {
    await deployAgent(t.url, 'lister', { 'CLAUDE.md': '# L\n' });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push(await createSession(t.url, 'lister'));
    const all = await api(t.url, 'GET', '/api/sessions?agent=lister');
    expect(all.body.sessions.map((s: { id: string }) => s.id)).toEqual([...ids].reverse());
    expect(all.body).toMatchObject({ total: 3, hasMore: false });
    const page = await api(t.url, 'GET', '/api/sessions?agent=lister&limit=2&offset=0');
    expect(page.body.sessions).toHaveLength(2);
    expect(page.body.hasMore).toBe(true);
    const page2 = await api(t.url, 'GET', '/api/sessions?agent=lister&limit=2&offset=2');
    expect(page2.body.sessions.map((s: { id: string }) => s.id)).toEqual([ids[0]]);
    const one = await api(t.url, 'GET', `/api/sessions/${ids[0]}`);
    expect(one.body.session).toMatchObject({
      id: ids[0],
      agentName: 'lister',
      status: 'active',
      agentVersion: 1,
    });
    for (const id of ids) await api(t.url, 'DELETE', `/api/sessions/${id}`);
  });

  it('pages history with after/limit cursors', async () => {
    const id = await createSession(t.url, 'basic');
    await sendTurn(t.url, id, { content: 'one' });
    await sendTurn(t.url, id, { content: 'two' });
    const m1 = await api(t.url, 'GET', `/api/sessions/${id}/messages?limit=2`);
    expect(m1.body.messages).toHaveLength(2);
    expect(m1.body.hasMore).toBe(true);
    const m2 = await api(
      t.url,
      'GET',
      `/api/sessions/${id}/messages?after=${m1.body.messages[1].sequence}&limit=100`,
    );
    expect(m2.body.messages[0].sequence).toBe(m1.body.messages[1].sequence + 1);
    const e = await api(t.url, 'GET', `/api/sessions/${id}/events?type=done`);
    expect(e.body.events).toHaveLength(2);
    expect(e.body.events.every((x: { type: string }) => x.type === 'done')).toBe(true);
    await api(t.url, 'DELETE', `/api/sessions/${id}`);
  });
});
