import type { CredentialBinding } from '@ash-ai/shared';
import type { CredentialResolver } from '../auth/credential-service.js';
import { bindableMcpServers, resolveBindings } from '../sessions/egress.js';
import { randomUUID } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { isAbsolute, resolve, sep } from 'node:path';
import type { Agent, DeployAgentBody, UpdateAgentBody } from '@ash-ai/shared';
import type { AgentRecord, Repos } from '../../db/repos/index.js';
import { AppError, notFound } from '../../errors.js';
import type { AgentStore, StagedAgent } from '../../storage/agent-store.js';
import type { AgentArchives } from './agent-files.js';
import { AsyncLock } from '@ash-ai/shared';
import { redactConfigSecrets } from '../../util/redact.js';

export interface AgentServiceDeps {
  repos: Repos;
  store: AgentStore;
  dataDir: string;
  maxAgentBytes: number;
  /** Folders `path` deploys must lie in (ASH_DEPLOY_PATH_ROOTS); empty = path deploys are off. */
  deployPathRoots: string[];
  /**
   * Called before an agent is deleted, to stop its warm sandboxes (waiting for those still
   * starting) and end its sessions' sandboxes; its folders are removed only after.
   */
  onAgentDeleted: (tenantId: string, name: string) => Promise<void>;
  /**
   * Stops the agent's warm sandboxes and waits for those still starting (they copy the agent's
   * folder): called before a redeploy publishes a new version, and by a delete once the record is
   * gone (no refill starts a spare for it after that), before its folders are removed.
   */
  stopWarmSandboxes?: (tenantId: string, name: string) => Promise<void>;
  /**
   * Called after a deploy or an update, to refresh the agent's warm sandboxes; resolves once
   * out-of-date spares are gone (new ones start in the background).
   */
  onAgentDeployed: (agent: AgentRecord, replaceSpares?: boolean) => Promise<void>;
  /** Object storage copies of deployed folders (uploaded before a version is recorded). */
  archives?: AgentArchives;
  /** Checks the credentials of `config.network.inject` bindings (400 `invalid_credential`). */
  credentials?: CredentialResolver;
}

/** Redacts env values (and MCP server env/headers in config): they are write-only over the API. */
export function agentToApi(a: AgentRecord): Agent {
  const env: Record<string, string> = {};
  for (const k of Object.keys(a.env)) env[k] = '***';
  return {
    id: a.id,
    name: a.name,
    tenantId: a.tenantId,
    version: a.version,
    path: `agents/${a.name}/v${a.version}`,
    description: a.description,
    env,
    config: redactConfigSecrets(a.config),
    fileCount: a.fileCount,
    sizeBytes: a.sizeBytes,
    createdAt: a.createdAt,
    updatedAt: a.updatedAt,
  };
}

/** Deploys, lists, updates and deletes agents of a tenant. */
export class AgentService {
  /** Per agent: deploys, updates and deletes of one agent run one at a time. */
  private readonly locks = new Map<string, AsyncLock>();

  constructor(private readonly deps: AgentServiceDeps) {}

  private exclusive<T>(tenantId: string, name: string, fn: () => Promise<T>): Promise<T> {
    const key = `${tenantId}\u0000${name}`;
    let lock = this.locks.get(key);
    if (!lock) {
      lock = new AsyncLock();
      this.locks.set(key, lock);
    }
    return lock.run(fn);
  }

