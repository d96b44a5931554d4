/**
 * Incremental workspace checkpoints: a session's two folders (its workspace and its
 * CLAUDE_CONFIG_DIR) are described by a {@link Manifest}; the difference between two manifests
 * travels as a workspace delta (an uncompressed tar whose first entry is the JSON index
 * {@link WORKSPACE_DELTA_INDEX}) and is applied on the other side so that a rescan there equals
 * the sender's manifest. The cost of a checkpoint follows what changed, not the workspace size.
 *
 * Safety: nothing here follows a symbolic link. Scans use `lstat`; files are opened with
 * `O_NOFOLLOW` and, on Linux, checked through `/proc/self/fd` to lie inside their root (a folder
 * swapped for a link by the agent between scan and pack is skipped, not read); a delta is
 * refused when a path is absolute, holds `..`, has another prefix, or would be written below a
 * link.
 */
import { randomBytes } from 'node:crypto';
import { constants as C, type BigIntStats, lstatSync, readlinkSync, type Stats } from 'node:fs';
import {
  type FileHandle,
  lchown,
  lstat,
  lutimes,
  mkdir,
  open,
  readdir,
  readlink,
  realpath,
  rename,
  rm,
  symlink,
  unlink,
  chmod,
} from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type Manifest, type ManifestEntry, WORKSPACE_DELTA_INDEX } from '@ash-ai/shared';
import { Header, Parser, Pax, type ReadEntry } from 'tar';

/** A session's two synced folders: paths in a manifest/delta are `workspace/<rel>` or `claude/<rel>`. */
export interface SyncRoots {
  workspace: string;
  claude: string;
}

/** A delta that is malformed, unsafe or over its limit; nothing outside the roots was touched. */
export class DeltaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DeltaError';
  }
}

type Prefix = keyof SyncRoots;
const PREFIXES: readonly Prefix[] = ['workspace', 'claude'];
const S_IFMT = C.S_IFMT;
const S_IFREG = C.S_IFREG;
const S_IFDIR = C.S_IFDIR;
const S_IFLNK = C.S_IFLNK;
/** Mode bits a manifest keeps: the type and the permission bits (setuid, setgid, sticky dropped). */
const MODE_MASK = S_IFMT | 0o777;
/** Largest index a receiver buffers, bytes. */
const MAX_INDEX_BYTES = 256 * 1024 * 1024;
const READ_CHUNK = 1024 * 1024;
const LSTAT_BATCH = 64;
/** True where `/proc/self/fd/<n>` names an open file's path (Linux). */
const PROC_FD = process.platform === 'linux';

/**
 * The manifest's clock: microseconds. Linux `utimes` sets time with microsecond precision, so a
 * receiver can reproduce exactly the mtime a sender scanned (integer microseconds / 1000).
 */
function mtimeMsOf(st: BigIntStats): number {
  return Number(st.mtimeNs / 1000n) / 1000;
}

/** Seconds to pass to `utimes` so that a rescan reads back `mtimeMs` exactly (half a µs of margin). */
function utimeSeconds(mtimeMs: number): number {
  const us = Math.round(mtimeMs * 1000);
  return (us + 0.5) / 1e6;
}

const typeOf = (mode: number): number => mode & S_IFMT;

/**
 * Walks both roots (lstat, never follows symlinks): regular files, symlinks (`entry.link`) and
 * directories (`mode` carries the S_IFDIR bit, `size` 0) — so empty directories survive.
 * Sockets, FIFOs and devices are skipped, so are names that are not valid UTF-8 (they could not
 * round-trip through a manifest). A missing root yields no entries. `mtimeMs` has microsecond
 * precision; `mode` keeps the type and permission bits.
 */
export async function scanManifest(roots: SyncRoots): Promise<Manifest> {
  const out: Manifest = {};
  for (const prefix of PREFIXES) await walk(roots[prefix], prefix, out);
  return out;
}

