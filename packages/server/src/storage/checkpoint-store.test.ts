import { randomBytes, randomUUID } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { gunzipSync, gzipSync } from 'node:zlib';
import { scanManifest } from '@ash-ai/runner';
import { ALL_BYTES, removeDir, startTestS3, tempDir, type TestS3 } from '@ash-ai/testing';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type AshDatabase } from '../db/client.js';
import { createRepos, type Repos } from '../db/repos/index.js';
import { WorkspaceSnapshots } from '../services/files/workspace-snapshots.js';
import { SessionPaths } from '../services/sessions/session-paths.js';
import { packTarGz } from './bundle.js';
import {
  type CheckpointManifest,
  type CheckpointRoots,
  CheckpointError,
  CheckpointStore,
  checkpointKeys,
  scanCheckpointTree,
} from './checkpoint-store.js';
import { ConfinedDir } from './confined-dir.js';
import { storageKeys } from './keys.js';
import { LocalObjectStore } from './local-object-store.js';
import { type ObjectInfo, type ObjectStore, type PutOptions, readAll, StorageError } from './object-store.js';
import { S3ObjectStore } from './s3-object-store.js';

const EXCLUDE = new Set(['node_modules', '.cache']);

/** A real store that counts what is written through it (puts and their bytes, deletes). */
class CountingStore implements ObjectStore {
  puts: Array<{ key: string; size: number }> = [];
  deletes: string[] = [];
  /** Puts allowed before every put fails (an outage); undefined: no failures. */
  putsLeft: number | undefined;
  /** Runs (once) before the next read of a key containing `/blobs/`. */
  beforeBlobGet: (() => Promise<void>) | undefined;
  constructor(private readonly inner: ObjectStore) {}
  get kind() {
    return this.inner.kind;
  }
  reset() {
    this.puts = [];
    this.deletes = [];
  }
  async put(key: string, body: Buffer | Readable, opts?: PutOptions) {
    if (this.putsLeft !== undefined && this.putsLeft-- <= 0) throw new StorageError('outage (test)');
    const r = await this.inner.put(key, body, opts);
    this.puts.push({ key, size: r.size });
    return r;
  }
  async get(key: string) {
    const hook = this.beforeBlobGet;
    if (hook && key.includes('/blobs/')) {
      this.beforeBlobGet = undefined;
      await hook();
    }
    return this.inner.get(key);
  }
  exists(key: string) {
    return this.inner.exists(key);
  }
  async delete(key: string) {
    this.deletes.push(key);
    await this.inner.delete(key);
  }
  list(prefix: string): Promise<ObjectInfo[]> {
    return this.inner.list(prefix);
  }
  check() {
    return this.inner.check();
  }
  close() {
    return this.inner.close();
  }
}

const OLD = new Date('2024-02-03T04:05:06.789Z');

/** A session tree with every kind of entry a checkpoint must keep. */
function makeTree(roots: CheckpointRoots): void {
  const ws = roots.workspace;
  mkdirSync(join(ws, 'sub', 'dir'), { recursive: true });
  mkdirSync(join(ws, 'empty'), { recursive: true });
  mkdirSync(join(ws, 'node_modules', 'pkg'), { recursive: true });
  mkdirSync(join(ws, 'deep', 'x', 'y'), { recursive: true });
  mkdirSync(join(roots.claude, 'projects'), { recursive: true });
  writeFileSync(join(ws, 'a.txt'), 'hello\n');
  writeFileSync(join(ws, 'sub', 'ünïcödé 文件 name.txt'), 'multi-byte names');
  writeFileSync(join(ws, 'sub', 'dir', 'all.bin'), ALL_BYTES);
  writeFileSync(join(ws, 'deep', 'x', 'y', 'z.txt'), 'deep');
  writeFileSync(join(ws, 'run.sh'), '#!/bin/sh\necho hi\n');
  chmodSync(join(ws, 'run.sh'), 0o750);
  writeFileSync(join(ws, 'private.txt'), 'secret-ish');
  chmodSync(join(ws, 'private.txt'), 0o600);
  writeFileSync(join(ws, 'same-1.txt'), 'same bytes');
  writeFileSync(join(ws, 'same-2.txt'), 'same bytes');
  writeFileSync(join(ws, 'node_modules', 'pkg', 'index.js'), 'module.exports = 1;');
  // Larger than the in-memory limit: the streamed hash-and-upload path.
  writeFileSync(join(ws, 'big.bin'), randomBytes(9 * 1024 * 1024 + 123));
  symlinkSync('a.txt', join(ws, 'link'));
  symlinkSync('/etc/passwd', join(ws, 'abs-link'));
  symlinkSync('nowhere/at/all', join(ws, 'dangling'));
  writeFileSync(join(roots.claude, 'projects', 's.jsonl'), '{"type":"user"}\n');
  utimesSync(join(ws, 'a.txt'), OLD, OLD);
  utimesSync(join(ws, 'sub'), OLD, OLD);
}

