import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { WorkspaceSnapshot } from '@ash-ai/shared';
import type { Repos, SessionRecord } from '../../db/repos/index.js';
import { AppError } from '../../errors.js';
import { BUNDLE_EXCLUDES, extractTarGz, packTarGz } from '../../storage/bundle.js';
import { ConfinedDir } from '../../storage/confined-dir.js';
import { storageKeys } from '../../storage/keys.js';
import type { ObjectStore } from '../../storage/object-store.js';
import { toAppError } from './file-errors.js';
import type { SessionPaths } from '../sessions/session-paths.js';

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
      await this.markLocal(session.id, snapshotAt);
      this.deps.log.info({ sessionId: session.id, size }, 'workspace snapshot saved');
      return { sessionId: session.id, snapshotAt, size };
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
   * local workspace (with `replace`: also when its copy is older than the snapshot; the old copy
   * is swapped out only once the snapshot is extracted). Safe to call repeatedly and concurrently.
   * @returns true when files were restored; false when there was nothing to do or no snapshot.
   * @throws AppError 503 `storage_unavailable`; 500 for an unreadable snapshot.
   */
  async restore(session: SessionRecord, opts: { replace?: boolean } = {}): Promise<boolean> {
    const { paths } = this.deps;
    const needed = async (s: SessionRecord) =>
      !existsSync(paths.workspace(session.id)) || (opts.replace === true && (await this.localIsStale(s)));
    if (!(await needed(session))) return false;
    return this.exclusive(session.id, async () => {
      const current = (await this.deps.repos.sessions.get(session.tenantId, session.id)) ?? session;
      if (!(await needed(current))) return false;
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
        await rm(paths.claudeConfig(session.id), { recursive: true, force: true });
        if (existsSync(claude)) await rename(claude, paths.claudeConfig(session.id));
        // A stale copy (replace) goes aside first; it is removed with the staging folder.
        if (existsSync(paths.workspace(session.id)))
          await rename(paths.workspace(session.id), join(staging, 'stale-workspace'));
        await rename(ws, paths.workspace(session.id));
        if (current.snapshotAt) await this.markLocal(session.id, current.snapshotAt);
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
