import {
  and,
  desc,
  eq,
  gte,
  inArray,
  isNull,
  lt,
  ne,
  or,
  sql,
  type Placeholder,
  type SQL,
} from 'drizzle-orm';
import type { SessionConfig, SessionStatus } from '@ash-ai/shared';
import type { AshDatabase } from '../client.js';
import { parseJsonColumn } from './json.js';

/** A session row, JSON columns parsed. `extraEnv` is write-only: never put it in a response. */
export interface SessionRecord {
  id: string;
  tenantId: string;
  agentName: string;
  agentVersion: number;
  status: SessionStatus;
  /** The remote runner hosting its sandbox (null: none, or this server's own runner). */
  runnerId: string | null;
  /** Bumped at every placement on a remote runner: the runner's writes carry it (fencing). */
  leaseGeneration: number;
  /** Labels the session's runner must carry (`runnerLabels` at creation; empty: any runner). */
  runnerLabels: Record<string, string>;
  /** Stable id of the server process hosting the session's sandbox (null: none). */
  ownerId: string | null;
  /** When the owner last renewed its lease (null: no owner, or a row from before leases). */
  ownerHeartbeatAt: string | null;
  parentSessionId: string | null;
  model: string | null;
  config: SessionConfig;
  extraEnv: Record<string, string>;
  credentialId: string | null;
  activeTurnId: string | null;
  turnStartedAt: string | null;
  lastEventSeq: number;
  lastMessageSeq: number;
  budgetUsd: number | null;
  snapshotKey: string | null;
  snapshotAt: string | null;
  pausedAt: string | null;
  createdAt: string;
  lastActiveAt: string;
  endedAt: string | null;
}

type Row = AshDatabase['t']['sessions']['$inferSelect'];

function fromRow(r: Row): SessionRecord {
  return {
    ...r,
    status: r.status as SessionStatus,
    config: parseJsonColumn<SessionConfig>(r.config, {}),
    extraEnv: parseJsonColumn<Record<string, string>>(r.extraEnv, {}),
    runnerLabels: parseJsonColumn<Record<string, string>>(r.runnerLabels, {}),
  };
}

export interface NewSession {
  id: string;
  tenantId: string;
  agentName: string;
  agentVersion: number;
  status: SessionStatus;
  parentSessionId: string | null;
  model: string | null;
  config: SessionConfig;
  extraEnv: Record<string, string>;
  credentialId: string | null;
  lastEventSeq: number;
  lastMessageSeq: number;
  budgetUsd?: number | null;
  /** Labels its runner must carry (`runnerLabels`). */
  runnerLabels?: Record<string, string> | null;
  /** The server the session is created on (its owner from the start). */
  ownerId?: string | null;
  now: string;
}

/** A value, or a placeholder of a statement prepared once (SQLite). */
type Param<T> = T | Placeholder;
const param = (name: string) => sql.placeholder(name);
/** A value for `set()`, which takes a placeholder only as SQL. */
const setTo = <T extends string | number>(v: Param<T>): T | SQL => (typeof v === 'object' ? sql`${v}` : v);

/**
 * The per-turn queries, built and prepared once (SQLite only): every turn runs them, and building
 * the query and preparing it anew each time was most of a turn's server CPU before the bridge was
 * told (docs/benchmarks/2026-12-03-profiles.md). Postgres keeps the builder (a named prepared
 * statement lives per connection of the pool).
 */
interface PreparedSessionQueries {
  get: { all(p: { tenantId: string; id: string }): Row[] };
  acquireTurn: {
    all(p: { tenantId: string; id: string; turnId: string; ownerId: string; now: string }): Row[];
  };
  releaseTurn: {
    all(p: { id: string; turnId: string; now: string; events: number; messages: number }): unknown[];
  };
}

/** Sessions. Every read is scoped by tenant except the `*Internal` helpers used by the runtime. */
export class SessionsRepo {
  private prepared: PreparedSessionQueries | undefined;

