import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startTestS3, TcpFront, type TestS3 } from '@ash-ai/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, createSession, deployAgent, startTestServer, type TestServer, b64 } from './harness.js';

describe('object storage outages (S3 hanging or refusing connections)', () => {
  let s3: TestS3;
  let proxy: TcpFront;
  let t: TestServer;
  // Per attempt 400 ms, 2 attempts: every storage-bound request must answer well within 5 s.
  const BOUND_MS = 5000;

  beforeAll(async () => {
    s3 = await startTestS3();
    proxy = new TcpFront(Number(new URL(s3.endpoint).port));
    await proxy.listen();
    t = await startTestServer({
      env: {
        ...s3.env,
        ASH_S3_ENDPOINT: `http://127.0.0.1:${proxy.port}`,
        ASH_S3_TIMEOUT_MS: '400',
        ASH_S3_MAX_ATTEMPTS: '2',
      },
    });
  });
  afterAll(async () => {
    await t?.close();
    await proxy?.set('closed');
    await s3?.close();
  });

  const timed = async <T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> => {
    const start = Date.now();
    const value = await fn();
    return { value, ms: Date.now() - start };
  };

  const agentDirs = (name: string) => {
    const dir = join(t.dataDir, 'agents', 'default', name);
    return existsSync(dir) ? readdirSync(dir) : [];
  };

  it('documents the storage and disk-limit answers in the OpenAPI document', async () => {
    const spec = (await api(t.url, 'GET', '/openapi.json')).body;
    const codes = (path: string, method: string) => Object.keys(spec.paths[path][method].responses);
    expect(codes('/api/agents', 'post')).toEqual(expect.arrayContaining(['403', '503']));
    expect(codes('/api/sessions/{id}/pause', 'post')).toContain('503');
    expect(codes('/api/sessions/{id}/messages', 'post')).toContain('503');
    expect(codes('/api/attachments/{id}', 'get')).toEqual(expect.arrayContaining(['404', '410', '503']));
    for (const [path, method] of [
      ['/api/sessions/{id}/files', 'post'],
      ['/api/sessions/{id}/workspace', 'post'],
      ['/api/sessions/{id}/attachments', 'post'],
    ] as const)
      expect(codes(path, method), path).toEqual(expect.arrayContaining(['400', '413', '503']));
  });

  for (const outage of ['hang', 'closed'] as const) {
    it(`${outage}: deploy, pause and attachments fail fast with 503 storage_unavailable and store nothing half-way`, async () => {
      await proxy.set('forward');
      const agent = `kept-${outage}`;
      await deployAgent(t.url, agent, { 'CLAUDE.md': '# v1\n' });
      const id = await createSession(t.url, agent);
      const up = await api(t.url, 'POST', `/api/sessions/${id}/files`, {
        files: [{ path: 'notes/work.txt', content: b64('precious work\n') }],
      });
      expect(up.status).toBe(200);

      await proxy.set(outage);

      // A new agent: 503, and no agent row nor folder is left behind.
      const fresh = await timed(() =>
        api(t.url, 'POST', '/api/agents', {
          name: `new-${outage}`,
          files: [{ path: 'CLAUDE.md', content: b64('# new\n') }],
        }),
      );
      expect(fresh.ms).toBeLessThan(BOUND_MS);
      expect(fresh.value.status).toBe(503);
      expect(fresh.value.body.code).toBe('storage_unavailable');
      expect(fresh.value.headers.get('retry-after')).toBeTruthy();
      expect((await api(t.url, 'GET', `/api/agents/new-${outage}`)).status).toBe(404);
      expect(agentDirs(`new-${outage}`)).toEqual([]);

      // A redeploy: 503, the live version is unchanged.
      const re = await timed(() =>
        api(t.url, 'POST', '/api/agents', {
          name: agent,
          files: [{ path: 'CLAUDE.md', content: b64('# v2\n') }],
        }),
      );
      expect(re.ms).toBeLessThan(BOUND_MS);
      expect(re.value.body.code).toBe('storage_unavailable');
      expect((await api(t.url, 'GET', `/api/agents/${agent}`)).body.agent.version).toBe(1);
      expect(agentDirs(agent)).toEqual(['v1']);

      // An attachment: 503, no row, no workspace copy.
      const att = await timed(() =>
        api(t.url, 'POST', `/api/sessions/${id}/attachments`, { filename: 'a.txt', content: b64('hello') }),
      );
      expect(att.ms).toBeLessThan(BOUND_MS);
      expect(att.value.status).toBe(503);
      expect(att.value.body.code).toBe('storage_unavailable');
      expect((await api(t.url, 'GET', `/api/sessions/${id}/attachments`)).body.attachments).toEqual([]);
      expect(existsSync(join(t.dataDir, 'sessions', id, 'workspace', 'attachments', 'a.txt'))).toBe(false);

      // Pause: the snapshot cannot be stored → 503; the workspace stays and the session resumes.
      const paused = await timed(() => api(t.url, 'POST', `/api/sessions/${id}/pause`));
      expect(paused.ms).toBeLessThan(BOUND_MS);
      expect(paused.value.status).toBe(503);
      expect(paused.value.body.code).toBe('storage_unavailable');
      expect(paused.value.body.detail).toMatch(/kept on this server/);
      const file = await api(t.url, 'GET', `/api/sessions/${id}/files/notes/work.txt?format=json`);
      expect(file.body.content).toBe('precious work\n');
      const resumed = await api(t.url, 'POST', `/api/sessions/${id}/resume`);
      expect(resumed.status).toBe(200);
      expect(resumed.body.session.status).toBe('active');

      // Storage back: the same operations work again.
      await proxy.set('forward');
      expect((await api(t.url, 'POST', `/api/sessions/${id}/pause`)).status).toBe(200);
      await deployAgent(t.url, agent, { 'CLAUDE.md': '# v2\n' });
      expect((await api(t.url, 'GET', `/api/agents/${agent}`)).body.agent.version).toBe(2);
    });
  }
});
