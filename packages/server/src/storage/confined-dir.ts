import { randomUUID } from 'node:crypto';
import { type BigIntStats, constants as C, lstatSync, type Stats } from 'node:fs';
import {
  type FileHandle,
  lstat,
  mkdir,
  open,
  readdir,
  readlink,
  rename,
  rmdir,
  symlink,
  unlink,
  lchown,
  lutimes,
} from 'node:fs/promises';
import type { Readable } from 'node:stream';

/** Why an operation was refused. */
export type ConfinementReason =
  | 'missing'
  | 'symlink'
  | 'not_directory'
  | 'is_directory'
  | 'not_file'
  | 'too_deep';

/**
 * An operation would leave the tree, go through a symbolic link, or found the wrong kind of
 * entry. `path` is the relative path concerned (never an absolute host path).
 */
export class ConfinementError extends Error {
  constructor(
    readonly reason: ConfinementReason,
    readonly path: string,
  ) {
    super(`${path}: ${reason}`);
    this.name = 'ConfinementError';
  }
}

/** An entry seen while walking. */
export interface WalkEntry<S extends Stats | BigIntStats = Stats> {
  /** Relative `/`-separated path. */
  path: string;
  kind: 'file' | 'directory' | 'symlink';
  stats: S;
}

/** Options of {@link ConfinedDir.walk}. */
export interface WalkOptions {
  /** Folder to start in (relative; default the root). */
  from?: string[];
  /** Return false to neither report nor descend into an entry. */
  include?: (name: string, relPath: string, kind: WalkEntry['kind']) => boolean;
  maxDepth?: number;
  /** Report `BigIntStats` (nanosecond times). */
  bigint?: boolean;
}

const DIR_FLAGS = C.O_RDONLY | C.O_DIRECTORY | C.O_NOFOLLOW;
const MAX_DEPTH = 128;
const LSTAT_BATCH = 64;

const HOLE = 4096;
const ZEROS = Buffer.alloc(HOLE);

/**
 * Writes `buf` at `pos` leaving the all-zero parts of 4 KiB blocks unwritten (the file is new:
 * unwritten ranges read as zeros; the caller truncates to the final length).
 */
async function writeSkippingZeros(fh: FileHandle, buf: Buffer, pos: number): Promise<void> {
  let runStart = 0;
  let i = 0;
  while (i < buf.length) {
    const end = Math.min(buf.length, i + (HOLE - ((pos + i) % HOLE)));
    if (buf.subarray(i, end).equals(ZEROS.subarray(0, end - i))) {
      if (i > runStart) await writeFully(fh, buf.subarray(runStart, i), pos + runStart);
      runStart = end;
    }
    i = end;
  }
  if (buf.length > runStart) await writeFully(fh, buf.subarray(runStart), pos + runStart);
}

async function writeFully(fh: FileHandle, buf: Buffer, position: number): Promise<void> {
  let off = 0;
  while (off < buf.length) {
    const { bytesWritten } = await fh.write(buf, off, buf.length - off, position + off);
    off += bytesWritten;
  }
}

/** `openat()` without native code: a path that resolves `name` inside the open directory `fd`. */
const at = (fd: number, name?: string) =>
  name === undefined ? `/proc/self/fd/${fd}` : `/proc/self/fd/${fd}/${name}`;

const code = (err: unknown) => (err as NodeJS.ErrnoException)?.code;

/**
 * A directory tree that file operations cannot leave, even while an untrusted process (the agent)
 * changes it concurrently.
 *
 * Every path component is opened relative to its already-open parent directory, with
 * `O_NOFOLLOW`, through `/proc/self/fd/<fd>/<name>` (the Linux `openat(2)` semantics, race-free):
 * a symbolic link anywhere on the path — existing, dangling, or swapped in between two steps — is
 * refused, never followed. Writes go to a temporary name in the verified folder and are renamed
 * into place; ownership is handed to the sandbox user with `fchown`/`lchown` on what was created,
 * never by path. Paths are the segments of an already validated relative path (see
 * `safeRelativePath`): no empty, `.` or `..` segments.
 *
 * Linux only (needs `/proc`).
 */
export class ConfinedDir {
  constructor(
    readonly root: string,
    private readonly owner?: { uid: number; gid: number },
  ) {}

