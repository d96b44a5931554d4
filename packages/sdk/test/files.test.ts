import {
  ALL_BYTES,
  ScriptedModel,
  removeDir,
  serverEnv,
  startAshProcess,
  TEST_API_KEY,
  tempDir,
  tinyPng,
  type AshProcess,
} from '@ash-ai/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AshClient, BadRequestError, NotFoundError, PayloadTooLargeError } from '../src/index.js';

const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

describe('SDK: files, attachments and workspaces against a real server process', () => {
  let model: ScriptedModel;
  let dataDir: string;
  let proc: AshProcess;
  let client: AshClient;

  beforeAll(async () => {
    model = await ScriptedModel.start();
    dataDir = tempDir('ash-sdk-files-');
    proc = await startAshProcess(
      serverEnv({
        dataDir,
        modelUrl: model.url,
        extra: { ASH_FILE_MAX_SIZE_MB: '1', ASH_ATTACHMENT_MAX_SIZE_MB: '1' },
      }),
    );
    client = new AshClient({ serverUrl: proc.url, apiKey: TEST_API_KEY });
    await client.agents.deploy({
      name: 'sdkfiles',
      files: [{ path: 'CLAUDE.md', content: Buffer.from('# SDK files\n').toString('base64') }],
    });
  });
  afterAll(async () => {
    await proc?.stop();
    await model?.close();
    removeDir(dataDir);
  });

  it('uploads, lists, reads back byte-identical and deletes session files', async () => {
    const s = await client.sessions.create('sdkfiles');
    const files = {
      'text/hello.txt': new TextEncoder().encode('hello from the SDK\n'),
      'img/pixel.png': new Uint8Array(tinyPng()),
      'bin/all.bin': new Uint8Array(ALL_BYTES),
      'ünïcødé/名前 ✓.txt': new TextEncoder().encode('unicode\n'),
    };
    const up = await client.sessions.files.upload(
      s.id,
      Object.entries(files).map(([path, content]) => ({ path, content })),
    );
    expect(up.files.every((f) => f.written)).toBe(true);
    const list = await client.sessions.files.list(s.id);
    for (const [path, bytes] of Object.entries(files))
      expect(list.files).toContainEqual(expect.objectContaining({ path, size: bytes.length, type: 'file' }));
    for (const [path, bytes] of Object.entries(files))
      expect(same(await client.sessions.files.read(s.id, path), bytes)).toBe(true);
    const json = await client.getSessionFile(s.id, 'bin/all.bin');
    expect(json.encoding).toBe('base64');
    expect(same(Buffer.from(json.content, 'base64'), ALL_BYTES)).toBe(true);
    await client.sessions.files.delete(s.id, 'text/hello.txt');
    await expect(client.sessions.files.read(s.id, 'text/hello.txt')).rejects.toBeInstanceOf(NotFoundError);
    await expect(client.sessions.files.read(s.id, '../x')).rejects.toThrow(/invalid path/);
    await expect(client.sessions.files.upload(s.id, [{ path: '../x', content: 'x' }])).rejects.toBeInstanceOf(
      BadRequestError,
    );
    const big = await client.sessions.files
      .upload(s.id, [{ path: 'big.bin', content: new Uint8Array(1024 * 1024 + 1) }])
      .catch((e: unknown) => e);
    expect(big).toBeInstanceOf(PayloadTooLargeError);
    expect(big).toMatchObject({ code: 'payload_too_large' });

    // Whole workspace: download, restore into another session.
    const bundle = await client.sessions.workspace.download(s.id);
    expect(bundle[0]).toBe(0x1f);
    const t = await client.sessions.create('sdkfiles');
    const restored = await client.uploadWorkspace(t.id, bundle);
    expect(restored).toMatchObject({ restored: true });
    for (const [path, bytes] of Object.entries(files)) {
      if (path === 'text/hello.txt') continue;
      expect(same(await client.sessions.files.read(t.id, path), bytes)).toBe(true);
    }
    const snap = await client.sessions.workspace.snapshot(t.id);
    expect(snap.size).toBeGreaterThan(0);
  });

  it('attachments and agent files', async () => {
    const s = await client.sessions.create('sdkfiles');
    const name = 'Überweisung "März" – 請求書.png';
    const a = await client.attachments.upload(s.id, { filename: name, content: new Uint8Array(tinyPng()) });
    expect(a).toMatchObject({ filename: name, mimeType: 'image/png', size: tinyPng().length });
    const d = await client.attachments.download(a.id);
    expect(d.filename).toBe(name);
    expect(d.mimeType).toBe('image/png');
    expect(same(d.bytes, tinyPng())).toBe(true);
    expect(same(await client.sessions.files.read(s.id, a.workspacePath), tinyPng())).toBe(true);
    expect((await client.attachments.list(s.id)).map((x) => x.id)).toEqual([a.id]);
    await client.attachments.delete(a.id);
    await expect(client.attachments.download(a.id)).rejects.toBeInstanceOf(NotFoundError);

    const change = await client.agents.files.upload('sdkfiles', [
      { path: 'kb/facts.bin', content: new Uint8Array(ALL_BYTES) },
    ]);
    expect(change.agent.version).toBe(2);
    expect((await client.agents.files.list('sdkfiles')).files.map((f) => f.path)).toContain('kb/facts.bin');
    expect(same(await client.agents.files.read('sdkfiles', 'kb/facts.bin'), ALL_BYTES)).toBe(true);
    expect((await client.agents.files.delete('sdkfiles', 'kb/facts.bin')).agent.version).toBe(3);
  });
});