async function walk(dir: string, rel: string, out: Manifest): Promise<void> {
  let names: Buffer[];
  try {
    names = await readdir(dir, { encoding: 'buffer' });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return; // vanished meanwhile, or a missing root
    throw err;
  }
  const valid: string[] = [];
  for (const raw of names) {
    const name = raw.toString('utf8');
    if (Buffer.from(name, 'utf8').equals(raw)) valid.push(name);
  }
  valid.sort();
  const subdirs: string[] = [];
  for (let i = 0; i < valid.length; i += LSTAT_BATCH) {
    const batch = valid.slice(i, i + LSTAT_BATCH);
    // Synchronous lstat in small batches, yielding between them: several times faster than a
    // thread-pool round trip per entry, and the event loop never stalls for long.
    await new Promise<void>((r) => setImmediate(r));
    const stats = batch.map((name) => {
      const abs = join(dir, name);
      try {
        const st = lstatSync(abs, { bigint: true });
        const link = st.isSymbolicLink() ? readlinkSync(abs) : undefined;
        return { name, st, link };
      } catch {
        return undefined; // removed meanwhile
      }
    });
    for (const s of stats) {
      if (!s) continue;
      const path = `${rel}/${s.name}`;
      const mode = Number(s.st.mode) & MODE_MASK;
      const mtimeMs = mtimeMsOf(s.st);
      if (s.st.isFile()) out[path] = { size: Number(s.st.size), mtimeMs, mode };
      else if (s.st.isDirectory()) {
        out[path] = { size: 0, mtimeMs, mode };
        subdirs.push(s.name);
      } else if (s.st.isSymbolicLink() && s.link !== undefined)
        out[path] = { size: Number(s.st.size), mtimeMs, mode, link: s.link };
    }
  }
  for (const name of subdirs) await walk(join(dir, name), `${rel}/${name}`, out);
}

const sameEntry = (a: ManifestEntry, b: ManifestEntry): boolean =>
  a.size === b.size && a.mtimeMs === b.mtimeMs && a.mode === b.mode && a.link === b.link;

const depth = (p: string): number => {
  let n = 0;
  for (let i = 0; i < p.length; i++) if (p.charCodeAt(i) === 47) n++;
  return n;
};

/**
 * What the receiver (`have`) lacks to equal the sender (`want`): `changed` = paths new or
 * differing in size, mtimeMs, mode or link (sorted, so a folder comes before what it holds);
 * `deleted` = paths in `have` and not in `want`, deepest first.
 */
export function diffManifests(have: Manifest, want: Manifest): { changed: string[]; deleted: string[] } {
  const changed: string[] = [];
  for (const [p, w] of Object.entries(want)) {
    const h = Object.hasOwn(have, p) ? have[p] : undefined;
    if (!h || !sameEntry(h, w)) changed.push(p);
  }
  const deleted = Object.keys(have).filter((p) => !Object.hasOwn(want, p));
  changed.sort(byCodeUnit);
  deleted.sort((a, b) => depth(b) - depth(a) || byCodeUnit(a, b));
  return { changed, deleted };
}

const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Why `p` is not a valid delta path, or its prefix and relative segments. */
function parsePath(p: unknown): { prefix: Prefix; segs: string[] } | { reason: string } {
  if (typeof p !== 'string' || p.length === 0) return { reason: 'is empty or not a string' };
  if (p.length > 4096) return { reason: 'is too long' };
  if (p.includes('\0')) return { reason: 'holds a NUL byte' };
  if (p.startsWith('/')) return { reason: 'is absolute' };
  const segs = p.split('/');
  const prefix = segs.shift() as string;
  if (prefix !== 'workspace' && prefix !== 'claude') return { reason: 'lies outside workspace/ and claude/' };
  if (segs.length === 0) return { reason: 'names a root itself' };
  for (const s of segs) {
    if (s === '..') return { reason: "holds '..'" };
    if (s === '' || s === '.') return { reason: 'is not normalized' };
    if (Buffer.byteLength(s) > 255) return { reason: 'has a name longer than 255 bytes' };
  }
  return { prefix, segs };
}

const printable = (p: string): string => JSON.stringify(p.length > 200 ? `${p.slice(0, 200)}…` : p);

/** Throws unless the open file `fd` lies at `expected` (a real path), checked through /proc. */
async function assertAt(fd: number, expected: string): Promise<boolean> {
  if (!PROC_FD) return true;
  try {
    return (await readlink(`/proc/self/fd/${fd}`)) === expected;
  } catch {
    return true; // no /proc mounted: O_NOFOLLOW on the last component is all we have
  }
}

