import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AshClient, AshLocalError, NotFoundError } from '../src/index.js';

// Issue 10: session ids were put into URLs unencoded (`client.sessions.end('../agents/x')` sent
// `DELETE /api/agents/x`). Every path parameter now goes through one helper: a real local HTTP
// server records the raw request target of every call.

/** Hostile values: each must arrive as exactly one encoded segment. */
const HOSTILE = ['../agents/x', 'a/b', 'x?y=1', 'frag#ment', '100%', '%2e%2e', 'a..b', 'sp ace', 'ü/?#%'];

describe('SDK path parameters reach the server as one encoded segment', () => {
  let server: Server;
  let client: AshClient;
  const seen: Array<{ method: string; url: string }> = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push({ method: req.method ?? '', url: req.url ?? '' });
      req.resume();
      const body = JSON.stringify({
        type: 'urn:ash:error:route_not_found',
        title: 'Route not found',
        status: 404,
        detail: 'recorded',
        code: 'route_not_found',
        error: 'recorded',
        statusCode: 404,
      });
      res.writeHead(404, { 'content-type': 'application/problem+json' }).end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    client = new AshClient({ serverUrl: `http://127.0.0.1:${port}`, apiKey: 'ash_test' });
  });
  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()));
  });

  /** Every SDK call that puts `v` in a path, with the path it must request (the segment encoded). */
  const calls = (v: string): Array<[string, () => Promise<unknown>, string, string]> => {
    const e = encodeURIComponent(v);
    const drain = async (it: AsyncIterable<unknown>) => {
      for await (const _ of it) break;
    };
    return [
      ['sessions.get', () => client.sessions.get(v), 'GET', `/api/sessions/${e}`],
      ['sessions.end', () => client.sessions.end(v), 'DELETE', `/api/sessions/${e}`],
      [
        'sessions.updateConfig',
        () => client.sessions.updateConfig(v, {}),
        'PATCH',
        `/api/sessions/${e}/config`,
      ],
      ['sessions.pause', () => client.sessions.pause(v), 'POST', `/api/sessions/${e}/pause`],
      ['sessions.stop', () => client.sessions.stop(v), 'POST', `/api/sessions/${e}/stop`],
      ['sessions.resume', () => client.sessions.resume(v), 'POST', `/api/sessions/${e}/resume`],
      ['sessions.fork', () => client.sessions.fork(v), 'POST', `/api/sessions/${e}/fork`],
      ['sessions.interrupt', () => client.sessions.interrupt(v), 'POST', `/api/sessions/${e}/interrupt`],
      ['sessions.send', () => drain(client.sessions.send(v, 'hi')), 'POST', `/api/sessions/${e}/messages`],
      ['sessions.stream', () => drain(client.sessions.stream(v)), 'GET', `/api/sessions/${e}/stream`],
      ['sessions.messages', () => client.sessions.messages(v), 'GET', `/api/sessions/${e}/messages`],
      ['sessions.events', () => client.sessions.events(v), 'GET', `/api/sessions/${e}/events`],
      ['sessions.files.list', () => client.sessions.files.list(v), 'GET', `/api/sessions/${e}/files`],
      [
        'sessions.files.read',
        () => client.sessions.files.read(v, 'd/f.txt'),
        'GET',
        `/api/sessions/${e}/files/d/f.txt`,
      ],
      [
        'sessions.files.readJson',
        () => client.sessions.files.readJson(v, 'f'),
        'GET',
        `/api/sessions/${e}/files/f`,
      ],
      [
        'sessions.files.upload',
        () => client.sessions.files.upload(v, [{ path: 'f', content: 'x' }]),
        'POST',
        `/api/sessions/${e}/files`,
      ],
      [
        'sessions.files.delete',
        () => client.sessions.files.delete(v, 'f'),
        'DELETE',
        `/api/sessions/${e}/files/f`,
      ],
      // A file path keeps its folders; each of its segments is encoded.
      [
        'sessions.files.read (path)',
        () => client.sessions.files.read('s', `dir/${v.replace(/\//g, '_')}`),
        'GET',
        `/api/sessions/s/files/dir/${encodeURIComponent(v.replace(/\//g, '_'))}`,
      ],
      [
        'sessions.workspace.download',
        () => client.sessions.workspace.download(v),
        'GET',
        `/api/sessions/${e}/workspace`,
      ],
      [
        'sessions.workspace.upload',
        () => client.sessions.workspace.upload(v, new Uint8Array([1])),
        'POST',
        `/api/sessions/${e}/workspace`,
      ],
      [
        'sessions.workspace.snapshot',
        () => client.sessions.workspace.snapshot(v),
        'POST',
        `/api/sessions/${e}/workspace/snapshot`,
      ],
      [
        'attachments.upload',
        () => client.attachments.upload(v, { filename: 'a.txt', content: 'x' }),
        'POST',
        `/api/sessions/${e}/attachments`,
      ],
      ['attachments.list', () => client.attachments.list(v), 'GET', `/api/sessions/${e}/attachments`],
      ['attachments.download', () => client.attachments.download(v), 'GET', `/api/attachments/${e}`],
      ['attachments.delete', () => client.attachments.delete(v), 'DELETE', `/api/attachments/${e}`],
      ['agents.get', () => client.agents.get(v), 'GET', `/api/agents/${e}`],
      ['agents.update', () => client.agents.update(v, {}), 'PATCH', `/api/agents/${e}`],
      ['agents.delete', () => client.agents.delete(v), 'DELETE', `/api/agents/${e}`],
      ['agents.files.list', () => client.agents.files.list(v), 'GET', `/api/agents/${e}/files`],
      ['agents.files.read', () => client.agents.files.read(v, 'f'), 'GET', `/api/agents/${e}/files/f`],
      [
        'agents.files.readJson',
        () => client.agents.files.readJson(v, 'f'),
        'GET',
        `/api/agents/${e}/files/f`,
      ],
      [
        'agents.files.upload',
        () => client.agents.files.upload(v, [{ path: 'f', content: 'x' }]),
        'POST',
        `/api/agents/${e}/files`,
      ],
      ['agents.files.delete', () => client.agents.files.delete(v, 'f'), 'DELETE', `/api/agents/${e}/files/f`],
      ['credentials.get', () => client.credentials.get(v), 'GET', `/api/credentials/${e}`],
      [
        'credentials.update',
        () => client.credentials.update(v, { active: false }),
        'PATCH',
        `/api/credentials/${e}`,
      ],
      ['credentials.delete', () => client.credentials.delete(v), 'DELETE', `/api/credentials/${e}`],
      ['apiKeys.revoke', () => client.apiKeys.revoke(v), 'DELETE', `/api/api-keys/${e}`],
      ['queue.get', () => client.queue.get(v), 'GET', `/api/queue/${e}`],
      ['queue.cancel', () => client.queue.cancel(v), 'DELETE', `/api/queue/${e}`],
    ];
  };

  it('encodes `/`, `..`, `?`, `#` and `%` in every path parameter', async () => {
    for (const v of HOSTILE) {
      for (const [name, call, method, path] of calls(v)) {
        seen.length = 0;
        await expect(call(), `${name}(${JSON.stringify(v)})`).rejects.toBeInstanceOf(NotFoundError);
        expect(seen.length, name).toBeGreaterThanOrEqual(1);
        const got = seen[0]!;
        expect(got.method, name).toBe(method);
        // The raw request target, query string cut off: the parameter is one segment.
        expect(got.url.split('?')[0], `${name}(${JSON.stringify(v)})`).toBe(path);
        // Nothing of the value leaked into a query string or a fragment.
        if (v.includes('?')) expect(got.url, name).not.toContain('y=1');
      }
    }
  });

  it("refuses '.', '..' and empty parameters locally (a URL would resolve or drop them)", async () => {
    seen.length = 0;
    for (const v of ['..', '.', '']) {
      await expect(client.sessions.end(v)).rejects.toBeInstanceOf(AshLocalError);
      await expect(client.agents.delete(v)).rejects.toBeInstanceOf(AshLocalError);
      await expect(client.sessions.files.read('s', `a/${v}/b`)).rejects.toBeInstanceOf(AshLocalError);
    }
    expect(seen).toEqual([]);
  });
});
