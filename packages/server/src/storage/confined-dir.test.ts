import {
  mkdirSync,
  readFileSync,
  readdirSync,
  symlinkSync,
  writeFileSync,
  existsSync,
  lstatSync,
} from 'node:fs';
import { join } from 'node:path';
import { removeDir, tempDir } from '@ash-ai/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfinedDir, ConfinementError } from './confined-dir.js';

describe('ConfinedDir', () => {
  let base: string;
  let ws: string;
  let outside: string;
  let dir: ConfinedDir;
  const snapshotOutside = () =>
    readdirSync(outside, { recursive: true, encoding: 'utf8' })
      .sort()
      .map((f) => [f, lstatSync(join(outside, f)).isFile() ? readFileSync(join(outside, f), 'utf8') : 'dir']);

  beforeEach(() => {
    base = tempDir('ash-confined-');
    ws = join(base, 'ws');
    outside = join(base, 'outside');
    mkdirSync(join(ws, 'sub'), { recursive: true });
    mkdirSync(outside);
    mkdirSync(join(base, 'ws-evil'));
    writeFileSync(join(outside, 'secret.txt'), 'secret');
    writeFileSync(join(base, 'ws-evil', 'x.txt'), 'sibling');
    writeFileSync(join(ws, 'sub', 'a.txt'), 'inside');
    symlinkSync(outside, join(ws, 'dir-out'));
    symlinkSync(join(outside, 'secret.txt'), join(ws, 'file-out'));
    symlinkSync('/nonexistent/ash-dangling', join(ws, 'dangling'));
    symlinkSync('../ws-evil', join(ws, 'sibling'));
    symlinkSync('sub', join(ws, 'inside-link'));
    dir = new ConfinedDir(ws);
  });
  afterEach(() => removeDir(base));

  const refused = async (p: Promise<unknown>, reason: string) => {
    const err = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConfinementError);
    expect((err as ConfinementError).reason).toBe(reason);
  };

  it('reads, writes and deletes plain files', async () => {
    const { handle, stats } = await dir.openRead(['sub', 'a.txt']);
    expect(stats.size).toBe(6);
    expect((await handle.readFile()).toString()).toBe('inside');
    await handle.close();
    expect(await dir.writeFile(['new', 'deep', 'b.bin'], Buffer.from([0, 1, 2]))).toBe(3);
    expect(readFileSync(join(ws, 'new', 'deep', 'b.bin'))).toEqual(Buffer.from([0, 1, 2]));
    await dir.remove(['new']);
    expect(existsSync(join(ws, 'new'))).toBe(false);
    await refused(dir.openRead(['nope.txt']), 'missing');
    await refused(dir.openRead(['sub']), 'is_directory');
    await refused(dir.openRead(['sub', 'a.txt', 'x']), 'not_directory');
  });

  it('refuses every symlink for read, write, list and delete, and nothing outside changes', async () => {
    const before = snapshotOutside();
    for (const link of ['dir-out', 'file-out', 'dangling', 'sibling', 'inside-link']) {
      await refused(dir.openRead([link]), 'symlink');
      await refused(dir.openRead([link, 'secret.txt']), 'symlink');
      await refused(dir.writeFile([link], Buffer.from('pwned')), 'symlink');
      await refused(dir.writeFile([link, 'secret.txt'], Buffer.from('pwned')), 'symlink');
      await refused(dir.writeFile([link, 'new.txt'], Buffer.from('pwned')), 'symlink');
      await refused(dir.remove([link]), 'symlink');
      await refused(dir.remove([link, 'secret.txt']), 'symlink');
      await refused(
        (async () => {
          for await (const _ of dir.walk({ from: [link] })) void _;
        })(),
        'symlink',
      );
      await refused(dir.mkdirp([link, 'made']), 'symlink');
    }
    const listed: string[] = [];
    for await (const e of dir.walk()) listed.push(`${e.kind}:${e.path}`);
    expect(listed).toEqual([
      'symlink:dangling',
      'symlink:dir-out',
      'symlink:file-out',
      'symlink:inside-link',
      'symlink:sibling',
      'directory:sub',
      'file:sub/a.txt',
    ]);
    expect(snapshotOutside()).toEqual(before);
    expect(readFileSync(join(base, 'ws-evil', 'x.txt'), 'utf8')).toBe('sibling');
    expect(existsSync('/nonexistent/ash-dangling')).toBe(false);
    // The links themselves are still there (the API never removes what it refuses).
    expect(lstatSync(join(ws, 'file-out')).isSymbolicLink()).toBe(true);
  });

  it('deleting a folder removes links inside it without following them', async () => {
    mkdirSync(join(ws, 'tree'));
    symlinkSync(outside, join(ws, 'tree', 'out'));
    symlinkSync(join(outside, 'secret.txt'), join(ws, 'tree', 'secret'));
    await dir.remove(['tree']);
    expect(existsSync(join(ws, 'tree'))).toBe(false);
    expect(readFileSync(join(outside, 'secret.txt'), 'utf8')).toBe('secret');
  });

  it('overwrites atomically and keeps permission bits', async () => {
    writeFileSync(join(ws, 'run.sh'), 'echo 1\n', { mode: 0o755 });
    await dir.writeFile(['run.sh'], Buffer.from('echo 2\n'));
    expect(readFileSync(join(ws, 'run.sh'), 'utf8')).toBe('echo 2\n');
    expect(lstatSync(join(ws, 'run.sh')).mode & 0o777).toBe(0o755);
    await refused(dir.writeFile(['sub'], Buffer.from('x')), 'is_directory');
    expect(readdirSync(ws).filter((n) => n.startsWith('.ash-tmp'))).toEqual([]);
  });
});
