import { createHash } from 'node:crypto';
import { constants as C } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip, gunzipSync, gzipSync } from 'node:zlib';
import { checkRelativePath } from '../util/paths.js';
import { ConfinedDir, ConfinementError } from './confined-dir.js';
import { type ObjectStore, StorageError } from './object-store.js';

/**
 * One entry of a checkpoint manifest. `mode` is the full `st_mode` type and permission bits
 * (`S_IFREG | 0o644`, `S_IFDIR | 0o755`, `S_IFLNK | 0o777`); `mtimeMs` whole milliseconds.
 * Files carry `blob` (SHA-256 of their bytes, hex), links `link` (the target text, never
 * followed). Folders are listed too (so empty ones and their modes survive).
 */
export interface CheckpointEntry {
  /** Bytes (0 for folders and links). */
  size: number;
  mtimeMs: number;
  mode: number;
  link?: string;
  blob?: string;
}

/**
 * What one checkpoint holds: every file, folder and link of a session's workspace
 * (`workspace/<rel>`) and SDK config dir (`claude/<rel>`), by path.
 */
export interface CheckpointManifest {
  version: 1;
  /** ISO-8601. */
  savedAt: string;
  /** The session's lease generation when it was saved (fencing), when known. */
  generation?: number;
  entries: Record<string, CheckpointEntry>;
}

/** The two trees of a session a checkpoint covers (absolute folders on this machine). */
export interface CheckpointRoots {
  workspace: string;
  claude: string;
}

/** What {@link CheckpointStore.save} did. */
export interface CheckpointSaveResult {
  manifest: CheckpointManifest;
  /** Files hashed and uploaded as new blobs. */
  uploadedBlobs: number;
  /** Bytes written to object storage (new blobs, compressed, and the manifest). */
  uploadedBytes: number;
  /** Blobs the previous checkpoint referred to that this one does not (deleted). */
  deletedBlobs: number;
}

/** What {@link CheckpointStore.restore} did. */
export interface CheckpointRestoreResult {
  /** Files downloaded and written. */
  written: number;
  /** Entries removed (not in the manifest, or of another kind). */
  removed: number;
  /** Compressed bytes downloaded. */
  downloadedBytes: number;
}

/** A manifest or blob that is malformed, unsafe or inconsistent (never followed). */
export class CheckpointError extends Error {
  constructor(
    message: string,
    /** A blob the manifest names is not stored (e.g. a newer save replaced the manifest meanwhile). */
    readonly missingBlob = false,
  ) {
    super(message);
    this.name = 'CheckpointError';
  }
}

const S_IFMT = C.S_IFMT;
const S_IFREG = C.S_IFREG;
const S_IFDIR = C.S_IFDIR;
const S_IFLNK = C.S_IFLNK;
const BLOB = /^[0-9a-f]{64}$/;
/** Files up to this size are read into memory once (hash and upload from the same bytes). */
const IN_MEMORY_BYTES = 8 * 1024 * 1024;
/** Parallel blob uploads / downloads. */
const CONCURRENCY = 4;
/** Largest manifest accepted on restore, bytes (compressed, and again uncompressed). */
const MAX_MANIFEST_BYTES = 512 * 1024 * 1024;
/** Most entries accepted on restore. */
const MAX_ENTRIES = 2_000_000;

const kindOf = (mode: number): 'file' | 'directory' | 'symlink' | undefined => {
  const t = mode & S_IFMT;
  return t === S_IFREG ? 'file' : t === S_IFDIR ? 'directory' : t === S_IFLNK ? 'symlink' : undefined;
};
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
/** The manifest clock: whole microseconds, in ms (what `utimes` reproduces exactly). */
const mtimeMsOf = (st: { mtimeNs: bigint }): number => Number(st.mtimeNs / 1000n) / 1000;

/** Object keys of one session's checkpoint, under `prefix` (`sessions/<tenant>/<id>/checkpoint/`). */
export const checkpointKeys = {
  manifest: (prefix: string) => `${prefix}manifest.json.gz`,
  blobs: (prefix: string) => `${prefix}blobs/`,
  blob: (prefix: string, sha: string) => `${prefix}blobs/${sha}`,
};

/** A local tree as a checkpoint sees it. */
export interface ScannedTree {
  entries: Record<string, CheckpointEntry>;
  /** Paths of excluded entries (e.g. `workspace/node_modules`), not descended into. */
  excluded: string[];
}

