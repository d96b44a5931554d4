import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { removeDir, tempDir } from '@ash-ai/testing';
import { directorySize } from '@ash-ai/sandbox';
import { Header } from 'tar';
import { zeroBombTarGz } from './tar-fixtures.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, createSession, deployAgent, startTestServer, type TestServer, b64, AUTH } from './harness.js';

const MiB = 1024 * 1024;

async function uploadBundle(url: string, id: string, bundle: Buffer) {
  const res = await fetch(`${url}/api/sessions/${id}/workspace`, {
    method: 'POST',
    // A connection left unusable by an early refusal would hang here: fail instead.
    signal: AbortSignal.timeout(20_000),
    headers: { 'content-type': 'application/gzip', ...AUTH },
    body: new Uint8Array(bundle),
  });
  return { status: res.status, body: (await res.json()) as any };
}

/** A tar.gz of one file whose header declares `declared` bytes but that carries `body`. */
function lyingTarGz(declared: number, body: Buffer): Buffer {
  const h = new Header({ path: 'huge.bin', type: 'File', mode: 0o644, size: declared, mtime: new Date() });
  h.encode();
  return gzipSync(Buffer.concat([h.block!, body]));
}

/** A tar.gz made by GNU tar of a folder holding one sparse file (`format`: gnu or posix). */
function sparseTarGz(format: 'gnu' | 'posix'): Buffer {
  const dir = tempDir('ash-sparse-');
  try {
    const fd = openSync(join(dir, 'sparse.bin'), 'w');
    ftruncateSync(fd, 10 * 1024 ** 3);
    closeSync(fd);
    return execFileSync('tar', ['--sparse', `--format=${format}`, '-czf', '-', '-C', dir, 'sparse.bin'], {
      maxBuffer: 64 * MiB,
    });
  } finally {
    removeDir(dir);
  }
}

