import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { removeDir, tempDir, ALL_BYTES, tinyPng } from '@ash-ai/testing';
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
import { rawTarGz, zeroBombTarGz } from './tar-fixtures.js';

async function download(
  url: string,
  id: string,
): Promise<{ status: number; bytes: Buffer; headers: Headers }> {
  const res = await fetch(`${url}/api/sessions/${id}/workspace`, { headers: AUTH });
  return { status: res.status, bytes: Buffer.from(await res.arrayBuffer()), headers: res.headers };
}

async function uploadRaw(url: string, id: string, bundle: Buffer) {
  const res = await fetch(`${url}/api/sessions/${id}/workspace`, {
    method: 'POST',
    headers: { 'content-type': 'application/gzip', ...AUTH },
    body: new Uint8Array(bundle),
  });
  return { status: res.status, body: (await res.json()) as any };
}

/** Every regular file and link under a folder (relative path → content or link target). */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const rel of readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
    const p = join(dir, rel);
    const st = lstatSync(p);
    if (st.isSymbolicLink()) out[rel] = `link:${readlinkSync(p)}`;
    else if (st.isFile()) out[rel] = readFileSync(p).toString('base64');
  }
  return out;
}

describe('workspace bundles', () => {
  let t: TestServer;
  let outside: string;

  beforeAll(async () => {
    t = await startTestServer({ env: { ASH_BUNDLE_MAX_SIZE_MB: '2', ASH_BUNDLE_MAX_ENTRIES: '50' } });
    outside = tempDir('ash-outside-');
    await deployAgent(t.url, 'bundler', { 'CLAUDE.md': '# Bundler\n' });
  });
  afterAll(async () => {
    await t?.close();
    removeDir(outside);
  });

  it('round-trips a workspace: download, restore into another session, identical files', async () => {
    const a = await createSession(t.url, 'bundler');
    await api(t.url, 'POST', `/api/sessions/${a}/files`, {
      files: [
        { path: 'data/all.bin', content: b64(ALL_BYTES) },
        { path: 'data/pixel.png', content: b64(tinyPng()) },
        { path: 'ユニコード/é.txt', content: b64('accents\n') },
        { path: 'node_modules/dep/index.js', content: b64('excluded') },
      ],
    });
    t.model.forSession(a).enqueue(
      {
        toolUse: {
          name: 'Bash',
          input: {
            command:
              'mkdir -p out && echo generated > out/report.txt && ln -s out/report.txt latest && echo OK',
          },
        },
      },
      { text: 'done' },
    );
    await sendTurn(t.url, a, { content: 'generate a report' });

    const dl = await download(t.url, a);
    expect(dl.status).toBe(200);
    expect(dl.headers.get('content-type')).toBe('application/gzip');
    expect(dl.headers.get('content-disposition')).toContain(`${a}.tar.gz`);
    expect(gunzipSync(dl.bytes).length).toBeGreaterThan(1024);

    const b = await createSession(t.url, 'bundler');
    const up = await uploadRaw(t.url, b, dl.bytes);
    expect(up.status).toBe(200);
    expect(up.body).toMatchObject({
      restored: true,
      files: expect.any(Number),
      source: expect.stringMatching(/live|stored/),
    });
    const wsA = tree(join(t.dataDir, 'sessions', a, 'workspace'));
    const wsB = tree(join(t.dataDir, 'sessions', b, 'workspace'));
    for (const k of Object.keys(wsA)) if (k.startsWith('node_modules')) delete wsA[k];
    delete wsA['.claude/settings.local.json'];
    delete wsB['.claude/settings.local.json'];
    expect(wsB).toEqual(wsA);
    expect(wsB.latest).toBe('link:out/report.txt');
    expect(existsSync(join(t.dataDir, 'sessions', b, 'workspace', 'node_modules'))).toBe(false);
    // The agent of session B owns what was restored (it can modify it).
    t.model
      .forSession(b)
      .enqueue(
        { toolUse: { name: 'Bash', input: { command: 'echo more >> out/report.txt && cat latest' } } },
        { text: 'ok' },
      );
    const turn = await sendTurn(t.url, b, { content: 'append' });
    expect(JSON.stringify(turn.events)).toContain('generated\\nmore');

    // The upstream JSON form works too.
    const c = await createSession(t.url, 'bundler');
    const json = await api(t.url, 'POST', `/api/sessions/${c}/workspace`, {
      bundle: dl.bytes.toString('base64'),
    });
    expect(json.status).toBe(200);
    expect(
      readFileSync(join(t.dataDir, 'sessions', c, 'workspace', 'data', 'all.bin')).equals(ALL_BYTES),
    ).toBe(true);
  });

  it('restores bundles with links that stay inside the workspace, also over the same links (QA #7)', async () => {
    const id = await createSession(t.url, 'bundler');
    const ws = join(t.dataDir, 'sessions', id, 'workspace');
    const bundle = rawTarGz([
      { path: 'link', type: 'SymbolicLink', linkpath: 'sub/file.txt' },
      { path: 'sub/file.txt', body: 'inside' },
      { path: 'sub/up', type: 'SymbolicLink', linkpath: '../link' },
    ]);
    const first = await uploadRaw(t.url, id, bundle);
    expect(first.status).toBe(200);
    expect(readlinkSync(join(ws, 'link'))).toBe('sub/file.txt');
    expect(readFileSync(join(ws, 'sub', 'up'), 'utf8')).toBe('inside');
    // The same bundle again, and this workspace's own download: its links replace the links there.
    const again = await uploadRaw(t.url, id, bundle);
    expect(again.status).toBe(200);
    const dl = await download(t.url, id);
    expect(dl.status).toBe(200);
    const own = await uploadRaw(t.url, id, dl.bytes);
    expect(own.status).toBe(200);
    expect(readlinkSync(join(ws, 'link'))).toBe('sub/file.txt');
    expect(readlinkSync(join(ws, 'sub', 'up'))).toBe('../link');
    // A link escaping the workspace is still refused.
    const out = await uploadRaw(
      t.url,
      id,
      rawTarGz([{ path: 'sub/out', type: 'SymbolicLink', linkpath: '../../escape' }]),
    );
    expect(out.status).toBe(400);
    expect(existsSync(join(ws, 'sub', 'out'))).toBe(false);
  });

  it('rejects malicious bundles whole and writes nothing, inside or outside', async () => {
    const id = await createSession(t.url, 'bundler');
    const ws = join(t.dataDir, 'sessions', id, 'workspace');
    const before = tree(ws);
    const outsideBefore = readdirSync(outside);
    const bundles: Array<[string, Buffer, number, string]> = [
      [
        'a link out',
        rawTarGz([
          { path: 'ok.txt', body: 'x' },
          { path: 'evil', type: 'SymbolicLink', linkpath: outside },
        ]),
        400,
        'invalid_bundle',
      ],
      [
        'a link climbing out',
        rawTarGz([{ path: 'a/evil', type: 'SymbolicLink', linkpath: '../../../..' }]),
        400,
        'invalid_bundle',
      ],
      [
        'a write through its own link',
        rawTarGz([
          { path: 'l', type: 'SymbolicLink', linkpath: 'x' },
          { path: 'l/f.txt', body: 'x' },
        ]),
        400,
        'invalid_bundle',
      ],
      [
        'an absolute name',
        rawTarGz([
          { path: 'ok.txt', body: 'x' },
          { path: `${outside}/abs.txt`, body: 'x' },
        ]),
        400,
        'invalid_bundle',
      ],
      [
        'a parent reference',
        rawTarGz([
          { path: 'ok.txt', body: 'x' },
          { path: '../../../escape.txt', body: 'x' },
        ]),
        400,
        'invalid_bundle',
      ],
      [
        'a hard link',
        rawTarGz([{ path: 'h', type: 'Link', linkpath: '/etc/passwd' }]),
        400,
        'invalid_bundle',
      ],
      ['a device', rawTarGz([{ path: 'dev', type: 'CharacterDevice' }]), 400, 'invalid_bundle'],
      ['not gzip', Buffer.from('hello'), 400, 'invalid_bundle'],
      ['a decompression bomb', zeroBombTarGz(64 * 1024 * 1024), 413, 'payload_too_large'],
      [
        'too many entries',
        rawTarGz(Array.from({ length: 60 }, (_, i) => ({ path: `f${i}.txt`, body: 'x' }))),
        413,
        'payload_too_large',
      ],
    ];
    for (const [what, bundle, status, code] of bundles) {
      const r = await uploadRaw(t.url, id, bundle);
      expect(r.status, what).toBe(status);
      expect(r.body.code, what).toBe(code);
      expect(tree(ws), what).toEqual(before);
      expect(readdirSync(outside), what).toEqual(outsideBefore);
    }
    expect(existsSync(join(ws, '..', '..', 'escape.txt'))).toBe(false);
    // No staging leftovers.
    expect(readdirSync(join(t.dataDir, 'sessions', id)).filter((n) => n.startsWith('.incoming'))).toEqual([]);

    // A workspace link made by the agent is not a way out either: restoring over it is refused.
    t.model
      .forSession(id)
      .enqueue(
        { toolUse: { name: 'Bash', input: { command: `ln -s ${outside} data && echo LINKED` } } },
        { text: 'linked' },
      );
    await sendTurn(t.url, id, { content: 'link' });
    const through = await uploadRaw(t.url, id, rawTarGz([{ path: 'data/pwned.txt', body: 'x' }]));
    expect(through.status).toBe(400);
    expect(through.body.code).toBe('invalid_path');
    expect(readdirSync(outside)).toEqual(outsideBefore);
    const bad64 = await api(t.url, 'POST', `/api/sessions/${id}/workspace`, { bundle: 'not base64!' });
    expect(bad64.body.code).toBe('invalid_base64');
    expect(statSync(ws).isDirectory()).toBe(true);
  });
});
