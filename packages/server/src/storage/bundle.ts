import { createReadStream } from 'node:fs';
import { type FileHandle, lstat, mkdir, open, readdir, symlink } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import { Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { Header, Parser, Pax, type ReadEntry } from 'tar';
import { checkRelativePath } from '../util/paths.js';
import { type ConfinedDir, ConfinementError } from './confined-dir.js';

/** Folder names never put in a workspace bundle (dependencies, VCS data, caches). */
export const BUNDLE_EXCLUDES = new Set([
  'node_modules',
  '.git',
  '.cache',
  '__pycache__',
  '.pytest_cache',
  '.mypy_cache',
  '.ruff_cache',
  '.venv',
  'venv',
  '.npm',
  '.DS_Store',
]);

/** One tree to put in an archive, under `prefix` (`''` = at the top). */
export interface PackSource {
  dir: ConfinedDir;
  prefix: string;
  /** Names (at any depth) to leave out. */
  exclude: ReadonlySet<string>;
  /**
   * `inside`: only links whose target is relative and stays inside the tree (what a bundle
   * restore accepts); `all`: every link as it is (snapshots: links are inert data).
   */
  links: 'inside' | 'all';
}

/** Raised for an archive that is malformed, unsafe or over a limit. */
export class BundleError extends Error {
  constructor(
    message: string,
    /** `disk_limit`: the extracted files would exceed the workspace disk limit. */
    readonly kind: 'invalid' | 'too_large' | 'disk_limit',
  ) {
    super(message);
    this.name = 'BundleError';
  }
}

/** Limits of {@link extractTarGz}. */
export interface ExtractLimits {
  /** Most compressed bytes read. */
  maxCompressedBytes: number;
  /** Most decompressed bytes (headers included): stops decompression bombs while streaming. */
  maxBytes: number;
  maxEntries: number;
}

/** What an extraction produced. */
export interface ExtractResult {
  files: number;
  bytes: number;
  /** Relative paths of folders, files and links, in archive order. */
  entries: Array<{ path: string; kind: 'file' | 'directory' | 'symlink'; mode: number; target?: string }>;
}

/** True when a link at `linkPath` with `target` resolves inside its tree (relative, no escape). */
export function linkStaysInside(linkPath: string, target: string): boolean {
  if (target.length === 0 || target.includes('\0') || target.startsWith('/') || target.includes('\\'))
    return false;
  const resolved = posix.normalize(posix.join(posix.dirname(linkPath), target));
  return resolved !== '..' && !resolved.startsWith('../') && !posix.isAbsolute(resolved);
}

function tarHeader(h: {
  path: string;
  type: 'File' | 'Directory' | 'SymbolicLink';
  mode: number;
  size: number;
  mtime: Date;
  linkpath?: string;
}): Buffer[] {
  const header = new Header({ ...h, uid: 0, gid: 0, uname: '', gname: '', linkpath: h.linkpath ?? '' });
  const needPax = header.encode();
  const blocks = [header.block!];
  if (needPax) {
    blocks.unshift(
      new Pax({
        path: h.path,
        ...(h.linkpath ? { linkpath: h.linkpath } : {}),
        mtime: h.mtime,
        size: h.size,
      }).encode(),
    );
  }
  return blocks;
}

async function* tarBlocks(sources: PackSource[]): AsyncGenerator<Buffer> {
  for (const src of sources) {
    if (src.prefix) {
      yield* tarHeader({
        path: `${src.prefix}/`,
        type: 'Directory',
        mode: 0o755,
        size: 0,
        mtime: new Date(),
      });
    }
    for await (const e of src.dir.walk({ include: (name) => !src.exclude.has(name) })) {
      const path = src.prefix ? `${src.prefix}/${e.path}` : e.path;
      const mode = e.stats.mode & 0o7777;
      if (e.kind === 'directory') {
        yield* tarHeader({ path: `${path}/`, type: 'Directory', mode, size: 0, mtime: e.stats.mtime });
      } else if (e.kind === 'symlink') {
        let target: string;
        try {
          target = await src.dir.readlink(e.path.split('/'));
        } catch {
          continue;
        }
        if (src.links === 'inside' && !linkStaysInside(e.path, target)) continue;
        yield* tarHeader({
          path,
          type: 'SymbolicLink',
          mode: 0o777,
          size: 0,
          mtime: e.stats.mtime,
          linkpath: target,
        });
      } else {
        let opened: Awaited<ReturnType<ConfinedDir['openWalked']>>;
        try {
          opened = await src.dir.openWalked(e.path);
        } catch (err) {
          if (err instanceof ConfinementError) continue; // replaced meanwhile: never followed
          throw err;
        }
        const { handle, stats } = opened;
        try {
          yield* tarHeader({
            path,
            type: 'File',
            mode: stats.mode & 0o7777,
            size: stats.size,
            mtime: stats.mtime,
          });
          let left = stats.size;
          let pos = 0;
          while (left > 0) {
            const buf = Buffer.allocUnsafe(Math.min(left, 1024 * 1024));
            const { bytesRead } = await handle.read(buf, 0, buf.length, pos);
            if (bytesRead === 0) throw new Error(`${e.path} shrank while it was being archived`);
            yield buf.subarray(0, bytesRead);
            left -= bytesRead;
            pos += bytesRead;
          }
          const pad = (512 - (stats.size % 512)) % 512;
          if (pad) yield Buffer.alloc(pad);
        } finally {
          await handle.close();
        }
      }
    }
  }
  yield Buffer.alloc(1024);
}

/**
 * Streams a `tar.gz` of one or more confined trees. Links are stored as links (never followed);
 * files are opened with `O_NOFOLLOW`, so a link swapped in by the agent is skipped, not read.
 * Names in `exclude` are left out at any depth.
 */
export function packTarGz(sources: PackSource[]): Readable {
  const gz = createGzip();
  void pipeline(Readable.from(tarBlocks(sources)), gz).catch((err: unknown) => gz.destroy(err as Error));
  return gz;
}

/** Passes bytes through, failing once more than `max` went by. */
function byteLimit(max: number, what: string): Transform & { count: () => number } {
  let n = 0;
  const t = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      n += chunk.length;
      if (n > max) cb(new BundleError(`${what} exceeds the ${max}-byte limit`, 'too_large'));
      else cb(null, chunk);
    },
  });
  return Object.assign(t, { count: () => n });
}

