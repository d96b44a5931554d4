import { randomUUID } from 'node:crypto';
import type { AgentVersion, Analytics, CreateAgentVersionBody, UpdateAgentVersionBody } from '@ash-ai/shared';
import type { AgentVersionRecord, Repos } from '../../db/repos/index.js';
import { AppError, notFound } from '../../errors.js';
import { redactConfigSecrets } from '../../util/redact.js';
import type { AgentService } from './agent-service.js';
import { totals } from '../usage/usage-service.js';

export interface CompatServiceDeps {
  repos: Repos;
  agents: AgentService;
}

function versionToApi(v: AgentVersionRecord): AgentVersion {
  return {
    id: v.id,
    agentName: v.agentName,
    versionNumber: v.versionNumber,
    name: v.name,
    systemPrompt: v.systemPrompt,
    releaseNotes: v.releaseNotes,
    isActive: v.isActive,
    knowledgeFiles: v.knowledgeFiles,
    createdAt: v.createdAt,
    updatedAt: v.updatedAt,
  };
}

/**
 * What the upstream Ash serves beside our own API, with its shapes: agent prompt versions (the
 * active one's system prompt is a new session's default), the agent config as its own resource,
 * and analytics.
 */
export class CompatService {
  constructor(private readonly deps: CompatServiceDeps) {}

  /** @throws AppError 404 `agent_not_found`. */
  async listVersions(tenantId: string, agent: string): Promise<AgentVersion[]> {
    await this.deps.agents.record(tenantId, agent);
    return (await this.deps.repos.agentVersions.list(tenantId, agent)).map(versionToApi);
  }

  /** @throws AppError 404 `agent_not_found`, 400 `validation_failed` (unknown `cloneFrom`). */
  async createVersion(tenantId: string, agent: string, body: CreateAgentVersionBody): Promise<AgentVersion> {
    await this.deps.agents.record(tenantId, agent);
    let source: AgentVersionRecord | undefined;
    if (body.cloneFrom !== undefined) {
      source = await this.deps.repos.agentVersions.get(tenantId, agent, String(body.cloneFrom));
      if (!source)
        throw new AppError('validation_failed', `cloneFrom: version ${body.cloneFrom} does not exist`, {
          errors: [{ path: '/body/cloneFrom', message: 'no such version' }],
        });
    }
    const now = new Date().toISOString();
    const v = await this.deps.repos.agentVersions.insert({
      id: randomUUID(),
      tenantId,
      agentName: agent,
      name: body.name,
      systemPrompt: body.systemPrompt ?? source?.systemPrompt ?? null,
      releaseNotes: body.releaseNotes ?? null,
      isActive: false,
      knowledgeFiles: body.knowledgeFiles ?? source?.knowledgeFiles ?? [],
      createdAt: now,
      updatedAt: now,
    });
    return versionToApi(v);
  }

  /** @throws AppError 404 `agent_not_found`, `resource_not_found` (version). */
  async getVersion(tenantId: string, agent: string, ref: string): Promise<AgentVersion> {
    return versionToApi(await this.version(tenantId, agent, ref));
  }

  /** @throws AppError 404. */
  async updateVersion(
    tenantId: string,
    agent: string,
    ref: string,
    body: UpdateAgentVersionBody,
  ): Promise<AgentVersion> {
    const v = await this.version(tenantId, agent, ref);
    const updated = await this.deps.repos.agentVersions.update(tenantId, v.id, {
      ...body,
      updatedAt: new Date().toISOString(),
    });
    if (!updated) throw notFound('resource_not_found', 'Version', ref);
    return versionToApi(updated);
  }

  /** @throws AppError 404. */
  async deleteVersion(tenantId: string, agent: string, ref: string): Promise<void> {
    const v = await this.version(tenantId, agent, ref);
    await this.deps.repos.agentVersions.delete(tenantId, v.id);
  }

  /** Makes the version the active one. @throws AppError 404. */
  async activateVersion(tenantId: string, agent: string, ref: string): Promise<number> {
    const v = await this.version(tenantId, agent, ref);
    await this.deps.repos.agentVersions.activate(tenantId, agent, v.id, new Date().toISOString());
    return v.versionNumber;
  }

  private async version(tenantId: string, agent: string, ref: string): Promise<AgentVersionRecord> {
    await this.deps.agents.record(tenantId, agent);
    const v = await this.deps.repos.agentVersions.get(tenantId, agent, ref);
    if (!v) throw notFound('resource_not_found', `Version of agent '${agent}'`, ref);
    return v;
  }

  /** The agent's config (MCP secrets redacted). @throws AppError 404. */
  async config(tenantId: string, agent: string): Promise<Record<string, unknown>> {
    return redactConfigSecrets((await this.deps.agents.record(tenantId, agent)).config);
  }

  /**
   * Changes the agent's config: `merge` shallow-merges (a `null` value removes a key), otherwise
   * the config is replaced. @throws AppError 404, 400.
   */
  async setConfig(
    tenantId: string,
    agent: string,
    config: Record<string, unknown>,
    merge: boolean,
  ): Promise<Record<string, unknown>> {
    if (!merge) {
      const current = await this.deps.agents.record(tenantId, agent);
      const removed = Object.fromEntries(
        Object.keys(current.config)
          .filter((k) => !(k in config))
          .map((k) => [k, null]),
      );
      config = { ...removed, ...config };
    }
    return (await this.deps.agents.update(tenantId, agent, { config })).config;
  }

  /** The tenant's figures, sessions and usage created in [after, before). */
  async analytics(tenantId: string, q: { after?: string; before?: string }): Promise<Analytics> {
    const { repos } = this.deps;
    const iso = (t: string | undefined) => (t ? new Date(t).toISOString() : undefined);
    const after = iso(q.after);
    const before = iso(q.before);
    const byStatus = await repos.sessions.countByStatus(tenantId, after, before);
    const sums = await repos.usage.sums(tenantId, {
      ...(after ? { from: after } : {}),
      ...(before ? { to: before } : {}),
    });
    return {
      agents: { total: (await repos.agents.list(tenantId)).length },
      sessions: { total: Object.values(byStatus).reduce((a, b) => a + b, 0), byStatus },
      usage: totals(sums.total),
      evals: { totalRuns: 0, byStatus: {} },
    };
  }
}