  /**
   * Opens the directory at `segments` (every component checked).
   * @param create make missing folders (owned by the sandbox user).
   * @throws ConfinementError `missing`, `symlink`, `not_directory`.
   */
  async openDir(segments: string[], create = false): Promise<FileHandle> {
    let cur: FileHandle;
    try {
      cur = await open(this.root, DIR_FLAGS);
    } catch (err) {
      throw new ConfinementError(code(err) === 'ENOENT' ? 'missing' : 'not_directory', '.');
    }
    for (let i = 0; i < segments.length; i++) {
      const seg = segments[i]!;
      const rel = segments.slice(0, i + 1).join('/');
      let next: FileHandle | undefined;
      try {
        next = await open(at(cur.fd, seg), DIR_FLAGS);
      } catch (err) {
        if (code(err) === 'ENOENT' && create) {
          try {
            await mkdir(at(cur.fd, seg), 0o755);
            next = await open(at(cur.fd, seg), DIR_FLAGS);
            if (this.owner) await next.chown(this.owner.uid, this.owner.gid);
          } catch (err2) {
            if (code(err2) !== 'EEXIST') {
              const e = await this.classify(cur.fd, seg, rel, err2);
              await cur.close();
              throw e;
            }
            try {
              next = await open(at(cur.fd, seg), DIR_FLAGS);
            } catch (err3) {
              const e = await this.classify(cur.fd, seg, rel, err3);
              await cur.close();
              throw e;
            }
          }
        } else {
          const e = await this.classify(cur.fd, seg, rel, err);
          await cur.close();
          throw e;
        }
      }
      await cur.close();
      cur = next;
    }
    return cur;
  }

  /** lstat of an entry (not followed). @throws ConfinementError */
  async lstat(segments: string[]): Promise<Stats> {
    const { dir, name } = await this.parent(segments, false);
    try {
      return await this.statIn(dir, name, segments.join('/'));
    } finally {
      await dir.close();
    }
  }

  /**
   * Opens a regular file for reading (`O_NOFOLLOW | O_NONBLOCK`: a FIFO never blocks, a link is
   * refused). The caller closes the handle.
   * @throws ConfinementError `missing`, `symlink`, `is_directory`, `not_file`.
   */
  async openRead(segments: string[]): Promise<{ handle: FileHandle; stats: Stats }> {
    const rel = segments.join('/');
    const { dir, name } = await this.parent(segments, false);
    let handle: FileHandle;
    try {
      handle = await open(at(dir.fd, name), C.O_RDONLY | C.O_NOFOLLOW | C.O_NONBLOCK);
    } catch (err) {
      const e = await this.classify(dir.fd, name, rel, err);
      await dir.close();
      throw e;
    }
    await dir.close();
    const stats = await handle.stat();
    if (!stats.isFile()) {
      await handle.close();
      throw new ConfinementError(stats.isDirectory() ? 'is_directory' : 'not_file', rel);
    }
    return { handle, stats };
  }

  /**
   * Writes a regular file (replacing an existing one, keeping its permission bits), creating
   * missing folders. The bytes go to a temporary file in the same folder that is renamed over
   * the name, so a reader never sees a partial file and a failed write changes nothing.
   * @throws ConfinementError `symlink`, `not_directory`, `is_directory`.
   */
  async writeFile(
    segments: string[],
    data: Buffer | Readable,
    opts: {
      mode?: number;
      /** Leave all-zero 4 KiB blocks of a stream unwritten (holes): a sparse file stays sparse. */
      sparse?: boolean;
    } = {},
  ): Promise<number> {
    const rel = segments.join('/');
    const { dir, name } = await this.parent(segments, true);
    const temp = `.ash-tmp-${randomUUID()}`;
    let created = false;
    try {
      let mode = opts.mode ?? 0o644;
      try {
        const st = await lstat(at(dir.fd, name));
        if (st.isSymbolicLink()) throw new ConfinementError('symlink', rel);
        if (st.isDirectory()) throw new ConfinementError('is_directory', rel);
        if (!st.isFile()) throw new ConfinementError('not_file', rel);
        if (opts.mode === undefined) mode = st.mode & 0o777;
      } catch (err) {
        if (err instanceof ConfinementError) throw err;
        if (code(err) !== 'ENOENT') throw err;
      }
      const fh = await open(at(dir.fd, temp), C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, mode & 0o777);
      created = true;
      let size = 0;
      try {
        if (Buffer.isBuffer(data)) {
          await fh.writeFile(data);
          size = data.length;
        } else {
          for await (const chunk of data) {
            const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
            if (opts.sparse) await writeSkippingZeros(fh, b, size);
            else await fh.write(b);
            size += b.length;
          }
          if (opts.sparse) await fh.truncate(size);
        }
        await fh.chmod(mode & 0o777);
        if (this.owner) await fh.chown(this.owner.uid, this.owner.gid);
      } finally {
        await fh.close();
      }
      await rename(at(dir.fd, temp), at(dir.fd, name)).catch((err: unknown) => {
        if (code(err) === 'EISDIR' || code(err) === 'ENOTEMPTY')
          throw new ConfinementError('is_directory', rel);
        throw err;
      });
      created = false;
      return size;
    } finally {
      if (created) await unlink(at(dir.fd, temp)).catch(() => undefined);
      await dir.close();
    }
  }

