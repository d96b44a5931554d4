import { and, asc, eq, gt, inArray, sql, type SQL } from 'drizzle-orm';
import type { AshDatabase } from '../client.js';
import { bindRow, placeholderRow } from './one-row-insert.js';

/** A persisted message row. `content` is the message as JSON text. */
export interface MessageRecord {
  id: string;
  tenantId: string;
  sessionId: string;
  role: 'user' | 'assistant' | 'system';
  type: string;
  content: string;
  text: string;
  sequence: number;
  turnId: string | null;
  createdAt: string;
  /** The runner's number of the turn event it came from (null: not from one). */
  sourceIndex?: number | null;
}

/** A persisted SSE/lifecycle event row. `data` is JSON text. */
export interface EventRecord {
  id: string;
  tenantId: string;
  sessionId: string;
  type: string;
  data: string;
  sequence: number;
  turnId: string | null;
  createdAt: string;
  /** The runner's number of the turn event it came from (null: not from one). */
  sourceIndex?: number | null;
}

/** Messages and events of sessions: append-only, ordered by per-session sequence. */
export class HistoryRepo {
  /** SQLite only: the one-event insert, built and prepared once (see {@link insertEvents}). */
  private insertOneEvent: { run(row: EventRecord): unknown } | undefined;
  /** SQLite only: the one-message insert, likewise (a turn stores its messages one at a time). */
  private insertOneMessage: { run(row: MessageRecord): unknown } | undefined;

  constructor(private readonly d: AshDatabase) {}

  async insertMessages(rows: MessageRecord[]): Promise<void> {
    if (rows.length === 0) return;
    if (rows.length === 1 && this.d.dialect === 'sqlite') {
      this.insertOneMessage ??= this.prepareInsertOne(this.d.t.messages);
      this.insertOneMessage.run(rows[0]!);
      return;
    }
    await this.d.db.insert(this.d.t.messages).values(rows);
  }

  async insertEvents(rows: EventRecord[]): Promise<void> {
    if (rows.length === 0) return;
    // A live turn stores its events one at a time (a text delta each, as they come): on SQLite,
    // building the INSERT and preparing it again for each took most of the server's CPU per
    // delta (a CPU profile: docs/benchmarks/2026-12-03-profiles.md), so the single-row insert is
    // prepared once. (Postgres keeps the plain builder: a named prepared statement is per connection.)
    if (rows.length === 1 && this.d.dialect === 'sqlite') {
      this.insertOneEvent ??= this.prepareInsertOne(this.d.t.sessionEvents);
      this.insertOneEvent.run(rows[0]!);
      return;
    }
    // Stay below SQLite's bound-parameter limit (8 columns per row).
    for (let i = 0; i < rows.length; i += 500)
      await this.d.db.insert(this.d.t.sessionEvents).values(rows.slice(i, i + 500));
  }

  /** A single-row insert into `table`, built and prepared once (SQLite only). */
  private prepareInsertOne<R extends object>(
    table: AshDatabase['t']['messages'] | AshDatabase['t']['sessionEvents'],
  ): { run(row: R): unknown } {
    const q = this.d.db.insert(table).values(placeholderRow(table)).prepare();
    return { run: (row) => q.run(bindRow(table, row)) };
  }

  /** One message of a session of a tenant (undefined for another session's or tenant's id). */
  async getMessage(tenantId: string, sessionId: string, id: string): Promise<MessageRecord | undefined> {
    const t = this.d.t.messages;
    const rows = await this.d.db
      .select()
      .from(t)
      .where(and(eq(t.tenantId, tenantId), eq(t.sessionId, sessionId), eq(t.id, id)))
      .limit(1);
    return rows[0] as MessageRecord | undefined;
  }

  /** Messages with `sequence > after`, at most `limit`, and whether more follow. */
  async listMessages(
    tenantId: string,
    sessionId: string,
    after: number,
    limit: number,
  ): Promise<{ rows: MessageRecord[]; hasMore: boolean }> {
    const t = this.d.t.messages;
    const rows = await this.d.db
      .select()
      .from(t)
      .where(and(eq(t.tenantId, tenantId), eq(t.sessionId, sessionId), gt(t.sequence, after)))
      .orderBy(asc(t.sequence))
      .limit(limit + 1);
    return { rows: rows.slice(0, limit) as MessageRecord[], hasMore: rows.length > limit };
  }

