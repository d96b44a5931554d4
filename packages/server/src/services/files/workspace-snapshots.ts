import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { WorkspaceSnapshot } from '@ash-ai/shared';
import type { Repos, SessionRecord } from '../../db/repos/index.js';
import { AppError } from '../../errors.js';
import { BUNDLE_EXCLUDES, extractTarGz } from '../../storage/bundle.js';
import {
  type CheckpointManifest,
  type CheckpointRoots,
  type CheckpointSaveResult,
  CheckpointError,
  CheckpointStore,
  checkpointKeys,
} from '../../storage/checkpoint-store.js';
import { storageKeys } from '../../storage/keys.js';
import type { ObjectStore } from '../../storage/object-store.js';
import { toAppError } from './file-errors.js';
import type { SessionPaths } from '../sessions/session-paths.js';

/** Folders a snapshot leaves out: reinstallable dependencies and caches (`.git` is kept). */
const SNAPSHOT_EXCLUDES: ReadonlySet<string> = new Set(
  [...BUNDLE_EXCLUDES].filter((n) => n !== '.git' && n !== '.DS_Store'),
);

/** Limits for restoring a snapshot archive (generous: snapshots come from this platform's own saves). */
const SNAPSHOT_LIMITS = {
  maxCompressedBytes: 16 * 1024 ** 3,
  maxBytes: 32 * 1024 ** 3,
  maxEntries: 2_000_000,
};

export interface WorkspaceSnapshotsDeps {
  repos: Repos;
  store: ObjectStore;
  paths: SessionPaths;
  log: Logger;
}

/** Manifests kept in memory (the last saved or restored one per session), most recent sessions. */
const MANIFEST_CACHE_SIZE = 64;

/**
 * Snapshots of a session's workspace and SDK transcript (`CLAUDE_CONFIG_DIR`) in object storage,
 * so another server sharing the database and the bucket can continue the session.
 *
 * A snapshot is an incremental checkpoint (`sessions/<tenant>/<id>/checkpoint/`, see
 * {@link CheckpointStore}): one blob per distinct file content and a manifest of every entry.
 * A save uploads only what changed since the previous one (cost grows with the change, not the
 * workspace); links are kept as links (never followed), `node_modules` and caches are left out.
 * `save` resolves only once the manifest is stored and the session row points at it
 * (`snapshot_key`, `snapshot_at`). `restore` runs when this server has no local copy (it fills a
 * staging folder and renames it into place, so a half-restored workspace is never visible) or,
 * with `replace`, when its copy is older: then only the differing files are downloaded, in place
 * (the copy counts as stale until it is complete). Sessions an older server stored as one
 * archive (`snapshot.tar.gz`) are restored from it.
 */
export class WorkspaceSnapshots {
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly checkpoints: CheckpointStore;
  /** Session id → the manifest its local copy matches, with the `snapshotAt` it was stored at. */
  private readonly manifests = new Map<string, { snapshotAt: string; manifest: CheckpointManifest }>();
  /** Sessions whose last save here failed: the next one lists and deletes its stray blobs. */
  private readonly unswept = new Set<string>();

  constructor(private readonly deps: WorkspaceSnapshotsDeps) {
    this.checkpoints = new CheckpointStore(deps.store);
  }