/**
 * Lists the files, folders and links of both roots (links never followed), without blobs.
 * Names in `exclude` are left out of the workspace at any depth; a missing root is empty.
 */
export async function scanCheckpointTree(
  roots: CheckpointRoots,
  exclude: ReadonlySet<string>,
): Promise<ScannedTree> {
  const entries: Record<string, CheckpointEntry> = {};
  const excluded: string[] = [];
  for (const [prefix, root, skip] of [
    ['workspace', roots.workspace, exclude],
    ['claude', roots.claude, new Set<string>()],
  ] as const) {
    const dir = new ConfinedDir(root);
    const walk = dir.walk({
      bigint: true,
      include: (name, rel) => {
        if (!skip.has(name)) return true;
        excluded.push(`${prefix}/${rel}`);
        return false;
      },
    });
    try {
      for await (const e of walk) {
        const mode = Number(e.stats.mode) & (S_IFMT | 0o777);
        const entry: CheckpointEntry = {
          size: e.kind === 'directory' ? 0 : Number(e.stats.size),
          mtimeMs: mtimeMsOf(e.stats),
          mode,
        };
        if (e.kind === 'symlink') {
          try {
            entry.link = await dir.readlink(e.path.split('/'));
          } catch {
            continue; // removed meanwhile
          }
        }
        entries[`${prefix}/${e.path}`] = entry;
      }
    } catch (err) {
      if (err instanceof ConfinementError && err.path === '.' && err.reason === 'missing') continue;
      throw err;
    }
  }
  return { entries, excluded };
}

/** Splits `workspace/a/b` into the root's name and the segments inside it. */
function split(path: string): { root: 'workspace' | 'claude'; segs: string[] } {
  const cut = path.indexOf('/');
  return { root: path.slice(0, cut) as 'workspace' | 'claude', segs: path.slice(cut + 1).split('/') };
}

/** Same file content, presumed: same kind, size and modification time (the rsync rule). */
const sameContent = (a: CheckpointEntry | undefined, b: CheckpointEntry): boolean =>
  a !== undefined &&
  (a.mode & S_IFMT) === (b.mode & S_IFMT) &&
  a.size === b.size &&
  a.mtimeMs === b.mtimeMs &&
  a.link === b.link;

/**
 * Checks a manifest read from object storage before anything is written: version 1, every path
 * `workspace/<rel>` or `claude/<rel>` with a normalised relative `<rel>` (no `..`, not absolute),
 * no entry below a file or a link of the manifest, only files (with a SHA-256 blob), folders and
 * links (with a target), sane sizes and times.
 * @throws CheckpointError naming the first problem.
 */
export function validateManifest(value: unknown): CheckpointManifest {
  const m = value as CheckpointManifest;
  if (!m || typeof m !== 'object' || m.version !== 1 || !m.entries || typeof m.entries !== 'object')
    throw new CheckpointError('the checkpoint manifest is not a version 1 manifest');
  const paths = Object.keys(m.entries);
  if (paths.length > MAX_ENTRIES)
    throw new CheckpointError(`the checkpoint manifest has more than ${MAX_ENTRIES} entries`);
  const shown = (p: string) => JSON.stringify(p.length > 120 ? `${p.slice(0, 120)}…` : p);
  for (const path of paths) {
    const e = m.entries[path]!;
    const cut = path.indexOf('/');
    const root = cut > 0 ? path.slice(0, cut) : '';
    const rel = path.slice(cut + 1);
    const checked = checkRelativePath(rel);
    if ((root !== 'workspace' && root !== 'claude') || 'reason' in checked || checked.path !== rel)
      throw new CheckpointError(`the checkpoint manifest names an unsafe path ${shown(path)}`);
    if (!e || typeof e !== 'object') throw new CheckpointError(`entry ${shown(path)} is malformed`);
    const kind = Number.isInteger(e.mode) ? kindOf(e.mode) : undefined;
    if (
      !kind ||
      !Number.isSafeInteger(e.size) ||
      e.size < 0 ||
      !Number.isFinite(e.mtimeMs) ||
      (kind === 'file') !== (typeof e.blob === 'string' && BLOB.test(e.blob)) ||
      (kind === 'symlink') !== (typeof e.link === 'string' && e.link.length > 0 && !e.link.includes('\0'))
    )
      throw new CheckpointError(`entry ${shown(path)} is malformed`);
    const segs = rel.split('/');
    for (let i = 1; i < segs.length; i++) {
      const above = m.entries[`${root}/${segs.slice(0, i).join('/')}`];
      if (above && kindOf(above.mode) !== 'directory')
        throw new CheckpointError(`entry ${shown(path)} lies below a file or a link of the manifest`);
    }
  }
  return m;
}

