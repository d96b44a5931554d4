import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { removeDir, ScriptedModel, tempDir, ALL_BYTES, tinyPng } from '@ash-ai/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  createSession,
  deployAgent,
  sendTurn,
  startTestServer,
  type TestServer,
  b64,
  AUTH,
} from './harness.js';

/** GET with the path sent exactly as written (fetch would normalise `..` and `%2e`). */
function rawGet(url: string, path: string, method = 'GET'): Promise<{ status: number; body: Buffer }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: u.hostname, port: u.port, path, method, headers: AUTH }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function getRaw(url: string, path: string) {
  const res = await fetch(url + path, { headers: AUTH });
  return { status: res.status, headers: res.headers, bytes: Buffer.from(await res.arrayBuffer()) };
}

const encodePath = (p: string) => p.split('/').map(encodeURIComponent).join('/');

describe('session files', () => {
  let t: TestServer;
  let model: ScriptedModel;
  let dataDir: string;
  let outside: string;

  beforeAll(async () => {
    model = await ScriptedModel.start();
    dataDir = tempDir('ash-files-');
    outside = tempDir('ash-outside-');
    t = await startTestServer({ model, dataDir });
    await deployAgent(t.url, 'filer', { 'CLAUDE.md': '# Filer\n', 'docs/readme.txt': 'agent doc\n' });
  });
  afterAll(async () => {
    await t?.close();
    await model?.close();
    removeDir(dataDir);
    removeDir(outside);
  });

  const batch = {
    'notes/hello.txt': Buffer.from('hello, files\n'),
    'images/pixel.png': tinyPng(),
    'bin/all-bytes.bin': ALL_BYTES,
    'données/日本語 ✓ résumé.txt': Buffer.from('unicode name ✓\n'),
  };

  it('uploads a batch (text, PNG, all 256 byte values, a Unicode name), lists it, reads it back byte-identical, deletes one; a paused session reads too', async () => {
    const id = await createSession(t.url, 'filer');
    const up = await api(t.url, 'POST', `/api/sessions/${id}/files`, {
      files: Object.entries(batch).map(([path, bytes]) => ({ path, content: b64(bytes) })),
    });
    expect(up.status).toBe(200);
    expect(up.body.files).toEqual(
      Object.entries(batch).map(([path, bytes]) => ({ path, written: true, size: bytes.length })),
    );
    expect(['live', 'stored']).toContain(up.body.source);

    const list = await api(t.url, 'GET', `/api/sessions/${id}/files`);
    expect(list.status).toBe(200);
    const byPath = new Map(list.body.files.map((f: { path: string }) => [f.path, f]));
    for (const [path, bytes] of Object.entries(batch)) {
      expect(byPath.get(path)).toMatchObject({ path, type: 'file', size: bytes.length });
    }
    expect(byPath.has('CLAUDE.md')).toBe(true);
    expect(list.body.truncated).toBe(false);

    for (const [path, bytes] of Object.entries(batch)) {
      const r = await getRaw(t.url, `/api/sessions/${id}/files/${encodePath(path)}`);
      expect(r.status).toBe(200);
      expect(r.bytes.equals(bytes)).toBe(true);
      expect(r.headers.get('content-length')).toBe(String(bytes.length));
      expect(r.headers.get('x-content-type-options')).toBe('nosniff');
      expect(r.headers.get('x-ash-source')).toMatch(/^(live|stored)$/);
      expect(r.headers.get('content-disposition')).toContain(
        `filename*=UTF-8''${encodeURIComponent(path.split('/').pop()!)}`,
      );
    }
    expect(
      (await getRaw(t.url, `/api/sessions/${id}/files/images/pixel.png`)).headers.get('content-type'),
    ).toBe('image/png');
    const asJson = await api(t.url, 'GET', `/api/sessions/${id}/files/bin/all-bytes.bin?format=json`);
    expect(asJson.body).toMatchObject({ encoding: 'base64', size: 256 });
    expect(Buffer.from(asJson.body.content, 'base64').equals(ALL_BYTES)).toBe(true);
    const text = await api(
      t.url,
      'GET',
      `/api/sessions/${id}/files/${encodePath('données/日本語 ✓ résumé.txt')}?format=json`,
    );
    expect(text.body).toMatchObject({
      encoding: 'utf8',
      content: 'unicode name ✓\n',
      mimeType: expect.stringMatching(/^text\/plain/),
    });

    // The agent (sandbox user) reads and modifies what was uploaded.
    model.forSession(id).enqueue(
      {
        toolUse: {
          name: 'Bash',
          input: {
            command: 'sha256sum bin/all-bytes.bin && echo appended >> notes/hello.txt && echo AGENT-OK',
          },
        },
      },
      { text: 'checked' },
    );
    const turn = await sendTurn(t.url, id, { content: 'check the uploads' });
    const result = JSON.stringify(turn.events.filter((e) => e.event === 'tool_result'));
    expect(result).toContain('AGENT-OK');
    expect(result).toContain(createHash('sha256').update(ALL_BYTES).digest('hex'));
    expect((await getRaw(t.url, `/api/sessions/${id}/files/notes/hello.txt`)).bytes.toString()).toBe(
      'hello, files\nappended\n',
    );

    const del = await api(t.url, 'DELETE', `/api/sessions/${id}/files/notes/hello.txt`);
    expect(del.status).toBe(200);
    expect(del.body).toMatchObject({ path: 'notes/hello.txt', deleted: true });
    expect((await api(t.url, 'GET', `/api/sessions/${id}/files/notes/hello.txt`)).body.code).toBe(
      'file_not_found',
    );
    expect((await api(t.url, 'DELETE', `/api/sessions/${id}/files/notes/hello.txt`)).status).toBe(404);

    // Restart the server on the same data dir: the session is paused (no process), files still read.
    await t.close();
    t = await startTestServer({ model, dataDir });
    const s = await api(t.url, 'GET', `/api/sessions/${id}`);
    expect(s.body.session.status).toBe('paused');
    const paused = await api(t.url, 'GET', `/api/sessions/${id}/files`);
    expect(paused.body.source).toBe('stored');
    expect(paused.body.files.map((f: { path: string }) => f.path)).not.toContain('notes/hello.txt');
    const png = await getRaw(t.url, `/api/sessions/${id}/files/images/pixel.png`);
    expect(png.headers.get('x-ash-source')).toBe('stored');
    expect(png.bytes.equals(tinyPng())).toBe(true);
    // Writes to a paused session work too.
    const w = await api(t.url, 'POST', `/api/sessions/${id}/files`, {
      files: [{ path: 'later.txt', content: b64('while paused') }],
    });
    expect(w.body).toMatchObject({ source: 'stored', files: [{ path: 'later.txt', written: true }] });
  });

  it('confines every path: parent references, absolute and encoded paths, a sibling folder, and links made by the agent', async () => {
    const id = await createSession(t.url, 'filer');
    const ws = join(dataDir, 'sessions', id, 'workspace');
    // Outside things: a file, a folder, and a sibling folder whose name starts with the workspace's.
    writeFileSync(join(outside, 'secret.txt'), 'TOP-SECRET-CONTENT');
    mkdirSync(join(outside, 'dir'), { recursive: true });
    writeFileSync(join(outside, 'dir', 'inner.txt'), 'INNER-CONTENT');
    const sibling = `${ws}-evil`;
    mkdirSync(sibling, { recursive: true });
    writeFileSync(join(sibling, 'x.txt'), 'SIBLING-CONTENT');
    const snapshot = () =>
      JSON.stringify(
        [outside, sibling].map((d) =>
          readdirSync(d, { recursive: true, encoding: 'utf8' })
            .sort()
            .map((f) => {
              const st = lstatSync(join(d, f));
              return [f, st.isFile() ? readFileSync(join(d, f), 'utf8') : 'dir', st.mode, st.mtimeMs];
            }),
        ),
      );
    const before = snapshot();

    model.forSession(id).enqueue(
      {
        toolUse: {
          name: 'Bash',
          input: {
            command: [
              `ln -s ${outside} dir-out`,
              `ln -s ${join(outside, 'secret.txt')} file-out`,
              'ln -s /nonexistent/ash-dangling dangling',
              `ln -s ../workspace-evil sibling`,
              'ln -s /etc/passwd passwd',
              'mkdir -p nested && ln -s ../../.. nested/up',
              'echo LINKS-MADE',
            ].join(' && '),
          },
        },
      },
      { text: 'made links' },
    );
    const turn = await sendTurn(t.url, id, { content: 'make some links' });
    expect(JSON.stringify(turn.events)).toContain('LINKS-MADE');
    expect(lstatSync(join(ws, 'dir-out')).isSymbolicLink()).toBe(true);

    const links = ['dir-out', 'file-out', 'dangling', 'sibling', 'passwd', 'nested/up'];
    const readAttempts = [
      ...links,
      'dir-out/secret.txt',
      'dir-out/dir/inner.txt',
      'sibling/x.txt',
      'nested/up/etc/passwd',
      '..%2f..%2fworkspace-evil%2fx.txt',
      '%2e%2e/%2e%2e/workspace-evil/x.txt',
      '%2e%2e%2fworkspace-evil%2fx.txt',
      '..%5c..%5cworkspace-evil%5cx.txt',
      '%2fetc%2fpasswd',
      '/etc/passwd',
      'docs/../../workspace-evil/x.txt',
      '..',
      '.',
    ];
    for (const p of readAttempts) {
      for (const suffix of ['', '?format=json']) {
        const r = await rawGet(t.url, `/api/sessions/${id}/files/${p}${suffix}`);
        expect([400, 404], `GET ${p}${suffix} -> ${r.status}`).toContain(r.status);
        expect(r.body.toString()).not.toMatch(/TOP-SECRET|SIBLING-CONTENT|INNER-CONTENT|root:x:0/);
      }
    }
    // Double-encoded dots are a literal (odd) name, not a parent reference.
    expect(
      (await rawGet(t.url, `/api/sessions/${id}/files/%252e%252e%252fworkspace-evil%252fx.txt`)).status,
    ).toBe(404);
    for (const p of links) {
      const r = await api(t.url, 'GET', `/api/sessions/${id}/files/${p}`);
      expect(r.status).toBe(400);
      expect(r.body.code).toBe('invalid_path');
      expect(r.body.detail).toContain('symbolic link');
    }

    // List: links are shown, never followed; listing through one is refused.
    const list = await api(t.url, 'GET', `/api/sessions/${id}/files`);
    expect(list.status).toBe(200);
    const paths = list.body.files.map((f: { path: string }) => f.path);
    for (const l of links)
      expect(list.body.files).toContainEqual(expect.objectContaining({ path: l, type: 'symlink' }));
    expect(paths.some((p: string) => /secret|inner|x\.txt|passwd\//.test(p))).toBe(false);
    for (const p of ['dir-out', 'sibling', 'nested/up', '../workspace-evil', '/etc']) {
      const r = await api(t.url, 'GET', `/api/sessions/${id}/files?path=${encodeURIComponent(p)}`);
      expect(r.status, `list ${p}`).toBe(400);
    }

    // Write: every escape is refused and nothing is written anywhere.
    const writeAttempts = [
      { path: '../workspace-evil/x.txt' },
      { path: '/etc/ash-pwned' },
      { path: 'dir-out/secret.txt' },
      { path: 'dir-out/new.txt' },
      { path: 'file-out' },
      { path: 'dangling' },
      { path: 'sibling/x.txt' },
      { path: 'nested/up/tmp/ash-pwned' },
      { path: 'a\\..\\..\\x' },
      { path: 'ok.txt', targetPath: '../workspace-evil' },
      { path: 'ok.txt', targetPath: 'dir-out' },
    ];
    for (const a of writeAttempts) {
      const r = await api(t.url, 'POST', `/api/sessions/${id}/files`, {
        files: [
          { path: 'fine.txt', content: b64('fine') },
          { path: a.path, content: b64('pwned') },
        ],
        ...(a.targetPath ? { targetPath: a.targetPath } : {}),
      });
      expect(r.status, `write ${JSON.stringify(a)}`).toBe(400);
      expect(r.body.code).toBe('invalid_path');
    }
    expect(existsSync(join(ws, 'fine.txt'))).toBe(false);
    expect(existsSync('/nonexistent/ash-dangling')).toBe(false);
    expect(existsSync('/etc/ash-pwned')).toBe(false);

    // Delete: refused for links and through links; the links stay, their targets too.
    for (const p of [
      ...links,
      'dir-out/secret.txt',
      'sibling/x.txt',
      '..%2fworkspace-evil%2fx.txt',
      '%2fetc%2fpasswd',
    ]) {
      const r = await rawGet(t.url, `/api/sessions/${id}/files/${p}`, 'DELETE');
      expect([400, 404], `DELETE ${p} -> ${r.status}`).toContain(r.status);
    }
    for (const l of links) expect(lstatSync(join(ws, l)).isSymbolicLink()).toBe(true);
    expect(snapshot()).toBe(before);
    expect(statSync('/etc/passwd').isFile()).toBe(true);

    // Another tenant's view is tested by the auth suite; an unknown session is a plain 404.
    expect(
      (await api(t.url, 'GET', '/api/sessions/00000000-0000-4000-8000-000000000000/files')).body.code,
    ).toBe('session_not_found');
  });

  it('enforces per-file and per-batch limits on decoded bytes (413, nothing stored) and refuses bad base64 (400)', async () => {
    await t.close();
    t = await startTestServer({
      model,
      dataDir,
      env: { ASH_FILE_MAX_SIZE_MB: '1', ASH_FILE_BATCH_MAX_SIZE_MB: '2' },
    });
    const id = await createSession(t.url, 'filer');
    const ws = join(dataDir, 'sessions', id, 'workspace');
    const mib = 1024 * 1024;
    const cases: Array<[string, Array<{ path: string; content: string }>, number, string, RegExp]> = [
      [
        'one file over the per-file limit',
        [{ path: 'a.bin', content: b64(Buffer.alloc(mib + 1)) }],
        413,
        'payload_too_large',
        /limit per file is 1048576 bytes/,
      ],
      [
        'a batch over the batch limit',
        [0, 1, 2].map((i) => ({ path: `b${i}.bin`, content: b64(Buffer.alloc(700 * 1024)) })),
        413,
        'payload_too_large',
        /batch exceeds 2097152 bytes/,
      ],
      [
        'malformed base64',
        [
          { path: 'c.txt', content: b64('ok') },
          { path: 'd.txt', content: 'not base64!' },
        ],
        400,
        'invalid_base64',
        /files\[1\]\.content/,
      ],
      ['base64 with whitespace', [{ path: 'e.txt', content: 'aGVs bG8=' }], 400, 'invalid_base64', /content/],
      ['unpadded base64', [{ path: 'f.txt', content: 'aGVsbG8' }], 400, 'invalid_base64', /content/],
    ];
    for (const [what, files, status, code, detail] of cases) {
      const r = await api(t.url, 'POST', `/api/sessions/${id}/files`, { files });
      expect(r.status, what).toBe(status);
      expect(r.body.code).toBe(code);
      expect(r.body.detail).toMatch(detail);
      for (const f of files) expect(existsSync(join(ws, f.path)), `${what}: ${f.path}`).toBe(false);
    }
    // Exactly at the limit is fine.
    const ok = await api(t.url, 'POST', `/api/sessions/${id}/files`, {
      files: [{ path: 'exact.bin', content: b64(Buffer.alloc(mib, 7)) }],
    });
    expect(ok.status).toBe(200);
    expect(statSync(join(ws, 'exact.bin')).size).toBe(mib);
    // A body over the route's limit is a 413 too.
    const huge = await api(t.url, 'POST', `/api/sessions/${id}/files`, {
      files: [{ path: 'h.bin', content: b64(Buffer.alloc(4 * mib)) }],
    });
    expect(huge.status).toBe(413);
    expect(existsSync(join(ws, 'h.bin'))).toBe(false);
    const json = await api(t.url, 'GET', `/api/sessions/${id}/files/exact.bin?format=json`);
    expect(json.status).toBe(200);
  });
});