  /**
   * Saves the session's current files (incrementally). Take it while no turn runs (pause does;
   * the API refuses during a turn). `size` is the bytes this save wrote to object storage.
   * @throws AppError 404 `workspace_not_found` (nothing on this server to save), 503 `storage_unavailable`.
   */
  async save(session: SessionRecord, opts: { generation?: number } = {}): Promise<WorkspaceSnapshot> {
    return this.exclusive(session.id, async () => {
      const { paths, repos } = this.deps;
      if (!existsSync(paths.workspace(session.id)))
        throw new AppError('workspace_not_found', `session '${session.id}' has no workspace on this server`);
      const current = (await repos.sessions.get(session.tenantId, session.id)) ?? session;
      const prefix = storageKeys.checkpoint(session.tenantId, session.id);
      const key = checkpointKeys.manifest(prefix);
      let saved: CheckpointSaveResult;
      try {
        // An unreadable stored manifest is replaced: this save hashes every file.
        const prev = await this.previous(current, prefix).catch((err: unknown) => {
          if (!(err instanceof CheckpointError)) throw err;
          this.deps.log.warn({ err, sessionId: session.id }, 'the stored checkpoint manifest is unreadable');
          return undefined;
        });
        saved = await this.checkpoints.save(prefix, this.roots(session.id), {
          prev,
          exclude: SNAPSHOT_EXCLUDES,
          sweep: this.unswept.has(session.id),
          ...(opts.generation !== undefined ? { generation: opts.generation } : {}),
        });
      } catch (err) {
        this.unswept.add(session.id);
        this.deps.log.error({ err, sessionId: session.id }, 'snapshot upload failed');
        throw toAppError(err);
      }
      this.unswept.delete(session.id);
      const snapshotAt = saved.manifest.savedAt;
      await repos.sessions.update(session.tenantId, session.id, { snapshotKey: key, snapshotAt });
      this.remember(session.id, snapshotAt, saved.manifest);
      await this.markLocal(session.id, snapshotAt);
      // The archive an older server stored is superseded.
      const legacy = storageKeys.snapshot(session.tenantId, session.id);
      if (current.snapshotKey === legacy)
        await this.deps.store
          .delete(legacy)
          .catch((err: unknown) =>
            this.deps.log.warn(
              { err, sessionId: session.id },
              'could not delete the superseded snapshot archive',
            ),
          );
      this.deps.log.info(
        {
          sessionId: session.id,
          size: saved.uploadedBytes,
          uploadedFiles: saved.uploadedBlobs,
          entries: Object.keys(saved.manifest.entries).length,
          deletedBlobs: saved.deletedBlobs,
        },
        'workspace snapshot saved',
      );
      return { sessionId: session.id, snapshotAt, size: saved.uploadedBytes };
    });
  }

  /**
   * True when this server's copy of the session's files is older than the session's last stored
   * snapshot (another server ran the session since this one last saved or restored it).
   */
  async localIsStale(session: SessionRecord): Promise<boolean> {
    if (!session.snapshotAt) return false;
    if (!existsSync(this.deps.paths.workspace(session.id))) return true;
    return (await this.localMark(session.id)) !== session.snapshotAt;
  }

  /**
   * Restores the workspace and transcript from the session's snapshot when this server has no
   * local workspace (with `replace`: also when its copy is older than the snapshot). Safe to
   * call repeatedly and concurrently.
   * @returns true when files were restored; false when there was nothing to do or no snapshot.
   * @throws AppError 503 `storage_unavailable`; 500 for an unreadable or unsafe snapshot.
   */
  async restore(session: SessionRecord, opts: { replace?: boolean } = {}): Promise<boolean> {
    const { paths } = this.deps;
    const needed = async (s: SessionRecord) =>
      !existsSync(paths.workspace(session.id)) || (opts.replace === true && (await this.localIsStale(s)));
    if (!(await needed(session))) return false;
    return this.exclusive(session.id, async () => {
      let current = (await this.deps.repos.sessions.get(session.tenantId, session.id)) ?? session;
      if (!(await needed(current))) return false;
      if (!current.snapshotKey) return false;
      if (current.snapshotKey === storageKeys.snapshot(session.tenantId, session.id))
        return this.restoreArchive(current);
      const prefix = storageKeys.checkpoint(session.tenantId, session.id);
      for (let attempt = 1; ; attempt++) {
        try {
          const manifest = await this.previous(current, prefix);
          if (!manifest) {
            this.deps.log.error(
              { sessionId: session.id },
              'the session checkpoint is missing from object storage',
            );
            return false;
          }
          await this.applyCheckpoint(current, prefix, manifest);
          if (current.snapshotAt) {
            this.remember(session.id, current.snapshotAt, manifest);
            await this.markLocal(session.id, current.snapshotAt);
          }
          this.deps.log.info({ sessionId: session.id }, 'workspace restored from checkpoint');
          return true;
        } catch (err) {
          // A save elsewhere replaced the manifest (and dropped blobs) while this one was read.
          if (err instanceof CheckpointError && err.missingBlob && attempt < 3) {
            this.manifests.delete(session.id);
            current = (await this.deps.repos.sessions.get(session.tenantId, session.id)) ?? current;
            continue;
          }
          this.deps.log.error({ err, sessionId: session.id }, 'snapshot restore failed');
          throw toAppError(err);
        }
      }
    });
  }

  private roots(id: string): CheckpointRoots {
    return { workspace: this.deps.paths.workspace(id), claude: this.deps.paths.claudeConfig(id) };
  }

  /**
   * The session's current stored manifest: the one in memory when the row still points at it,
   * else read from object storage (undefined when there is none or it is unreadable for a save).
   */
  private async previous(s: SessionRecord, prefix: string): Promise<CheckpointManifest | undefined> {
    const cached = this.manifests.get(s.id);
    if (cached && s.snapshotKey === checkpointKeys.manifest(prefix) && s.snapshotAt === cached.snapshotAt)
      return cached.manifest;
    return this.checkpoints.load(prefix);
  }