  /**
   * Sets an entry's permission bits (not for links: they have none) and its modification time
   * (ms since the epoch, microsecond precision; the access time gets the same value), without
   * following a link at the end or on the path. The time is set half a microsecond past
   * `mtimeMs`, so the nanosecond time read back, cut to microseconds, is exactly `mtimeMs`.
   * @throws ConfinementError `missing`, `symlink` (on the path), `not_directory`.
   */
  async setMeta(segments: string[], meta: { mode?: number; mtimeMs: number }): Promise<void> {
    const rel = segments.join('/');
    const { dir, name } = await this.parent(segments, false);
    const t = (Math.round(meta.mtimeMs * 1000) + 0.5) / 1e6;
    try {
      const st = await this.statIn(dir, name, rel);
      if (st.isSymbolicLink()) {
        await lutimes(at(dir.fd, name), t, t);
        return;
      }
      let h: FileHandle;
      try {
        h = await open(
          at(dir.fd, name),
          st.isDirectory() ? DIR_FLAGS : C.O_RDONLY | C.O_NOFOLLOW | C.O_NONBLOCK,
        );
      } catch (err) {
        throw await this.classify(dir.fd, name, rel, err);
      }
      try {
        if (meta.mode !== undefined) await h.chmod(meta.mode & 0o777);
        await h.utimes(t, t);
      } finally {
        await h.close();
      }
    } finally {
      await dir.close();
    }
  }

  /** Makes a folder (and missing parents). @throws ConfinementError */
  async mkdirp(segments: string[]): Promise<void> {
    const h = await this.openDir(segments, true);
    await h.close();
  }

  /**
   * Creates a symbolic link `segments` → `target` (the text is stored, not resolved; callers
   * validate it). Replaces nothing: an existing entry makes it fail with `EEXIST`.
   */
  async symlink(segments: string[], target: string): Promise<void> {
    const { dir, name } = await this.parent(segments, true);
    try {
      await symlink(target, at(dir.fd, name));
      if (this.owner) await lchown(at(dir.fd, name), this.owner.uid, this.owner.gid);
    } finally {
      await dir.close();
    }
  }

  /**
   * Deletes the symbolic link `segments` itself (never what it points to; the path to it may hold
   * no link). Anything else at that name is left alone.
   * @throws ConfinementError `missing`, `symlink` (a link on the path), `not_directory`;
   *   `is_directory` / `not_directory` when the entry is a folder / a file, not a link.
   */
  async removeLink(segments: string[]): Promise<void> {
    const rel = segments.join('/');
    const { dir, name } = await this.parent(segments, false);
    try {
      const st = await this.statIn(dir, name, rel);
      if (!st.isSymbolicLink())
        throw new ConfinementError(st.isDirectory() ? 'is_directory' : 'not_directory', rel);
      await unlink(at(dir.fd, name));
    } finally {
      await dir.close();
    }
  }

  /**
   * Deletes a file or a folder with everything in it. A symbolic link (at the end or on the
   * path) is refused; links inside a deleted folder are removed themselves, never followed.
   * @throws ConfinementError `missing`, `symlink`, `not_directory`.
   */
  async remove(segments: string[]): Promise<void> {
    const rel = segments.join('/');
    const { dir, name } = await this.parent(segments, false);
    try {
      const st = await this.statIn(dir, name, rel);
      if (st.isSymbolicLink()) throw new ConfinementError('symlink', rel);
      if (st.isDirectory()) {
        let child: FileHandle;
        try {
          child = await open(at(dir.fd, name), DIR_FLAGS);
        } catch (err) {
          throw await this.classify(dir.fd, name, rel, err);
        }
        try {
          await this.emptyDir(child, 0);
        } finally {
          await child.close();
        }
        await rmdir(at(dir.fd, name));
      } else {
        await unlink(at(dir.fd, name));
      }
    } finally {
      await dir.close();
    }
  }

  /**
   * Walks the tree depth-first without following links (folders are opened relative to their
   * parent with `O_NOFOLLOW`). Yields files, folders and links; `include` prunes.
   * @throws ConfinementError when `from` cannot be opened.
   */
  walk(opts?: WalkOptions & { bigint?: false }): AsyncGenerator<WalkEntry>;
  walk(opts: WalkOptions & { bigint: true }): AsyncGenerator<WalkEntry<BigIntStats>>;
  async *walk(opts: WalkOptions = {}): AsyncGenerator<WalkEntry<Stats | BigIntStats>> {
    const from = opts.from ?? [];
    const top = await this.openDir(from);
    try {
      yield* this.walkDir(top, from.join('/'), 0, opts);
    } finally {
      await top.close();
    }
  }

