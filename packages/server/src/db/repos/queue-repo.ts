import { and, asc, desc, eq, lt, lte, sql, type SQL } from 'drizzle-orm';
import type { QueueResult, QueueStatus, TurnOptions } from '@ash-ai/shared';
import type { AshDatabase } from '../client.js';
import { parseJsonColumn } from './json.js';

/** A queue item row, JSON columns parsed. */
export interface QueueRecord {
  id: string;
  tenantId: string;
  agentName: string;
  sessionId: string | null;
  prompt: string;
  options: TurnOptions;
  status: QueueStatus;
  priority: number;
  retryCount: number;
  maxRetries: number;
  runAt: string;
  error: string | null;
  result: QueueResult | null;
  claimedBy: string | null;
  claimedAt: string | null;
  heartbeatAt: string | null;
  createdAt: string;
  startedAt: string | null;
  completedAt: string | null;
}

export type NewQueueItem = Pick<
  QueueRecord,
  'id' | 'tenantId' | 'agentName' | 'sessionId' | 'prompt' | 'options' | 'priority' | 'maxRetries' | 'runAt'
> & { now: string };

type Row = AshDatabase['t']['queueItems']['$inferSelect'];

/**
 * The update for an interrupted attempt (server stop or crash), counted as a failed one: pending
 * and due `now` while `retryCount < maxRetries` (with `retryCount + 1`), else `failed`.
 */
function countedInterruption(t: AshDatabase['t']['queueItems'], error: string, now: string): Partial<Row> {
  const retry = sql`${t.retryCount} < ${t.maxRetries}`;
  return {
    status: sql`CASE WHEN ${retry} THEN 'pending' ELSE 'failed' END` as unknown as string,
    retryCount:
      sql`CASE WHEN ${retry} THEN ${t.retryCount} + 1 ELSE ${t.retryCount} END` as unknown as number,
    completedAt: sql`CASE WHEN ${retry} THEN NULL ELSE ${now} END` as unknown as string,
    runAt: now,
    error,
    claimedAt: null,
    heartbeatAt: null,
  };
}

function fromRow(r: Row): QueueRecord {
  return {
    ...r,
    status: r.status as QueueStatus,
    options: parseJsonColumn<TurnOptions>(r.options, {}),
    result: parseJsonColumn<QueueResult | null>(r.result, null),
  };
}

/**
 * Queue items. Tenant-facing reads are scoped by tenant; the processor's operations (claim,
 * heartbeat, finish, requeue) work across tenants and are guarded by single conditional
 * statements, so concurrent processors (in one process or many, on one database) never both own
 * an item.
 */
export class QueueRepo {
  constructor(private readonly d: AshDatabase) {}

  async insert(i: NewQueueItem): Promise<QueueRecord> {
    const rows = await this.d.db
      .insert(this.d.t.queueItems)
      .values({
        id: i.id,
        tenantId: i.tenantId,
        agentName: i.agentName,
        sessionId: i.sessionId,
        prompt: i.prompt,
        options: JSON.stringify(i.options),
        status: 'pending',
        priority: i.priority,
        retryCount: 0,
        maxRetries: i.maxRetries,
        runAt: i.runAt,
        error: null,
        result: null,
        claimedBy: null,
        claimedAt: null,
        heartbeatAt: null,
        createdAt: i.now,
        startedAt: null,
        completedAt: null,
      })
      .returning();
    return fromRow(rows[0]!);
  }

  async get(tenantId: string, id: string): Promise<QueueRecord | undefined> {
    const t = this.d.t.queueItems;
    const rows = await this.d.db
      .select()
      .from(t)
      .where(and(eq(t.tenantId, tenantId), eq(t.id, id)))
      .limit(1);
    return rows[0] ? fromRow(rows[0]) : undefined;
  }

  /** Newest first, optionally of one status, with the total count. */
  async list(
    tenantId: string,
    f: { status?: QueueStatus; limit: number; offset: number },
  ): Promise<{ rows: QueueRecord[]; total: number }> {
    const t = this.d.t.queueItems;
    const conds: SQL[] = [eq(t.tenantId, tenantId)];
    if (f.status) conds.push(eq(t.status, f.status));
    const where = and(...conds);
    const rows = await this.d.db
      .select()
      .from(t)
      .where(where)
      .orderBy(desc(t.createdAt), desc(t.id))
      .limit(f.limit)
      .offset(f.offset);
    const count = await this.d.db.select({ n: sql<number>`count(*)` }).from(t).where(where);
    return { rows: rows.map(fromRow), total: Number(count[0]?.n ?? 0) };
  }

  /** Item counts per status. */
  async countByStatus(tenantId: string): Promise<Record<string, number>> {
    const t = this.d.t.queueItems;
    const rows = await this.d.db
      .select({ status: t.status, n: sql<number>`count(*)` })
      .from(t)
      .where(eq(t.tenantId, tenantId))
      .groupBy(t.status);
    return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
  }