const withoutBlobs = (m: CheckpointManifest['entries']) =>
  Object.fromEntries(Object.entries(m).map(([k, { blob: _b, ...rest }]) => [k, rest]));

function backends(): Array<[string, () => Promise<{ store: ObjectStore; done: () => Promise<void> }>]> {
  return [
    [
      'local object store',
      async () => {
        const dir = tempDir('ash-ckpt-store-');
        return { store: new LocalObjectStore(dir), done: async () => removeDir(dir) };
      },
    ],
    [
      'S3 (s3rver)',
      async () => {
        const s3: TestS3 = await startTestS3();
        const spool = tempDir('ash-ckpt-spool-');
        const store = new S3ObjectStore({
          bucket: s3.bucket,
          endpoint: s3.endpoint,
          region: 'us-east-1',
          forcePathStyle: true,
          credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
          spoolDir: spool,
        });
        return {
          store,
          done: async () => {
            await store.close();
            await s3.close();
            removeDir(spool);
          },
        };
      },
    ],
  ];
}

describe.each(backends())('incremental checkpoints on the %s', (_name, make) => {
  let store: CountingStore;
  let done: () => Promise<void>;
  let dir: string;
  const prefix = `sessions/default/${randomUUID()}/checkpoint/`;
  const roots = (name: string): CheckpointRoots => ({
    workspace: join(dir, name, 'workspace'),
    claude: join(dir, name, 'claude'),
  });
  let first: CheckpointManifest;

  beforeAll(async () => {
    const made = await make();
    store = new CountingStore(made.store);
    done = made.done;
    dir = tempDir('ash-ckpt-');
  });
  afterAll(async () => {
    await store.close();
    await done();
    removeDir(dir);
  });

  it('round trip: a restore into an empty folder equals the saved tree (kinds, modes, times, links, content)', async () => {
    const src = roots('src');
    makeTree(src);
    const ckpt = new CheckpointStore(store);
    const saved = await ckpt.save(prefix, src, { exclude: EXCLUDE });
    first = saved.manifest;
    // Two files share one blob; node_modules is left out.
    expect(saved.uploadedBlobs).toBe(Object.values(first.entries).filter((e) => e.blob).length - 1);
    expect(Object.keys(first.entries).some((p) => p.includes('node_modules'))).toBe(false);
    expect(first.entries['workspace/empty']).toBeDefined();
    expect(first.entries['workspace/link']).toMatchObject({ link: 'a.txt' });
    expect(store.puts.at(-1)!.key).toBe(checkpointKeys.manifest(prefix));

    const loaded = await ckpt.load(prefix);
    expect(loaded).toEqual(first);
    const dst = roots('dst');
    const restored = await ckpt.restore(prefix, loaded!, dst, { exclude: EXCLUDE });
    expect(restored.written).toBe(Object.values(first.entries).filter((e) => e.blob).length);
    // A rescan equals the manifest: kinds, sizes, modes, modification times, link targets — and
    // the manifest is the runner link's format (what the runner's scanManifest reports).
    expect((await scanCheckpointTree(dst, EXCLUDE)).entries).toEqual(withoutBlobs(first.entries));
    expect(await scanManifest(dst)).toEqual(withoutBlobs(first.entries));
    for (const f of [
      'a.txt',
      'sub/ünïcödé 文件 name.txt',
      'sub/dir/all.bin',
      'big.bin',
      'deep/x/y/z.txt',
      'run.sh',
    ])
      expect(readFileSync(join(dst.workspace, f)).equals(readFileSync(join(src.workspace, f)))).toBe(true);
    expect(readFileSync(join(dst.claude, 'projects', 's.jsonl'), 'utf8')).toBe('{"type":"user"}\n');
    expect(lstatSync(join(dst.workspace, 'run.sh')).mode & 0o777).toBe(0o750);
    expect(lstatSync(join(dst.workspace, 'a.txt')).mtimeMs).toBeCloseTo(OLD.getTime(), -1);
    expect(readlinkSync(join(dst.workspace, 'abs-link'))).toBe('/etc/passwd');
    expect(lstatSync(join(dst.workspace, 'abs-link')).isSymbolicLink()).toBe(true);
    expect(existsSync(join(dst.workspace, 'node_modules'))).toBe(false);
  });

  it('a second save after changing one file uploads exactly one blob (and the manifest); no change uploads only the manifest', async () => {
    const src = roots('src');
    const ckpt = new CheckpointStore(store);
    writeFileSync(join(src.workspace, 'sub', 'dir', 'note.txt'), 'x'.repeat(1024));
    let prev = (await new CheckpointStore(store).save(prefix, src, { prev: first, exclude: EXCLUDE }))
      .manifest;
    store.reset();
    writeFileSync(join(src.workspace, 'sub', 'dir', 'note.txt'), 'y'.repeat(1024));
    const saved = await ckpt.save(prefix, src, { prev, exclude: EXCLUDE });
    expect(saved.uploadedBlobs).toBe(1);
    expect(store.puts.map((p) => p.key)).toEqual([
      checkpointKeys.blob(prefix, saved.manifest.entries['workspace/sub/dir/note.txt']!.blob!),
      checkpointKeys.manifest(prefix),
    ]);
    expect(saved.uploadedBytes).toBe(store.puts.reduce((n, p) => n + p.size, 0));
    // The replaced content's blob is no longer used: deleted after the manifest switched.
    expect(store.deletes).toEqual([
      checkpointKeys.blob(prefix, prev.entries['workspace/sub/dir/note.txt']!.blob!),
    ]);
    prev = saved.manifest;
    store.reset();
    const again = await ckpt.save(prefix, src, { prev, exclude: EXCLUDE });
    expect(again.uploadedBlobs).toBe(0);
    expect(store.puts.map((p) => p.key)).toEqual([checkpointKeys.manifest(prefix)]);
    // Without the previous manifest at hand (another process): files are hashed again, but
    // content already stored is not uploaded again.
    store.reset();
    const cold = await ckpt.save(prefix, src, { exclude: EXCLUDE });
    expect(cold.uploadedBlobs).toBe(0);
    expect(store.puts.map((p) => p.key)).toEqual([checkpointKeys.manifest(prefix)]);

    // The copy restored earlier is stale by one file: only that file is downloaded.
    const dst = roots('dst');
    const r = await ckpt.restore(prefix, cold.manifest, dst, { exclude: EXCLUDE });
    expect(r.written).toBe(1);
    expect(readFileSync(join(dst.workspace, 'sub', 'dir', 'note.txt'), 'utf8')).toBe('y'.repeat(1024));
    expect((await scanCheckpointTree(dst, EXCLUDE)).entries).toEqual(withoutBlobs(cold.manifest.entries));
  });

  it('deletes, type changes and mode changes restore in place over a stale copy; unused blobs are deleted', async () => {
    const src = roots('src');
    const ws = src.workspace;
    const ckpt = new CheckpointStore(store);
    const prev = await ckpt.load(prefix);
    rmSync(join(ws, 'deep'), { recursive: true }); // folder deleted
    rmSync(join(ws, 'same-1.txt')); // file deleted (its blob is still used by same-2.txt)
    rmSync(join(ws, 'big.bin')); // file deleted (its blob becomes garbage)
    rmSync(join(ws, 'a.txt'));
    mkdirSync(join(ws, 'a.txt')); // file → folder
    writeFileSync(join(ws, 'a.txt', 'inner'), 'inside');
    rmSync(join(ws, 'empty'), { recursive: true });
    writeFileSync(join(ws, 'empty'), 'now a file'); // folder → file
    rmSync(join(ws, 'run.sh'));
    symlinkSync('private.txt', join(ws, 'run.sh')); // file → link
    rmSync(join(ws, 'link'));
    writeFileSync(join(ws, 'link'), 'was a link'); // link → file
    rmSync(join(ws, 'dangling'));
    symlinkSync('elsewhere', join(ws, 'dangling')); // link target changed
    chmodSync(join(ws, 'private.txt'), 0o640); // mode only
    const saved = await ckpt.save(prefix, src, { prev, exclude: EXCLUDE });
    const bigBlob = prev!.entries['workspace/big.bin']!.blob!;
    const blobs = (await store.list(checkpointKeys.blobs(prefix))).map((o) => o.key);
    expect(blobs).not.toContain(checkpointKeys.blob(prefix, bigBlob));
    expect(blobs).toContain(
      checkpointKeys.blob(prefix, saved.manifest.entries['workspace/same-2.txt']!.blob!),
    );

    // The stale copy also gained files of its own and a node_modules: all gone after restore.
    const dst = roots('dst');
    writeFileSync(join(dst.workspace, 'stray.txt'), 'not in the checkpoint');
    mkdirSync(join(dst.workspace, 'node_modules', 'junk'), { recursive: true });
    mkdirSync(join(dst.claude, 'stray-dir'), { recursive: true });
    await ckpt.restore(prefix, saved.manifest, dst, { exclude: EXCLUDE });
    expect((await scanCheckpointTree(dst, EXCLUDE)).entries).toEqual(withoutBlobs(saved.manifest.entries));
    expect(await scanManifest(dst)).toEqual(withoutBlobs(saved.manifest.entries));
    const d = dst.workspace;
    expect(existsSync(join(d, 'deep'))).toBe(false);
    expect(existsSync(join(d, 'big.bin'))).toBe(false);
    expect(existsSync(join(d, 'stray.txt'))).toBe(false);
    expect(existsSync(join(d, 'node_modules'))).toBe(false);
    expect(existsSync(join(dst.claude, 'stray-dir'))).toBe(false);
    expect(readFileSync(join(d, 'a.txt', 'inner'), 'utf8')).toBe('inside');
    expect(readFileSync(join(d, 'empty'), 'utf8')).toBe('now a file');
    expect(readlinkSync(join(d, 'run.sh'))).toBe('private.txt');
    expect(readFileSync(join(d, 'link'), 'utf8')).toBe('was a link');
    expect(readlinkSync(join(d, 'dangling'))).toBe('elsewhere');
    expect(lstatSync(join(d, 'private.txt')).mode & 0o777).toBe(0o640);
    expect(readFileSync(join(d, 'same-2.txt'), 'utf8')).toBe('same bytes');
  });

  it('a failed save switches nothing; the next save (told to sweep) deletes the blobs it left', async () => {
    const ckpt = new CheckpointStore(store);
    const p = `sessions/default/${randomUUID()}/checkpoint/`;
    const src = roots('sweep');
    mkdirSync(src.workspace, { recursive: true });
    writeFileSync(join(src.workspace, 'x.txt'), 'one');
    writeFileSync(join(src.workspace, 'keep.txt'), 'kept');
    const m1 = (await ckpt.save(p, src, { exclude: EXCLUDE })).manifest;
    writeFileSync(join(src.workspace, 'x.txt'), 'two!');
    store.putsLeft = 1; // the blob is stored, the manifest is not
    await expect(ckpt.save(p, src, { prev: m1, exclude: EXCLUDE })).rejects.toBeInstanceOf(StorageError);
    store.putsLeft = undefined;
    expect(await ckpt.load(p)).toEqual(m1);
    const blobs = async () => (await store.list(checkpointKeys.blobs(p))).map((o) => o.key);
    expect(await blobs()).toHaveLength(3);
    writeFileSync(join(src.workspace, 'x.txt'), 'three');
    const m3 = (await ckpt.save(p, src, { prev: m1, exclude: EXCLUDE, sweep: true })).manifest;
    expect((await blobs()).sort()).toEqual(
      [m3.entries['workspace/x.txt']!.blob!, m3.entries['workspace/keep.txt']!.blob!]
        .map((sha) => checkpointKeys.blob(p, sha))
        .sort(),
    );
  });

  it('refuses a tampered manifest (parent references, absolute paths, entries below a link) and a corrupt blob, writing nothing outside', async () => {
    const ckpt = new CheckpointStore(store);
    const p = `sessions/default/${randomUUID()}/checkpoint/`;
    const good = (await ckpt.save(p, roots('src'), { exclude: EXCLUDE })).manifest;
    const fileEntry = good.entries['workspace/private.txt']!;
    const victim = roots('victim');
    mkdirSync(victim.workspace, { recursive: true });
    const tampered: Array<Record<string, unknown>> = [
      { 'workspace/../x': fileEntry },
      { 'workspace/a/../../x': fileEntry },
      { '/etc/x': fileEntry },
      { 'workspace//etc/x': fileEntry },
      { '../x': fileEntry },
      { 'other/x': fileEntry },
      { 'workspace/l': { size: 0, mtimeMs: 1, mode: 0o120777, link: '/' }, 'workspace/l/x': fileEntry },
      { 'workspace/f': { ...fileEntry, blob: '../../x' } },
      { 'workspace/dev': { size: 0, mtimeMs: 1, mode: 0o020666 } },
    ];
    for (const entries of tampered) {
      await store.put(
        checkpointKeys.manifest(p),
        gzipSync(JSON.stringify({ version: 1, savedAt: new Date().toISOString(), entries })),
      );
      await expect(ckpt.load(p), JSON.stringify(entries)).rejects.toBeInstanceOf(CheckpointError);
      await expect(
        ckpt.restore(p, { version: 1, savedAt: '', entries } as CheckpointManifest, victim, {
          exclude: EXCLUDE,
        }),
      ).rejects.toBeInstanceOf(CheckpointError);
    }
    expect(existsSync(join(dir, 'victim', 'x'))).toBe(false);
    expect(existsSync(join(dir, 'x'))).toBe(false);

    // A blob that does not hold what its name says is refused, and the file is not left behind.
    await store.put(checkpointKeys.blob(p, fileEntry.blob!), Buffer.from('not gzip'));
    const one: CheckpointManifest = {
      version: 1,
      savedAt: '',
      entries: { 'workspace/private.txt': fileEntry },
    };
    await expect(ckpt.restore(p, one, victim, { exclude: EXCLUDE })).rejects.toThrow();
    await store.put(
      checkpointKeys.blob(p, fileEntry.blob!),
      gzipSync(Buffer.from('x'.repeat(fileEntry.size))),
    );
    await expect(ckpt.restore(p, one, victim, { exclude: EXCLUDE })).rejects.toBeInstanceOf(CheckpointError);
    expect(existsSync(join(victim.workspace, 'private.txt'))).toBe(false);
    await store.delete(checkpointKeys.blob(p, fileEntry.blob!));
    await expect(ckpt.restore(p, one, victim, { exclude: EXCLUDE })).rejects.toMatchObject({
      missingBlob: true,
    });
  });

  it('never writes through a link the local copy holds where the checkpoint has a folder', async () => {
    const ckpt = new CheckpointStore(store);
    const p = `sessions/default/${randomUUID()}/checkpoint/`;
    const src = roots('link-src');
    mkdirSync(join(src.workspace, 'd'), { recursive: true });
    writeFileSync(join(src.workspace, 'd', 'f.txt'), 'inside');
    const m = (await ckpt.save(p, src, { exclude: EXCLUDE })).manifest;
    const outside = join(dir, 'outside');
    mkdirSync(outside, { recursive: true });
    const dst = roots('link-dst');
    mkdirSync(dst.workspace, { recursive: true });
    symlinkSync(outside, join(dst.workspace, 'd'));
    await ckpt.restore(p, m, dst, { exclude: EXCLUDE });
    expect(existsSync(join(outside, 'f.txt'))).toBe(false);
    expect(lstatSync(join(dst.workspace, 'd')).isDirectory()).toBe(true);
    expect(readFileSync(join(dst.workspace, 'd', 'f.txt'), 'utf8')).toBe('inside');
  });

  it('keeps a sparse file sparse on restore', async () => {
    const ckpt = new CheckpointStore(store);
    const p = `sessions/default/${randomUUID()}/checkpoint/`;
    const src = roots('sparse-src');
    mkdirSync(src.workspace, { recursive: true });
    const { openSync, closeSync, writeSync, ftruncateSync } = await import('node:fs');
    const fd = openSync(join(src.workspace, 'holes.bin'), 'w');
    writeSync(fd, Buffer.from('start'), 0, 5, 0);
    writeSync(fd, Buffer.from('end'), 0, 3, 30 * 1024 * 1024);
    ftruncateSync(fd, 30 * 1024 * 1024 + 3);
    closeSync(fd);
    const m = (await ckpt.save(p, src, { exclude: EXCLUDE })).manifest;
    const dst = roots('sparse-dst');
    await ckpt.restore(p, m, dst, { exclude: EXCLUDE });
    const st = lstatSync(join(dst.workspace, 'holes.bin'));
    expect(st.size).toBe(30 * 1024 * 1024 + 3);
    expect(st.blocks * 512).toBeLessThan(1024 * 1024);
    const bytes = readFileSync(join(dst.workspace, 'holes.bin'));
    expect(bytes.subarray(0, 5).toString()).toBe('start');
    expect(bytes.subarray(30 * 1024 * 1024).toString()).toBe('end');
  });
});

