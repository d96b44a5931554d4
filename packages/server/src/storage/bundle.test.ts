import {
  closeSync,
  existsSync,
  ftruncateSync,
  lstatSync,
  openSync,
  readSync,
  statSync,
  writeSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  readdirSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { removeDir, tempDir, ALL_BYTES, tinyPng } from '@ash-ai/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { rawTarGz, zeroBombTarGz } from '../../test/tar-fixtures.js';
import {
  BUNDLE_EXCLUDES,
  BundleError,
  extractTarGz,
  linkStaysInside,
  mergeInto,
  packTarGz,
} from './bundle.js';
import { ConfinedDir, ConfinementError } from './confined-dir.js';
import { readAll } from './object-store.js';

const LIMITS = { maxCompressedBytes: 10 * 1024 * 1024, maxBytes: 10 * 1024 * 1024, maxEntries: 1000 };

describe('workspace bundles', () => {
  let base: string;
  beforeEach(() => {
    base = tempDir('ash-bundle-');
  });
  afterEach(() => removeDir(base));

  it('a sparse file comes back sparse: zero blocks become holes, data and length are exact', async () => {
    const src = join(base, 'src');
    mkdirSync(src, { recursive: true });
    const MiB = 1024 * 1024;
    const sparse = join(src, 'disk.img');
    // 64 MiB apparent: a few bytes at 1 MiB + 3, an unaligned tail at the very end.
    const fd = openSync(sparse, 'w');
    ftruncateSync(fd, 64 * MiB);
    writeSync(fd, ALL_BYTES, 0, ALL_BYTES.length, MiB + 3);
    writeSync(fd, Buffer.from('tail'), 0, 4, 64 * MiB - 4);
    closeSync(fd);
    writeFileSync(join(src, 'plain.txt'), 'plain\n');
    const dest = join(base, 'dest');
    mkdirSync(dest);
    const big = { maxCompressedBytes: 100 * MiB, maxBytes: 100 * MiB, maxEntries: 10 };
    await extractTarGz(
      packTarGz([{ dir: new ConfinedDir(src), prefix: '', exclude: new Set(), links: 'all' }]),
      dest,
      big,
      { links: 'all' },
    );
    const out = join(dest, 'disk.img');
    const st = statSync(out);
    expect(st.size).toBe(64 * MiB);
    expect(st.blocks * 512).toBeLessThan(MiB);
    const fdo = openSync(out, 'r');
    const buf = Buffer.alloc(ALL_BYTES.length + 6);
    readSync(fdo, buf, 0, buf.length, MiB);
    expect(buf.equals(Buffer.concat([Buffer.alloc(3), ALL_BYTES, Buffer.alloc(3)]))).toBe(true);
    const tail = Buffer.alloc(4);
    readSync(fdo, tail, 0, 4, 64 * MiB - 4);
    closeSync(fdo);
    expect(tail.toString()).toBe('tail');
    expect(readFileSync(join(dest, 'plain.txt'), 'utf8')).toBe('plain\n');
  });

  it('round-trips files byte-identically, keeps inside links and modes, leaves out excluded folders', async () => {
    const src = join(base, 'src');
    mkdirSync(join(src, 'docs', 'deep'), { recursive: true });
    mkdirSync(join(src, 'node_modules', 'x'), { recursive: true });
    mkdirSync(join(src, '.git'), { recursive: true });
    writeFileSync(join(src, 'node_modules', 'x', 'i.js'), 'dep');
    writeFileSync(join(src, '.git', 'HEAD'), 'ref');
    writeFileSync(join(src, 'all.bin'), ALL_BYTES);
    writeFileSync(join(src, 'pic.png'), tinyPng());
    writeFileSync(join(src, 'docs', 'deep', 'résumé – 日本語.txt'), 'unicode');
    writeFileSync(join(src, 'run.sh'), '#!/bin/sh\n', { mode: 0o755 });
    writeFileSync(join(src, `${'long-name-'.repeat(20)}.txt`), 'long');
    symlinkSync('docs/deep', join(src, 'shortcut'));
    symlinkSync('/etc/passwd', join(src, 'out-link'));
    const gz = await readAll(
      packTarGz([{ dir: new ConfinedDir(src), prefix: '', exclude: BUNDLE_EXCLUDES, links: 'inside' }]),
    );
    const dest = join(base, 'dest');
    mkdirSync(dest);
    const r = await extractTarGz(Readable.from([gz]), dest, LIMITS, { links: 'inside' });
    expect(r.files).toBe(5);
    expect(readFileSync(join(dest, 'all.bin'))).toEqual(ALL_BYTES);
    expect(readFileSync(join(dest, 'pic.png'))).toEqual(tinyPng());
    expect(readFileSync(join(dest, 'docs', 'deep', 'résumé – 日本語.txt'), 'utf8')).toBe('unicode');
    expect(readFileSync(join(dest, `${'long-name-'.repeat(20)}.txt`), 'utf8')).toBe('long');
    expect(lstatSync(join(dest, 'run.sh')).mode & 0o777).toBe(0o755);
    expect(readlinkSync(join(dest, 'shortcut'))).toBe('docs/deep');
    expect(existsSync(join(dest, 'out-link'))).toBe(false);
    expect(existsSync(join(dest, 'node_modules'))).toBe(false);
    expect(existsSync(join(dest, '.git'))).toBe(false);
  });

  it('knows which link targets stay inside', () => {
    expect(linkStaysInside('a/b', 'c')).toBe(true);
    expect(linkStaysInside('a/b', '../c')).toBe(true);
    expect(linkStaysInside('a/b', '../../c')).toBe(false);
    expect(linkStaysInside('a', '/etc/passwd')).toBe(false);
    expect(linkStaysInside('a', '..')).toBe(false);
  });

  const malicious: Array<[string, Buffer, string]> = [
    ['an absolute name', rawTarGz([{ path: '/tmp/ash-abs-escape.txt', body: 'x' }]), 'absolute'],
    ['a parent reference', rawTarGz([{ path: '../escape.txt', body: 'x' }]), 'parent'],
    ['a nested parent reference', rawTarGz([{ path: 'a/../../escape.txt', body: 'x' }]), 'parent'],
    [
      'a link to an absolute path',
      rawTarGz([{ path: 'l', type: 'SymbolicLink', linkpath: '/etc' }]),
      'outside',
    ],
    [
      'a link that climbs out',
      rawTarGz([{ path: 'a/l', type: 'SymbolicLink', linkpath: '../../..' }]),
      'outside',
    ],
    [
      'a file written through a link of the archive',
      rawTarGz([
        { path: 'l', type: 'SymbolicLink', linkpath: 'sub' },
        { path: 'l/x.txt', body: 'x' },
      ]),
      'below a link',
    ],
    ['a hard link', rawTarGz([{ path: 'h', type: 'Link', linkpath: '/etc/passwd' }]), 'hard link'],
    ['a device', rawTarGz([{ path: 'null', type: 'CharacterDevice' }]), 'CharacterDevice'],
    ['a FIFO', rawTarGz([{ path: 'fifo', type: 'FIFO' }]), 'FIFO'],
    ['not gzip', Buffer.from('plain text, not an archive'), 'gzip'],
    ['gzip of garbage', gzipSync(Buffer.alloc(700, 7)), 'malformed'],
  ];
  for (const [what, archive, message] of malicious) {
    it(`rejects ${what} and writes nothing outside`, async () => {
      const dest = join(base, 'dest');
      mkdirSync(dest);
      const err = await extractTarGz(Readable.from([archive]), dest, LIMITS, { links: 'inside' }).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(BundleError);
      expect((err as BundleError).kind).toBe('invalid');
      expect((err as Error).message).toContain(message);
      expect(readdirSync(base)).toEqual(['dest']);
      expect(existsSync('/tmp/ash-abs-escape.txt')).toBe(false);
    });
  }

  it('stops a decompression bomb while streaming, and too many entries', async () => {
    const bomb = zeroBombTarGz(50 * 1024 * 1024);
    expect(bomb.length).toBeLessThan(200 * 1024);
    const dest = join(base, 'dest');
    mkdirSync(dest);
    const err = await extractTarGz(
      Readable.from([bomb]),
      dest,
      { ...LIMITS, maxBytes: 1024 * 1024 },
      {
        links: 'inside',
      },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BundleError);
    expect((err as BundleError).kind).toBe('too_large');
    const many = rawTarGz(Array.from({ length: 20 }, (_, i) => ({ path: `f${i}`, body: 'x' })));
    const err2 = await extractTarGz(
      Readable.from([many]),
      join(base, 'dest2'),
      { ...LIMITS, maxEntries: 10 },
      {
        links: 'inside',
      },
    ).catch((e: unknown) => e);
    expect((err2 as BundleError).kind).toBe('too_large');
    const err3 = await extractTarGz(
      Readable.from([bomb]),
      join(base, 'dest3'),
      { ...LIMITS, maxCompressedBytes: 1000 },
      {
        links: 'inside',
      },
    ).catch((e: unknown) => e);
    expect((err3 as BundleError).kind).toBe('too_large');
  });

  it('merges into a workspace but refuses to go through its links', async () => {
    const ws = join(base, 'ws');
    const outside = join(base, 'outside');
    mkdirSync(ws);
    mkdirSync(outside);
    symlinkSync(outside, join(ws, 'data'));
    writeFileSync(join(ws, 'keep.txt'), 'old');
    const staged = join(base, 'staged');
    mkdirSync(staged);
    const ok = await extractTarGz(
      Readable.from([
        rawTarGz([
          { path: 'keep.txt', body: 'new' },
          { path: 'more/x.txt', body: 'x' },
        ]),
      ]),
      staged,
      LIMITS,
      { links: 'inside' },
    );
    await mergeInto(staged, ok, new ConfinedDir(ws));
    expect(readFileSync(join(ws, 'keep.txt'), 'utf8')).toBe('new');
    expect(readFileSync(join(ws, 'more', 'x.txt'), 'utf8')).toBe('x');
    const staged2 = join(base, 'staged2');
    mkdirSync(staged2);
    const bad = await extractTarGz(
      Readable.from([
        rawTarGz([
          { path: 'a.txt', body: 'a' },
          { path: 'data/evil.txt', body: 'x' },
        ]),
      ]),
      staged2,
      LIMITS,
      { links: 'inside' },
    );
    const err = await mergeInto(staged2, bad, new ConfinedDir(ws)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfinementError);
    expect(readdirSync(outside)).toEqual([]);
    expect(existsSync(join(ws, 'a.txt'))).toBe(false);
  });
  describe('links that stay inside the workspace (QA #7)', () => {
    const archive = () =>
      rawTarGz([
        { path: 'link', type: 'SymbolicLink', linkpath: 'sub/file.txt' },
        { path: 'sub/file.txt', body: 'inside' },
        { path: 'sub/up', type: 'SymbolicLink', linkpath: '../top.txt' },
        { path: 'sub/dirlink', type: 'SymbolicLink', linkpath: './' },
        { path: 'top.txt', body: 'top' },
      ]);

    it('extracts them (a link may come before its target) and merges them into a workspace', async () => {
      const staged = join(base, 'staged');
      mkdirSync(staged);
      const r = await extractTarGz(Readable.from([archive()]), staged, LIMITS, { links: 'inside' });
      expect(readlinkSync(join(staged, 'link'))).toBe('sub/file.txt');
      const ws = join(base, 'ws');
      mkdirSync(ws);
      await mergeInto(staged, r, new ConfinedDir(ws));
      expect(readlinkSync(join(ws, 'link'))).toBe('sub/file.txt');
      expect(readFileSync(join(ws, 'link'), 'utf8')).toBe('inside');
      expect(readFileSync(join(ws, 'sub', 'up'), 'utf8')).toBe('top');
      expect(readlinkSync(join(ws, 'sub', 'dirlink'))).toBe('./');
    });

    it('restores over the same links already in the workspace (a bundle of this very workspace)', async () => {
      const ws = join(base, 'ws');
      mkdirSync(join(ws, 'sub'), { recursive: true });
      writeFileSync(join(ws, 'sub', 'file.txt'), 'old');
      writeFileSync(join(ws, 'other.txt'), 'other');
      symlinkSync('other.txt', join(ws, 'link'));
      symlinkSync('../top.txt', join(ws, 'sub', 'up'));
      const staged = join(base, 'staged');
      mkdirSync(staged);
      const r = await extractTarGz(Readable.from([archive()]), staged, LIMITS, { links: 'inside' });
      await mergeInto(staged, r, new ConfinedDir(ws));
      expect(readlinkSync(join(ws, 'link'))).toBe('sub/file.txt');
      expect(readFileSync(join(ws, 'link'), 'utf8')).toBe('inside');
      expect(readFileSync(join(ws, 'other.txt'), 'utf8')).toBe('other');
      expect(readFileSync(join(ws, 'sub', 'up'), 'utf8')).toBe('top');
    });

    it('round-trips them through a bundle and a snapshot archive', async () => {
      const src = join(base, 'src');
      mkdirSync(join(src, 'sub'), { recursive: true });
      writeFileSync(join(src, 'sub', 'file.txt'), 'inside');
      symlinkSync('sub/file.txt', join(src, 'link'));
      for (const [links, prefix] of [
        ['inside', ''],
        ['all', 'workspace'],
      ] as const) {
        const gz = await readAll(
          packTarGz([{ dir: new ConfinedDir(src), prefix, exclude: new Set(), links }]),
        );
        const dest = join(base, `dest-${links}`);
        mkdirSync(dest);
        await extractTarGz(Readable.from([gz]), dest, LIMITS, { links });
        const root = prefix ? join(dest, prefix) : dest;
        expect(readlinkSync(join(root, 'link'))).toBe('sub/file.txt');
        expect(readFileSync(join(root, 'link'), 'utf8')).toBe('inside');
      }
    });

    it('still refuses a workspace link that is not replaced by one of the bundle', async () => {
      const ws = join(base, 'ws');
      const outside = join(base, 'outside');
      mkdirSync(ws);
      mkdirSync(outside);
      symlinkSync(outside, join(ws, 'sub'));
      const staged = join(base, 'staged');
      mkdirSync(staged);
      const r = await extractTarGz(Readable.from([archive()]), staged, LIMITS, { links: 'inside' });
      const err = await mergeInto(staged, r, new ConfinedDir(ws)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConfinementError);
      expect(readdirSync(outside)).toEqual([]);
      expect(existsSync(join(ws, 'link'))).toBe(false);
    });
  });
});