/** The real path of each root (unchanged when missing). */
async function realRoots(roots: SyncRoots): Promise<SyncRoots> {
  const r = async (p: string) => realpath(p).catch(() => p);
  return { workspace: await r(roots.workspace), claude: await r(roots.claude) };
}

function tarHeader(h: {
  path: string;
  type: 'File' | 'Directory' | 'SymbolicLink';
  mode: number;
  size: number;
  mtimeMs: number;
  linkpath?: string;
}): Buffer[] {
  const mtime = new Date(Math.max(0, Math.floor(h.mtimeMs)));
  const header = new Header({
    path: h.path,
    type: h.type,
    mode: h.mode & 0o7777,
    size: h.size,
    mtime,
    uid: 0,
    gid: 0,
    uname: '',
    gname: '',
    linkpath: h.linkpath ?? '',
  });
  const needPax = header.encode();
  const blocks = [header.block as Buffer];
  if (needPax) {
    blocks.unshift(
      new Pax({
        path: h.path,
        ...(h.linkpath ? { linkpath: h.linkpath } : {}),
        mtime,
        size: h.size,
      }).encode(),
    );
  }
  return blocks;
}

const padding = (size: number): Buffer | undefined => {
  const pad = (512 - (size % 512)) % 512;
  return pad ? Buffer.alloc(pad) : undefined;
};

async function* deltaBlocks(
  roots: SyncRoots,
  want: Manifest,
  diff: { changed: string[]; deleted: string[] },
): AsyncGenerator<Buffer> {
  const entries: Record<string, ManifestEntry> = {};
  for (const p of diff.changed) {
    const e = Object.hasOwn(want, p) ? want[p] : undefined;
    if (!e) throw new Error(`packDelta: ${printable(p)} is changed but not in the manifest`);
    const parsed = parsePath(p);
    if ('reason' in parsed) throw new Error(`packDelta: path ${printable(p)} ${parsed.reason}`);
    entries[p] = e;
  }
  const index = Buffer.from(JSON.stringify({ deleted: diff.deleted, entries }));
  yield* tarHeader({
    path: WORKSPACE_DELTA_INDEX,
    type: 'File',
    mode: 0o644,
    size: index.length,
    mtimeMs: Date.now(),
  });
  yield index;
  const pad = padding(index.length);
  if (pad) yield pad;
  const real = await realRoots(roots);
  for (const p of diff.changed) {
    const e = entries[p] as ManifestEntry;
    const parsed = parsePath(p);
    if ('reason' in parsed) throw new Error(`packDelta: path ${printable(p)} ${parsed.reason}`);
    const t = typeOf(e.mode);
    if (t === S_IFDIR) {
      yield* tarHeader({ path: `${p}/`, type: 'Directory', mode: e.mode, size: 0, mtimeMs: e.mtimeMs });
    } else if (t === S_IFLNK) {
      yield* tarHeader({
        path: p,
        type: 'SymbolicLink',
        mode: 0o777,
        size: 0,
        mtimeMs: e.mtimeMs,
        linkpath: e.link ?? '',
      });
    } else if (t === S_IFREG) {
      yield* fileBlocks(
        p,
        join(roots[parsed.prefix], ...parsed.segs),
        join(real[parsed.prefix], ...parsed.segs),
        e,
      );
    }
  }
  yield Buffer.alloc(1024);
}

/** One file's header and body; nothing when it vanished or is no longer a regular file inside its root. */
async function* fileBlocks(p: string, abs: string, real: string, e: ManifestEntry): AsyncGenerator<Buffer> {
  let handle: FileHandle;
  try {
    handle = await open(abs, C.O_RDONLY | C.O_NOFOLLOW | C.O_NONBLOCK);
  } catch {
    return; // removed or swapped for a link since the scan: the next checkpoint sees it
  }
  try {
    const st = await handle.stat();
    if (!st.isFile() || !(await assertAt(handle.fd, real))) return;
    const size = st.size;
    yield* tarHeader({ path: p, type: 'File', mode: e.mode, size, mtimeMs: e.mtimeMs });
    let pos = 0;
    while (pos < size) {
      const buf = Buffer.allocUnsafe(Math.min(size - pos, READ_CHUNK));
      const { bytesRead } = await handle.read(buf, 0, buf.length, pos);
      if (bytesRead === 0) {
        // Shrank while being read: zeros keep the archive valid; the next scan resends it.
        yield Buffer.alloc(size - pos);
        pos = size;
        break;
      }
      yield bytesRead === buf.length ? buf : buf.subarray(0, bytesRead);
      pos += bytesRead;
    }
    const pad = padding(size);
    if (pad) yield pad;
  } finally {
    await handle.close();
  }
}