  constructor(private readonly d: AshDatabase) {}

  /** The once-prepared per-turn statements on SQLite; undefined on Postgres. */
  private get once(): PreparedSessionQueries | undefined {
    if (this.d.dialect !== 'sqlite') return undefined;
    this.prepared ??= {
      get: this.getQuery(param('tenantId'), param('id')).prepare(),
      acquireTurn: this.acquireTurnQuery(
        param('tenantId'),
        param('id'),
        param('turnId'),
        param('ownerId'),
        param('now'),
      ).prepare(),
      releaseTurn: this.releaseTurnQuery(
        param('id'),
        param('turnId'),
        param('events'),
        param('messages'),
        param('now'),
      ).prepare(),
    };
    return this.prepared;
  }

  async insert(s: NewSession): Promise<SessionRecord> {
    const t = this.d.t.sessions;
    const rows = await this.d.db
      .insert(t)
      .values({
        id: s.id,
        tenantId: s.tenantId,
        agentName: s.agentName,
        agentVersion: s.agentVersion,
        status: s.status,
        runnerId: null,
        ownerId: s.ownerId ?? null,
        ownerHeartbeatAt: s.ownerId ? s.now : null,
        parentSessionId: s.parentSessionId,
        model: s.model,
        config: JSON.stringify(s.config),
        extraEnv: JSON.stringify(s.extraEnv),
        credentialId: s.credentialId,
        activeTurnId: null,
        turnStartedAt: null,
        lastEventSeq: s.lastEventSeq,
        lastMessageSeq: s.lastMessageSeq,
        budgetUsd: s.budgetUsd ?? null,
        runnerLabels:
          s.runnerLabels && Object.keys(s.runnerLabels).length > 0 ? JSON.stringify(s.runnerLabels) : null,
        snapshotKey: null,
        snapshotAt: null,
        pausedAt: null,
        createdAt: s.now,
        lastActiveAt: s.now,
        endedAt: null,
      })
      .returning();
    return fromRow(rows[0]!);
  }

  async get(tenantId: string, id: string): Promise<SessionRecord | undefined> {
    const once = this.once;
    const rows = once ? once.get.all({ tenantId, id }) : await this.getQuery(tenantId, id);
    return rows[0] ? fromRow(rows[0]) : undefined;
  }

  private getQuery(tenantId: Param<string>, id: Param<string>) {
    const t = this.d.t.sessions;
    return this.d.db
      .select()
      .from(t)
      .where(and(eq(t.tenantId, tenantId), eq(t.id, id)))
      .limit(1);
  }

  /** A session by id, any tenant (runtime bookkeeping only; never for a request). */
  async getInternal(id: string): Promise<SessionRecord | undefined> {
    const t = this.d.t.sessions;
    const rows = await this.d.db.select().from(t).where(eq(t.id, id)).limit(1);
    return rows[0] ? fromRow(rows[0]) : undefined;
  }