/** Runs `fn` over `items` with at most `n` at a time; the first failure rejects (others finish). */
async function eachLimit<T>(items: T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: unknown;
  const worker = async () => {
    while (failed === undefined && next < items.length) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (err) {
        failed ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  if (failed !== undefined) throw failed;
}

/**
 * Incremental checkpoints of a session's files in object storage: content-addressed blobs
 * (`<prefix>blobs/<sha256>`, gzip) and one manifest (`<prefix>manifest.json.gz`, gzip JSON) listing every
 * entry. A save uploads only the files whose size or modification time changed since the
 * previous manifest and whose content is not stored yet, then replaces the manifest (one put:
 * a reader sees the old checkpoint or the new one, never a mix), then deletes the blobs only the
 * previous manifest used. A restore makes a local tree equal to a manifest, downloading only
 * what differs. Links are never followed; paths are confined like {@link ConfinedDir}.
 */
export class CheckpointStore {
  constructor(private readonly store: ObjectStore) {}

  /**
   * The stored manifest under `prefix`, or undefined when there is none.
   * @throws StorageError; CheckpointError for a malformed one.
   */
  async load(prefix: string): Promise<CheckpointManifest | undefined> {
    const body = await this.store.get(checkpointKeys.manifest(prefix));
    if (!body) return undefined;
    const chunks: Buffer[] = [];
    let n = 0;
    for await (const chunk of body) {
      const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
      n += b.length;
      if (n > MAX_MANIFEST_BYTES) {
        body.destroy();
        throw new CheckpointError(`the checkpoint manifest exceeds ${MAX_MANIFEST_BYTES} bytes`);
      }
      chunks.push(b);
    }
    let parsed: unknown;
    try {
      const text = gunzipSync(Buffer.concat(chunks), { maxOutputLength: MAX_MANIFEST_BYTES });
      parsed = JSON.parse(text.toString('utf8'));
    } catch {
      throw new CheckpointError('the checkpoint manifest is not gzip-compressed JSON (or is too large)');
    }
    return validateManifest(parsed);
  }

  /**
   * Stores a checkpoint of `roots` under `prefix`.
   * @param opts.prev the manifest last stored under `prefix` (from memory, or {@link load});
   *   without it every file is hashed and the stored blobs are listed once (blobs no manifest
   *   uses, e.g. left by a failed save, are deleted after the switch; `sweep` does the same with
   *   `prev`).
   * @throws StorageError (nothing switched: the previous manifest stays current).
   */
  async save(
    prefix: string,
    roots: CheckpointRoots,
    opts: {
      prev?: CheckpointManifest | undefined;
      exclude: ReadonlySet<string>;
      generation?: number;
      /** List the stored blobs even with `prev` (after a failed save: its uploads are garbage). */
      sweep?: boolean;
    },
  ): Promise<CheckpointSaveResult> {
    const { entries } = await scanCheckpointTree(roots, opts.exclude);
    const prev = opts.prev;
    const stored = new Set<string>();
    if (prev) for (const e of Object.values(prev.entries)) if (e.blob) stored.add(e.blob);
    if (!prev || opts.sweep) {
      for (const o of await this.store.list(checkpointKeys.blobs(prefix))) {
        const sha = o.key.slice(checkpointKeys.blobs(prefix).length);
        if (BLOB.test(sha)) stored.add(sha);
      }
    }
    const todo: string[] = [];
    for (const [path, e] of Object.entries(entries)) {
      if (kindOf(e.mode) !== 'file') continue;
      const p = prev?.entries[path];
      if (p?.blob && sameContent(p, e)) e.blob = p.blob;
      else todo.push(path);
    }
    let uploadedBlobs = 0;
    let uploadedBytes = 0;
    const dirs = { workspace: new ConfinedDir(roots.workspace), claude: new ConfinedDir(roots.claude) };
    const uploading = new Set<string>();
    await eachLimit(todo, CONCURRENCY, async (path) => {
      const { root, segs } = split(path);
      let opened: Awaited<ReturnType<ConfinedDir['openRead']>>;
      try {
        opened = await dirs[root].openRead(segs);
      } catch (err) {
        // Removed or replaced (by a folder or a link) since the scan: not in this checkpoint.
        if (err instanceof ConfinementError) {
          delete entries[path];
          return;
        }
        throw err;
      }
      const { handle } = opened;
      try {
        const entry = entries[path]!;
        const big = await handle.stat({ bigint: true });
        entry.size = Number(big.size);
        entry.mtimeMs = mtimeMsOf(big);
        entry.mode = Number(big.mode) & (S_IFMT | 0o777);
        if (entry.size <= IN_MEMORY_BYTES) {
          const bytes = await handle.readFile();
          const sha = sha256(bytes);
          entry.blob = sha;
          entry.size = bytes.length;
          if (stored.has(sha) || uploading.has(sha)) return;
          uploading.add(sha);
          const body = gzipSync(bytes, { level: 1 });
          await this.store.put(checkpointKeys.blob(prefix, sha), body, { contentType: 'application/gzip' });
          stored.add(sha);
          uploadedBlobs++;
          uploadedBytes += body.length;
          return;
        }
        // Large files: hash first, then upload (hashing again) and check the two agree.
        for (let attempt = 1; ; attempt++) {
          const hash = createHash('sha256');
          let size = 0;
          for await (const c of handle.createReadStream({ start: 0, autoClose: false })) {
            hash.update(c as Buffer);
            size += (c as Buffer).length;
          }
          const sha = hash.digest('hex');
          entry.blob = sha;
          entry.size = size;
          if (stored.has(sha) || uploading.has(sha)) return;
          uploading.add(sha);
          const again = createHash('sha256');
          const source = handle.createReadStream({ start: 0, autoClose: false });
          const tap = new Transform({
            transform(chunk: Buffer, _enc, cb) {
              again.update(chunk);
              cb(null, chunk);
            },
          });
          const key = checkpointKeys.blob(prefix, sha);
          const gz = createGzip({ level: 1 });
          const piped = pipeline(source, tap, gz).catch((err: unknown) => gz.destroy(err as Error));
          const { size: put } = await this.store.put(key, gz, { contentType: 'application/gzip' });
          await piped;
          if (again.digest('hex') === sha) {
            stored.add(sha);
            uploadedBlobs++;
            uploadedBytes += put;
            return;
          }
          // Changed while it was uploaded: the object does not hold what its name says.
          uploading.delete(sha);
          await this.store.delete(key);
          if (attempt === 3) throw new StorageError(`${path} kept changing while it was checkpointed`);
        }
      } finally {
        await handle.close();
      }
    });
    const manifest: CheckpointManifest = {
      version: 1,
      savedAt: new Date().toISOString(),
      ...(opts.generation !== undefined ? { generation: opts.generation } : {}),
      entries,
    };
    const text = gzipSync(JSON.stringify(manifest), { level: 1 });
    await this.store.put(checkpointKeys.manifest(prefix), text, { contentType: 'application/gzip' });
    uploadedBytes += text.length;
    // Garbage: blobs the previous checkpoint used and this one does not (a reader still on the
    // previous manifest retries with the new one), and listed ones no manifest uses (a failed
    // save's uploads: the next save lists when it has no previous manifest or is told to sweep).
    const used = new Set<string>();
    for (const e of Object.values(entries)) if (e.blob) used.add(e.blob);
    let deletedBlobs = 0;
    for (const sha of stored) {
      if (used.has(sha)) continue;
      await this.store.delete(checkpointKeys.blob(prefix, sha)).then(
        () => deletedBlobs++,
        () => undefined,
      );
    }
    return { manifest, uploadedBlobs, uploadedBytes, deletedBlobs };
  }

  /**
   * Makes `roots` equal to `manifest` (validated first): removes what it lacks (and excluded
   * folders, which a checkpoint never holds), creates folders, downloads the files whose size or
   * modification time differ (each checked against its SHA-256, written to a temporary name and
   * renamed), recreates links, then sets every mode and modification time, so a
   * {@link scanCheckpointTree} afterwards yields exactly the manifest's entries.
   * @throws CheckpointError (unsafe manifest, missing or corrupt blob), StorageError,
   *   ConfinementError (the local tree changed underneath).
   */
  async restore(
    prefix: string,
    manifest: CheckpointManifest,
    roots: CheckpointRoots,
    opts: { exclude: ReadonlySet<string> },
  ): Promise<CheckpointRestoreResult> {
    validateManifest(manifest);
    const want = manifest.entries;
    await mkdir(roots.workspace, { recursive: true, mode: 0o755 });
    await mkdir(roots.claude, { recursive: true, mode: 0o700 });
    const dirs = { workspace: new ConfinedDir(roots.workspace), claude: new ConfinedDir(roots.claude) };
    const local = await scanCheckpointTree(roots, opts.exclude);
    const have = local.entries;
    const result: CheckpointRestoreResult = { written: 0, removed: 0, downloadedBytes: 0 };

    // 1. Remove what the manifest lacks or holds as another kind (a parent before its children).
    const doomed = [
      ...local.excluded,
      ...Object.keys(have).filter((p) => {
        const w = want[p];
        const h = have[p]!;
        if (!w || (w.mode & S_IFMT) !== (h.mode & S_IFMT)) return true;
        return kindOf(h.mode) === 'symlink' && h.link !== w.link;
      }),
    ].sort();
    let last: string | undefined;
    for (const path of doomed) {
      if (last !== undefined && path.startsWith(`${last}/`)) continue;
      const { root, segs } = split(path);
      try {
        await dirs[root].remove(segs).catch((err: unknown) => {
          // The entry itself is a link: remove the link (never what it points to).
          if (err instanceof ConfinementError && err.reason === 'symlink' && err.path === segs.join('/'))
            return dirs[root].removeLink(segs);
          throw err;
        });
      } catch (err) {
        if (!(err instanceof ConfinementError && err.reason === 'missing')) throw err;
      }
      delete have[path];
      result.removed++;
      last = path;
    }

    const paths = Object.keys(want).sort();
    // 2. Folders (parents first).
    for (const path of paths) {
      if (kindOf(want[path]!.mode) !== 'directory' || have[path]) continue;
      const { root, segs } = split(path);
      await dirs[root].mkdirp(segs);
    }
    // 3. Files that differ.
    const fetch = paths.filter((p) => kindOf(want[p]!.mode) === 'file' && !sameContent(have[p], want[p]!));
    await eachLimit(fetch, CONCURRENCY, async (path) => {
      const e = want[path]!;
      const { root, segs } = split(path);
      const body = await this.store.get(checkpointKeys.blob(prefix, e.blob!));
      if (!body) throw new CheckpointError(`blob ${e.blob} of ${path} is missing from object storage`, true);
      const hash = createHash('sha256');
      let compressed = 0;
      let size = 0;
      const count = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          compressed += chunk.length;
          cb(null, chunk);
        },
      });
      // Checked before the temporary file is renamed into place: a bad blob never lands.
      const check = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          size += chunk.length;
          if (size > e.size)
            return cb(new CheckpointError(`blob ${e.blob} of ${path} is larger than recorded`));
          hash.update(chunk);
          cb(null, chunk);
        },
        flush(cb) {
          if (size !== e.size || hash.digest('hex') !== e.blob)
            return cb(new CheckpointError(`blob ${e.blob} of ${path} does not hold the recorded bytes`));
          cb();
        },
      });
      const gunzip = createGunzip();
      const piped = pipeline(body, count, gunzip, check).catch((err: unknown) => {
        check.destroy(err as Error);
      });
      try {
        await dirs[root].writeFile(segs, check, { mode: e.mode & 0o777, sparse: true });
      } catch (err) {
        body.destroy();
        check.destroy();
        await piped;
        throw err;
      }
      await piped;
      result.written++;
      result.downloadedBytes += compressed;
      have[path] = { ...e, mtimeMs: Number.NaN };
    });
    // 4. Links (after every file: nothing is ever written through one).
    for (const path of paths) {
      const e = want[path]!;
      if (kindOf(e.mode) !== 'symlink' || have[path]) continue;
      const { root, segs } = split(path);
      await dirs[root].symlink(segs, e.link!);
      have[path] = { ...e, mtimeMs: Number.NaN };
    }
    // 5. Modes and times; folders last, deepest first (writing inside one changes its time).
    for (const path of paths) {
      const e = want[path]!;
      const kind = kindOf(e.mode);
      if (kind === 'directory') continue;
      const h = have[path];
      if (h && h.mtimeMs === e.mtimeMs && h.mode === e.mode) continue;
      const { root, segs } = split(path);
      await dirs[root].setMeta(segs, { ...(kind === 'file' ? { mode: e.mode } : {}), mtimeMs: e.mtimeMs });
    }
    for (const path of paths.filter((p) => kindOf(want[p]!.mode) === 'directory').reverse()) {
      const { root, segs } = split(path);
      await dirs[root].setMeta(segs, { mode: want[path]!.mode, mtimeMs: want[path]!.mtimeMs });
    }
    return result;
  }
}