  /** Events with `sequence > after` (optionally of one type, or one of several, or of one turn), at most `limit`. */
  async listEvents(
    tenantId: string,
    sessionId: string,
    f: { after: number; limit: number; type?: string | readonly string[]; turnId?: string },
  ): Promise<{ rows: EventRecord[]; hasMore: boolean }> {
    const t = this.d.t.sessionEvents;
    const conds: SQL[] = [eq(t.tenantId, tenantId), eq(t.sessionId, sessionId), gt(t.sequence, f.after)];
    if (typeof f.type === 'string') conds.push(eq(t.type, f.type));
    else if (f.type) conds.push(inArray(t.type, [...f.type]));
    if (f.turnId) conds.push(eq(t.turnId, f.turnId));
    const rows = await this.d.db
      .select()
      .from(t)
      .where(and(...conds))
      .orderBy(asc(t.sequence))
      .limit(f.limit + 1);
    return { rows: rows.slice(0, f.limit), hasMore: rows.length > f.limit };
  }

  /** Highest event and message sequence stored for a session (0 when none). */
  async maxSequences(sessionId: string): Promise<{ lastEventSeq: number; lastMessageSeq: number }> {
    const e = this.d.t.sessionEvents;
    const m = this.d.t.messages;
    const [ev] = await this.d.db
      .select({ n: sql<number>`coalesce(max(${e.sequence}), 0)` })
      .from(e)
      .where(eq(e.sessionId, sessionId));
    const [ms] = await this.d.db
      .select({ n: sql<number>`coalesce(max(${m.sequence}), 0)` })
      .from(m)
      .where(eq(m.sessionId, sessionId));
    return { lastEventSeq: Number(ev?.n ?? 0), lastMessageSeq: Number(ms?.n ?? 0) };
  }

  /**
   * How far a turn's runner events are stored: the highest runner event number among its stored
   * events and among its stored messages (-1 when none). A server taking the turn over resumes
   * after `events` and does not store again messages up to `messages`.
   */
  async turnWatermark(sessionId: string, turnId: string): Promise<{ events: number; messages: number }> {
    const e = this.d.t.sessionEvents;
    const m = this.d.t.messages;
    const [ev] = await this.d.db
      .select({ n: sql<number>`coalesce(max(${e.sourceIndex}), -1)` })
      .from(e)
      .where(and(eq(e.sessionId, sessionId), eq(e.turnId, turnId)));
    const [ms] = await this.d.db
      .select({ n: sql<number>`coalesce(max(${m.sourceIndex}), -1)` })
      .from(m)
      .where(and(eq(m.sessionId, sessionId), eq(m.turnId, turnId)));
    return { events: Number(ev?.n ?? -1), messages: Number(ms?.n ?? -1) };
  }

  /** Copies a session's messages and events to another session (fork), keeping sequences. */
  async copySession(
    tenantId: string,
    fromId: string,
    toId: string,
    newId: () => string,
  ): Promise<{ lastEventSeq: number; lastMessageSeq: number }> {
    let lastMessageSeq = 0;
    let lastEventSeq = 0;
    for (let after = 0; ; ) {
      const { rows, hasMore } = await this.listMessages(tenantId, fromId, after, 500);
      await this.insertMessages(rows.map((r) => ({ ...r, id: newId(), sessionId: toId })));
      if (rows.length > 0) after = lastMessageSeq = rows[rows.length - 1]!.sequence;
      if (!hasMore) break;
    }
    for (let after = 0; ; ) {
      const { rows, hasMore } = await this.listEvents(tenantId, fromId, { after, limit: 1000 });
      await this.insertEvents(rows.map((r) => ({ ...r, id: newId(), sessionId: toId })));
      if (rows.length > 0) after = lastEventSeq = rows[rows.length - 1]!.sequence;
      if (!hasMore) break;
    }
    return { lastEventSeq, lastMessageSeq };
  }
}
