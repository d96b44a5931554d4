import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, createSession, deployAgent, startTestServer, type TestServer, b64 } from './harness.js';

const good = (path: string) => ({ path, content: b64(`content of ${path}`) });

/**
 * Batches with one bad file, and what each must answer. The good files come first, so a batch
 * written file by file would have stored them before reaching the bad one.
 */
const BAD_BATCHES: Array<{
  what: string;
  files: Array<{ path: string; content: string }>;
  status: number;
  code: string;
  field?: string;
}> = [
  {
    what: 'a path escaping the root',
    files: [good('ok-1.txt'), { path: '../escape.txt', content: b64('x') }],
    status: 400,
    code: 'invalid_path',
    field: '/body/files/1/path',
  },
  {
    what: 'an absolute path',
    files: [good('ok-2.txt'), { path: '/etc/x', content: b64('x') }],
    status: 400,
    code: 'invalid_path',
    field: '/body/files/1/path',
  },
  {
    what: 'bad base64',
    files: [good('ok-3.txt'), { path: 'bad.txt', content: 'not base64!' }],
    status: 400,
    code: 'invalid_base64',
    field: '/body/files/1/content',
  },
  {
    what: 'a file over the size limit',
    files: [good('ok-4.txt'), { path: 'big.bin', content: b64(Buffer.alloc(1024 * 1024 + 1)) }],
    status: 413,
    code: 'payload_too_large',
  },
  {
    what: 'a path under another file of the batch',
    files: [good('ok-5.txt'), good('clash'), good('clash/inner.txt')],
    status: 400,
    code: 'invalid_path',
    field: '/body/files/2/path',
  },
  {
    what: 'a path whose parent is an existing file',
    files: [good('ok-6.txt'), good('CLAUDE.md/inner.txt')],
    status: 400,
    code: 'invalid_path',
    field: '/body/files/1/path',
  },
  {
    what: 'a path naming an existing folder',
    files: [good('ok-7.txt'), good('existing-dir')],
    status: 400,
    code: 'invalid_path',
    field: '/body/files/1/path',
  },
];

/** Every path a bad batch tried to write (none of them may exist afterwards). */
const triedPaths = (files: Array<{ path: string }>) =>
  files.map((f) => f.path).filter((p) => !p.startsWith('/') && !p.includes('..') && p !== 'existing-dir');

describe('batch file uploads are all-or-nothing', () => {
  let t: TestServer;
  let sessionId: string;

  beforeAll(async () => {
    t = await startTestServer({ env: { ASH_FILE_MAX_SIZE_MB: '1' } });
    await deployAgent(t.url, 'batcher', { 'CLAUDE.md': '# Batcher\n', 'existing-dir/keep.txt': 'kept' });
    sessionId = await createSession(t.url, 'batcher');
  });
  afterAll(async () => t?.close());

  for (const bad of BAD_BATCHES) {
    it(`session files: refuses ${bad.what} and writes nothing of the batch`, async () => {
      const r = await api(t.url, 'POST', `/api/sessions/${sessionId}/files`, { files: bad.files });
      expect(r.status, r.text).toBe(bad.status);
      expect(r.body.code).toBe(bad.code);
      if (bad.field) expect(r.body.errors?.[0]?.path).toBe(bad.field);
      const listed = (await api(t.url, 'GET', `/api/sessions/${sessionId}/files`)).body.files.map(
        (f: { path: string }) => f.path,
      );
      for (const p of triedPaths(bad.files)) expect(listed, p).not.toContain(p);
      expect(listed).toContain('existing-dir/keep.txt');
    });

    it(`agent files: refuses ${bad.what}, writes nothing and publishes no version`, async () => {
      const before = (await api(t.url, 'GET', '/api/agents/batcher')).body.agent.version;
      const r = await api(t.url, 'POST', '/api/agents/batcher/files', { files: bad.files });
      expect(r.status, r.text).toBe(bad.status);
      expect(r.body.code).toBe(bad.code);
      if (bad.field) expect(r.body.errors?.[0]?.path).toBe(bad.field);
      const listing = (await api(t.url, 'GET', '/api/agents/batcher/files')).body;
      expect(listing.version).toBe(before);
      const listed = listing.files.map((f: { path: string }) => f.path);
      for (const p of triedPaths(bad.files)) expect(listed, p).not.toContain(p);
    });
  }

  it('a valid batch is written whole', async () => {
    const files = [good('a/one.txt'), good('a/two.txt'), good('b.txt')];
    const r = await api(t.url, 'POST', `/api/sessions/${sessionId}/files`, { files });
    expect(r.status, r.text).toBe(200);
    expect(r.body.files.every((f: { written: boolean }) => f.written)).toBe(true);
    const a = await api(t.url, 'POST', '/api/agents/batcher/files', { files });
    expect(a.status, a.text).toBe(200);
    expect(a.body.files.every((f: { written: boolean }) => f.written)).toBe(true);
  });
});