/**
 * A workspace delta: a tar stream (no gzip) whose FIRST entry is {@link WORKSPACE_DELTA_INDEX} =
 * JSON `{ deleted: string[], entries: Record<path, ManifestEntry> }` (`entries` = `want[p]` for
 * every changed `p`), then the changed folders, links and files in `diff.changed` order. Files
 * are streamed (never buffered whole) and opened without following links; a file gone or
 * swapped for a link since the scan is left out (its index entry stays; the receiver skips it).
 * The stream errors when a changed path is missing from `want`.
 */
export function packDelta(
  roots: SyncRoots,
  want: Manifest,
  diff: { changed: string[]; deleted: string[] },
): Readable {
  return Readable.from(deltaBlocks(roots, want, diff), { objectMode: false, highWaterMark: 256 * 1024 });
}

function isEntry(e: unknown): e is ManifestEntry {
  if (typeof e !== 'object' || e === null) return false;
  const o = e as Record<string, unknown>;
  return (
    Number.isSafeInteger(o.size) &&
    (o.size as number) >= 0 &&
    typeof o.mtimeMs === 'number' &&
    Number.isFinite(o.mtimeMs) &&
    Number.isSafeInteger(o.mode) &&
    (o.mode as number) >= 0 &&
    (o.link === undefined || (typeof o.link === 'string' && !o.link.includes('\0')))
  );
}

interface Index {
  deleted: Array<{ path: string; prefix: Prefix; segs: string[] }>;
  entries: Map<string, { entry: ManifestEntry; prefix: Prefix; segs: string[] }>;
}

function parseIndex(buf: Buffer): Index {
  let raw: unknown;
  try {
    raw = JSON.parse(buf.toString('utf8'));
  } catch {
    throw new DeltaError('the delta index is not valid JSON');
  }
  const o = raw as { deleted?: unknown; entries?: unknown };
  if (typeof raw !== 'object' || raw === null || !Array.isArray(o.deleted))
    throw new DeltaError('the delta index has no `deleted` list');
  if (typeof o.entries !== 'object' || o.entries === null || Array.isArray(o.entries))
    throw new DeltaError('the delta index has no `entries` object');
  const index: Index = { deleted: [], entries: new Map() };
  for (const p of o.deleted) {
    const parsed = parsePath(p);
    if ('reason' in parsed) throw new DeltaError(`deleted path ${printable(String(p))} ${parsed.reason}`);
    index.deleted.push({ path: p as string, ...parsed });
  }
  for (const [p, e] of Object.entries(o.entries as Record<string, unknown>)) {
    const parsed = parsePath(p);
    if ('reason' in parsed) throw new DeltaError(`path ${printable(p)} ${parsed.reason}`);
    if (!isEntry(e)) throw new DeltaError(`the index entry of ${printable(p)} is malformed`);
    const t = typeOf(e.mode);
    if (t !== S_IFREG && t !== S_IFDIR && t !== S_IFLNK)
      throw new DeltaError(`the index entry of ${printable(p)} is not a file, folder or link`);
    if ((t === S_IFLNK) !== (e.link !== undefined))
      throw new DeltaError(`the index entry of ${printable(p)} has a link target only links may have`);
    index.entries.set(p, { entry: e, ...parsed });
  }
  return index;
}

const tarTypeOk = (tarType: string, mode: number): boolean => {
  const t = typeOf(mode);
  if (t === S_IFDIR) return tarType === 'Directory';
  if (t === S_IFLNK) return tarType === 'SymbolicLink';
  return tarType === 'File' || tarType === 'OldFile' || tarType === 'ContiguousFile';
};

const errCode = (err: unknown): string | undefined => (err as NodeJS.ErrnoException).code;

