import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import type { Logger } from 'pino';
import type {
  CreateSessionBody,
  ListSessionsQuery,
  Message,
  SendMessageBody,
  Session,
  SessionConfig,
  SessionEvent,
  StreamEvent,
} from '@ash-ai/shared';
import type { EventRecord, MessageRecord, Repos, SessionRecord } from '../db/repos/index.js';
import { AppError, notFound } from '../errors.js';
import { monotonicIso } from '../util/clock.js';
import type { AgentStore } from '../storage/agent-store.js';
import type { TurnScheduler, TurnStream } from './busy-policy.js';
import { resolveSdkOptions, validateSdkOptions } from './session-options.js';
import type { SessionPaths } from './session-paths.js';
import type { SessionRuntime } from './session-runtime.js';

export interface SessionServiceDeps {
  repos: Repos;
  runtime: SessionRuntime;
  agents: AgentStore;
  paths: SessionPaths;
  log: Logger;
  /** Busy policy (`onBusy`) of messages. */
  turns: TurnScheduler;
}

const CONFIG_KEYS = [
  'model',
  'systemPrompt',
  'permissionMode',
  'mcpServers',
  'allowedTools',
  'disallowedTools',
  'betas',
  'subagents',
  'initialAgent',
] as const;

/** The API view of a session (never includes `extraEnv`). */
export function sessionToApi(s: SessionRecord): Session {
  return {
    id: s.id,
    tenantId: s.tenantId,
    agentName: s.agentName,
    agentVersion: s.agentVersion,
    status: s.status,
    sandboxId: s.id,
    runnerId: s.runnerId,
    parentSessionId: s.parentSessionId,
    model: s.config.model ?? s.model,
    config: s.config,
    budgetUsd: s.budgetUsd,
    activeTurnId: s.activeTurnId,
    createdAt: s.createdAt,
    lastActiveAt: s.lastActiveAt,
    endedAt: s.endedAt,
  };
}

export function messageToApi(m: MessageRecord): Message {
  return {
    id: m.id,
    sessionId: m.sessionId,
    role: m.role,
    type: m.type,
    content: m.content,
    text: m.text,
    sequence: m.sequence,
    turnId: m.turnId,
    createdAt: m.createdAt,
  };
}

export function eventToApi(e: EventRecord): SessionEvent {
  return {
    id: e.id,
    sessionId: e.sessionId,
    type: e.type,
    data: e.data,
    sequence: e.sequence,
    turnId: e.turnId,
    createdAt: e.createdAt,
  };
}

/** Session lifecycle and history for a tenant. */
export class SessionService {
  constructor(private readonly deps: SessionServiceDeps) {}

  /**
   * Creates a session on an agent's current version: a fresh workspace copied from the agent
   * folder, then its sandbox starts in the background.
   * @throws AppError 404 `agent_not_found`, 422 `agent_folder_missing`.
   */
  async create(tenantId: string, body: CreateSessionBody): Promise<Session> {
    const { repos, agents, paths } = this.deps;
    const agent = await repos.agents.get(tenantId, body.agent);
    if (!agent) throw notFound('agent_not_found', 'Agent', body.agent);
    if (!agents.hasVersion(tenantId, agent.name, agent.version)) {
      throw new AppError(
        'agent_folder_missing',
        `the files of agent '${agent.name}' are missing on the server; redeploy the agent`,
      );
    }
    const config: SessionConfig = {};
    for (const k of CONFIG_KEYS) if (body[k] !== undefined) (config as Record<string, unknown>)[k] = body[k];
    validateSdkOptions(
      config,
      resolveSdkOptions(agent.config, { config, model: null }, {}),
      agents.versionDir(tenantId, agent.name, agent.version),
    );
    const id = randomUUID();
    const now = monotonicIso();
    await repos.sessions.insert({
      id,
      tenantId,
      agentName: agent.name,
      agentVersion: agent.version,
      status: 'starting',
      parentSessionId: null,
      model: body.model ?? null,
      config,
      extraEnv: body.extraEnv ?? {},
      credentialId: body.credentialId ?? null,
      budgetUsd: body.budgetUsd ?? null,
      lastEventSeq: 0,
      lastMessageSeq: 0,
      now,
    });
    try {
      await agents.copyToWorkspace(tenantId, agent.name, agent.version, paths.workspace(id));
    } catch (err) {
      await repos.sessions.update(tenantId, id, { status: 'error' });
      this.deps.log.error({ err, sessionId: id }, 'could not create the workspace');
      throw new AppError(
        'agent_folder_missing',
        `the files of agent '${agent.name}' could not be copied; redeploy the agent`,
      );
    }
    const session = (await repos.sessions.update(tenantId, id, { status: 'active' }))!;
    await this.lifecycle(session, 'created', { agent: agent.name, agentVersion: agent.version });
    this.deps.runtime.prewarm(session);
    return sessionToApi(session);
  }

