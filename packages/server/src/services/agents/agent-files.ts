import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { AgentFilesChange, FileContent, FileEntry, UploadFilesBody, UploadResult } from '@ash-ai/shared';
import type { AgentRecord, Repos } from '../../db/repos/index.js';
import { AppError, notFound } from '../../errors.js';
import { type AgentStore, isSkippedPath, type StagedAgent } from '../../storage/agent-store.js';
import { extractTarGz, packTarGz, treeSize } from '../../storage/bundle.js';
import { ConfinedDir } from '../../storage/confined-dir.js';
import { storageKeys } from '../../storage/keys.js';
import { type ObjectStore, readAll } from '../../storage/object-store.js';
import { agentToApi } from './agent-service.js';
import { type BatchLimits, decodeBatch, requestPath } from '../files/file-batch.js';
import { mapFileErrors, toAppError } from '../files/file-errors.js';
import { listTree, mimeFor, readForJson, writeBatch } from '../files/session-files.js';

/** Never archived with an agent (nor deployed, listed or copied into sessions). */
const AGENT_EXCLUDES = new Set(['.git', 'node_modules', '.DS_Store']);

/** Limits for restoring an agent archive. */
const ARCHIVE_LIMITS = { maxCompressedBytes: 4 * 1024 ** 3, maxBytes: 8 * 1024 ** 3, maxEntries: 200_000 };

export interface AgentArchivesDeps {
  repos: Repos;
  store: ObjectStore;
  agents: AgentStore;
  log: Logger;
}

/**
 * Deployed agent folders in object storage: every deploy (and every change of an agent's files)
 * uploads the folder as a tar.gz before the new version is recorded, so the database never
 * points at an archive that is not stored; a server whose disk lacks the folder restores it.
 * Archives of earlier versions are kept (sessions started on them may resume elsewhere) until
 * the agent is deleted.
 */
export class AgentArchives {
  private readonly restoring = new Map<string, Promise<boolean>>();

  constructor(private readonly deps: AgentArchivesDeps) {}

  /**
   * Uploads a folder (awaited). Returns the new key.
   * @throws AppError 503 `storage_unavailable` (nothing recorded; the deploy fails).
   */
  async upload(tenantId: string, name: string, dir: string): Promise<string> {
    const key = storageKeys.agentArchive(tenantId, name, randomUUID());
    try {
      await this.deps.store.put(
        key,
        packTarGz([{ dir: new ConfinedDir(dir), prefix: '', exclude: AGENT_EXCLUDES, links: 'inside' }]),
        { contentType: 'application/gzip' },
      );
    } catch (err) {
      this.deps.log.error({ err, agent: name }, 'agent archive upload failed');
      throw toAppError(err);
    }
    return key;
  }

  /**
   * Records which archive holds `version` (a small `v<version>.ref` object next to the archives),
   * so a session started on an older version can get its folder back after a redeploy. The
   * current version is also findable through the agent row's `storage_key`; a failure here is
   * logged and only affects restoring that version once it is no longer current.
   */
  async recordVersion(tenantId: string, name: string, version: number, key: string): Promise<void> {
    try {
      await this.deps.store.put(storageKeys.agentVersionRef(tenantId, name, version), Buffer.from(key));
    } catch (err) {
      this.deps.log.error({ err, agent: name, version }, 'could not record the archive of an agent version');
    }
  }

  /**
   * Makes sure `version` of an agent is on this server's disk (restoring it from storage when
   * missing): the current version through the agent row, older ones through their version ref.
   * @returns false when it cannot be restored.
   */
  async ensureVersion(tenantId: string, name: string, version: number): Promise<boolean> {
    if (this.deps.agents.hasVersion(tenantId, name, version)) return true;
    const agent = await this.deps.repos.agents.get(tenantId, name);
    if (!agent) return false;
    if (agent.version === version) return this.ensureLocal(agent);
    let ref: Readable | undefined;
    try {
      ref = await this.deps.store.get(storageKeys.agentVersionRef(tenantId, name, version));
    } catch (err) {
      throw toAppError(err);
    }
    if (!ref) return false;
    const key = (await readAll(ref)).toString('utf8').trim();
    return this.ensureLocal({ ...agent, version, storageKey: key });
  }

