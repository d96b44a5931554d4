import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { assertValidKey, type ObjectInfo, type ObjectStore, StorageError } from './object-store.js';

/**
 * Object storage on the local disk: `<root>/<key>`. A put writes a temporary file, fsyncs it and
 * renames it into place, so readers see the old object or the new one, never a partial one.
 * The default backend (root `<data dir>/storage`); it survives restarts but not the loss of the disk.
 */
export class LocalObjectStore implements ObjectStore {
  readonly kind = 'local' as const;
  private readonly tmp: string;

  constructor(private readonly root: string) {
    this.tmp = join(root, '.tmp');
  }

  async put(key: string, body: Buffer | Readable): Promise<{ size: number }> {
    assertValidKey(key);
    const dest = join(this.root, key);
    const temp = join(this.tmp, randomUUID());
    try {
      await mkdir(this.tmp, { recursive: true });
      await mkdir(dirname(dest), { recursive: true });
      const source = Buffer.isBuffer(body) ? Readable.from([body]) : body;
      await pipeline(source, createWriteStream(temp, { flags: 'wx', mode: 0o600 }));
      const fh = await open(temp, 'r');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
      const { size } = await stat(temp);
      await rename(temp, dest);
      return { size };
    } catch (err) {
      await rm(temp, { force: true }).catch(() => undefined);
      throw new StorageError(`could not store ${key}: ${(err as Error).message}`, { cause: err });
    }
  }

  async get(key: string): Promise<Readable | undefined> {
    assertValidKey(key);
    const path = join(this.root, key);
    try {
      // Open first so a missing object is known before the stream is handed out.
      const fh = await open(path, 'r');
      return fh.createReadStream();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new StorageError(`could not read ${key}: ${(err as Error).message}`, { cause: err });
    }
  }

  async exists(key: string): Promise<boolean> {
    assertValidKey(key);
    try {
      return (await stat(join(this.root, key))).isFile();
    } catch {
      return false;
    }
  }

  async delete(key: string): Promise<void> {
    assertValidKey(key);
    try {
      await unlink(join(this.root, key));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
        throw new StorageError(`could not delete ${key}: ${(err as Error).message}`, { cause: err });
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    // Walk the deepest folder the prefix names fully, then filter by the prefix.
    const cut = prefix.lastIndexOf('/');
    const base = cut >= 0 ? prefix.slice(0, cut) : '';
    if (base) assertValidKey(base);
    const out: ObjectInfo[] = [];
    const walk = async (rel: string): Promise<void> => {
      let entries: import('node:fs').Dirent[];
      try {
        entries = await readdir(join(this.root, rel), { withFileTypes: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw new StorageError(`could not list ${prefix}: ${(err as Error).message}`, { cause: err });
      }
      for (const e of entries) {
        const key = rel ? `${rel}/${e.name}` : e.name;
        if (!rel && e.name === '.tmp') continue;
        if (e.isDirectory()) {
          if (key.startsWith(prefix) || prefix.startsWith(`${key}/`)) await walk(key);
        } else if (e.isFile() && key.startsWith(prefix)) {
          const st = await stat(join(this.root, key));
          out.push({ key, size: st.size, lastModified: st.mtime.toISOString() });
        }
      }
    };
    await walk(base);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async check(): Promise<void> {
    try {
      await mkdir(this.tmp, { recursive: true });
    } catch (err) {
      throw new StorageError(`the storage folder is not writable: ${(err as Error).message}`, { cause: err });
    }
  }

  async close(): Promise<void> {}
}