  private async *walkDir(
    dir: FileHandle,
    rel: string,
    depth: number,
    opts: WalkOptions,
  ): AsyncGenerator<WalkEntry<Stats | BigIntStats>> {
    if (depth > (opts.maxDepth ?? MAX_DEPTH)) throw new ConfinementError('too_deep', rel);
    const names = (await readdir(at(dir.fd))).sort();
    let batch: Array<Stats | BigIntStats | undefined> = [];
    for (let i = 0; i < names.length; i++) {
      const name = names[i]!;
      const path = rel ? `${rel}/${name}` : name;
      // Synchronous lstat in small batches, yielding to the event loop between them: several
      // times faster than a thread-pool round trip per entry, and the loop never stalls long.
      if (i % LSTAT_BATCH === 0) {
        await new Promise<void>((r) => setImmediate(r));
        batch = names.slice(i, i + LSTAT_BATCH).map((n) => {
          try {
            return opts.bigint === true
              ? lstatSync(at(dir.fd, n), { bigint: true })
              : lstatSync(at(dir.fd, n));
          } catch {
            return undefined; // removed meanwhile
          }
        });
      }
      const stats = batch[i % LSTAT_BATCH];
      if (!stats) continue;
      const kind = stats.isSymbolicLink()
        ? 'symlink'
        : stats.isDirectory()
          ? 'directory'
          : stats.isFile()
            ? 'file'
            : undefined;
      if (!kind) continue; // sockets, FIFOs, devices
      if (opts.include && !opts.include(name, path, kind)) continue;
      yield { path, kind, stats };
      if (kind === 'directory') {
        let child: FileHandle;
        try {
          child = await open(at(dir.fd, name), DIR_FLAGS);
        } catch {
          continue; // replaced by a link or removed meanwhile: not followed
        }
        try {
          yield* this.walkDir(child, path, depth + 1, opts);
        } finally {
          await child.close();
        }
      }
    }
  }

  /** The target text of a symbolic link (not resolved). @throws ConfinementError */
  async readlink(segments: string[]): Promise<string> {
    const { dir, name } = await this.parent(segments, false);
    try {
      return await readlink(at(dir.fd, name));
    } catch (err) {
      throw await this.classify(dir.fd, name, segments.join('/'), err);
    } finally {
      await dir.close();
    }
  }

  /** Opens a regular file found by {@link walk} (same checks as {@link openRead}). */
  async openWalked(path: string): Promise<{ handle: FileHandle; stats: Stats }> {
    return this.openRead(path.split('/'));
  }

  private async emptyDir(dir: FileHandle, depth: number): Promise<void> {
    if (depth > MAX_DEPTH) throw new ConfinementError('too_deep', '.');
    for (const name of await readdir(at(dir.fd))) {
      let st: Stats;
      try {
        st = await lstat(at(dir.fd, name));
      } catch {
        continue;
      }
      if (st.isDirectory()) {
        let child: FileHandle;
        try {
          child = await open(at(dir.fd, name), DIR_FLAGS);
        } catch {
          // Swapped for a link meanwhile: remove the link itself.
          await unlink(at(dir.fd, name)).catch(() => undefined);
          continue;
        }
        try {
          await this.emptyDir(child, depth + 1);
        } finally {
          await child.close();
        }
        await rmdir(at(dir.fd, name));
      } else {
        await unlink(at(dir.fd, name));
      }
    }
  }

  private async parent(segments: string[], create: boolean): Promise<{ dir: FileHandle; name: string }> {
    if (segments.length === 0) throw new ConfinementError('is_directory', '.');
    const dir = await this.openDir(segments.slice(0, -1), create);
    return { dir, name: segments[segments.length - 1]! };
  }

  /** Turns an errno on `name` inside `dirFd` into the refusal it means. */
  /** lstat of `name` in an open folder (not followed). @throws ConfinementError (classified). */
  private async statIn(dir: FileHandle, name: string, rel: string): Promise<Stats> {
    try {
      return await lstat(at(dir.fd, name));
    } catch (err) {
      throw await this.classify(dir.fd, name, rel, err);
    }
  }

  private async classify(dirFd: number, name: string, rel: string, err: unknown): Promise<Error> {
    const c = code(err);
    if (c === 'ENOENT') return new ConfinementError('missing', rel);
    if (c === 'ELOOP') return new ConfinementError('symlink', rel);
    if (c === 'ENOTDIR' || c === 'EEXIST') {
      try {
        const st = await lstat(at(dirFd, name));
        if (st.isSymbolicLink()) return new ConfinementError('symlink', rel);
      } catch {
        // fall through
      }
      return new ConfinementError('not_directory', rel);
    }
    return err instanceof Error ? err : new Error(String(err));
  }
}