  /** Deletes an archive no version points at any more (failures are logged, not thrown). */
  async discard(key: string | null | undefined): Promise<void> {
    if (!key) return;
    await this.deps.store
      .delete(key)
      .catch((err: unknown) => this.deps.log.warn({ err, key }, 'could not delete an old agent archive'));
  }

  /** Deletes every archive of an agent (after it was deleted). */
  async removeAgent(tenantId: string, name: string): Promise<void> {
    try {
      for (const o of await this.deps.store.list(storageKeys.agentPrefix(tenantId, name)))
        await this.deps.store.delete(o.key);
    } catch (err) {
      this.deps.log.warn({ err, agent: name }, 'could not delete the archives of a deleted agent');
    }
  }

  /**
   * Makes sure the agent's current version is on this server's disk, restoring it from its
   * archive when missing.
   * @returns false when it is missing and cannot be restored (no archive, or the object is gone).
   * @throws AppError 503 `storage_unavailable`.
   */
  async ensureLocal(agent: AgentRecord): Promise<boolean> {
    const { agents } = this.deps;
    if (agents.hasVersion(agent.tenantId, agent.name, agent.version)) return true;
    if (!agent.storageKey) return false;
    const lockKey = `${agent.tenantId}\u0000${agent.name}\u0000${agent.version}`;
    const running = this.restoring.get(lockKey);
    if (running) return running;
    const job = this.restore(agent, agent.storageKey).finally(() => this.restoring.delete(lockKey));
    this.restoring.set(lockKey, job);
    return job;
  }

  private async restore(agent: AgentRecord, key: string): Promise<boolean> {
    let body: Readable | undefined;
    try {
      body = await this.deps.store.get(key);
    } catch (err) {
      throw toAppError(err);
    }
    if (!body) {
      this.deps.log.error(
        { agent: agent.name, version: agent.version },
        'the agent archive is missing from storage',
      );
      return false;
    }
    const staged = await this.deps.agents.stageEmpty();
    try {
      await extractTarGz(body, staged.dir, ARCHIVE_LIMITS, { links: 'inside' });
      await this.deps.agents.publishIfAbsent(staged, agent.tenantId, agent.name, agent.version);
      this.deps.log.info({ agent: agent.name, version: agent.version }, 'agent folder restored from storage');
      return true;
    } catch (err) {
      await this.deps.agents.discard(staged);
      this.deps.log.error({ err, agent: agent.name }, 'agent folder restore failed');
      throw toAppError(err);
    }
  }
}

export interface AgentFilesDeps {
  repos: Repos;
  agents: AgentStore;
  archives: AgentArchives;
  limits: BatchLimits & { agentMaxBytes: number };
}

/**
 * Files of an agent's current version ("knowledge files"). A change (upload or delete) never
 * edits a published version: it copies the current version, applies the change, uploads the
 * archive and publishes it as the next version — sessions started before keep the version they
 * started with; new sessions get the change.
 */
export class AgentFiles {
  constructor(private readonly deps: AgentFilesDeps) {}

  private async current(tenantId: string, name: string): Promise<{ agent: AgentRecord; dir: ConfinedDir }> {
    const agent = await this.deps.repos.agents.get(tenantId, name);
    if (!agent) throw notFound('agent_not_found', 'Agent', name);
    if (!(await this.deps.archives.ensureLocal(agent)))
      throw new AppError(
        'agent_folder_missing',
        `the files of agent '${name}' are missing on the server; redeploy the agent`,
      );
    return { agent, dir: new ConfinedDir(this.deps.agents.versionDir(tenantId, name, agent.version)) };
  }

  async list(
    tenantId: string,
    name: string,
  ): Promise<{ files: FileEntry[]; version: number; truncated: boolean }> {
    const { agent, dir } = await this.current(tenantId, name);
    return { ...(await listTree(dir, [], true)), version: agent.version };
  }

  /** Opens a file of the current version to stream it. */
  async openFile(tenantId: string, name: string, rawPath: string | undefined) {
    const { path, segments } = requestPath(rawPath);
    const { agent, dir } = await this.current(tenantId, name);
    // An agent never holds `.git` / `node_modules` (an old version might): not found, like the listing.
    if (isSkippedPath(segments)) throw notFound('file_not_found', 'File', path);
    const { handle, stats } = await mapFileErrors(() => dir.openRead(segments));
    return { path, handle, size: stats.size, mimeType: mimeFor(path), version: agent.version };
  }

