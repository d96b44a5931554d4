import type { EnqueueBody, ListQueueQuery, QueueItem, QueueStats } from '@ash-ai/shared';
import type { HttpClient } from '../core/http.js';
import { route } from '../internal/route.js';

/** Background work: `client.queue`. Items run as turns on the server, with retries. */
export class Queue {
  constructor(private readonly http: HttpClient) {}

  /**
   * Queues a prompt for an agent (a new session unless `sessionId`).
   * @throws BadRequestError, NotFoundError (session), GoneError (session ended).
   * @example await client.queue.add({ agentName: 'hello', prompt: 'Summarise the notes', maxRetries: 2 })
   */
  async add(body: EnqueueBody): Promise<QueueItem> {
    return (await this.http.request<{ item: QueueItem }>('POST', '/api/queue', { body })).item;
  }

  /** Items, newest first. */
  async list(q: ListQueueQuery = {}): Promise<{ items: QueueItem[]; total: number; hasMore: boolean }> {
    return this.http.request('GET', '/api/queue', { query: { ...q } });
  }

  /** @throws NotFoundError */
  async get(id: string): Promise<QueueItem> {
    return (await this.http.request<{ item: QueueItem }>('GET', route`/api/queue/${id}`)).item;
  }

  /** Cancels a pending item. @throws NotFoundError, ConflictError (`queue_item_not_pending`). */
  async cancel(id: string): Promise<QueueItem> {
    return (await this.http.request<{ item: QueueItem }>('DELETE', route`/api/queue/${id}`)).item;
  }

  /** Items per status. */
  async stats(): Promise<QueueStats> {
    return (await this.http.request<{ stats: QueueStats }>('GET', '/api/queue/stats')).stats;
  }

  /**
   * Polls an item until it is `completed`, `failed` or `cancelled` (every `intervalMs`, default
   * 500) or `timeoutMs` passes (default 10 minutes; then the item as it is).
   */
  async wait(id: string, opts: { intervalMs?: number; timeoutMs?: number } = {}): Promise<QueueItem> {
    const deadline = Date.now() + (opts.timeoutMs ?? 600_000);
    for (;;) {
      const item = await this.get(id);
      if (item.status === 'completed' || item.status === 'failed' || item.status === 'cancelled') return item;
      if (Date.now() >= deadline) return item;
      await new Promise((r) => setTimeout(r, opts.intervalMs ?? 500));
    }
  }
}
