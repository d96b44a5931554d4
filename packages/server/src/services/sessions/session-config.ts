import type { CredentialBinding, Session, UpdateSessionConfigBody } from '@ash-ai/shared';
import type { Repos } from '../../db/repos/index.js';
import { AppError, notFound } from '../../errors.js';
import { applyConfigPatch, resolveSdkOptions, validateSdkOptions } from './session-options.js';
import type { SessionPaths } from './session-paths.js';
import type { CredentialResolver } from '../auth/credential-service.js';
import { bindableMcpServers, resolveBindings } from './egress.js';
import { sessionToApi } from './session-service.js';

export interface SessionConfigServiceDeps {
  repos: Repos;
  paths: SessionPaths;
  /** Checks the credentials of `network.inject` bindings (400 `invalid_credential`). */
  credentials?: CredentialResolver;
}

/** Changes a session's config (`PATCH /api/sessions/:id/config`). */
export class SessionConfigService {
  constructor(private readonly deps: SessionConfigServiceDeps) {}

  /**
   * Merge-patches the session config (`null` removes an option) and sets or clears its budget.
   * Only later turns see the change: a running turn keeps the options it started with.
   * @throws AppError 404 `session_not_found`, 410 `session_ended`, 400 `validation_failed`.
   */
  async update(tenantId: string, id: string, patch: UpdateSessionConfigBody): Promise<Session> {
    const { repos, paths } = this.deps;
    const s = await repos.sessions.get(tenantId, id);
    if (!s) throw notFound('session_not_found', 'Session', id);
    if (s.status === 'ended')
      throw new AppError('session_ended', 'the session has ended; its config is final');
    const { config, budgetUsd } = applyConfigPatch(s.config, patch);
    const agent = await repos.agents.get(tenantId, s.agentName);
    const given = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== null));
    validateSdkOptions(
      given,
      resolveSdkOptions(agent?.config ?? {}, { config, model: null }, {}),
      paths.workspace(id),
    );
    // Bindings are checked when they or the MCP servers they may name change.
    const inject = (config.network as { inject?: CredentialBinding[] } | undefined)?.inject;
    if (inject && (patch.network || patch.mcpServers !== undefined) && this.deps.credentials)
      await resolveBindings(
        this.deps.credentials,
        tenantId,
        inject,
        bindableMcpServers(agent?.config, config as Record<string, unknown>),
        '/body/network/inject',
      );
    const updated = await repos.sessions.update(tenantId, id, {
      config,
      // The legacy model column follows config.model, so `null` really falls back to the agent's.
      ...('model' in patch ? { model: patch.model ?? null } : {}),
      ...(budgetUsd !== undefined ? { budgetUsd } : {}),
    });
    if (!updated) throw notFound('session_not_found', 'Session', id);
    return sessionToApi(updated);
  }
}