  private remember(id: string, snapshotAt: string, manifest: CheckpointManifest): void {
    this.manifests.delete(id);
    this.manifests.set(id, { snapshotAt, manifest });
    while (this.manifests.size > MANIFEST_CACHE_SIZE) {
      const oldest = this.manifests.keys().next().value as string;
      this.manifests.delete(oldest);
    }
  }

  /**
   * Brings the local copy to the manifest: into a staging folder swapped in when there is no
   * workspace here; in place (only what differs) over an existing, stale copy.
   */
  private async applyCheckpoint(
    s: SessionRecord,
    prefix: string,
    manifest: CheckpointManifest,
  ): Promise<void> {
    const { paths } = this.deps;
    if (existsSync(paths.workspace(s.id))) {
      // Until it completes, the copy matches no snapshot (stale: the next claim restores again).
      await rm(this.markFile(s.id), { force: true });
      await this.checkpoints.restore(prefix, manifest, this.roots(s.id), { exclude: SNAPSHOT_EXCLUDES });
      return;
    }
    const staging = join(paths.sessionDir(s.id), `.restore-${randomUUID()}`);
    await mkdir(staging, { recursive: true, mode: 0o700 });
    try {
      const roots = { workspace: join(staging, 'workspace'), claude: join(staging, 'claude') };
      await this.checkpoints.restore(prefix, manifest, roots, { exclude: SNAPSHOT_EXCLUDES });
      await rm(paths.claudeConfig(s.id), { recursive: true, force: true });
      await rename(roots.claude, paths.claudeConfig(s.id));
      await rename(roots.workspace, paths.workspace(s.id));
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }

  /** Restores a snapshot an older server stored as one `tar.gz` (staging folder, swapped in). */
  private async restoreArchive(current: SessionRecord): Promise<boolean> {
    const { paths } = this.deps;
    const session = current;
    let body: import('node:stream').Readable | undefined;
    try {
      body = await this.deps.store.get(current.snapshotKey!);
    } catch (err) {
      throw toAppError(err);
    }
    if (!body) {
      this.deps.log.error({ sessionId: session.id }, 'the session snapshot is missing from object storage');
      return false;
    }
    const staging = join(paths.sessionDir(session.id), `.restore-${randomUUID()}`);
    await mkdir(staging, { recursive: true, mode: 0o700 });
    try {
      await extractTarGz(body, staging, SNAPSHOT_LIMITS, { links: 'all' });
      const ws = join(staging, 'workspace');
      await mkdir(ws, { recursive: true });
      const claude = join(staging, 'claude');
      await rm(paths.claudeConfig(session.id), { recursive: true, force: true });
      if (existsSync(claude)) await rename(claude, paths.claudeConfig(session.id));
      // A stale copy (replace) goes aside first; it is removed with the staging folder.
      if (existsSync(paths.workspace(session.id)))
        await rename(paths.workspace(session.id), join(staging, 'stale-workspace'));
      await rename(ws, paths.workspace(session.id));
      this.manifests.delete(session.id);
      if (current.snapshotAt) await this.markLocal(session.id, current.snapshotAt);
      this.deps.log.info({ sessionId: session.id }, 'workspace restored from snapshot archive');
      return true;
    } catch (err) {
      this.deps.log.error({ err, sessionId: session.id }, 'snapshot restore failed');
      throw toAppError(err);
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }

  /** Which snapshot (its `snapshotAt`) the local copy matches: written on save and restore. */
  private markFile(id: string): string {
    return join(this.deps.paths.sessionDir(id), 'snapshot-at');
  }

  private async markLocal(id: string, snapshotAt: string): Promise<void> {
    await writeFile(this.markFile(id), `${snapshotAt}\n`, { mode: 0o600 }).catch((err: unknown) =>
      this.deps.log.warn({ err, sessionId: id }, 'could not record the local snapshot mark'),
    );
  }

  private async localMark(id: string): Promise<string | undefined> {
    try {
      return (await readFile(this.markFile(id), 'utf8')).trim();
    } catch {
      return undefined;
    }
  }

  /** Runs `fn` with no other save/restore of the same session running in this process. */
  private async exclusive<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(id) ?? Promise.resolve();
    const run = prev.catch(() => undefined).then(fn);
    this.locks.set(id, run);
    try {
      return await run;
    } finally {
      if (this.locks.get(id) === run) this.locks.delete(id);
    }
  }
}