  /** Newest first, filtered by agent/status, with the total count. */
  async list(
    tenantId: string,
    f: { agent?: string; status?: SessionStatus; limit: number; offset: number },
  ): Promise<{ rows: SessionRecord[]; total: number }> {
    const t = this.d.t.sessions;
    const conds: SQL[] = [eq(t.tenantId, tenantId)];
    if (f.agent) conds.push(eq(t.agentName, f.agent));
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

  /** Updates fields of a session. Returns the updated row (undefined: not found). */
  async update(
    tenantId: string,
    id: string,
    set: Partial<Omit<Row, 'id' | 'tenantId' | 'config' | 'extraEnv' | 'runnerLabels'>> & {
      config?: SessionConfig;
    },
  ): Promise<SessionRecord | undefined> {
    const t = this.d.t.sessions;
    const { config, ...rest } = set;
    const values: Partial<Row> = { ...rest };
    if (config) values.config = JSON.stringify(config);
    const rows = await this.d.db
      .update(t)
      .set(values)
      .where(and(eq(t.tenantId, tenantId), eq(t.id, id)))
      .returning();
    return rows[0] ? fromRow(rows[0]) : undefined;
  }

  /**
   * Claims the ownership of a session for `ownerId`, atomically (one conditional UPDATE): succeeds
   * when nobody owns it, `ownerId` already does, or the owner's lease is older than `staleBefore`
   * (the owner is dead). Two servers racing cannot both win. Returns the updated row, or undefined
   * when another server's lease is current (or the session is gone).
   */
  async claimOwnership(
    tenantId: string,
    id: string,
    ownerId: string,
    now: string,
    staleBefore: string,
  ): Promise<SessionRecord | undefined> {
    const t = this.d.t.sessions;
    const rows = await this.d.db
      .update(t)
      .set({ ownerId, ownerHeartbeatAt: now })
      .where(
        and(
          eq(t.tenantId, tenantId),
          eq(t.id, id),
          or(
            isNull(t.ownerId),
            eq(t.ownerId, ownerId),
            isNull(t.ownerHeartbeatAt),
            lt(t.ownerHeartbeatAt, staleBefore),
          ),
        ),
      )
      .returning();
    return rows[0] ? fromRow(rows[0]) : undefined;
  }

  /**
   * Gives a claim back: sets the owner to `to` (default none) only while `ownerId` still owns the
   * session. Returns false when it did not (any more).
   */
  async releaseOwnership(
    id: string,
    ownerId: string,
    to: { ownerId: string | null; ownerHeartbeatAt: string | null } = {
      ownerId: null,
      ownerHeartbeatAt: null,
    },
  ): Promise<boolean> {
    const t = this.d.t.sessions;
    const rows = await this.d.db
      .update(t)
      .set(to)
      .where(and(eq(t.id, id), eq(t.ownerId, ownerId)))
      .returning({ id: t.id });
    return rows.length > 0;
  }

  /**
   * Releases the session only while no turn holds its slot (one statement, so a turn that starts
   * meanwhile keeps it owned). False when another owns it or a turn runs.
   */
  async releaseOwnershipIfIdle(id: string, ownerId: string): Promise<boolean> {
    const t = this.d.t.sessions;
    const rows = await this.d.db
      .update(t)
      .set({ ownerId: null, ownerHeartbeatAt: null })
      .where(and(eq(t.id, id), eq(t.ownerId, ownerId), isNull(t.activeTurnId)))
      .returning({ id: t.id });
    return rows.length > 0;
  }

  /** Renews the lease of every session `ownerId` owns; returns them. */
  async renewOwnership(ownerId: string, now: string): Promise<Array<{ id: string; tenantId: string }>> {
    const t = this.d.t.sessions;
    return this.d.db
      .update(t)
      .set({ ownerHeartbeatAt: now })
      .where(eq(t.ownerId, ownerId))
      .returning({ id: t.id, tenantId: t.tenantId });
  }

  /**
   * Claims the session's turn slot: succeeds only if no turn runs, the session has not ended and
   * no other server owns it. The row it returns carries the sequence counters the turn continues from.
   */
  async acquireTurn(
    tenantId: string,
    id: string,
    turnId: string,
    ownerId: string,
    now: string,
  ): Promise<SessionRecord | undefined> {
    const once = this.once;
    const rows = once
      ? once.acquireTurn.all({ tenantId, id, turnId, ownerId, now })
      : await this.acquireTurnQuery(tenantId, id, turnId, ownerId, now);
    return rows[0] ? fromRow(rows[0]) : undefined;
  }

  private acquireTurnQuery(
    tenantId: Param<string>,
    id: Param<string>,
    turnId: Param<string>,
    ownerId: Param<string>,
    now: Param<string>,
  ) {
    const t = this.d.t.sessions;
    return this.d.db
      .update(t)
      .set({
        activeTurnId: setTo(turnId),
        turnStartedAt: setTo(now),
        ownerId: setTo(ownerId),
        ownerHeartbeatAt: setTo(now),
        lastActiveAt: setTo(now),
      })
      .where(
        and(
          eq(t.tenantId, tenantId),
          eq(t.id, id),
          isNull(t.activeTurnId),
          ne(t.status, 'ended'),
          or(isNull(t.ownerId), eq(t.ownerId, ownerId)),
        ),
      )
      .returning();
  }

  /**
   * Releases the turn slot and records the sequence counters the turn reached. False when the
   * slot was not (any more) held by `turnId`.
   */
  async releaseTurn(
    id: string,
    turnId: string,
    counters: { lastEventSeq: number; lastMessageSeq: number },
    now: string,
  ): Promise<boolean> {
    const once = this.once;
    const events = counters.lastEventSeq;
    const messages = counters.lastMessageSeq;
    const rows = once
      ? once.releaseTurn.all({ id, turnId, now, events, messages })
      : await this.releaseTurnQuery(id, turnId, events, messages, now);
    return rows.length > 0;
  }

  private releaseTurnQuery(
    id: Param<string>,
    turnId: Param<string>,
    events: Param<number>,
    messages: Param<number>,
    now: Param<string>,
  ) {
    const t = this.d.t.sessions;
    return this.d.db
      .update(t)
      .set({
        activeTurnId: null,
        turnStartedAt: null,
        lastActiveAt: setTo(now),
        lastEventSeq: sql`CASE WHEN ${t.lastEventSeq} < ${events} THEN ${events} ELSE ${t.lastEventSeq} END`,
        lastMessageSeq: sql`CASE WHEN ${t.lastMessageSeq} < ${messages} THEN ${messages} ELSE ${t.lastMessageSeq} END`,
      })
      .where(and(eq(t.id, id), eq(t.activeTurnId, turnId)))
      .returning({ id: t.id });
  }

  /**
   * Atomically reserves `n` event sequence numbers outside a turn; returns the last one reserved,
   * or undefined when a turn holds the slot (the turn owns the sequence while it runs) or the
   * session is gone.
   */
  async reserveEventSeq(id: string, n: number): Promise<number | undefined> {
    const t = this.d.t.sessions;
    const rows = await this.d.db
      .update(t)
      .set({ lastEventSeq: sql`${t.lastEventSeq} + ${n}` })
      .where(and(eq(t.id, id), isNull(t.activeTurnId)))
      .returning({ seq: t.lastEventSeq });
    return rows[0] ? Number(rows[0].seq) : undefined;
  }

  /**
   * Places the session on a remote runner: bumps its lease generation and records the runner.
   * Returns the new generation and the tenant, or undefined when the session is gone.
   */
  async placeOnRunner(
    id: string,
    runnerId: string | null,
  ): Promise<{ generation: number; tenantId: string } | undefined> {
    const t = this.d.t.sessions;
    const rows = await this.d.db
      .update(t)
      .set({ leaseGeneration: sql`${t.leaseGeneration} + 1`, runnerId })
      .where(eq(t.id, id))
      .returning({ generation: t.leaseGeneration, tenantId: t.tenantId });
    return rows[0] ? { generation: Number(rows[0].generation), tenantId: rows[0].tenantId } : undefined;
  }

  /**
   * Takes the session from a lost runner: a new lease generation (anything the runner still
   * sends is refused) and no runner — only while it is still placed there (a placement made
   * meanwhile is kept). Returns whether it was.
   */
  async fenceFromRunner(id: string, runnerId: string): Promise<boolean> {
    const t = this.d.t.sessions;
    const rows = await this.d.db
      .update(t)
      .set({ leaseGeneration: sql`${t.leaseGeneration} + 1`, runnerId: null })
      .where(and(eq(t.id, id), eq(t.runnerId, runnerId)))
      .returning({ id: t.id });
    return rows.length > 0;
  }

  /** Clears the session's runner while `generation` is still its lease (no later placement). */
  async leaveRunner(id: string, generation: number): Promise<void> {
    const t = this.d.t.sessions;
    await this.d.db
      .update(t)
      .set({ runnerId: null })
      .where(and(eq(t.id, id), eq(t.leaseGeneration, generation)));
  }

  /** Runner, lease generation, owner and status of sessions by id (heartbeat fencing). */
  async leases(
    ids: string[],
  ): Promise<
    Array<{ id: string; runnerId: string | null; generation: number; ownerId: string | null; status: string }>
  > {
    if (ids.length === 0) return [];
    const t = this.d.t.sessions;
    const rows = await this.d.db
      .select({
        id: t.id,
        runnerId: t.runnerId,
        generation: t.leaseGeneration,
        ownerId: t.ownerId,
        status: t.status,
      })
      .from(t)
      .where(inArray(t.id, ids));
    return rows.map((r) => ({ ...r, generation: Number(r.generation) }));
  }

  /** Sessions whose sandbox or turn this server hosted (for reconciliation after a crash). */
  async listOwnedBy(ownerId: string): Promise<SessionRecord[]> {
    const t = this.d.t.sessions;
    const rows = await this.d.db.select().from(t).where(eq(t.ownerId, ownerId));
    return rows.map(fromRow);
  }

  /**
   * Sessions placed on a remote runner with a turn open whose owner's lease ran out before
   * `expiredBefore` (its server died mid-turn): candidates for a takeover of the turn. At most `limit`.
   */
  async listOrphanedTurns(expiredBefore: string, limit: number): Promise<SessionRecord[]> {
    const t = this.d.t.sessions;
    const rows = await this.d.db
      .select()
      .from(t)
      .where(
        and(
          sql`${t.activeTurnId} is not null`,
          sql`${t.runnerId} is not null`,
          sql`${t.ownerId} is not null`,
          lt(t.ownerHeartbeatAt, expiredBefore),
          ne(t.status, 'ended'),
        ),
      )
      .limit(limit);
    return rows.map(fromRow);
  }

  /** Sessions of an agent in the given statuses. */
  async listByAgent(
    tenantId: string,
    agentName: string,
    statuses: SessionStatus[],
  ): Promise<SessionRecord[]> {
    const t = this.d.t.sessions;
    const rows = await this.d.db
      .select()
      .from(t)
      .where(and(eq(t.tenantId, tenantId), eq(t.agentName, agentName), inArray(t.status, statuses)));
    return rows.map(fromRow);
  }

  /** Agents (tenant, name) with a session active since `sinceIso` (all tenants). */
  async agentsUsedSince(sinceIso: string): Promise<Array<{ tenantId: string; agentName: string }>> {
    const t = this.d.t.sessions;
    return this.d.db
      .selectDistinct({ tenantId: t.tenantId, agentName: t.agentName })
      .from(t)
      .where(gte(t.lastActiveAt, sinceIso));
  }

  /** A tenant's sessions per status, created in [after, before) when given (analytics). */
  async countByStatus(tenantId: string, after?: string, before?: string): Promise<Record<string, number>> {
    const t = this.d.t.sessions;
    const conds: SQL[] = [eq(t.tenantId, tenantId)];
    if (after) conds.push(gte(t.createdAt, after));
    if (before) conds.push(lt(t.createdAt, before));
    const rows = await this.d.db
      .select({ status: t.status, n: sql<number>`count(*)` })
      .from(t)
      .where(and(...conds))
      .groupBy(t.status);
    return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
  }

  /** Counts sessions in `active` status (all tenants). */
  async countActive(): Promise<number> {
    const t = this.d.t.sessions;
    const rows = await this.d.db.select({ n: sql<number>`count(*)` }).from(t).where(eq(t.status, 'active'));
    return Number(rows[0]?.n ?? 0);
  }
}
