import { createHash } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { type Manifest, WORKSPACE_DELTA_INDEX } from '@ash-ai/shared';
import { Header } from 'tar';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  DeltaError,
  type SyncRoots,
  applyDelta,
  diffManifests,
  packDelta,
  scanManifest,
} from '../src/index.js';

let base: string;
let src: SyncRoots;
let dst: SyncRoots;
/** A folder outside both trees: nothing may ever appear in or vanish from it. */
let outside: string;

beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'ash-wsync-'));
  src = { workspace: join(base, 'src/ws'), claude: join(base, 'src/claude') };
  dst = { workspace: join(base, 'dst/ws'), claude: join(base, 'dst/claude') };
  outside = join(base, 'outside');
  mkdirSync(src.workspace, { recursive: true });
  mkdirSync(src.claude, { recursive: true });
  mkdirSync(outside);
  writeFileSync(join(outside, 'secret'), 'top secret');
});
afterEach(() => rmSync(base, { recursive: true, force: true }));

const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

/** Syncs src → dst from what dst holds now; returns the counts and the delta's changed paths. */
async function sync(opts: { maxBytes?: number; uid?: number; gid?: number } = {}) {
  const want = await scanManifest(src);
  const have = await scanManifest(dst);
  const diff = diffManifests(have, want);
  const counts = await applyDelta(dst, packDelta(src, want, diff), opts);
  return { counts, diff, want };
}

/** After a sync, dst rescans equal to src and the next diff is empty. */
async function expectInSync() {
  const want = await scanManifest(src);
  const got = await scanManifest(dst);
  expect(got).toEqual(want);
  expect(diffManifests(got, want)).toEqual({ changed: [], deleted: [] });
}

/** A tar built entry by entry with node-tar's header encoder (for deltas a sender never makes). */
function craftTar(
  entries: Array<{
    path: string;
    type?: 'File' | 'Directory' | 'SymbolicLink' | 'Link';
    body?: string;
    linkpath?: string;
  }>,
): Readable {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const body = Buffer.from(e.body ?? '');
    const h = new Header({
      path: e.path,
      type: e.type ?? 'File',
      mode: e.type === 'Directory' ? 0o755 : 0o644,
      size: e.type === 'File' || e.type === undefined ? body.length : 0,
      mtime: new Date(),
      uid: 0,
      gid: 0,
      linkpath: e.linkpath ?? '',
    });
    h.encode();
    blocks.push(h.block as Buffer);
    if (e.type === 'File' || e.type === undefined) {
      blocks.push(body, Buffer.alloc((512 - (body.length % 512)) % 512));
    }
  }
  blocks.push(Buffer.alloc(1024));
  return Readable.from([Buffer.concat(blocks)]);
}

const FILE = 0o100644;
const DIR = 0o040755;
const LINK = 0o120777;
const index = (entries: Manifest, deleted: string[] = []) => ({
  path: WORKSPACE_DELTA_INDEX,
  body: JSON.stringify({ deleted, entries }),
});
const fileEntry = (size: number) => ({ size, mtimeMs: 1_700_000_000_000, mode: FILE });

