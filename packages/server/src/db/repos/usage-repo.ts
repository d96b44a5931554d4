import { and, desc, eq, gte, lt, sql, type SQL, type SQLWrapper } from 'drizzle-orm';
import type { UsageGroupBy, UsageKind } from '@ash-ai/shared';
import type { AshDatabase } from '../client.js';
import { bindRow, placeholderRow } from './one-row-insert.js';

/** A usage ledger row. */
export interface UsageRow {
  id: string;
  tenantId: string;
  sessionId: string | null;
  agentName: string | null;
  turnId: string | null;
  kind: UsageKind;
  /** Unique per tenant: a second insert with the same key is ignored (never counted twice). */
  dedupeKey: string;
  model: string | null;
  inputTokens: number;
  outputTokens: number;
  cacheCreationTokens: number;
  cacheReadTokens: number;
  toolCalls: number;
  /** `egress` rows: 1 when the connection was allowed / denied; bytes it carried. */
  egressAllowed: number;
  egressDenied: number;
  egressBytesUp: number;
  egressBytesDown: number;
  computeSeconds: number;
  costUsd: number;
  sdkCostUsd: number | null;
  priceVersion: string | null;
  createdAt: string;
}

/** Filters of ledger queries. Times are ISO-8601 UTC; `from` inclusive, `to` exclusive. */
export interface UsageFilter {
  sessionId?: string;
  agentName?: string;
  kind?: UsageKind;
  from?: string;
  to?: string;
}

/** Sums over a set of rows. */
export interface UsageSums {
  inputTokens: number;
  outputTokens: number;
  cacheCreationTokens: number;
  cacheReadTokens: number;
  toolCalls: number;
  modelCalls: number;
  turns: number;
  computeSeconds: number;
  costUsd: number;
  sdkCostUsd: number;
  /** Model calls priced at a fallback rate (their model had no price of its own). */
  fallbackModelCalls: number;
  egressAllowed: number;
  egressDenied: number;
  egressBytesUp: number;
  egressBytesDown: number;
}

type Row = AshDatabase['t']['usageRecords']['$inferSelect'];

/** The usage ledger and the tenants' budgets. Every query is scoped by tenant. */
export class UsageRepo {
  /**
   * SQLite only: the ledger insert and the tenant budget read, built and prepared once (every turn
   * runs them; see SessionsRepo). Postgres keeps the builder.
   */
  private prepared:
    | {
        insert: { all(row: Record<string, unknown>): unknown[] };
        tenantBudget: { all(p: { tenantId: string }): Array<{ budgetUsd: number | null }> };
      }
    | undefined;

  constructor(private readonly d: AshDatabase) {}

  private get once() {
    if (this.d.dialect !== 'sqlite') return undefined;
    if (!this.prepared) {
      const t = this.d.t.usageRecords;
      const settings = this.d.t.tenantSettings;
      this.prepared = {
        insert: this.d.db
          .insert(t)
          .values(placeholderRow(t))
          .onConflictDoNothing()
          .returning({ id: t.id })
          .prepare(),
        tenantBudget: this.d.db
          .select({ budgetUsd: settings.budgetUsd })
          .from(settings)
          .where(eq(settings.tenantId, sql.placeholder('tenantId')))
          .limit(1)
          .prepare(),
      };
    }
    return this.prepared;
  }

  /**
   * Inserts a row unless one with the same (tenant, dedupe key) exists.
   * @returns true when the row was inserted, false when it was a duplicate.
   */
  async insert(row: UsageRow): Promise<boolean> {
    const once = this.once;
    const inserted = once
      ? once.insert.all(bindRow(this.d.t.usageRecords, row))
      : await this.d.db
          .insert(this.d.t.usageRecords)
          .values(row)
          .onConflictDoNothing()
          .returning({ id: this.d.t.usageRecords.id });
    return inserted.length > 0;
  }

  /** Rows newest first, with the total count. */
  async list(
    tenantId: string,
    f: UsageFilter,
    limit: number,
    offset: number,
  ): Promise<{ rows: UsageRow[]; total: number }> {
    const t = this.d.t.usageRecords;
    const where = this.where(tenantId, f);
    const rows = await this.d.db
      .select()
      .from(t)
      .where(where)
      .orderBy(desc(t.createdAt), desc(t.id))
      .limit(limit)
      .offset(offset);
    const count = await this.d.db.select({ n: sql<number>`count(*)` }).from(t).where(where);
    return { rows: rows.map(fromRow), total: Number(count[0]?.n ?? 0) };
  }

  /** Sums over the filtered rows, optionally per group (sorted by key, nulls last). */
  async sums(
    tenantId: string,
    f: UsageFilter,
    groupBy?: UsageGroupBy,
  ): Promise<{ total: UsageSums; groups?: Array<{ key: string | null; sums: UsageSums }> }> {
    const t = this.d.t.usageRecords;
    const where = this.where(tenantId, f);
    const [totalRow] = await this.d.db.select(this.sumColumns()).from(t).where(where);
    const total = toSums(totalRow);
    if (!groupBy) return { total };
    const key = this.groupKey(groupBy);
    const rows = await this.d.db
      .select({ key, ...this.sumColumns() })
      .from(t)
      .where(where)
      .groupBy(key);
    const groups = rows
      .map((r) => ({ key: r.key === null || r.key === undefined ? null : String(r.key), sums: toSums(r) }))
      .sort((a, b) =>
        a.key === b.key ? 0 : a.key === null ? 1 : b.key === null ? -1 : a.key < b.key ? -1 : 1,
      );
    return { total, groups };
  }