  /**
   * Deploys (or redeploys, bumping the version) an agent from a folder on the server or from
   * uploaded files. Sessions created earlier keep the version they started with. A redeploy whose
   * files, env, config and description equal the current version's changes nothing
   * (`unchanged: true`: same version, warm sandboxes kept).
   * @throws AppError 400 (bad paths, base64; `invalid_agent_folder`: no folder, no CLAUDE.md), 413 (too large).
   */
  async deploy(tenantId: string, body: DeployAgentBody): Promise<{ agent: Agent; unchanged: boolean }> {
    if (body.path === undefined && body.files === undefined) {
      throw new AppError(
        'validation_failed',
        'give either `path` (a folder on the server) or `files` (uploaded)',
        {
          errors: [{ path: '/body', message: 'must have property path or files' }],
        },
      );
    }
    if (body.path !== undefined && body.files !== undefined) {
      throw new AppError('validation_failed', 'give either `path` or `files`, not both', {
        errors: [{ path: '/body', message: 'path and files are mutually exclusive' }],
      });
    }
    await this.checkBindings(tenantId, body.config);
    const limits = { maxBytes: this.deps.maxAgentBytes, maxFiles: 10_000 };
    const { store } = this.deps;
    const staged =
      body.path !== undefined
        ? await store.stageFromPath(this.allowedDeployPath(body.path), limits)
        : await store.stageFromFiles(body.files ?? [], limits);
    let storageKey: string | null = null;
    try {
      await store.requireClaudeMd(staged, body.systemPrompt);
      const existing = await this.deps.repos.agents.get(tenantId, body.name);
      if (existing && (await this.sameAsCurrent(existing, body, staged.dir))) {
        await store.discard(staged);
        return { agent: agentToApi(existing), unchanged: true };
      }
      // Stored before the version is recorded: the database never points at a missing archive.
      if (this.deps.archives) storageKey = await this.deps.archives.upload(tenantId, body.name, staged.dir);
      const agent = await this.exclusive(tenantId, body.name, () =>
        this.publishStaged(tenantId, body, staged, storageKey),
      );
      return { agent, unchanged: false };
    } catch (err) {
      await store.discard(staged);
      await this.deps.archives?.discard(storageKey);
      throw err;
    }
  }

  /** Records and publishes a staged deploy (under the agent's lock). */
  private async publishStaged(
    tenantId: string,
    body: DeployAgentBody,
    staged: StagedAgent,
    storageKey: string | null,
  ): Promise<Agent> {
    const { store } = this.deps;
    const existing = await this.deps.repos.agents.get(tenantId, body.name);
    if (existing) await this.deps.stopWarmSandboxes?.(tenantId, body.name);
    const record = await this.deps.repos.agents.upsert({
      id: existing?.id ?? randomUUID(),
      tenantId,
      name: body.name,
      description: body.description ?? existing?.description ?? null,
      env: body.env ?? existing?.env ?? {},
      config: body.config ?? existing?.config ?? {},
      fileCount: staged.fileCount,
      sizeBytes: staged.sizeBytes,
      storageKey,
      now: new Date().toISOString(),
    });
    await store.publish(staged, tenantId, record.name, record.version);
    if (storageKey)
      await this.deps.archives?.recordVersion(tenantId, record.name, record.version, storageKey);
    await this.deps.onAgentDeployed(record);
    return agentToApi(record);
  }

  /**
   * True when a redeploy would publish exactly the current version: same files (by content
   * digest, when that version is on this server's disk), and env / config / description either
   * not given or equal.
   */
  private async sameAsCurrent(
    existing: AgentRecord,
    body: DeployAgentBody,
    stagedDir: string,
  ): Promise<boolean> {
    const same = (a: unknown, b: unknown) => a === undefined || JSON.stringify(a) === JSON.stringify(b);
    if (!same(body.env, existing.env) || !same(body.config, existing.config)) return false;
    if (body.description !== undefined && body.description !== existing.description) return false;
    const { store } = this.deps;
    if (!store.hasVersion(existing.tenantId, existing.name, existing.version)) return false;
    const current = store.versionDir(existing.tenantId, existing.name, existing.version);
    return (await store.treeDigest(stagedDir)) === (await store.treeDigest(current));
  }

