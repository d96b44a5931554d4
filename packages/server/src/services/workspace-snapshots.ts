import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { WorkspaceSnapshot } from '@ash-ai/shared';
import type { Repos, SessionRecord } from '../db/repos/index.js';
import { AppError } from '../errors.js';
import { BUNDLE_EXCLUDES, extractTarGz, packTarGz } from '../storage/bundle.js';
import { ConfinedDir } from '../storage/confined-dir.js';
import { storageKeys } from '../storage/keys.js';
import type { ObjectStore } from '../storage/object-store.js';
import { toAppError } from './file-errors.js';
import type { SessionPaths } from './session-paths.js';

/** Folders a snapshot leaves out: reinstallable dependencies and caches (`.git` is kept). */
const SNAPSHOT_EXCLUDES: ReadonlySet<string> = new Set(
  [...BUNDLE_EXCLUDES].filter((n) => n !== '.git' && n !== '.DS_Store'),
);

/** Limits for restoring a snapshot (generous: snapshots come from this platform's own saves). */
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

/**
 * Snapshots of a session's workspace and SDK transcript (`CLAUDE_CONFIG_DIR`) in object storage,
 * so another server sharing the database and the bucket can continue the session.
 *
 * The archive (`sessions/<tenant>/<id>/snapshot.tar.gz`) holds `workspace/` and `claude/`; links
 * are kept as links (never followed), `node_modules` and caches are left out. `save` resolves only
 * once the object is stored and the session row points at it (`snapshot_key`, `snapshot_at`).
 * `restore` runs when this server has no local copy: it extracts into a staging folder and
 * renames it into place, so a half-restored workspace is never visible.
 */
export class WorkspaceSnapshots {
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(private readonly deps: WorkspaceSnapshotsDeps) {}

  /**
   * Saves the session's current files. Take it while no turn runs (pause does; the API refuses
   * during a turn).
   * @throws AppError 404 `workspace_not_found` (nothing on this server to save), 503 `storage_unavailable`.
   */
  async save(session: SessionRecord): Promise<WorkspaceSnapshot> {
    return this.exclusive(session.id, async () => {
      const { paths, store, repos } = this.deps;
      if (!existsSync(paths.workspace(session.id)))
        throw new AppError('workspace_not_found', `session '${session.id}' has no workspace on this server`);
      const key = storageKeys.snapshot(session.tenantId, session.id);
      const sources = [
        {
          dir: new ConfinedDir(paths.workspace(session.id)),
          prefix: 'workspace',
          exclude: SNAPSHOT_EXCLUDES,
          links: 'all' as const,
        },
      ];
      if (existsSync(paths.claudeConfig(session.id)))
        sources.push({
          dir: new ConfinedDir(paths.claudeConfig(session.id)),
          prefix: 'claude',
          exclude: new Set<string>(),
          links: 'all' as const,
        });
      let size: number;
      try {
        ({ size } = await store.put(key, packTarGz(sources), { contentType: 'application/gzip' }));
      } catch (err) {
        this.deps.log.error({ err, sessionId: session.id }, 'snapshot upload failed');
        throw toAppError(err);
      }
      const snapshotAt = new Date().toISOString();
      await repos.sessions.update(session.tenantId, session.id, { snapshotKey: key, snapshotAt });
      this.deps.log.info({ sessionId: session.id, size }, 'workspace snapshot saved');
      return { sessionId: session.id, snapshotAt, size };
    });
  }

  /**
   * Restores the workspace and transcript from the session's snapshot when this server has no
   * local workspace. Safe to call repeatedly and concurrently.
   * @returns true when files were restored; false when there was nothing to do or no snapshot.
   * @throws AppError 503 `storage_unavailable`; 500 for an unreadable snapshot.
   */
  async restore(session: SessionRecord): Promise<boolean> {
    const { paths } = this.deps;
    if (existsSync(paths.workspace(session.id))) return false;
    return this.exclusive(session.id, async () => {
      if (existsSync(paths.workspace(session.id))) return false;
      const current = (await this.deps.repos.sessions.get(session.tenantId, session.id)) ?? session;
      if (!current.snapshotKey) return false;
      let body: import('node:stream').Readable | undefined;
      try {
        body = await this.deps.store.get(current.snapshotKey);
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
        if (existsSync(claude)) {
          await rm(paths.claudeConfig(session.id), { recursive: true, force: true });
          await rename(claude, paths.claudeConfig(session.id));
        }
        await rename(ws, paths.workspace(session.id));
        this.deps.log.info({ sessionId: session.id }, 'workspace restored from snapshot');
        return true;
      } catch (err) {
        this.deps.log.error({ err, sessionId: session.id }, 'snapshot restore failed');
        throw toAppError(err);
      } finally {
        await rm(staging, { recursive: true, force: true });
      }
    });
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