  /** Cancels a pending item. @returns the cancelled item, or undefined when it was not pending (or not found). */
  async cancel(tenantId: string, id: string, now: string): Promise<QueueRecord | undefined> {
    const t = this.d.t.queueItems;
    const rows = await this.d.db
      .update(t)
      .set({ status: 'cancelled', completedAt: now })
      .where(and(eq(t.tenantId, tenantId), eq(t.id, id), eq(t.status, 'pending')))
      .returning();
    return rows[0] ? fromRow(rows[0]) : undefined;
  }

  /**
   * Claims the next due item (highest priority, then oldest) for `processorId`. One conditional
   * UPDATE: the sub-select picks a candidate and `status = 'pending'` is re-checked on the row
   * being updated, so when two processors pick the same candidate only one update matches (on
   * Postgres the second waits for the first's row lock, re-evaluates and matches nothing; SQLite
   * serialises writers). The loser gets undefined and simply tries again.
   */
  async claim(processorId: string, now: string): Promise<QueueRecord | undefined> {
    const t = this.d.t.queueItems;
    const next = this.d.db
      .select({ id: t.id })
      .from(t)
      .where(and(eq(t.status, 'pending'), lte(t.runAt, now)))
      .orderBy(desc(t.priority), asc(t.createdAt), asc(t.id))
      .limit(1);
    const rows = await this.d.db
      .update(t)
      .set({
        status: 'running',
        claimedBy: processorId,
        claimedAt: now,
        heartbeatAt: now,
        startedAt: now,
      })
      .where(and(eq(t.id, sql`(${next})`), eq(t.status, 'pending')))
      .returning();
    return rows[0] ? fromRow(rows[0]) : undefined;
  }

  /** Refreshes the heartbeat of an item the processor runs. @returns false when it no longer owns it. */
  async heartbeat(id: string, processorId: string, now: string): Promise<boolean> {
    const t = this.d.t.queueItems;
    const rows = await this.d.db
      .update(t)
      .set({ heartbeatAt: now })
      .where(and(eq(t.id, id), eq(t.claimedBy, processorId), eq(t.status, 'running')))
      .returning({ id: t.id });
    return rows.length > 0;
  }

  /** Records the session an item runs in (so a retry continues there). */
  async setSession(id: string, processorId: string, sessionId: string): Promise<void> {
    const t = this.d.t.queueItems;
    await this.d.db
      .update(t)
      .set({ sessionId })
      .where(and(eq(t.id, id), eq(t.claimedBy, processorId), eq(t.status, 'running')));
  }

  /**
   * Ends an attempt the processor owns: `completed` with its result, `failed` with its error, or
   * back to `pending` at `retryAt` with `retryCount + 1`. @returns false when it no longer owned it.
   */
  async finish(
    id: string,
    processorId: string,
    end:
      | { status: 'completed'; result: QueueResult; now: string }
      | { status: 'failed'; error: string; result: QueueResult | null; now: string }
      | { status: 'retry'; error: string; retryAt: string },
  ): Promise<boolean> {
    const t = this.d.t.queueItems;
    const set: Partial<Row> =
      end.status === 'completed'
        ? { status: 'completed', result: JSON.stringify(end.result), error: null, completedAt: end.now }
        : end.status === 'failed'
          ? {
              status: 'failed',
              error: end.error,
              result: end.result ? JSON.stringify(end.result) : null,
              completedAt: end.now,
            }
          : { status: 'pending', error: end.error, runAt: end.retryAt, claimedAt: null, heartbeatAt: null };
    const rows = await this.d.db
      .update(t)
      .set(
        end.status === 'retry' ? { ...set, retryCount: sql`${t.retryCount} + 1` as unknown as number } : set,
      )
      .where(and(eq(t.id, id), eq(t.claimedBy, processorId), eq(t.status, 'running')))
      .returning({ id: t.id });
    return rows.length > 0;
  }

  /**
   * Ends an attempt cut short by a graceful shutdown. It counts as a failed attempt (like one
   * taken back after a crash): pending again and due at once while retries remain, else `failed`
   * with `error`. @returns false when the processor no longer owned it.
   */
  async release(id: string, processorId: string, error: string, now: string): Promise<boolean> {
    const t = this.d.t.queueItems;
    const rows = await this.d.db
      .update(t)
      .set(countedInterruption(t, error, now))
      .where(and(eq(t.id, id), eq(t.claimedBy, processorId), eq(t.status, 'running')))
      .returning({ id: t.id });
    return rows.length > 0;
  }

  /**
   * Takes back running items whose processor died: those claimed by `processorId` (this server,
   * restarted) or, with `staleBefore`, any whose heartbeat is older. The interrupted attempt
   * counts as a failure: the item is retried at once while retries remain, else marked `failed`.
   * @returns how many items were taken back.
   */
  async recover(
    by: { processorId: string } | { staleBefore: string },
    error: string,
    now: string,
  ): Promise<number> {
    const t = this.d.t.queueItems;
    const rows = await this.d.db
      .update(t)
      .set(countedInterruption(t, error, now))
      .where(
        and(
          eq(t.status, 'running'),
          'processorId' in by ? eq(t.claimedBy, by.processorId) : lt(t.heartbeatAt, by.staleBefore),
        ),
      )
      .returning({ id: t.id });
    return rows.length;
  }
}