function buildMixedTree() {
  const ws = src.workspace;
  mkdirSync(join(ws, 'src/lib/deep/deeper'), { recursive: true });
  writeFileSync(join(ws, 'README.md'), '# hello\n');
  writeFileSync(join(ws, 'src/main.ts'), 'console.log(1)\n');
  writeFileSync(join(ws, 'src/lib/deep/deeper/x.bin'), Buffer.alloc(70_000, 7));
  writeFileSync(join(ws, 'empty.txt'), '');
  writeFileSync(join(ws, 'run.sh'), '#!/bin/sh\necho hi\n', { mode: 0o755 });
  chmodSync(join(ws, 'run.sh'), 0o755);
  writeFileSync(join(ws, 'readonly.txt'), 'ro');
  chmodSync(join(ws, 'readonly.txt'), 0o444);
  mkdirSync(join(ws, 'empty dir'));
  mkdirSync(join(ws, 'données été'));
  writeFileSync(join(ws, 'données été/naïve 文件 🎉.txt'), 'unicode ✓');
  writeFileSync(join(ws, 'with space.txt'), 'spaces');
  const long = `${'a'.repeat(90)}/${'b'.repeat(90)}`;
  mkdirSync(join(ws, long), { recursive: true });
  writeFileSync(join(ws, long, `${'c'.repeat(120)}.txt`), 'long path');
  symlinkSync(join(outside, 'secret'), join(ws, 'to-outside'));
  symlinkSync('README.md', join(ws, 'to-readme'));
  symlinkSync('does/not/exist', join(ws, 'dangling'));
  symlinkSync(outside, join(ws, 'outside-dir'));
  // a large file streamed in 1 MiB reads: 5 MiB + an odd tail
  const big = Buffer.alloc(5 * 1024 * 1024 + 123);
  for (let i = 0; i < big.length; i += 4096) big[i] = i % 251;
  writeFileSync(join(ws, 'big.dat'), big);
  mkdirSync(join(src.claude, 'projects/-workspace'), { recursive: true });
  writeFileSync(join(src.claude, 'projects/-workspace/abc.jsonl'), '{"type":"user"}\n');
}

describe('scanManifest', () => {
  it('lists files, folders (empty ones too) and links without following them; a missing root is empty', async () => {
    buildMixedTree();
    const m = await scanManifest(src);
    expect(m['workspace/README.md']).toMatchObject({ size: 8, mode: FILE });
    expect(m['workspace/run.sh']?.mode).toBe(0o100755);
    expect(m['workspace/empty dir']).toMatchObject({ size: 0, mode: DIR });
    expect(m['workspace/to-outside']).toMatchObject({ mode: LINK, link: join(outside, 'secret') });
    expect(m['workspace/outside-dir']?.link).toBe(outside);
    // the linked-to folder is not walked
    expect(Object.keys(m).some((p) => p.startsWith('workspace/outside-dir/'))).toBe(false);
    expect(m['claude/projects/-workspace/abc.jsonl']?.size).toBe(16);
    expect(await scanManifest({ workspace: join(base, 'nope'), claude: join(base, 'nope2') })).toEqual({});
  });
});

describe('diffManifests', () => {
  it('reports new or differing paths sorted and deleted paths deepest first', () => {
    const e = (size: number, mtimeMs = 1, mode = FILE) => ({ size, mtimeMs, mode });
    const have: Manifest = {
      'workspace/same': e(1),
      'workspace/size': e(1),
      'workspace/time': e(1),
      'workspace/mode': e(1),
      'workspace/link': { ...e(3, 1, LINK), link: 'abc' },
      'workspace/gone': e(0, 1, DIR),
      'workspace/gone/a': e(0, 1, DIR),
      'workspace/gone/a/b': e(1),
    };
    const want: Manifest = {
      'workspace/same': e(1),
      'workspace/size': e(2),
      'workspace/time': e(1, 2),
      'workspace/mode': e(1, 1, 0o100755),
      'workspace/link': { ...e(3, 1, LINK), link: 'xyz' },
      'workspace/new': e(5),
    };
    expect(diffManifests(have, want)).toEqual({
      changed: ['workspace/link', 'workspace/mode', 'workspace/new', 'workspace/size', 'workspace/time'],
      deleted: ['workspace/gone/a/b', 'workspace/gone/a', 'workspace/gone'],
    });
  });
});