describe('the workspace disk limit applies to writes through the API', () => {
  let t: TestServer;
  let id: string;
  let ws: string;

  beforeAll(async () => {
    // 4 MiB of disk per workspace.
    t = await startTestServer({ env: { ASH_SANDBOX_DISK_MB: '4' } });
    await deployAgent(t.url, 'filler', { 'CLAUDE.md': '# Filler\n' });
    id = await createSession(t.url, 'filler');
    ws = join(t.dataDir, 'sessions', id, 'workspace');
  });
  afterAll(async () => t?.close());

  const names = async () =>
    (await api(t.url, 'GET', `/api/sessions/${id}/files`)).body.files.map((f: { path: string }) => f.path);

  it('counts allocated blocks: a 10 GB sparse file made in the workspace neither blocks writes nor breaks listing', async () => {
    // What `truncate -s 10G` by the agent leaves: a huge apparent size, no data.
    mkdirSync(join(ws, 'scratch'), { recursive: true });
    const fd = openSync(join(ws, 'scratch', 'sparse.img'), 'w');
    ftruncateSync(fd, 10 * 1024 ** 3);
    closeSync(fd);
    expect(await directorySize(ws)).toBeLessThan(MiB);

    const list = await api(t.url, 'GET', `/api/sessions/${id}/files`);
    expect(list.status).toBe(200);
    expect(list.body.files).toContainEqual(
      expect.objectContaining({ path: 'scratch/sparse.img', size: 10 * 1024 ** 3 }),
    );
    const up = await api(t.url, 'POST', `/api/sessions/${id}/files`, {
      files: [{ path: 'data/one.bin', content: b64(randomBytes(2 * MiB)) }],
    });
    expect(up.status).toBe(200);
  });

  it('files: over the limit is 413 disk_limit_exceeded and writes nothing; replacing a file frees its blocks', async () => {
    const over = await api(t.url, 'POST', `/api/sessions/${id}/files`, {
      files: [
        { path: 'data/small.txt', content: b64('fits on its own') },
        { path: 'data/two.bin', content: b64(randomBytes(2.5 * MiB)) },
      ],
    });
    expect(over.status).toBe(413);
    expect(over.body.code).toBe('disk_limit_exceeded');
    expect(over.body.detail).toMatch(/nothing was written/);
    expect(await names()).not.toContain('data/small.txt');
    expect(existsSync(join(ws, 'data', 'two.bin'))).toBe(false);

    // Replacing the 2 MiB file by a 3 MiB one fits: the old blocks are freed.
    const replace = await api(t.url, 'POST', `/api/sessions/${id}/files`, {
      files: [{ path: 'data/one.bin', content: b64(randomBytes(3 * MiB)) }],
    });
    expect(replace.status).toBe(200);
    expect(statSync(join(ws, 'data', 'one.bin')).size).toBe(3 * MiB);
  });

  it('attachments: the workspace copy must fit, else 413 and nothing stored', async () => {
    const r = await api(t.url, 'POST', `/api/sessions/${id}/attachments`, {
      filename: 'big.bin',
      content: b64(randomBytes(2 * MiB)),
    });
    expect(r.status).toBe(413);
    expect(r.body.code).toBe('disk_limit_exceeded');
    expect((await api(t.url, 'GET', `/api/sessions/${id}/attachments`)).body.attachments).toEqual([]);
    expect(existsSync(join(ws, 'attachments', 'big.bin'))).toBe(false);
  });

  it('bundles: counted on bytes really written and on the merged result; sparse entries refused; nothing half-written', async () => {
    const before = readFileSync(join(ws, 'data', 'one.bin'));
    // 2 MiB of real data, fine alone, too much next to the 3 MiB already there.
    const mid = execTarGz({ 'bundle/mid.bin': randomBytes(2 * MiB), 'bundle/note.txt': Buffer.from('hi') });
    const r1 = await uploadBundle(t.url, id, mid);
    expect(r1.status).toBe(413);
    expect(r1.body.code).toBe('disk_limit_exceeded');
    expect(existsSync(join(ws, 'bundle'))).toBe(false);

    // 2 MiB of zeros compress to almost nothing and would extract as holes, but the merge
    // writes them in full: they count for their length.
    const zeros = await uploadBundle(t.url, id, zeroBombTarGz(2 * MiB));
    expect(zeros.status).toBe(413);
    expect(zeros.body.code).toBe('disk_limit_exceeded');
    expect(existsSync(join(ws, 'zeros.bin'))).toBe(false);

    // A header declaring 10 GB (data stops after 6 MiB): stopped at the limit, nothing written.
    const lying = await uploadBundle(t.url, id, lyingTarGz(10 * 1024 ** 3, randomBytes(6 * MiB)));
    expect(lying.status).toBe(413);
    expect(lying.body.code).toBe('disk_limit_exceeded');
    expect(existsSync(join(ws, 'huge.bin'))).toBe(false);

    // GNU sparse entries (old GNU and PAX formats) are refused, not expanded nor mangled.
    for (const format of ['gnu', 'posix'] as const) {
      const sparse = await uploadBundle(t.url, id, sparseTarGz(format));
      expect(sparse.status, format).toBe(400);
      expect(sparse.body.code).toBe('invalid_bundle');
      expect(sparse.body.detail).toMatch(/sparse/);
    }
    expect(existsSync(join(ws, 'sparse.bin'))).toBe(false);
    expect(readdirNames(ws).some((n) => n.startsWith('GNUSparseFile'))).toBe(false);

    // A bundle replacing the big file with a smaller one fits.
    const ok = await uploadBundle(t.url, id, execTarGz({ 'data/one.bin': Buffer.from('small now') }));
    expect(ok.status).toBe(200);
    expect(readFileSync(join(ws, 'data', 'one.bin'), 'utf8')).toBe('small now');
    expect(before.length).toBe(3 * MiB);
    // No staging leftovers next to the workspace.
    expect(readdirNames(join(t.dataDir, 'sessions', id)).filter((n) => n.startsWith('.incoming'))).toEqual(
      [],
    );
  });
});

function readdirNames(dir: string): string[] {
  return readdirSync(dir);
}

/** A tar.gz of in-memory files (made by GNU tar from a scratch folder). */
function execTarGz(files: Record<string, Buffer>): Buffer {
  const dir = tempDir('ash-bundle-');
  try {
    for (const [rel, bytes] of Object.entries(files)) {
      mkdirSync(join(dir, rel, '..'), { recursive: true });
      writeFileSync(join(dir, rel), bytes);
    }
    return execFileSync('tar', ['-czf', '-', '-C', dir, '.'], { maxBuffer: 64 * MiB });
  } finally {
    removeDir(dir);
  }
}