/** State of one {@link applyDelta} call. */
class Applier {
  /** Absolute folders known to be real folders (not links) during the write phase. */
  private readonly verified = new Set<string>();
  /** Folders not in the index whose times our writes changed: restored at the end. */
  private readonly touched = new Map<string, { atimeMs: number; mtimeMs: number } | null>();
  /** Folders of the index: modes and times set last (a write below changes a folder's mtime). */
  private readonly dirs: Array<{ abs: string; entry: ManifestEntry }> = [];
  files = 0;
  bytes = 0;
  real!: SyncRoots;

  constructor(
    private readonly roots: SyncRoots,
    private readonly opts: { uid?: number; gid?: number },
    private readonly index: () => Index,
    private readonly failed: () => Error | undefined,
  ) {}

  private get owned(): boolean {
    return this.opts.uid !== undefined || this.opts.gid !== undefined;
  }

  private async own(abs: string): Promise<void> {
    if (this.owned) await lchown(abs, this.opts.uid ?? -1, this.opts.gid ?? -1);
  }

  async prepareRoots(): Promise<void> {
    for (const prefix of PREFIXES) {
      const root = this.roots[prefix];
      const existed = await lstat(root).then(
        () => true,
        () => false,
      );
      if (!existed) {
        await mkdir(root, { recursive: true, mode: 0o755 });
        await this.own(root);
      }
    }
    this.real = await realRoots(this.roots);
  }

  /** Records a folder's times before our first change in it, unless the index sets them. */
  private async remember(dirAbs: string, dirPath: string): Promise<void> {
    if (this.touched.has(dirAbs) || this.index().entries.has(dirPath)) return;
    const st = await lstat(dirAbs, { bigint: true }).catch(() => undefined);
    this.touched.set(
      dirAbs,
      st?.isDirectory() ? { atimeMs: Number(st.atimeNs / 1000n) / 1000, mtimeMs: mtimeMsOf(st) } : null,
    );
  }

  /**
   * Makes sure every folder above `segs` is a real folder (creating missing ones) and returns
   * the absolute path; throws when one is a link. With `create` false, returns undefined when a
   * parent is missing or not a folder (nothing to delete there).
   */
  private async parents(
    prefix: Prefix,
    segs: string[],
    path: string,
    create: boolean,
  ): Promise<string | undefined> {
    let abs = this.roots[prefix];
    for (let i = 0; i < segs.length - 1; i++) {
      abs = join(abs, segs[i] as string);
      if (create && this.verified.has(abs)) continue;
      let st: Stats | undefined;
      try {
        st = await lstat(abs);
      } catch (err) {
        if (errCode(err) !== 'ENOENT') throw err;
      }
      if (st?.isSymbolicLink())
        throw new DeltaError(`${printable(path)} lies below a symbolic link: refused`);
      if (!st?.isDirectory()) {
        if (!create) return undefined;
        const parentPath = [prefix, ...segs.slice(0, i)].join('/');
        await this.remember(join(abs, '..'), parentPath);
        if (st) await rm(abs, { recursive: true, force: true }); // a file where the sender has a folder
        await mkdir(abs, { mode: 0o755 });
        await this.own(abs);
      }
      if (create) this.verified.add(abs);
    }
    return join(abs, segs[segs.length - 1] as string);
  }

  async deleteAll(): Promise<number> {
    let n = 0;
    for (const d of this.index().deleted) {
      const abs = await this.parents(d.prefix, d.segs, d.path, false);
      if (!abs) continue;
      const exists = await lstat(abs).then(
        () => true,
        () => false,
      );
      if (!exists) continue;
      await this.remember(join(abs, '..'), [d.prefix, ...d.segs.slice(0, -1)].join('/'));
      await rm(abs, { recursive: true, force: true });
      n++;
    }
    return n;
  }

  /** Removes whatever sits at `abs` unless it is of type `keep`; returns whether it existed. */
  private async clear(abs: string, keep?: number): Promise<boolean> {
    let st: Stats;
    try {
      st = await lstat(abs);
    } catch (err) {
      if (errCode(err) === 'ENOENT') return false;
      throw err;
    }
    if (keep !== undefined && typeOf(st.mode) === keep) return true;
    if (st.isDirectory()) {
      await rm(abs, { recursive: true, force: true });
      this.verified.clear(); // folders below it are gone
    } else await unlink(abs);
    return false;
  }