  /**
   * Where a `path` deploy may read from: only inside ASH_DEPLOY_PATH_ROOTS (symlinks resolved),
   * never the data dir.
   * @throws AppError 403 `forbidden` when path deploys are off or the folder is outside the roots.
   */
  private allowedDeployPath(path: string): string {
    const roots = this.deps.deployPathRoots;
    if (roots.length === 0) {
      throw new AppError(
        'forbidden',
        'deploying from a folder on the server is switched off: upload the folder instead (`ash deploy` does), or start the server with ASH_DEPLOY_PATH_ROOTS set to the folders agents may be deployed from (comma-separated absolute paths, e.g. ASH_DEPLOY_PATH_ROOTS=/srv/agents)',
      );
    }
    const absolute = isAbsolute(path) ? path : resolve(roots[0]!, path);
    let real: string;
    try {
      real = realpathSync(absolute);
    } catch {
      throw new AppError('invalid_agent_folder', 'the agent folder does not exist on the server');
    }
    const inside = (dir: string) => {
      let r: string;
      try {
        r = realpathSync(dir);
      } catch {
        return false;
      }
      return real === r || real.startsWith(r.endsWith(sep) ? r : r + sep);
    };
    if (!roots.some(inside) || inside(this.deps.dataDir)) {
      throw new AppError(
        'forbidden',
        'that folder is outside the folders agents may be deployed from: add a folder containing it to ASH_DEPLOY_PATH_ROOTS (comma-separated absolute paths; never the data dir) and restart the server',
      );
    }
    return real;
  }

  async list(tenantId: string): Promise<Agent[]> {
    return (await this.deps.repos.agents.list(tenantId)).map(agentToApi);
  }

  /** @throws AppError 404 `agent_not_found`. */
  async get(tenantId: string, name: string): Promise<Agent> {
    return agentToApi(await this.record(tenantId, name));
  }

  /** @throws AppError 404 `agent_not_found`. */
  async record(tenantId: string, name: string): Promise<AgentRecord> {
    const a = await this.deps.repos.agents.get(tenantId, name);
    if (!a) throw notFound('agent_not_found', 'Agent', name);
    return a;
  }

  /** Replaces env, shallow-merges config (a `null` value removes the key), sets description. @throws AppError 404. */
  /** Checks the credential bindings of an agent config. @throws AppError 400 `invalid_credential`. */
  private async checkBindings(tenantId: string, config: Record<string, unknown> | null | undefined) {
    const inject = (config?.network as { inject?: CredentialBinding[] } | null | undefined)?.inject;
    if (inject && this.deps.credentials)
      await resolveBindings(
        this.deps.credentials,
        tenantId,
        inject,
        bindableMcpServers(config),
        '/body/config/network/inject',
      );
  }

  async update(tenantId: string, name: string, body: UpdateAgentBody): Promise<Agent> {
    await this.checkBindings(tenantId, body.config);
    return this.exclusive(tenantId, name, () => this.update_(tenantId, name, body));
  }

  private async update_(tenantId: string, name: string, body: UpdateAgentBody): Promise<Agent> {
    const current = await this.record(tenantId, name);
    const updated = await this.deps.repos.agents.update(tenantId, name, {
      ...(body.description !== undefined ? { description: body.description } : {}),
      ...(body.env !== undefined ? { env: body.env } : {}),
      ...(body.config !== undefined
        ? {
            config: Object.fromEntries(
              Object.entries({ ...current.config, ...body.config }).filter(([, v]) => v !== null),
            ),
          }
        : {}),
      now: new Date().toISOString(),
    });
    if (!updated) throw notFound('agent_not_found', 'Agent', name);
    // Warm sandboxes were started with the old env and limits: replace them.
    if (body.env !== undefined || body.config !== undefined) await this.deps.onAgentDeployed(updated, true);
    return agentToApi(updated);
  }

  /**
   * Deletes an agent and its deployed folders. Its sessions end (their history stays readable).
   * @throws AppError 404.
   */
  async delete(tenantId: string, name: string): Promise<void> {
    await this.exclusive(tenantId, name, async () => {
      await this.record(tenantId, name);
      // Warm sandboxes (those still starting included) and sessions are stopped first: only then
      // are the agent's folders removed, so no start copies from or into a folder being removed.
      await this.deps.onAgentDeleted(tenantId, name);
      await this.deps.repos.agents.delete(tenantId, name);
      // A refill that looked the agent up before the record went may have started one more.
      await this.deps.stopWarmSandboxes?.(tenantId, name);
      await this.deps.store.removeAgent(tenantId, name);
      await this.deps.archives?.removeAgent(tenantId, name);
    });
  }
}
