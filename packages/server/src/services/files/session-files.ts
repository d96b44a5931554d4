import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { FileHandle } from 'node:fs/promises';
import { lstat, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type {
  FileEntry,
  ListFilesQuery,
  RestoreWorkspaceResult,
  SessionFileContent,
  SessionFileList,
  SessionUploadResponse,
  UploadFilesBody,
  UploadResult,
  WorkspaceSource,
} from '@ash-ai/shared';
import { allocatedBytes, directorySize } from '@ash-ai/sandbox';
import type { Repos, SessionRecord } from '../../db/repos/index.js';
import { AppError, notFound } from '../../errors.js';
import { BUNDLE_EXCLUDES, extractTarGz, mergeInto, packTarGz } from '../../storage/bundle.js';
import { ConfinedDir, ConfinementError } from '../../storage/confined-dir.js';
import { type BatchLimits, decodeBatch, requestPath, textOrBase64 } from './file-batch.js';
import { mapFileErrors, toAppError } from './file-errors.js';
import type { SessionOwnership } from '../sessions/session-ownership.js';
import type { SessionPaths } from '../sessions/session-paths.js';
import type { WorkspaceSnapshots } from './workspace-snapshots.js';

/** Folders a listing never walks. */
export const NEVER_WALKED = new Set(['node_modules', '.git']);
/** Cache folders hidden with `includeHidden=false`. */
const CACHES = new Set(['__pycache__', 'venv', '.venv', '.cache', '.pytest_cache', '.mypy_cache']);
/** Most entries a listing returns (`truncated` says when it stopped). */
export const MAX_LIST_ENTRIES = 10_000;
/** Largest file returned by `format=json`, bytes. */
export const MAX_JSON_FILE_BYTES = 1024 * 1024;

/**
 * The media type for a file name (from its extension), `application/octet-stream` when unknown.
 * mime-types (its database is 200 KB of JSON) is loaded on the first call, not at start.
 */
export function mimeFor(name: string): string {
  const { contentType } = createRequire(import.meta.url)('mime-types') as typeof import('mime-types');
  return contentType(name.split('/').pop() ?? name) || 'application/octet-stream';
}

/** A resolved workspace of a session. */
export interface OpenWorkspace {
  session: SessionRecord;
  dir: ConfinedDir;
  source: WorkspaceSource;
  /**
   * Call after a write (also when it failed): a session this server did not own was claimed for
   * the write; its changed files are stored and the claim released. No-op otherwise.
   */
  finish: () => Promise<void>;
}

/** A file opened for streaming; the caller closes `handle` (a stream from it closes it). */
export interface OpenedFile {
  path: string;
  handle: FileHandle;
  size: number;
  mimeType: string;
  source: WorkspaceSource;
}

export interface SessionFilesDeps {
  repos: Repos;
  paths: SessionPaths;
  snapshots: WorkspaceSnapshots;
  /** The single-owner rule: a session live on another server is refused (409). */
  ownership: SessionOwnership;
  /** True when the session has a running process on this server. */
  isLive: (sessionId: string) => boolean;
  /**
   * Owner given to what the server writes into a session's workspace (its live sandbox's user),
   * if any; a sandbox starting later takes ownership of all its files itself.
   */
  owner: (sessionId: string) => { uid: number; gid: number } | undefined;
  limits: BatchLimits & { bundleMaxBytes: number; bundleMaxEntries: number };
  /**
   * The session's workspace disk limit, bytes (the sandbox limit `diskMb`: ASH_SANDBOX_DISK_MB
   * or the agent's `limits.diskMb`); 0 = none.
   */
  diskLimitBytes: (session: SessionRecord) => Promise<number>;
  /**
   * Excludes the session's sandbox from moving its files (disk set-up at start, copy-out at stop)
   * while a write uses them; resolves to the release function.
   */
  lockFiles?: (sessionId: string) => Promise<() => void>;
  /** After a write to the session's files finished (e.g. a runner hosting it checks them out again). */
  onWritten?: (sessionId: string) => void;
}

/** Allocation unit assumed for a file about to be written (the common filesystem block). */
const BLOCK = 4096;
/** Disk space a new file of `size` bytes will take. */
export const allocationFor = (size: number) => Math.ceil(size / BLOCK) * BLOCK;

/**
 * A session's files: list, read, write and delete them, and move whole workspaces as tar.gz
 * bundles. Works whether or not the session's process runs (the workspace is on disk either
 * way; when this server lacks it, the snapshot is restored from object storage first). Every
 * path goes through {@link ConfinedDir}: nothing outside the workspace is ever read or changed.
 */
export class SessionFiles {
  constructor(private readonly deps: SessionFilesDeps) {}

  /**
   * Resolves a session's workspace for this tenant.
   * @throws AppError 404 `session_not_found` (also for other tenants' ids), 404
   *   `workspace_not_found`, 409 `session_owned_elsewhere` (live on another server), 410
   *   `session_ended` for writes to an ended session.
   */
  async open(tenantId: string, id: string, intent: 'read' | 'write'): Promise<OpenWorkspace> {
    const session = await this.deps.repos.sessions.get(tenantId, id);
    if (!session) throw notFound('session_not_found', 'Session', id);
    if (intent === 'write' && session.status === 'ended')
      throw new AppError('session_ended', 'the session has ended; its files can be read but not changed');
    // Writes only: every write path finishes in a `finally`; reads (some stream past `open`) do
    // not take it, so one racing a sandbox start or stop may see the folder empty for a moment.
    const unlock = (intent === 'write' && (await this.deps.lockFiles?.(id))) || (() => undefined);
    let ownedFinish: () => Promise<void>;
    try {
      ownedFinish = (await this.deps.ownership.forFiles(session, intent)).finish;
    } catch (err) {
      unlock();
      throw err;
    }
    const finish = async () => {
      try {
        await ownedFinish();
      } finally {
        unlock();
        if (intent === 'write') this.deps.onWritten?.(id);
      }
    };
    try {
      const root = this.deps.paths.workspace(id);
      if (!existsSync(root)) await this.deps.snapshots.restore(session);
      if (!existsSync(root))
        throw new AppError(
          'workspace_not_found',
          `session '${id}' has no workspace on this server or in storage`,
        );
      return {
        session,
        dir: new ConfinedDir(root, this.deps.owner(id)),
        source: this.deps.isLive(id) ? 'live' : 'stored',
        finish,
      };
    } catch (err) {
      await finish();
      throw err;
    }
  }

  /**
   * Checks a write could go ahead (the session exists, has not ended, is not live on another
   * server) without touching anything. @throws AppError 404, 409, 410.
   */
  async checkWritable(tenantId: string, id: string): Promise<SessionRecord> {
    const session = await this.deps.repos.sessions.get(tenantId, id);
    if (!session) throw notFound('session_not_found', 'Session', id);
    if (session.status === 'ended')
      throw new AppError('session_ended', 'the session has ended; its files can be read but not changed');
    this.deps.ownership.assertNotOwnedElsewhere(session);
    return session;
  }

  /** Before storing a snapshot: refuses a session live elsewhere, brings this server's copy up to date. */
  async prepareSnapshot(session: SessionRecord): Promise<void> {
    await this.deps.ownership.forFiles(session, 'read');
  }

  /** Recursive listing of files and links. @throws AppError 400/404. */
  async list(tenantId: string, id: string, q: ListFilesQuery): Promise<SessionFileList> {
    const ws = await this.open(tenantId, id, 'read');
    const from = q.path !== undefined ? requestPath(q.path) : undefined;
    const { files, truncated } = await listTree(ws.dir, from?.segments ?? [], q.includeHidden !== false);
    return { files, source: ws.source, truncated };
  }

  /** Opens a file to stream it. @throws AppError 400 (links, folders), 404. */
  async openFile(tenantId: string, id: string, rawPath: string | undefined): Promise<OpenedFile> {
    const { path, segments } = requestPath(rawPath);
    const ws = await this.open(tenantId, id, 'read');
    const { handle, stats } = await mapFileErrors(() => ws.dir.openRead(segments));
    return { path, handle, size: stats.size, mimeType: mimeFor(path), source: ws.source };
  }

  /** A file in a JSON body (text as UTF-8, anything else base64). @throws AppError 413 over 1 MiB. */
  async readJson(tenantId: string, id: string, rawPath: string | undefined): Promise<SessionFileContent> {
    const f = await this.openFile(tenantId, id, rawPath);
    try {
      return { ...(await readForJson(f.handle, f.size, f.path)), mimeType: f.mimeType, source: f.source };
    } finally {
      await f.handle.close();
    }
  }

  /**
   * Writes a batch of files. The whole batch is validated first (paths, base64, limits, and that
   * no path goes through a link of the workspace, and that the workspace stays within its disk
   * limit): a bad batch writes nothing.
   * @throws AppError 400, 404, 410, 413 (`payload_too_large`, `disk_limit_exceeded`).
   */
  async upload(tenantId: string, id: string, body: UploadFilesBody): Promise<SessionUploadResponse> {
    // The session first: an unknown (or another tenant's) id is 404 whatever the body holds.
    const ws = await this.open(tenantId, id, 'write');
    try {
      const { files, skipped } = decodeBatch(body, this.deps.limits);
      await this.ensureRoom(
        ws,
        files.reduce((n, f) => n + allocationFor(f.bytes.length), 0),
        files.map((f) => f.segments),
      );
      return { files: await writeBatch(ws.dir, files, skipped), source: ws.source };
    } finally {
      await ws.finish();
    }
  }

  /**
   * Refuses a write through the API that would take the workspace over its disk limit. Usage is
   * measured in allocated blocks (sparse files count for what they really hold), `add` is what
   * the write allocates and the files at `replaced` are freed by it.
   * @throws AppError 413 `disk_limit_exceeded`.
   */
  async ensureRoom(ws: OpenWorkspace, add: number, replaced: string[][]): Promise<void> {
    const limit = await this.deps.diskLimitBytes(ws.session);
    if (!limit) return;
    let freed = 0;
    for (const segments of replaced) {
      try {
        const st = await ws.dir.lstat(segments);
        // A hard-linked file keeps its blocks through its other name.
        if (st.isFile() && st.nlink <= 1) freed += allocatedBytes(st);
      } catch {
        // missing, or not reachable without links: frees nothing
      }
    }
    // The walk stops as soon as the answer is known to be "over" (large workspaces stay cheap).
    const used = await directorySize(this.deps.paths.workspace(ws.session.id), limit + freed - add + 1);
    const after = Math.max(0, used - freed) + add;
    if (after > limit)
      throw new AppError(
        'disk_limit_exceeded',
        `the write needs ${add} bytes of disk; the workspace would use at least ${after} bytes, over its ${limit}-byte disk limit (ASH_SANDBOX_DISK_MB, or the agent's limits.diskMb); nothing was written`,
      );
  }

  /** Deletes a file or a folder. @throws AppError 400 (links), 404. */
  async delete(
    tenantId: string,
    id: string,
    rawPath: string | undefined,
  ): Promise<{ path: string; source: WorkspaceSource }> {
    const { path, segments } = requestPath(rawPath);
    const ws = await this.open(tenantId, id, 'write');
    try {
      await mapFileErrors(() => ws.dir.remove(segments));
    } finally {
      await ws.finish();
    }
    return { path, source: ws.source };
  }

  /**
   * A tar.gz of the workspace (without `node_modules`, `.git`, caches; links that stay inside
   * are kept, others left out).
   */
  async bundle(tenantId: string, id: string): Promise<{ stream: Readable; source: WorkspaceSource }> {
    const ws = await this.open(tenantId, id, 'read');
    return {
      stream: packTarGz([{ dir: ws.dir, prefix: '', exclude: BUNDLE_EXCLUDES, links: 'inside' }]),
      source: ws.source,
    };
  }

  /**
   * Extracts a tar.gz into the workspace (files of the same name are replaced, others kept). The
   * bundle is fully validated and extracted into a private staging folder first; only a clean
   * bundle is merged, and the merge refuses to go through links of the workspace. The files
   * written may not exceed the workspace disk limit, counted as they are written and then as
   * allocated blocks against the workspace's usage.
   * @throws AppError 400 `invalid_bundle` / `invalid_path`, 413 over the limits
   *   (`payload_too_large`, `disk_limit_exceeded`), 404, 410.
   */
  async restoreBundle(tenantId: string, id: string, body: Readable): Promise<RestoreWorkspaceResult> {
    const ws = await this.open(tenantId, id, 'write');
    const diskLimit = await this.deps.diskLimitBytes(ws.session);
    const staging = join(this.deps.paths.sessionDir(id), `.incoming-${randomUUID()}`);
    await mkdir(staging, { recursive: true, mode: 0o700 });
    try {
      const result = await mapFileErrors(() =>
        extractTarGz(
          body,
          staging,
          {
            maxCompressedBytes: this.deps.limits.bundleMaxBytes,
            maxBytes: this.deps.limits.bundleMaxBytes,
            maxEntries: this.deps.limits.bundleMaxEntries,
          },
          // The bytes really written never exceed the disk limit (whatever the headers declare).
          { links: 'inside', ...(diskLimit ? { maxWrittenBytes: diskLimit } : {}) },
        ),
      );
      // The merge writes every file in full (zeros included), so each counts for its length.
      const fileEntries = result.entries.filter((e) => e.kind === 'file').map((e) => e.path.split('/'));
      let incoming = 0;
      for (const segs of fileEntries) incoming += allocationFor((await lstat(join(staging, ...segs))).size);
      await this.ensureRoom(ws, incoming, fileEntries);
      await mapFileErrors(() => mergeInto(staging, result, ws.dir));
      return { restored: true, files: result.files, bytes: result.bytes, source: ws.source };
    } finally {
      body.resume();
      await rm(staging, { recursive: true, force: true });
      await ws.finish();
    }
  }
}

/** Lists files and links under `from` (never walking `node_modules`/`.git`). */
export async function listTree(
  dir: ConfinedDir,
  from: string[],
  includeHidden: boolean,
): Promise<{ files: FileEntry[]; truncated: boolean }> {
  const files: FileEntry[] = [];
  let truncated = false;
  await mapFileErrors(async () => {
    for await (const e of dir.walk({
      from,
      include: (name, _p, kind) =>
        !(kind === 'directory' && NEVER_WALKED.has(name)) &&
        (includeHidden || (!name.startsWith('.') && !CACHES.has(name))),
    })) {
      if (e.kind === 'directory') continue;
      if (files.length >= MAX_LIST_ENTRIES) {
        truncated = true;
        break;
      }
      files.push({ path: e.path, type: e.kind, size: e.stats.size, modifiedAt: e.stats.mtime.toISOString() });
    }
  }, from.join('/') || '.');
  return { files, truncated };
}

/** Reads an open file for a JSON body. @throws AppError 413 over {@link MAX_JSON_FILE_BYTES}. */
export async function readForJson(
  handle: FileHandle,
  size: number,
  path: string,
): Promise<{ path: string; content: string; encoding: 'utf8' | 'base64'; size: number }> {
  if (size > MAX_JSON_FILE_BYTES)
    throw new AppError(
      'payload_too_large',
      `'${path}' is ${size} bytes; format=json returns at most ${MAX_JSON_FILE_BYTES} bytes, use format=raw`,
    );
  const bytes = await handle.readFile();
  return { path, ...textOrBase64(bytes), size: bytes.length };
}

/**
 * Writes decoded files into a confined tree after checking, for every file, that its path does
 * not go through or end at a link and does not name a folder. Failures that happen while writing
 * (a concurrent change by the agent) are reported per file.
 */
export async function writeBatch(
  dir: ConfinedDir,
  files: Array<{ path: string; segments: string[]; bytes: Buffer; index?: number }>,
  skipped: string[],
): Promise<UploadResult[]> {
  for (const f of files) {
    try {
      const st = await dir.lstat(f.segments);
      if (st.isSymbolicLink()) throw new ConfinementError('symlink', f.path);
      if (st.isDirectory()) throw new ConfinementError('is_directory', f.path);
    } catch (err) {
      if (err instanceof ConfinementError && err.reason === 'missing') continue;
      const mapped = toAppError(err);
      // Name the file of the batch (`/body/files/<i>/path`), like the other validation errors.
      if (mapped instanceof AppError && f.index !== undefined && !mapped.extra.errors?.length)
        throw new AppError(mapped.code, `files[${f.index}].path ${mapped.detail}`, {
          errors: [{ path: `/body/files/${f.index}/path`, message: mapped.detail }],
        });
      throw mapped;
    }
  }
  const results: UploadResult[] = [];
  for (const f of files) {
    try {
      const size = await dir.writeFile(f.segments, f.bytes);
      results.push({ path: f.path, written: true, size });
    } catch (err) {
      const mapped = toAppError(err);
      results.push({
        path: f.path,
        written: false,
        error: mapped instanceof AppError ? mapped.detail : 'the file could not be written',
      });
    }
  }
  for (const s of skipped) results.push({ path: s, written: false, error: 'skipped (.DS_Store)' });
  return results;
}
