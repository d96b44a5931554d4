import { crc32, deflateSync, gzipSync } from 'node:zlib';
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

/** Every byte value 0..255 once, in order. */
export const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

/** A valid 2x2 RGBA PNG, built from its chunks (signature, IHDR, IDAT, IEND with CRCs). */
export function tinyPng(): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(td) >>> 0);
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(2, 0);
  ihdr.writeUInt32BE(2, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // RGBA
  const rows = Buffer.from([0, 255, 0, 0, 255, 0, 255, 0, 255, 0, 0, 0, 255, 255, 255, 255, 255, 255]);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(rows)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