  async list(
    tenantId: string,
    q: ListSessionsQuery,
  ): Promise<{ sessions: Session[]; total: number; hasMore: boolean }> {
    const limit = q.limit ?? 50;
    const offset = q.offset ?? 0;
    const { rows, total } = await this.deps.repos.sessions.list(tenantId, {
      ...(q.agent ? { agent: q.agent } : {}),
      ...(q.status ? { status: q.status } : {}),
      limit,
      offset,
    });
    return { sessions: rows.map(sessionToApi), total, hasMore: offset + rows.length < total };
  }

  /** @throws AppError 404 `session_not_found` (same for other tenants' ids and unknown ids). */
  async record(tenantId: string, id: string): Promise<SessionRecord> {
    const s = await this.deps.repos.sessions.get(tenantId, id);
    if (!s) throw notFound('session_not_found', 'Session', id);
    return s;
  }

  async get(tenantId: string, id: string): Promise<Session> {
    return sessionToApi(await this.record(tenantId, id));
  }

  /**
   * Ends a session: stops its process tree (interrupting a running turn) and marks it `ended`.
   * History and workspace stay readable. Ending an ended session returns it unchanged.
   */
  async end(tenantId: string, id: string): Promise<Session> {
    const s = await this.record(tenantId, id);
    if (s.status === 'ended') return sessionToApi(s);
    // Ended first, so no turn can claim the slot between the stop and the update (a queued
    // message waiting for the running turn would otherwise start on the ending session).
    const updated = await this.deps.repos.sessions.update(tenantId, id, {
      status: 'ended',
      endedAt: new Date().toISOString(),
      ownerId: null,
    });
    await this.deps.runtime.stop(id, 'ended');
    await this.lifecycle(updated!, 'ended', {});
    return sessionToApi(updated!);
  }

  /** Starts a turn (following `onBusy`) and returns its event stream. @throws AppError 400/404/409/410. */
  async sendMessage(tenantId: string, id: string, body: SendMessageBody): Promise<TurnStream> {
    const s = await this.record(tenantId, id);
    return this.deps.turns.start(s, body);
  }

  /**
   * Events with sequence > `after` from history, then the live rest of the running turn (if
   * this server runs one). Ends after the turn's `done`, or at the end of history.
   */
  async *stream(tenantId: string, id: string, after: number): AsyncGenerator<StreamEvent> {
    await this.record(tenantId, id);
    const turn = this.deps.runtime.turnFor(id);
    let cursor = after;
    const upTo = turn ? turn.firstSeq - 1 : Number.POSITIVE_INFINITY;
    for (;;) {
      const { rows, hasMore } = await this.deps.repos.history.listEvents(tenantId, id, {
        after: cursor,
        limit: 500,
      });
      for (const r of rows) {
        if (r.sequence > upTo) break;
        if (r.type === 'lifecycle') {
          cursor = r.sequence;
          continue;
        }
        yield { id: r.sequence, event: r.type, data: JSON.parse(r.data) } as StreamEvent;
        cursor = r.sequence;
      }
      if (!hasMore || cursor >= upTo) break;
    }
    if (turn) yield* turn.subscribe(Math.max(cursor, after));
  }

  async messages(
    tenantId: string,
    id: string,
    after: number,
    limit: number,
  ): Promise<{ messages: Message[]; hasMore: boolean }> {
    await this.record(tenantId, id);
    const { rows, hasMore } = await this.deps.repos.history.listMessages(tenantId, id, after, limit);
    return { messages: rows.map(messageToApi), hasMore };
  }

  async events(
    tenantId: string,
    id: string,
    q: { after: number; limit: number; type?: string; turnId?: string },
  ): Promise<{ events: SessionEvent[]; hasMore: boolean }> {
    await this.record(tenantId, id);
    const { rows, hasMore } = await this.deps.repos.history.listEvents(tenantId, id, q);
    return { events: rows.map(eventToApi), hasMore };
  }

  /** Ends every live session of an agent (before the agent is deleted). */
  async endAgentSessions(tenantId: string, agentName: string): Promise<void> {
    const sessions = await this.deps.repos.sessions.listByAgent(tenantId, agentName, [
      'starting',
      'active',
      'paused',
      'error',
    ]);
    for (const s of sessions) await this.end(tenantId, s.id);
  }

  /** Deletes a session's files (used when creation fails half-way). */
  async removeFiles(id: string): Promise<void> {
    await rm(this.deps.paths.sessionDir(id), { recursive: true, force: true });
  }

  /**
   * Records a lifecycle event (`created`, `ended`, `paused`...). Skipped while a turn holds the
   * session's sequence (the turn's own events tell the story then).
   */
  async lifecycle(session: SessionRecord, action: string, data: Record<string, unknown>): Promise<void> {
    const seq = await this.deps.repos.sessions.reserveEventSeq(session.id, 1);
    if (seq === undefined) return;
    await this.deps.repos.history.insertEvents([
      {
        id: randomUUID(),
        tenantId: session.tenantId,
        sessionId: session.id,
        type: 'lifecycle',
        data: JSON.stringify({ action, ...data }),
        sequence: seq,
        turnId: null,
        createdAt: new Date().toISOString(),
      },
    ]);
  }
}