const ENTRY_TYPES = new Set(['File', 'OldFile', 'ContiguousFile', 'Directory', 'SymbolicLink']);

/**
 * Extracts a `tar.gz` stream into `dest` (an empty folder the server owns, outside any
 * workspace), validating every entry while streaming:
 * - the input must start with the gzip magic bytes; compressed and decompressed bytes are
 *   counted as they flow (a decompression bomb stops at `maxBytes`), entries at `maxEntries`;
 * - names must be relative without `..` (absolute names, parent references, backslashes and
 *   control characters are refused), and no entry may sit below a link of the archive;
 * - only files, folders and links: hard links, devices and FIFOs are refused;
 * - links: with `links: 'inside'` a link whose target is absolute or escapes is refused;
 *   with `'all'` links are recreated as they are (inert data: nothing follows them).
 * Links are created last, after every file, so no write can go through one.
 * @throws BundleError `invalid` (400), `too_large` (413) or `disk_limit` (413, over
 *   `maxWrittenBytes`); `dest` may then hold partial output
 *   the caller removes.
 */
export async function extractTarGz(
  input: Readable,
  dest: string,
  limits: ExtractLimits,
  opts: {
    links: 'inside' | 'all';
    /**
     * Most file bytes actually written (counted as they are written, whatever the headers
     * declare): over it, `disk_limit`.
     */
    maxWrittenBytes?: number;
  },
): Promise<ExtractResult> {
  let written = 0;
  const result: ExtractResult = { files: 0, bytes: 0, entries: [] };
  const seen = new Map<string, 'file' | 'directory' | 'symlink'>();
  const links: Array<{ path: string; target: string }> = [];
  const writes: Promise<void>[] = [];
  const bodies: Transform[] = [];
  let failure: BundleError | undefined;
  const parser = new Parser({ strict: true });
  const fail = (message: string, kind: BundleError['kind'] = 'invalid') => {
    failure ??= new BundleError(message, kind);
  };
  parser.on('warn', (_code: string, message: string | Error) =>
    fail(`the archive is malformed: ${String(message)}`),
  );
  parser.on('error', (err: Error) => fail(`the archive is malformed: ${err.message}`));
  // Entries the parser skips by itself (old GNU sparse files, unknown types) are refused, not
  // silently dropped.
  parser.on('ignoredEntry', (entry: ReadEntry) => {
    const name = printable(entry.path ?? '');
    fail(
      entry.type === 'SparseFile'
        ? `entry '${name}' is a sparse file; sparse archive entries are not accepted`
        : `entry '${name}' has an unsupported type (${entry.type}); only files, folders and links are accepted`,
    );
  });
  parser.on('entry', (entry: ReadEntry) => {
    if (failure) return entry.resume();
    const type = entry.type;
    const raw = entry.path.replace(/^(\.\/)+/, '');
    if (raw === '' || raw === '.' || raw === './') return entry.resume();
    if (result.entries.length + 1 > limits.maxEntries) {
      fail(`the archive has more than ${limits.maxEntries} entries`, 'too_large');
      return entry.resume();
    }
    const checked = checkRelativePath(raw);
    if ('reason' in checked) {
      fail(`entry '${printable(raw)}' ${checked.reason}`);
      return entry.resume();
    }
    const rel = checked.path;
    if (type === 'SparseFile' || rel.split('/').some((seg) => /^GNUSparseFile\.\d+$/.test(seg))) {
      fail(`entry '${printable(rel)}' is a sparse file; sparse archive entries are not accepted`);
      return entry.resume();
    }
    if (!ENTRY_TYPES.has(type)) {
      fail(
        `entry '${printable(rel)}' is a ${type === 'Link' ? 'hard link' : type}; only files, folders and links are accepted`,
      );
      return entry.resume();
    }
    const parts = rel.split('/');
    for (let i = 1; i < parts.length; i++) {
      const prefix = parts.slice(0, i).join('/');
      const k = seen.get(prefix);
      if (k === 'symlink' || k === 'file') {
        fail(`entry '${printable(rel)}' lies below ${k === 'symlink' ? 'a link' : 'a file'} of the archive`);
        return entry.resume();
      }
    }
    const kind = type === 'Directory' ? 'directory' : type === 'SymbolicLink' ? 'symlink' : 'file';
    const prior = seen.get(rel);
    if (prior && (prior !== 'directory' || kind !== 'directory')) {
      fail(`entry '${printable(rel)}' appears twice`);
      return entry.resume();
    }
    seen.set(rel, kind);
    const mode = (entry.mode ?? (kind === 'directory' ? 0o755 : 0o644)) & 0o777;
    if (kind === 'symlink') {
      const target = entry.linkpath ?? '';
      if (opts.links === 'inside' && !linkStaysInside(rel, target)) {
        fail(`link '${printable(rel)}' points outside the workspace`);
        return entry.resume();
      }
      links.push({ path: rel, target });
      result.entries.push({ path: rel, kind, mode, target });
      return entry.resume();
    }
    const abs = join(dest, ...parts);
    if (kind === 'directory') {
      result.entries.push({ path: rel, kind, mode });
      writes.push(mkdir(abs, { recursive: true, mode: 0o755 }).then(() => undefined));
      return entry.resume();
    }
    result.files++;
    result.bytes += entry.size;
    result.entries.push({ path: rel, kind, mode });
    // Files must stream in order: pipe through a stream that buffers until the folder exists,
    // counting the bytes really written (a header's declared size is not trusted).
    const body = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        written += chunk.length;
        if (opts.maxWrittenBytes !== undefined && written > opts.maxWrittenBytes)
          fail(
            `the extracted files exceed the ${opts.maxWrittenBytes} bytes the workspace disk limit leaves`,
            'disk_limit',
          );
        // After a failure, bytes are dropped (not written) but still consumed, so the parser
        // never waits on a stopped entry; the input pipeline then stops on the failure.
        cb(null, failure ? undefined : chunk);
      },
    });
    bodies.push(body);
    entry.pipe(body);
    writes.push(
      (async () => {
        await mkdir(dirname(abs), { recursive: true, mode: 0o755 });
        await pipeline(body, new SparseFileWriter(abs, mode));
      })().catch((err: unknown) => {
        body.resume();
        fail(
          `entry '${printable(rel)}' could not be written (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
        );
      }),
    );
  });

  const compressed = byteLimit(limits.maxCompressedBytes, 'the bundle');
  const decompressed = byteLimit(limits.maxBytes, 'the extracted bundle');
  let first = true;
  const magic = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      if (first && chunk.length > 0) {
        first = false;
        if (chunk[0] !== 0x1f || (chunk.length > 1 && chunk[1] !== 0x8b)) {
          cb(new BundleError('the bundle is not gzip-compressed (expected a .tar.gz)', 'invalid'));
          return;
        }
      }
      cb(null, chunk);
    },
  });
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      if (failure) return cb(failure);
      if (parser.write(chunk)) cb();
      else parser.once('drain', () => cb());
    },
    final(cb) {
      parser.once('end', () => cb());
      parser.end();
    },
  });
  try {
    await pipeline(input, compressed, magic, createGunzip(), decompressed, sink);
  } catch (err) {
    if (err instanceof BundleError) failure ??= err;
    else if (!failure) fail(`the bundle is not a valid tar.gz (${(err as Error).message})`);
  }
  // After a failure the parser stops mid-entry: end the pending file streams so their writers finish.
  if (failure) for (const b of bodies) if (!b.writableEnded) b.destroy(failure);
  await Promise.all(writes);
  if (!failure && first) fail('the bundle is empty');
  if (failure) throw failure;
  for (const l of links) {
    const abs = join(dest, ...l.path.split('/'));
    await mkdir(dirname(abs), { recursive: true, mode: 0o755 });
    await symlink(l.target, abs).catch(() =>
      fail(`link '${printable(l.path)}' conflicts with another entry`),
    );
  }
  if (failure) throw failure;
  return result;
}

/** Hole granularity of {@link SparseFileWriter}: the common filesystem block. */
const HOLE = 4096;
const ZERO_BLOCK = Buffer.alloc(HOLE);

/**
 * Writes a new file (`wx`), leaving zeros unwritten (holes, per 4 KiB block): a sparse file
 * packed into an archive (a snapshot of a workspace where the agent ran `truncate -s 10G`) comes
 * back sparse instead of taking its apparent size on disk.
 */
class SparseFileWriter extends Writable {
  private handle: FileHandle | undefined;
  private pos = 0;

  constructor(
    private readonly path: string,
    private readonly mode: number,
  ) {
    super();
  }

  override _construct(cb: (err?: Error | null) => void): void {
    open(this.path, 'wx', this.mode).then(
      (h) => {
        this.handle = h;
        cb();
      },
      (err: Error) => cb(err),
    );
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.writeChunk(chunk).then(
      () => cb(),
      (err: Error) => cb(err),
    );
  }

  private async writeChunk(chunk: Buffer): Promise<void> {
    const h = this.handle!;
    let runStart = 0;
    let i = 0;
    while (i < chunk.length) {
      const end = Math.min(chunk.length, i + (HOLE - ((this.pos + i) % HOLE)));
      // Any all-zero piece of a block is skipped (the file is new: unwritten ranges read as
      // zeros), so chunk edges that split blocks do not allocate them.
      if (chunk.subarray(i, end).equals(ZERO_BLOCK.subarray(0, end - i))) {
        if (i > runStart) await writeAll(h, chunk.subarray(runStart, i), this.pos + runStart);
        runStart = end;
      }
      i = end;
    }
    if (chunk.length > runStart) await writeAll(h, chunk.subarray(runStart), this.pos + runStart);
    this.pos += chunk.length;
  }

  override _final(cb: (err?: Error | null) => void): void {
    // Trailing holes: the length comes from truncate, not from a write.
    this.handle!.truncate(this.pos).then(
      () => cb(),
      (err: Error) => cb(err),
    );
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    const h = this.handle;
    this.handle = undefined;
    if (!h) {
      cb(err);
      return;
    }
    h.close().then(
      () => cb(err),
      () => cb(err),
    );
  }
}

async function writeAll(h: FileHandle, buf: Buffer, position: number): Promise<void> {
  let off = 0;
  while (off < buf.length) {
    const { bytesWritten } = await h.write(buf, off, buf.length - off, position + off);
    off += bytesWritten;
  }
}

/** Replaces control characters for messages. */
function printable(s: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: replacing them is the point
  return s.replace(/[\u0000-\u001f\u007f]/g, '?').slice(0, 200);
}

/**
 * Copies an extracted tree (from {@link extractTarGz}, in a server-owned folder) into a confined
 * target, overwriting files of the same name. Refuses (before writing anything) when any entry
 * would go through a symbolic link of the target, replace one of its links by a file or folder,
 * or change a file into a folder. A link of the bundle replaces a link of the same name (restoring
 * a bundle of this very workspace); links are created last, so no write can go through one.
 * @throws ConfinementError naming the first conflicting path.
 */
export async function mergeInto(src: string, result: ExtractResult, target: ConfinedDir): Promise<void> {
  for (const e of result.entries) {
    const segs = e.path.split('/');
    let st: import('node:fs').Stats | undefined;
    try {
      st = await target.lstat(segs);
    } catch (err) {
      if (err instanceof ConfinementError && err.reason === 'missing') continue;
      throw err;
    }
    if (st.isSymbolicLink()) {
      if (e.kind === 'symlink') continue;
      throw new ConfinementError('symlink', e.path);
    }
    if (e.kind === 'directory' && !st.isDirectory()) throw new ConfinementError('not_directory', e.path);
    if (e.kind !== 'directory' && st.isDirectory()) throw new ConfinementError('is_directory', e.path);
  }
  for (const e of result.entries) {
    const segs = e.path.split('/');
    if (e.kind === 'directory') await target.mkdirp(segs);
    else if (e.kind === 'file')
      await target.writeFile(segs, createReadStream(join(src, ...segs)), { mode: e.mode });
  }
  for (const e of result.entries) {
    if (e.kind !== 'symlink') continue;
    const segs = e.path.split('/');
    await target.removeLink(segs).catch((err: unknown) => {
      if (!(err instanceof ConfinementError && err.reason === 'missing')) throw err;
    });
    await target.symlink(segs, e.target ?? '');
  }
}

/** Counts regular files and bytes under a trusted folder (no links followed). */
export async function treeSize(dir: string): Promise<{ files: number; bytes: number }> {
  let files = 0;
  let bytes = 0;
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) {
        files++;
        bytes += (await lstat(p)).size;
      }
    }
  };
  await walk(dir);
  return { files, bytes };
}