describe.each(backends())('WorkspaceSnapshots over checkpoints on the %s', (_name, make) => {
  let store: CountingStore;
  let done: () => Promise<void>;
  let dir: string;
  let db: AshDatabase;
  let repos: Repos;
  const log = pino({ level: 'silent' });
  const server = (name: string) => {
    const paths = new SessionPaths(join(dir, name));
    return { paths, snapshots: new WorkspaceSnapshots({ repos, store, paths, log }) };
  };

  beforeAll(async () => {
    const made = await make();
    store = new CountingStore(made.store);
    done = made.done;
    dir = tempDir('ash-ckpt-ws-');
    db = await openDatabase({ sqlitePath: join(dir, 'ash.db') });
    repos = createRepos(db);
  });
  afterAll(async () => {
    await db?.close();
    await store.close();
    await done();
    removeDir(dir);
  });

  const newSession = () =>
    repos.sessions.insert({
      id: randomUUID(),
      tenantId: 'default',
      agentName: 'a1',
      agentVersion: 1,
      status: 'paused',
      parentSessionId: null,
      model: null,
      config: {},
      extraEnv: {},
      credentialId: null,
      lastEventSeq: 0,
      lastMessageSeq: 0,
      now: new Date().toISOString(),
    });

  it('restores a session an older server stored as snapshot.tar.gz, then saves it as a checkpoint and deletes the archive', async () => {
    const s = await newSession();
    // What an older server stored: one archive of workspace/ and claude/.
    const old = join(dir, 'old-server', s.id);
    mkdirSync(join(old, 'workspace', 'notes'), { recursive: true });
    mkdirSync(join(old, 'claude', 'projects'), { recursive: true });
    writeFileSync(join(old, 'workspace', 'notes', 'memory.txt'), 'kumquat\n');
    writeFileSync(join(old, 'claude', 'projects', 't.jsonl'), '{"turn":1}\n');
    const legacy = storageKeys.snapshot(s.tenantId, s.id);
    await store.put(
      legacy,
      packTarGz([
        {
          dir: new ConfinedDir(join(old, 'workspace')),
          prefix: 'workspace',
          exclude: new Set(),
          links: 'all',
        },
        { dir: new ConfinedDir(join(old, 'claude')), prefix: 'claude', exclude: new Set(), links: 'all' },
      ]),
    );
    await repos.sessions.update(s.tenantId, s.id, {
      snapshotKey: legacy,
      snapshotAt: new Date().toISOString(),
    });

    const a = server('a');
    expect(await a.snapshots.restore((await repos.sessions.get(s.tenantId, s.id))!)).toBe(true);
    expect(readFileSync(join(a.paths.workspace(s.id), 'notes', 'memory.txt'), 'utf8')).toBe('kumquat\n');
    expect(readFileSync(join(a.paths.claudeConfig(s.id), 'projects', 't.jsonl'), 'utf8')).toBe(
      '{"turn":1}\n',
    );

    writeFileSync(join(a.paths.workspace(s.id), 'notes', 'more.txt'), 'persimmon\n');
    store.reset();
    const snap = await a.snapshots.save((await repos.sessions.get(s.tenantId, s.id))!);
    const row = (await repos.sessions.get(s.tenantId, s.id))!;
    expect(row.snapshotKey).toBe(checkpointKeys.manifest(storageKeys.checkpoint(s.tenantId, s.id)));
    expect(row.snapshotAt).toBe(snap.snapshotAt);
    expect(snap.size).toBe(store.puts.reduce((n, p) => n + p.size, 0));
    expect(await store.exists(legacy)).toBe(false);
    expect(await a.snapshots.localIsStale(row)).toBe(false);

    // Another server takes it over from the checkpoint.
    const b = server('b');
    expect(await b.snapshots.localIsStale(row)).toBe(true);
    expect(await b.snapshots.restore(row, { replace: true })).toBe(true);
    expect(await b.snapshots.localIsStale(row)).toBe(false);
    expect(readFileSync(join(b.paths.workspace(s.id), 'notes', 'more.txt'), 'utf8')).toBe('persimmon\n');
    expect(readFileSync(join(b.paths.claudeConfig(s.id), 'projects', 't.jsonl'), 'utf8')).toBe(
      '{"turn":1}\n',
    );

    // B changes one file and saves (one blob); A's copy is now stale and catches up in place.
    writeFileSync(join(b.paths.workspace(s.id), 'notes', 'memory.txt'), 'quince\n');
    store.reset();
    await b.snapshots.save(row);
    expect(store.puts.filter((p) => p.key.includes('/blobs/'))).toHaveLength(1);
    const row2 = (await repos.sessions.get(s.tenantId, s.id))!;
    expect(await a.snapshots.localIsStale(row2)).toBe(true);
    expect(await a.snapshots.restore(row2, { replace: true })).toBe(true);
    expect(readFileSync(join(a.paths.workspace(s.id), 'notes', 'memory.txt'), 'utf8')).toBe('quince\n');
    expect(await a.snapshots.localIsStale(row2)).toBe(false);
    expect(await a.snapshots.restore(row2, { replace: true })).toBe(false);
    const manifestText = gunzipSync(await readAll((await store.get(row2.snapshotKey!))!)).toString();
    expect(JSON.parse(manifestText)).toMatchObject({ version: 1, entries: expect.any(Object) });
  });

  it('a restore that finds a blob gone (a save elsewhere replaced the checkpoint meanwhile) retries with the new checkpoint', async () => {
    const s = await newSession();
    const a = server('ra');
    mkdirSync(a.paths.workspace(s.id), { recursive: true });
    writeFileSync(join(a.paths.workspace(s.id), 'f.txt'), 'version 1');
    await a.snapshots.save(s);
    const row = (await repos.sessions.get(s.tenantId, s.id))!;
    const b = server('rb');
    // While B reads the first checkpoint, A stores a second one that no longer uses its blob.
    store.beforeBlobGet = async () => {
      writeFileSync(join(a.paths.workspace(s.id), 'f.txt'), 'version 2!');
      await a.snapshots.save(row);
    };
    expect(await b.snapshots.restore(row)).toBe(true);
    expect(store.beforeBlobGet).toBeUndefined();
    expect(readFileSync(join(b.paths.workspace(s.id), 'f.txt'), 'utf8')).toBe('version 2!');
    expect(await b.snapshots.localIsStale((await repos.sessions.get(s.tenantId, s.id))!)).toBe(false);
  });
});
