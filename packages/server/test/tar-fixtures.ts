import { gzipSync } from 'node:zlib';
import { Header } from 'tar';

/** One hand-made tar entry (for malicious-archive tests: any name, any type). */
export interface RawEntry {
  path: string;
  type?: 'File' | 'Directory' | 'SymbolicLink' | 'Link' | 'CharacterDevice' | 'FIFO';
  body?: Buffer | string;
  linkpath?: string;
  mode?: number;
}

/** Builds a tar.gz exactly as described, with no sanitising of names or link targets. */
export function rawTarGz(entries: RawEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const body = e.body === undefined ? Buffer.alloc(0) : Buffer.from(e.body);
    const h = new Header({
      path: e.path,
      type: e.type ?? 'File',
      mode: e.mode ?? (e.type === 'Directory' ? 0o755 : 0o644),
      size: body.length,
      mtime: new Date(),
      uid: 0,
      gid: 0,
      linkpath: e.linkpath ?? '',
      uname: '',
      gname: '',
      devmaj: 1,
      devmin: 3,
    });
    h.encode();
    blocks.push(h.block!, body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks));
}

/** A tar.gz holding one file of `size` zero bytes: tiny compressed, huge extracted. */
export function zeroBombTarGz(size: number): Buffer {
  const h = new Header({
    path: 'zeros.bin',
    type: 'File',
    mode: 0o644,
    size,
    mtime: new Date(),
    uid: 0,
    gid: 0,
  });
  h.encode();
  const tar = Buffer.concat([
    h.block!,
    Buffer.alloc(size),
    Buffer.alloc(((512 - (size % 512)) % 512) + 1024),
  ]);
  return gzipSync(tar, { level: 9 });
}