describe('packDelta + applyDelta', () => {
  it('round-trips a mixed tree into missing roots: equal manifests, equal bytes, empty second diff', async () => {
    buildMixedTree();
    const { counts, want } = await sync();
    expect(counts.files).toBe(Object.keys(want).length);
    expect(counts.deleted).toBe(0);
    await expectInSync();
    for (const [p, e] of Object.entries(want)) {
      if ((e.mode & 0o170000) !== 0o100000) continue;
      const rel = p.slice('workspace/'.length);
      if (p.startsWith('workspace/'))
        expect(sha(join(dst.workspace, rel))).toBe(sha(join(src.workspace, rel)));
    }
    expect(readlinkSync(join(dst.workspace, 'to-outside'))).toBe(join(outside, 'secret'));
    expect(lstatSync(join(dst.workspace, 'outside-dir')).isSymbolicLink()).toBe(true);
    expect(readFileSync(join(dst.claude, 'projects/-workspace/abc.jsonl'), 'utf8')).toBe('{"type":"user"}\n');
    expect(readdirSync(outside)).toEqual(['secret']);
    // nothing left behind (no temporary files)
    const second = await sync();
    expect(second.diff).toEqual({ changed: [], deleted: [] });
    expect(second.counts).toEqual({ files: 0, deleted: 0, bytes: 0 });
  });

  it('sends only what changed: modify, delete (a file and a folder with contents), add', async () => {
    buildMixedTree();
    await sync();
    const ws = src.workspace;
    writeFileSync(join(ws, 'src/main.ts'), 'console.log(2) // changed\n');
    rmSync(join(ws, 'README.md'));
    rmSync(join(ws, 'src/lib'), { recursive: true });
    mkdirSync(join(ws, 'new/nested'), { recursive: true });
    writeFileSync(join(ws, 'new/nested/file.txt'), 'added');
    const { diff, counts } = await sync();
    expect(diff.deleted).toEqual([
      'workspace/src/lib/deep/deeper/x.bin',
      'workspace/src/lib/deep/deeper',
      'workspace/src/lib/deep',
      'workspace/src/lib',
      'workspace/README.md',
    ]);
    expect(diff.changed).toEqual([
      'workspace/new',
      'workspace/new/nested',
      'workspace/new/nested/file.txt',
      'workspace/src',
      'workspace/src/main.ts',
    ]);
    expect(counts.bytes).toBe(26 + 5);
    expect(existsSync(join(dst.workspace, 'src/lib'))).toBe(false);
    expect(readFileSync(join(dst.workspace, 'src/main.ts'), 'utf8')).toBe('console.log(2) // changed\n');
    await expectInSync();
  });

  it('handles type changes: file↔folder, file↔link, link→folder', async () => {
    const ws = src.workspace;
    writeFileSync(join(ws, 'f2d'), 'file');
    mkdirSync(join(ws, 'd2f/sub'), { recursive: true });
    writeFileSync(join(ws, 'd2f/sub/x'), 'x');
    writeFileSync(join(ws, 'f2l'), 'file');
    symlinkSync(outside, join(ws, 'l2f'));
    symlinkSync(outside, join(ws, 'l2d'));
    await sync();
    await expectInSync();
    rmSync(join(ws, 'f2d'));
    mkdirSync(join(ws, 'f2d'));
    writeFileSync(join(ws, 'f2d/inner'), 'now a folder');
    rmSync(join(ws, 'd2f'), { recursive: true });
    writeFileSync(join(ws, 'd2f'), 'now a file');
    rmSync(join(ws, 'f2l'));
    symlinkSync('f2d/inner', join(ws, 'f2l'));
    rmSync(join(ws, 'l2f'));
    writeFileSync(join(ws, 'l2f'), 'now a file');
    rmSync(join(ws, 'l2d'));
    mkdirSync(join(ws, 'l2d'));
    writeFileSync(join(ws, 'l2d/secret'), 'mine');
    await sync();
    await expectInSync();
    expect(readFileSync(join(dst.workspace, 'd2f'), 'utf8')).toBe('now a file');
    expect(readFileSync(join(dst.workspace, 'f2l'), 'utf8')).toBe('now a folder');
    expect(lstatSync(join(dst.workspace, 'l2d')).isDirectory()).toBe(true);
    // writing l2d/secret replaced the link; the file it used to point at is untouched
    expect(readFileSync(join(outside, 'secret'), 'utf8')).toBe('top secret');
  });

  it('sets exact mtimes (µs, fractional, old) and modes, also of folders a write changed', async () => {
    const ws = src.workspace;
    mkdirSync(join(ws, 'd'));
    writeFileSync(join(ws, 'd/f'), 'x');
    utimesSync(join(ws, 'd/f'), 1_000_000_000.123456, 1_234_567_890.987654);
    utimesSync(join(ws, 'd'), 1_000_000_000, 946_684_800.000001);
    writeFileSync(join(ws, 'now'), 'written just now, ns precision');
    chmodSync(join(ws, 'd'), 0o700);
    await sync();
    const us = (root: string, p: string) => statSync(join(root, p), { bigint: true }).mtimeNs / 1000n;
    expect(us(src.workspace, 'd/f') / 1000n).toBe(1_234_567_890_987n);
    expect(us(dst.workspace, 'd/f')).toBe(us(src.workspace, 'd/f'));
    expect(us(dst.workspace, 'd')).toBe(us(src.workspace, 'd'));
    expect(us(dst.workspace, 'now')).toBe(us(src.workspace, 'now'));
    expect(statSync(join(dst.workspace, 'd')).mode & 0o777).toBe(0o700);
    await expectInSync();
    // A file added in an unchanged receiver folder leaves that folder's times as the sender's.
    writeFileSync(join(ws, 'd/g'), 'y');
    utimesSync(join(ws, 'd'), 1_000_000_000, 946_684_800.000001);
    const { diff } = await sync();
    expect(diff.changed).toEqual(['workspace/d/g']);
    await expectInSync();
  });

  it('streams a large file and chowns what it writes when asked', async () => {
    const big = Buffer.alloc(24 * 1024 * 1024 + 17, 3);
    writeFileSync(join(src.workspace, 'large.bin'), big);
    mkdirSync(join(src.workspace, 'dir'));
    symlinkSync('large.bin', join(src.workspace, 'dir/ln'));
    const root = process.getuid?.() === 0;
    const { counts } = await sync(root ? { uid: 4321, gid: 4322 } : {});
    expect(counts.bytes).toBe(big.length);
    expect(sha(join(dst.workspace, 'large.bin'))).toBe(sha(join(src.workspace, 'large.bin')));
    if (root) {
      for (const p of ['large.bin', 'dir', 'dir/ln', '.']) {
        const st = lstatSync(join(dst.workspace, p));
        expect([st.uid, st.gid]).toEqual([4321, 4322]);
      }
    }
    await expectInSync();
  });

  it('refuses more than maxBytes and applies within it', async () => {
    writeFileSync(join(src.workspace, 'a'), Buffer.alloc(300_000, 1));
    await expect(sync({ maxBytes: 100_000 })).rejects.toThrow(DeltaError);
    await expect(sync({ maxBytes: 100_000 })).rejects.toThrow(/100000-byte limit/);
    const { counts } = await sync({ maxBytes: 400_000 });
    expect(counts.bytes).toBe(300_000);
    await expectInSync();
  });

  it('never reads through a link swapped in after the scan (file or parent folder)', async () => {
    const ws = src.workspace;
    writeFileSync(join(ws, 'f'), 'innocent');
    mkdirSync(join(ws, 'd'));
    writeFileSync(join(ws, 'd/secret'), 'innocent too');
    writeFileSync(join(ws, 'gone'), 'vanishes');
    const want = await scanManifest(src);
    const diff = diffManifests({}, want);
    rmSync(join(ws, 'f'));
    symlinkSync(join(outside, 'secret'), join(ws, 'f'));
    renameSync(join(ws, 'd'), join(ws, 'd-old'));
    symlinkSync(outside, join(ws, 'd'));
    rmSync(join(ws, 'gone'));
    await applyDelta(dst, packDelta(src, want, diff));
    for (const p of ['f', 'd/secret', 'gone']) expect(existsSync(join(dst.workspace, p))).toBe(false);
    expect(lstatSync(join(dst.workspace, 'd')).isDirectory()).toBe(true);
  });
});