  async readJson(
    tenantId: string,
    name: string,
    rawPath: string | undefined,
  ): Promise<FileContent & { version: number }> {
    const f = await this.openFile(tenantId, name, rawPath);
    try {
      return { ...(await readForJson(f.handle, f.size, f.path)), mimeType: f.mimeType, version: f.version };
    } finally {
      await f.handle.close();
    }
  }

  /** Adds or replaces files; publishes a new version. @throws AppError 400, 404, 409, 413, 503. */
  async upload(tenantId: string, name: string, body: UploadFilesBody): Promise<AgentFilesChange> {
    if (!(await this.deps.repos.agents.get(tenantId, name))) throw notFound('agent_not_found', 'Agent', name);
    const decoded = decodeBatch(body, this.deps.limits);
    // Like a deploy: `.git`, `node_modules` and `.DS_Store` are never stored in an agent.
    const files = decoded.files.filter((f) => !isSkippedPath(f.segments));
    const neverStored = decoded.files.filter((f) => isSkippedPath(f.segments));
    let results: UploadResult[] = [];
    const agent = await this.change(tenantId, name, async (staged) => {
      results = await writeBatch(new ConfinedDir(staged.dir), files, decoded.skipped);
      // All or nothing: the staged copy is private, so a file that could not be written
      // publishes no version at all.
      const failed = results.findIndex((r) => !r.written && !decoded.skipped.includes(r.path));
      if (failed >= 0)
        throw new AppError(
          'invalid_path',
          `'${results[failed]!.path}': ${results[failed]!.error}; nothing was changed`,
        );
    });
    for (const f of neverStored)
      results.push({
        path: f.path,
        written: false,
        error: 'skipped (an agent never holds .git or node_modules)',
      });
    return { agent: agentToApi(agent), files: results };
  }

  /** Deletes a file or folder; publishes a new version. `CLAUDE.md` cannot be deleted. */
  async delete(tenantId: string, name: string, rawPath: string | undefined): Promise<AgentFilesChange> {
    const { path, segments } = requestPath(rawPath);
    if (path === 'CLAUDE.md')
      throw new AppError('invalid_agent_folder', 'CLAUDE.md cannot be deleted: an agent folder needs it');
    const agent = await this.change(tenantId, name, async (staged) => {
      await mapFileErrors(() => new ConfinedDir(staged.dir).remove(segments), path);
    });
    return { agent: agentToApi(agent), files: [{ path, written: false }] };
  }

  /** Copy current version → apply `edit` → upload → record the next version (if still current) → publish. */
  private async change(
    tenantId: string,
    name: string,
    edit: (staged: StagedAgent) => Promise<void>,
  ): Promise<AgentRecord> {
    const { agents, archives, repos, limits } = this.deps;
    const { agent } = await this.current(tenantId, name);
    const staged = await agents.stageFromPath(agents.versionDir(tenantId, name, agent.version), {
      maxBytes: limits.agentMaxBytes,
      maxFiles: 10_000,
    });
    let key: string | undefined;
    try {
      await edit(staged);
      const size = await treeSize(staged.dir);
      if (size.bytes > limits.agentMaxBytes)
        throw new AppError(
          'payload_too_large',
          `the agent would exceed ${limits.agentMaxBytes} bytes (ASH_AGENT_MAX_SIZE_MB)`,
        );
      key = await archives.upload(tenantId, name, staged.dir);
      const updated = await repos.agents.bumpVersion(tenantId, name, agent.version, {
        fileCount: size.files,
        sizeBytes: size.bytes,
        storageKey: key,
        now: new Date().toISOString(),
      });
      if (!updated) throw new AppError('conflict', `agent '${name}' changed meanwhile; retry`);
      await agents.publish(staged, tenantId, name, updated.version);
      await archives.recordVersion(tenantId, name, updated.version, key);
      return updated;
    } catch (err) {
      await agents.discard(staged);
      if (key) await archives.discard(key);
      throw err;
    }
  }
}
