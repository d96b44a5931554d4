import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir, removeDir } from '@ash-ai/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, deployAgent, sendTurn, startTestServer, type TestServer } from './harness.js';

/**
 * The upstream Ash's contracts (docs/compat.md), called as upstream clients call them: each
 * answers as upstream does.
 */
describe('upstream Ash contracts', () => {
  let t: TestServer;
  let roots: string;
  let session: string;

  beforeAll(async () => {
    roots = tempDir('ash-compat-roots-');
    t = await startTestServer({ env: { ASH_DEPLOY_PATH_ROOTS: roots } });
    await deployAgent(t.url, 'compat', {
      'CLAUDE.md': '# Compat agent\n',
      '.claude/settings.json': JSON.stringify({ permissions: { defaultMode: 'acceptEdits' } }),
    });
    // One real turn (scripted model): a thinking block, a tool call, text.
    const created = await api(t.url, 'POST', '/api/sessions', {
      agent: 'compat',
      permissionMode: 'permissionsByAgent',
    });
    expect(created.status).toBe(201);
    session = created.body.session.id;
    t.model
      .forSession(session)
      .enqueue(
        { toolUse: { name: 'Bash', input: { command: 'echo from-tool' } } },
        { text: 'All done here.', thinking: 'Let me think.' },
      );
    const turn = await sendTurn(t.url, session, { content: 'Run echo' });
    expect(turn.events.at(-1)).toMatchObject({ event: 'done', data: { outcome: 'completed' } });
  }, 240_000);
  afterAll(async () => {
    await t?.close();
    removeDir(roots);
  });

  it('accepts permissionMode "permissionsByAgent" and runs the turn with it', async () => {
    const s = (await api(t.url, 'GET', `/api/sessions/${session}`)).body.session;
    expect(s.config.permissionMode).toBe('permissionsByAgent');
    const patched = await api(t.url, 'PATCH', `/api/sessions/${session}/config`, {
      permissionMode: 'permissionsByAgent',
    });
    expect(patched.status).toBe(200);
  });

  it('filters the timeline by the upstream type names tool_start, text, reasoning', async () => {
    for (const [type, ours] of [
      ['tool_start', 'tool_use'],
      ['text', 'text_delta'],
      ['reasoning', 'thinking_delta'],
    ] as const) {
      const r = await api(t.url, 'GET', `/api/sessions/${session}/events?type=${type}`);
      expect(r.status, type).toBe(200);
      expect(r.body.events.length, type).toBeGreaterThan(0);
      for (const e of r.body.events) expect(e.type).toBe(type);
      const native = await api(t.url, 'GET', `/api/sessions/${session}/events?type=${ours}`);
      expect(native.body.events.map((e: { id: string }) => e.id)).toEqual(
        r.body.events.map((e: { id: string }) => e.id),
      );
    }
    const tool = (await api(t.url, 'GET', `/api/sessions/${session}/events?type=tool_start`)).body.events[0];
    expect(JSON.parse(tool.data).name).toBe('Bash');
  });

  it('serves the upstream timeline view: only its seven types, renamed; the default for the published Python client', async () => {
    const upstreamTypes = [
      'text',
      'tool_start',
      'tool_result',
      'reasoning',
      'turn_complete',
      'error',
      'lifecycle',
    ];
    const log = (await api(t.url, 'GET', `/api/sessions/${session}/events?limit=1000`)).body.events as Array<{
      id: string;
      type: string;
    }>;
    expect(log.map((e) => e.type)).toContain('session_start'); // our log is unchanged by default
    const timeline = await api(t.url, 'GET', `/api/sessions/${session}/events?view=timeline&limit=1000`);
    expect(timeline.status).toBe(200);
    const rows = timeline.body.events as Array<{ id: string; type: string; sequence: number }>;
    expect(new Set(rows.map((e) => e.type))).toEqual(
      new Set(['lifecycle', 'tool_start', 'tool_result', 'text', 'reasoning', 'turn_complete']),
    );
    for (const e of rows) expect(upstreamTypes).toContain(e.type);
    // The same rows as in our log (same ids, in order), nothing else.
    const renamed: Record<string, string> = {
      text_delta: 'text',
      tool_use: 'tool_start',
      thinking_delta: 'reasoning',
    };
    expect(rows.map((e) => e.id)).toEqual(
      log.filter((e) => upstreamTypes.includes(renamed[e.type] ?? e.type)).map((e) => e.id),
    );
    // A type filter within the view, and a cursor.
    const tools = await api(t.url, 'GET', `/api/sessions/${session}/events?view=timeline&type=tool_start`);
    expect(tools.body.events.map((e: { type: string }) => e.type)).toEqual(['tool_start']);
    const none = await api(t.url, 'GET', `/api/sessions/${session}/events?view=timeline&type=session_start`);
    expect(none.body).toEqual({ events: [], hasMore: false });
    const page = await api(t.url, 'GET', `/api/sessions/${session}/events?view=timeline&limit=2`);
    expect(page.body.hasMore).toBe(true);
    expect(page.body.events.map((e: { id: string }) => e.id)).toEqual(rows.slice(0, 2).map((e) => e.id));
    // The published upstream Python client (httpx's own User-Agent) gets the timeline unasked.
    const asUpstream = await api(t.url, 'GET', `/api/sessions/${session}/events?limit=1000`, undefined, {
      'user-agent': 'python-httpx/0.28.1',
    });
    expect(asUpstream.body.events.map((e: { id: string }) => e.id)).toEqual(rows.map((e) => e.id));
    const asked = await api(t.url, 'GET', `/api/sessions/${session}/events?view=log&limit=1000`, undefined, {
      'user-agent': 'python-httpx/0.28.1',
    });
    expect(asked.body.events).toHaveLength(log.length);
    const bad = await api(t.url, 'GET', `/api/sessions/${session}/events?view=upstream`);
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('validation_failed');
  });

  it('answers GET /api/usage?after=&before= with rows under events', async () => {
    const after = new Date(Date.now() - 3_600_000).toISOString();
    const before = new Date(Date.now() + 60_000).toISOString();
    const r = await api(t.url, 'GET', `/api/usage?after=${after}&before=${before}&sessionId=${session}`);
    expect(r.status).toBe(200);
    const types = new Set(r.body.events.map((e: { eventType: string }) => e.eventType));
    expect(types.has('input_tokens')).toBe(true);
    expect(types.has('output_tokens')).toBe(true);
    expect(types.has('message')).toBe(true);
    for (const e of r.body.events) {
      expect(Object.keys(e).sort()).toEqual([
        'agentName',
        'createdAt',
        'eventType',
        'id',
        'sessionId',
        'value',
      ]);
      expect(e.sessionId).toBe(session);
    }
    const none = await api(t.url, 'GET', `/api/usage?before=${after}`);
    expect(none.body.events).toEqual([]);
    const stats = await api(t.url, 'GET', `/api/usage/stats?after=${after}`);
    expect(stats.body.stats.totalInputTokens).toBeGreaterThan(0);
  });

  it('accepts queue status "processing" in filters and counts it in stats', async () => {
    const r = await api(t.url, 'GET', '/api/queue?status=processing');
    expect(r.status).toBe(200);
    expect(r.body.items).toEqual([]);
    const stats = await api(t.url, 'GET', '/api/queue/stats');
    expect(stats.body.stats).toMatchObject({ processing: 0, pending: 0 });
  });

  it('runs a command in the sandbox (exec), bounded in time and output, and keeps its output in the logs', async () => {
    const ok = await api(t.url, 'POST', `/api/sessions/${session}/exec`, {
      command: 'pwd; echo out-$((6*7)); echo err-line >&2; exit 3',
    });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ exitCode: 3, stdout: '/workspace\nout-42\n', stderr: 'err-line\n' });
    const slow = await api(t.url, 'POST', `/api/sessions/${session}/exec`, {
      command: 'sleep 30',
      timeout: 500,
    });
    expect(slow.body).toMatchObject({ exitCode: 124, timedOut: true });
    expect(slow.body.durationMs).toBeLessThan(20_000);
    const big = await api(t.url, 'POST', `/api/sessions/${session}/exec`, {
      command: 'head -c 3000000 /dev/zero | tr "\\0" x',
    });
    expect(big.body.truncated).toBe(true);
    expect(big.body.stdout.length).toBe(1024 * 1024);
    // The sandbox's isolation applies: the host's data dir is not there.
    const hidden = await api(t.url, 'POST', `/api/sessions/${session}/exec`, { command: `ls ${t.dataDir}` });
    expect(hidden.body.exitCode).not.toBe(0);
    expect(
      (await api(t.url, 'POST', `/api/sessions/${session}/exec`, { command: 'x', timeout: 0 })).status,
    ).toBe(400);

    const logs = await api(t.url, 'GET', `/api/sessions/${session}/logs`);
    expect(logs.status).toBe(200);
    expect(logs.body.source).toBe('sandbox');
    const texts = logs.body.logs.map((l: { text: string }) => l.text);
    expect(texts).toContain('out-42');
    expect(logs.body.logs.find((l: { text: string }) => l.text === 'err-line').level).toBe('stderr');
    const last = logs.body.logs.at(-1).index;
    expect((await api(t.url, 'GET', `/api/sessions/${session}/logs?after=${last}`)).body.logs).toEqual([]);
  });

  it('serves agent versions: list, create, get, patch, activate (new sessions use its prompt), delete', async () => {
    const base = '/api/agents/compat/versions';
    expect((await api(t.url, 'GET', base)).body).toEqual({ versions: [] });
    const v1 = await api(t.url, 'POST', base, { systemPrompt: 'You are v1.', releaseNotes: 'first' });
    expect(v1.status).toBe(201);
    expect(v1.body.version).toMatchObject({
      versionNumber: 1,
      name: 'v1',
      isActive: false,
      knowledgeFiles: [],
    });
    const v2 = await api(t.url, 'POST', base, { name: 'second', cloneFrom: 1 });
    expect(v2.body.version).toMatchObject({ versionNumber: 2, name: 'second', systemPrompt: 'You are v1.' });
    expect((await api(t.url, 'GET', `${base}/2`)).body.version.id).toBe(v2.body.version.id);
    expect((await api(t.url, 'GET', `${base}/${v2.body.version.id}`)).body.version.versionNumber).toBe(2);
    const patched = await api(t.url, 'PATCH', `${base}/2`, { systemPrompt: 'You are v2.' });
    expect(patched.body.version.systemPrompt).toBe('You are v2.');
    expect((await api(t.url, 'POST', `${base}/2/activate`)).body).toEqual({
      activated: true,
      versionNumber: 2,
    });
    const listed = (await api(t.url, 'GET', base)).body.versions;
    expect(listed.map((v: { isActive: boolean }) => v.isActive)).toEqual([false, true]);
    const s = await api(t.url, 'POST', '/api/sessions', { agent: 'compat' });
    expect(s.body.session.config.systemPrompt).toBe('You are v2.');
    await api(t.url, 'DELETE', `/api/sessions/${s.body.session.id}`);
    expect((await api(t.url, 'DELETE', `${base}/1`)).status).toBe(204);
    expect((await api(t.url, 'GET', `${base}/1`)).status).toBe(404);
    expect((await api(t.url, 'POST', base, { cloneFrom: 9 })).status).toBe(400);
    expect((await api(t.url, 'GET', '/api/agents/nope/versions')).status).toBe(404);
  });

  it('serves GET/PUT/PATCH /api/agents/:name/config as {config}', async () => {
    const base = '/api/agents/compat/config';
    expect((await api(t.url, 'GET', base)).body).toEqual({ config: {} });
    const put = await api(t.url, 'PUT', base, { model: 'claude-sonnet-4-5', preWarmCount: 0 });
    expect(put.body).toEqual({ config: { model: 'claude-sonnet-4-5', preWarmCount: 0 } });
    const patch = await api(t.url, 'PATCH', base, { config: { maxTurns: 5 } });
    expect(patch.body.config).toEqual({ model: 'claude-sonnet-4-5', preWarmCount: 0, maxTurns: 5 });
    const replaced = await api(t.url, 'PUT', base, { maxTurns: 7 });
    expect(replaced.body).toEqual({ config: { maxTurns: 7 } });
    expect((await api(t.url, 'PUT', base, { maxTurns: 'many' })).status).toBe(400);
    await api(t.url, 'PUT', base, {});
  });

  it('serves the usage analytics route', async () => {
    const r = await api(
      t.url,
      'GET',
      `/api/analytics?after=${new Date(Date.now() - 3_600_000).toISOString()}`,
    );
    expect(r.status).toBe(200);
    expect(r.body.agents.total).toBeGreaterThanOrEqual(1);
    expect(r.body.sessions.total).toBeGreaterThanOrEqual(1);
    expect(r.body.usage.totalInputTokens).toBeGreaterThan(0);
    expect(r.body.evals).toEqual({ totalRuns: 0, byStatus: {} });
  });

  it('gives agents a path (a string, no host path) and /health an integer uptime', async () => {
    const agent = (await api(t.url, 'GET', '/api/agents/compat')).body.agent;
    expect(agent.path).toBe(`agents/compat/v${agent.version}`);
    for (const a of (await api(t.url, 'GET', '/api/agents')).body.agents) {
      expect(typeof a.path).toBe('string');
      expect(a.path).not.toContain(t.dataDir);
    }
    const health = await api(t.url, 'GET', '/health', undefined, { authorization: '' });
    expect(Number.isInteger(health.body.uptime)).toBe(true);
  });

  it('answers 401 with the upstream texts in `error` beside our `detail`', async () => {
    const missing = await api(t.url, 'GET', '/api/agents', undefined, { authorization: '' });
    expect(missing.status).toBe(401);
    expect(missing.body.error).toBe('Missing Authorization header');
    expect(missing.body.detail).toMatch(/API key/);
    const wrong = await api(t.url, 'GET', '/api/agents', undefined, {
      authorization: 'Bearer ash_wrongwrongwrongwrongwrongwrongwrong',
    });
    expect(wrong.body).toMatchObject({ status: 401, statusCode: 401, error: 'Invalid API key' });
    const malformed = await api(t.url, 'GET', '/api/agents', undefined, { authorization: 'Basic abc' });
    expect(malformed.body.error).toBe('Invalid Authorization header format');
  });

  it('stops a session with status stopped, and resumes it', async () => {
    const stopped = await api(t.url, 'POST', `/api/sessions/${session}/stop`);
    expect(stopped.status).toBe(200);
    expect(stopped.body.session.status).toBe('stopped');
    expect(
      (await api(t.url, 'GET', `/api/sessions?status=stopped`)).body.sessions.map(
        (s: { id: string }) => s.id,
      ),
    ).toContain(session);
    const exec = await api(t.url, 'POST', `/api/sessions/${session}/exec`, { command: 'true' });
    expect(exec.status).toBe(409);
    const resumed = await api(t.url, 'POST', `/api/sessions/${session}/resume`);
    expect(resumed.status).toBe(200);
    expect(resumed.body.session.status).toBe('active');
  });

  it('aligns status codes: deploy without CLAUDE.md is 400; an ended session is 410; ASH_DEPLOY_PATH_ROOTS errors say what to set', async () => {
    const noMd = await api(t.url, 'POST', '/api/agents', {
      name: 'nomd',
      files: [{ path: 'README.md', content: Buffer.from('x').toString('base64') }],
    });
    expect(noMd.status).toBe(400);
    expect(noMd.body.code).toBe('invalid_agent_folder');
    const outside = join(tempDir('ash-compat-out-'), 'agent');
    mkdirSync(outside, { recursive: true });
    writeFileSync(join(outside, 'CLAUDE.md'), '# x');
    const refused = await api(t.url, 'POST', '/api/agents', { name: 'outside', path: outside });
    expect(refused.status).toBe(403);
    expect(refused.body.detail).toContain('ASH_DEPLOY_PATH_ROOTS');
    expect(refused.body.detail).toMatch(/restart/);
    // Deliberate differences (docs/compat.md): an ended session answers 410.
    const s = (await api(t.url, 'POST', '/api/sessions', { agent: 'compat' })).body.session.id;
    await api(t.url, 'DELETE', `/api/sessions/${s}`);
    expect((await sendTurn(t.url, s, { content: 'hi' })).status).toBe(410);
    await api(t.url, 'DELETE', '/api/agents/compat');
    expect((await api(t.url, 'POST', `/api/sessions/${session}/resume`)).status).toBe(410);
    expect((await api(t.url, 'GET', `/api/sessions/${session}`)).status).toBe(200);
  });

  it('explains how to enable path deploys when ASH_DEPLOY_PATH_ROOTS is unset', async () => {
    const off = await startTestServer({ model: t.model });
    try {
      const r = await api(off.url, 'POST', '/api/agents', { name: 'p', path: '/tmp' });
      expect(r.status).toBe(403);
      expect(r.body.detail).toContain('ASH_DEPLOY_PATH_ROOTS=/srv/agents');
    } finally {
      await off.close();
    }
  }, 120_000);
});