  async write(
    re: ReadEntry,
    path: string,
    item: { entry: ManifestEntry; prefix: Prefix; segs: string[] },
  ): Promise<void> {
    const { entry, prefix, segs } = item;
    const abs = (await this.parents(prefix, segs, path, true)) as string;
    await this.remember(join(abs, '..'), [prefix, ...segs.slice(0, -1)].join('/'));
    const perm = entry.mode & 0o777;
    const t = typeOf(entry.mode);
    if (t === S_IFDIR) {
      re.resume();
      if (!(await this.clear(abs, S_IFDIR))) {
        await mkdir(abs, { mode: 0o700 });
      }
      await this.own(abs);
      this.verified.add(abs);
      this.dirs.push({ abs, entry });
    } else if (t === S_IFLNK) {
      re.resume();
      await this.clear(abs);
      await symlink(entry.link as string, abs);
      await this.own(abs);
      const s = utimeSeconds(entry.mtimeMs);
      await lutimes(abs, s, s);
    } else {
      const tmp = join(abs, '..', `.ash-sync-${randomBytes(6).toString('hex')}.tmp`);
      const realTmp = join(this.real[prefix], ...segs.slice(0, -1), tmp.slice(tmp.lastIndexOf('/') + 1));
      const handle = await open(tmp, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, 0o600);
      let ok = false;
      try {
        if (!(await assertAt(handle.fd, realTmp)))
          throw new DeltaError(`${printable(path)} would be written outside its root: refused`);
        for await (const chunk of re as AsyncIterable<Buffer>) {
          await handle.write(chunk, 0, chunk.length);
          this.bytes += chunk.length;
        }
        const failure = this.failed();
        if (failure) throw failure; // the stream stopped mid-file
        await handle.chmod(perm);
        if (this.owned) await handle.chown(this.opts.uid ?? -1, this.opts.gid ?? -1);
        const s = utimeSeconds(entry.mtimeMs);
        await handle.utimes(s, s);
        ok = true;
      } finally {
        await handle.close();
        if (!ok) await unlink(tmp).catch(() => undefined);
      }
      await this.clear(abs, S_IFREG);
      await rename(tmp, abs);
    }
    this.files++;
  }

  /** Folder modes and times (deepest first), then the times of the other folders we touched. */
  async finish(): Promise<void> {
    this.dirs.sort((a, b) => depth(b.abs) - depth(a.abs));
    for (const d of this.dirs) {
      await chmod(d.abs, d.entry.mode & 0o777);
      const s = utimeSeconds(d.entry.mtimeMs);
      await lutimes(d.abs, s, s);
    }
    for (const [abs, t] of this.touched) {
      if (t) await lutimes(abs, utimeSeconds(t.atimeMs), utimeSeconds(t.mtimeMs)).catch(() => undefined);
    }
  }
}

/**
 * Applies a workspace delta from {@link packDelta}: deletes what the index lists, then writes
 * each entry of the tar (files via a temporary file and a rename, so an existing link is
 * replaced, never written through), then sets each entry's mode and EXACT mtime from the index —
 * a rescan of the receiver then equals the sender's entries and the next diff is empty. Folders
 * the delta changes without listing them get their times back. Missing roots are created.
 *
 * Refused with {@link DeltaError} (nothing outside the roots touched; what was applied before
 * the refusal stays): a stream that is not a tar or does not start with the index, an absolute
 * path, `..`, a prefix other than `workspace/` or `claude/`, a path below an existing symbolic
 * link, a tar entry missing from the index or of another type than its index entry, a duplicate,
 * hard links, devices and FIFOs, and more than `opts.maxBytes` bytes of tar stream.
 * `opts.uid`/`opts.gid`: owner given to what it writes (the sandboxes run as other uids).
 * Index entries absent from the tar (files gone on the sender while it packed) are skipped.
 * @returns `files`: entries written (files, folders, links); `deleted`: paths removed;
 *   `bytes`: file bytes written.
 */