  /** Ash's cost of everything the tenant (or one of its sessions) used, USD. */
  async spentUsd(tenantId: string, sessionId?: string): Promise<number> {
    const t = this.d.t.usageRecords;
    const conds: SQL[] = [eq(t.tenantId, tenantId)];
    if (sessionId) conds.push(eq(t.sessionId, sessionId));
    const [row] = await this.d.db
      .select({ cost: sql<number>`coalesce(sum(${t.costUsd}), 0)` })
      .from(t)
      .where(and(...conds));
    return Number(row?.cost ?? 0);
  }

  /** The tenant's budget in USD (null: none). */
  async tenantBudget(tenantId: string): Promise<number | null> {
    const once = this.once;
    if (once) return once.tenantBudget.all({ tenantId })[0]?.budgetUsd ?? null;
    const t = this.d.t.tenantSettings;
    const rows = await this.d.db.select().from(t).where(eq(t.tenantId, tenantId)).limit(1);
    return rows[0]?.budgetUsd ?? null;
  }

  /** Sets (or with null clears) the tenant's budget. */
  async setTenantBudget(tenantId: string, budgetUsd: number | null, now: string): Promise<void> {
    const t = this.d.t.tenantSettings;
    await this.d.db
      .insert(t)
      .values({ tenantId, budgetUsd, updatedAt: now })
      .onConflictDoUpdate({ target: t.tenantId, set: { budgetUsd, updatedAt: now } });
  }

  private where(tenantId: string, f: UsageFilter): SQL | undefined {
    const t = this.d.t.usageRecords;
    const conds: SQL[] = [eq(t.tenantId, tenantId)];
    if (f.sessionId) conds.push(eq(t.sessionId, f.sessionId));
    if (f.agentName) conds.push(eq(t.agentName, f.agentName));
    if (f.kind) conds.push(eq(t.kind, f.kind));
    if (f.from) conds.push(gte(t.createdAt, f.from));
    if (f.to) conds.push(lt(t.createdAt, f.to));
    return and(...conds);
  }

  private groupKey(groupBy: UsageGroupBy): SQL<string | null> {
    const t = this.d.t.usageRecords;
    switch (groupBy) {
      case 'agent':
        return sql<string | null>`${t.agentName}`;
      case 'session':
        return sql<string | null>`${t.sessionId}`;
      case 'model':
        return sql<string | null>`${t.model}`;
      case 'day':
        // The UTC date of the ISO timestamp; the literals stay in the SQL text (no bound
        // parameters), so the select and GROUP BY expressions are identical on Postgres.
        return sql<string | null>`substr(${t.createdAt}, 1, 10)`;
    }
  }

  private sumColumns() {
    const t = this.d.t.usageRecords;
    const sum = (c: SQLWrapper) => sql<number>`coalesce(sum(${c}), 0)`;
    return {
      inputTokens: sum(t.inputTokens),
      outputTokens: sum(t.outputTokens),
      cacheCreationTokens: sum(t.cacheCreationTokens),
      cacheReadTokens: sum(t.cacheReadTokens),
      toolCalls: sum(t.toolCalls),
      modelCalls: sql<number>`coalesce(sum(CASE WHEN ${t.kind} = 'model_call' THEN 1 ELSE 0 END), 0)`,
      turns: sql<number>`coalesce(sum(CASE WHEN ${t.kind} = 'turn' THEN 1 ELSE 0 END), 0)`,
      computeSeconds: sum(t.computeSeconds),
      costUsd: sum(t.costUsd),
      sdkCostUsd: sum(t.sdkCostUsd),
      fallbackModelCalls: sql<number>`coalesce(sum(CASE WHEN ${t.kind} = 'model_call' AND ${t.priceVersion} LIKE '%;fallback=%' THEN 1 ELSE 0 END), 0)`,
      egressAllowed: sum(t.egressAllowed),
      egressDenied: sum(t.egressDenied),
      egressBytesUp: sum(t.egressBytesUp),
      egressBytesDown: sum(t.egressBytesDown),
    };
  }
}

function fromRow(r: Row): UsageRow {
  return { ...r, kind: r.kind as UsageKind, dedupeKey: r.dedupeKey ?? '' };
}

// Postgres returns sums of integers as bigint strings: normalise to numbers.
function toSums(r: Record<string, unknown> | undefined): UsageSums {
  const n = (k: string) => Number(r?.[k] ?? 0);
  return {
    inputTokens: n('inputTokens'),
    outputTokens: n('outputTokens'),
    cacheCreationTokens: n('cacheCreationTokens'),
    cacheReadTokens: n('cacheReadTokens'),
    toolCalls: n('toolCalls'),
    modelCalls: n('modelCalls'),
    turns: n('turns'),
    computeSeconds: n('computeSeconds'),
    costUsd: n('costUsd'),
    sdkCostUsd: n('sdkCostUsd'),
    fallbackModelCalls: n('fallbackModelCalls'),
    egressAllowed: n('egressAllowed'),
    egressDenied: n('egressDenied'),
    egressBytesUp: n('egressBytesUp'),
    egressBytesDown: n('egressBytesDown'),
  };
}
