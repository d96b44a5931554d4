import { randomUUID } from 'node:crypto';
import type { EnqueueBody, ListQueueQuery, QueueItem, QueueStats } from '@ash-ai/shared';
import type { QueueRecord, Repos } from '../../db/repos/index.js';
import { AppError, invalidField, notFound } from '../../errors.js';
import { validateSdkOptions } from '../sessions/session-options.js';

export interface QueueServiceDeps {
  repos: Repos;
  /** Called after an item was added (wakes this server's processor). */
  onEnqueued?: () => void;
}

/** The API view of a queue item. */
export function queueItemToApi(r: QueueRecord): QueueItem {
  return {
    id: r.id,
    agentName: r.agentName,
    sessionId: r.sessionId,
    prompt: r.prompt,
    options: r.options,
    status: r.status,
    priority: r.priority,
    retryCount: r.retryCount,
    maxRetries: r.maxRetries,
    runAt: r.runAt,
    error: r.error,
    result: r.result,
    claimedBy: r.claimedBy,
    createdAt: r.createdAt,
    startedAt: r.startedAt,
    completedAt: r.completedAt,
  };
}

/** Queue items of a tenant: add, list, inspect, cancel. The processor runs them. */
export class QueueService {
  constructor(private readonly deps: QueueServiceDeps) {}

  /**
   * Adds an item. The agent must exist now (an agent deleted before the item runs fails the item
   * then). A given session must exist, belong to the agent and not have ended.
   * @throws AppError 404 `agent_not_found` / `session_not_found`, 410 `session_ended`, 400 `validation_failed`.
   */
  async enqueue(tenantId: string, body: EnqueueBody): Promise<QueueItem> {
    const { repos } = this.deps;
    if (!(await repos.agents.get(tenantId, body.agentName)))
      throw notFound('agent_not_found', 'Agent', body.agentName);
    if (body.sessionId) {
      const s = await repos.sessions.get(tenantId, body.sessionId);
      if (!s) throw notFound('session_not_found', 'Session', body.sessionId);
      if (s.agentName !== body.agentName)
        throw invalidField(
          '/body/sessionId',
          `the session belongs to agent '${s.agentName}', not '${body.agentName}'`,
        );
      if (s.status === 'ended')
        throw new AppError('session_ended', 'the session has ended; queue without sessionId');
    }
    const options = body.options ?? {};
    validateSdkOptions(options, options, undefined, '/body/options');
    const now = new Date().toISOString();
    const item = await repos.queue.insert({
      id: randomUUID(),
      tenantId,
      agentName: body.agentName,
      sessionId: body.sessionId ?? null,
      prompt: body.prompt,
      options,
      priority: body.priority ?? 0,
      maxRetries: body.maxRetries ?? 3,
      runAt: body.runAt ? new Date(body.runAt).toISOString() : now,
      now,
    });
    this.deps.onEnqueued?.();
    return queueItemToApi(item);
  }

  async list(
    tenantId: string,
    q: ListQueueQuery,
  ): Promise<{ items: QueueItem[]; total: number; hasMore: boolean }> {
    const limit = q.limit ?? 50;
    const offset = q.offset ?? 0;
    const { rows, total } = await this.deps.repos.queue.list(tenantId, {
      ...(q.status ? { status: q.status === 'processing' ? 'running' : q.status } : {}),
      limit,
      offset,
    });
    return { items: rows.map(queueItemToApi), total, hasMore: offset + rows.length < total };
  }

  /** @throws AppError 404 `queue_item_not_found` (also for another tenant's item). */
  async get(tenantId: string, id: string): Promise<QueueItem> {
    const item = await this.deps.repos.queue.get(tenantId, id);
    if (!item) throw notFound('queue_item_not_found', 'Queue item', id);
    return queueItemToApi(item);
  }

  /**
   * Cancels a pending item.
   * @throws AppError 404 `queue_item_not_found`, 409 `queue_item_not_pending` (running or finished).
   */
  async cancel(tenantId: string, id: string): Promise<QueueItem> {
    const { queue } = this.deps.repos;
    const cancelled = await queue.cancel(tenantId, id, new Date().toISOString());
    if (cancelled) return queueItemToApi(cancelled);
    const item = await queue.get(tenantId, id);
    if (!item) throw notFound('queue_item_not_found', 'Queue item', id);
    throw new AppError(
      'queue_item_not_pending',
      `the item is ${item.status}; only pending items can be cancelled`,
    );
  }

  async stats(tenantId: string): Promise<QueueStats> {
    const counts = await this.deps.repos.queue.countByStatus(tenantId);
    return {
      pending: counts.pending ?? 0,
      running: counts.running ?? 0,
      processing: counts.running ?? 0,
      completed: counts.completed ?? 0,
      failed: counts.failed ?? 0,
      cancelled: counts.cancelled ?? 0,
    };
  }
}