export async function applyDelta(
  roots: SyncRoots,
  body: Readable,
  opts: { maxBytes?: number; uid?: number; gid?: number } = {},
): Promise<{ files: number; deleted: number; bytes: number }> {
  let index: Index | undefined;
  let failure: Error | undefined;
  const applier = new Applier(
    roots,
    opts,
    () => index as Index,
    () => failure,
  );
  let deleted = 0;
  let current: ReadEntry | undefined;
  const fail = (err: unknown) => {
    failure ??= err instanceof Error ? err : new DeltaError(String(err));
  };
  const seen = new Set<string>();
  const parser = new Parser({ strict: true });
  parser.on('warn', (_code: string, message: string | Error) =>
    fail(new DeltaError(`the delta is not a valid tar: ${String(message)}`)),
  );
  parser.on('error', (err: Error) => fail(new DeltaError(`the delta is not a valid tar: ${err.message}`)));
  let chain: Promise<void> = applier.prepareRoots().catch(fail);
  const handle = async (re: ReadEntry): Promise<void> => {
    if (failure) return void re.resume();
    current = re;
    const path = re.path.replace(/\/+$/, '');
    if (!index) {
      if (path !== WORKSPACE_DELTA_INDEX || re.type !== 'File')
        throw new DeltaError(`the delta does not start with ${WORKSPACE_DELTA_INDEX}`);
      if (re.size > MAX_INDEX_BYTES) throw new DeltaError('the delta index is too large');
      const parts: Buffer[] = [];
      for await (const c of re as AsyncIterable<Buffer>) parts.push(c);
      index = parseIndex(Buffer.concat(parts));
      deleted = await applier.deleteAll();
      return;
    }
    const item = index.entries.get(path);
    if (!item) {
      const parsed = parsePath(path);
      throw new DeltaError(
        'reason' in parsed
          ? `entry ${printable(path)} ${parsed.reason}: refused`
          : `entry ${printable(path)} is missing from the delta index`,
      );
    }
    if (seen.has(path)) throw new DeltaError(`entry ${printable(path)} appears twice`);
    seen.add(path);
    if (!tarTypeOk(re.type, item.entry.mode))
      throw new DeltaError(`entry ${printable(path)} is a ${re.type}, not what its index entry says`);
    if (re.type === 'SymbolicLink' && re.linkpath !== item.entry.link)
      throw new DeltaError(`link ${printable(path)} has another target than its index entry`);
    await applier.write(re, path, item);
  };
  parser.on('ignoredEntry', (re: ReadEntry) => {
    fail(new DeltaError(`entry ${printable(re.path ?? '')} has an unsupported type (${re.type})`));
  });
  parser.on('entry', (re: ReadEntry) => {
    if (failure) return void re.resume();
    if (re.type !== 'File' && re.type !== 'OldFile' && re.type !== 'ContiguousFile') re.resume();
    chain = chain.then(() =>
      handle(re).catch((err: unknown) => {
        fail(err);
        re.resume(); // drop its bytes so the parser never waits on it
      }),
    );
  });
  let n = 0;
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      n += chunk.length;
      if (opts.maxBytes !== undefined && n > opts.maxBytes)
        fail(new DeltaError(`the delta exceeds the ${opts.maxBytes}-byte limit`));
      if (failure) return cb(failure);
      if (parser.write(chunk)) cb();
      else parser.once('drain', () => cb());
    },
    final(cb) {
      let called = false;
      const done = (err?: Error) => {
        if (called) return;
        called = true;
        cb(err);
      };
      parser.once('end', () => done());
      parser.once('error', (err: Error) => done(failure ?? err));
      parser.end();
    },
  });
  try {
    await pipeline(body, sink);
  } catch (err) {
    fail(
      err instanceof DeltaError
        ? err
        : new DeltaError(`the delta could not be read: ${(err as Error).message}`),
    );
  }
  // A file being written waits for bytes that will never come: end it.
  if (failure && current && !current.emittedEnd) {
    try {
      current.end();
    } catch {
      // already ended
    }
  }
  await chain;
  if (!failure && !index) fail(new DeltaError('the delta is empty (no index)'));
  if (failure) throw failure;
  await applier.finish();
  return { files: applier.files, deleted, bytes: applier.bytes };
}