describe('applyDelta refuses unsafe deltas', () => {
  const refuse = async (tar: Readable, what: RegExp) => {
    const p = applyDelta(dst, tar);
    await expect(p).rejects.toBeInstanceOf(DeltaError);
    await expect(p).rejects.toThrow(what);
    expect(readdirSync(outside)).toEqual(['secret']);
    expect(readFileSync(join(outside, 'secret'), 'utf8')).toBe('top secret');
  };

  it('path traversal, absolute paths, other prefixes, roots themselves', async () => {
    for (const [path, what] of [
      ['workspace/../../outside/pwned', /'\.\.'/],
      ['workspace/a/../../../outside/pwned', /'\.\.'/],
      [`${outside}/pwned`, /absolute/],
      ['other/pwned', /outside workspace\/ and claude\//],
      ['../outside/pwned', /outside workspace\/ and claude\//],
      ['workspace', /root itself/],
      ['workspace//x', /not normalized/],
    ] as const) {
      await refuse(craftTar([index({ [path]: fileEntry(5) }), { path, body: 'pwned' }]), what);
      await refuse(craftTar([index({}, [path])]), what);
    }
    // an index that is fine, then a tar entry with a bad path it does not list
    await refuse(craftTar([index({}), { path: 'workspace/../../outside/pwned', body: 'pwned' }]), /'\.\.'/);
  });

  it('writing or deleting through an existing link, and a link entry followed by a file below it', async () => {
    mkdirSync(dst.workspace, { recursive: true });
    symlinkSync(outside, join(dst.workspace, 'evil'));
    await refuse(
      craftTar([
        index({ 'workspace/evil/pwned': fileEntry(5) }),
        { path: 'workspace/evil/pwned', body: 'pwned' },
      ]),
      /below a symbolic link/,
    );
    await refuse(craftTar([index({}, ['workspace/evil/secret'])]), /below a symbolic link/);
    await refuse(
      craftTar([
        index({
          'workspace/l': { size: 0, mtimeMs: 1, mode: LINK, link: outside },
          'workspace/l/pwned': fileEntry(5),
        }),
        { path: 'workspace/l', type: 'SymbolicLink', linkpath: outside },
        { path: 'workspace/l/pwned', body: 'pwned' },
      ]),
      /below a symbolic link/,
    );
    // a link entry lands as a link (inert), never as a write through it
    await applyDelta(
      dst,
      craftTar([
        index({ 'workspace/ok-link': { size: 0, mtimeMs: 1, mode: LINK, link: join(outside, 'secret') } }),
        { path: 'workspace/ok-link', type: 'SymbolicLink', linkpath: join(outside, 'secret') },
      ]),
    );
    expect(readlinkSync(join(dst.workspace, 'ok-link'))).toBe(join(outside, 'secret'));
  });

  it('entries missing from the index or of another type, duplicates, hard links, no index, not a tar', async () => {
    await refuse(craftTar([index({}), { path: 'workspace/x', body: 'x' }]), /missing from the delta index/);
    await refuse(
      craftTar([
        index({ 'workspace/x': { size: 0, mtimeMs: 1, mode: DIR } }),
        { path: 'workspace/x', body: 'x' },
      ]),
      /not what its index entry says/,
    );
    await refuse(
      craftTar([
        index({ 'workspace/x': fileEntry(1) }),
        { path: 'workspace/x', body: 'x' },
        { path: 'workspace/x', body: 'y' },
      ]),
      /appears twice/,
    );
    await refuse(
      craftTar([
        index({ 'workspace/h': fileEntry(0) }),
        { path: 'workspace/h', type: 'Link', linkpath: join(outside, 'secret') },
      ]),
      /not what its index entry says/,
    );
    await refuse(craftTar([{ path: 'workspace/x', body: 'x' }]), /does not start with/);
    await refuse(craftTar([{ path: WORKSPACE_DELTA_INDEX, body: '{not json' }]), /not valid JSON/);
    await refuse(craftTar([]), /tar|empty/);
    await refuse(Readable.from([]), /tar|empty/);
    await refuse(Readable.from([Buffer.from('this is not a tar archive at all '.repeat(40))]), /tar|empty/);
    // a truncated delta (the stream ends mid-file)
    writeFileSync(join(src.workspace, 'a'), Buffer.alloc(100_000, 1));
    const want = await scanManifest(src);
    const chunks: Buffer[] = [];
    for await (const c of packDelta(src, want, diffManifests({}, want))) chunks.push(c as Buffer);
    const whole = Buffer.concat(chunks);
    await refuse(Readable.from([whole.subarray(0, 50_000)]), /tar|read/);
  });
});
