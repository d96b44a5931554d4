import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { ModelCallUsage } from '@ash-ai/sandbox';
import {
  sdkTurnCostUsd,
  type EgressData,
  type ListUsageQuery,
  type TenantBudget,
  type TurnOutcome,
  type UsageEvent,
  type UsageRecord,
  type UsageStatsQuery,
  type UsageStatsResponse,
  type UsageTotals,
} from '@ash-ai/shared';
import type { Repos, SessionRecord, UsageFilter, UsageRow, UsageSums } from '../../db/repos/index.js';
import { invalidField } from '../../errors.js';
import type { TurnEndError, TurnHooks } from '../sessions/turn-hooks.js';
import type { TurnLog } from '../sessions/turn-log.js';
import type { Pricing } from './usage-prices.js';
import type { ServerMetrics } from '../../telemetry/metrics.js';

export interface UsageServiceDeps {
  repos: Repos;
  pricing: Pricing;
  log: Logger;
  /** Token and cost counters by model (`/metrics`). */
  metrics?: ServerMetrics;
}

/**
 * The usage ledger: what every tenant, agent, session and turn used and cost, and the budgets
 * that bound it.
 *
 * What is measured, and where:
 * - **model calls** in the host-side model proxy, from each Messages API response's own `usage`
 *   (input, output, cache-creation, cache-read tokens), one record per API message id — the
 *   unique `(tenant, dedupe_key)` index makes a replayed, resumed, forked or reconnected
 *   conversation unable to count a call twice. Cost = tokens × the price table in force, stored
 *   with the table's version;
 * - **tool calls**: one record per tool use of the model (dedupe key = the tool-use id);
 * - **turns**: one record per turn, carrying the SDK's own estimate (`sdkCostUsd`) beside ours;
 * - **compute**: CPU seconds (user + system) the sandbox's processes used during the turn, read
 *   from the sandbox cgroup (`cpu.stat` / `cpuacct.usage`); not recorded without cgroups;
 * - **egress**: one record per network connection of the sandbox, allowed or denied by its
 *   network policy, with the bytes up and down the host-side egress proxy counted (written when
 *   the connection ended; the turn it belongs to, or none between turns).
 *
 * Budgets: a session's `budgetUsd` and the tenant's budget bound Ash's cost (the ledger's
 * `costUsd`). A turn that starts over a budget, or whose model call reaches one, ends with a
 * `budget_exceeded` error; the session stays usable (raise the budget to go on).
 */
export class UsageService implements TurnHooks {
  /** Per-session chain, so budget checks see the calls recorded before them. */
  private readonly chains = new Map<string, Promise<void>>();
  private readonly unpriced = new Set<string>();
  /** Sessions over a budget, as last checked: their model calls are refused until a turn finds them under. */
  private readonly blocked = new Map<string, TurnEndError>();

  constructor(private readonly deps: UsageServiceDeps) {}

  /** {@link TurnHooks.onModelUsage}: records the call, then ends the turn if it reached a budget. */
  onModelUsage(
    call: { session: SessionRecord; turnId: string | undefined; endTurn: (error: TurnEndError) => void },
    usage: ModelCallUsage,
  ): void {
    const { session } = call;
    this.serialise(session.id, async () => {
      const inserted = await this.recordModelCall(session, call.turnId, usage);
      if (!inserted) return;
      const over = await this.check(session);
      if (over && call.turnId) call.endTurn(over);
    });
  }

  /**
   * {@link TurnHooks.beforeTurn}: a turn does not start over a budget. `session` is the row the
   * turn acquired its slot with, so its `budgetUsd` is current (not read again).
   */
  async beforeTurn(session: SessionRecord): Promise<TurnEndError | undefined> {
    await this.chains.get(session.id);
    return this.check(session, session.budgetUsd);
  }

  /**
   * {@link TurnHooks.admitModelCall}: once a call of the session reached a budget, the proxy
   * refuses its further calls (the turn is being ended; nothing more may be spent), until a turn
   * starts under the budget again. Waits for the calls recorded before it.
   */
  async admitModelCall(session: SessionRecord): Promise<TurnEndError | undefined> {
    await this.chains.get(session.id);
    return this.blocked.get(session.id);
  }

  /** Checks the budgets and remembers the verdict for {@link admitModelCall}. */
  private async check(
    session: Pick<SessionRecord, 'id' | 'tenantId'>,
    sessionBudget?: number | null,
  ): Promise<TurnEndError | undefined> {
    const over = await this.budgetProblem(session, sessionBudget);
    if (over) this.blocked.set(session.id, over);
    else this.blocked.delete(session.id);
    return over;
  }

  /** {@link TurnHooks.afterTurn}: records the turn, its tool calls and its compute time. */
  afterTurn(
    session: SessionRecord,
    log: TurnLog,
    _outcome: TurnOutcome,
    cpuSeconds: number | undefined,
  ): void {
    this.serialise(session.id, () => this.recordTurn(session, log, cpuSeconds));
  }

  /** {@link TurnHooks.onEgress}: records one connection of the session's sandbox. */
  onEgress(call: { session: SessionRecord; turnId: string | undefined }, c: EgressData): void {
    const { session } = call;
    this.serialise(session.id, async () => {
      await this.deps.repos.usage.insert({
        ...this.base(session, call.turnId ?? null, 'egress', `egress:${randomUUID()}`),
        egressAllowed: c.allowed ? 1 : 0,
        egressDenied: c.allowed ? 0 : 1,
        egressBytesUp: c.bytesUp,
        egressBytesDown: c.bytesDown,
      });
    });
  }

  /** Resolves when everything handed to the ledger so far for `sessionId` is written. */
  async settled(sessionId?: string): Promise<void> {
    if (sessionId) await this.chains.get(sessionId);
    else await Promise.all([...this.chains.values()]);
  }

  /**
   * Records one model call (idempotent by API message id).
   * @returns false when the call was already recorded.
   */
  async recordModelCall(
    session: Pick<SessionRecord, 'id' | 'tenantId' | 'agentName'>,
    turnId: string | undefined,
    u: ModelCallUsage,
  ): Promise<boolean> {
    const { pricing } = this.deps;
    const match = pricing.lookup(u.model);
    if (match?.kind !== 'exact' && !this.unpriced.has(u.model)) {
      this.unpriced.add(u.model);
      if (!match)
        this.deps.log.warn({ model: u.model }, 'no price for this model: its calls cost 0 in the ledger');
      else
        this.deps.log.warn(
          {
            model: u.model,
            fallback: match.kind === 'family' ? match.family : match.kind,
            price: match.price,
          },
          'no price of its own for this model: priced at a fallback rate (add it to ASH_PRICES_FILE)',
        );
    }
    const costUsd = pricing.cost(u.model, u);
    const inserted = await this.deps.repos.usage.insert({
      ...this.base(session, turnId ?? null, 'model_call', u.messageId),
      model: u.model || null,
      inputTokens: u.inputTokens,
      outputTokens: u.outputTokens,
      cacheCreationTokens: u.cacheCreationInputTokens,
      cacheReadTokens: u.cacheReadInputTokens,
      costUsd,
      priceVersion: pricing.versionFor(u.model),
    });
    const metrics = this.deps.metrics;
    if (inserted && metrics) {
      const model = u.model || 'unknown';
      metrics.tokens.inc({ model, type: 'input' }, u.inputTokens);
      metrics.tokens.inc({ model, type: 'output' }, u.outputTokens);
      metrics.tokens.inc({ model, type: 'cache_write' }, u.cacheCreationInputTokens);
      metrics.tokens.inc({ model, type: 'cache_read' }, u.cacheReadInputTokens);
      metrics.costUsd.inc({ model }, costUsd);
    }
    return inserted;
  }

  private async recordTurn(
    session: SessionRecord,
    log: TurnLog,
    cpuSeconds: number | undefined,
  ): Promise<void> {
    const { usage, history } = this.deps.repos;
    const events = log.events.map((e) => ({ event: e.event, data: e.data as { id?: string } }));
    if (log.takenOver) {
      // Taken over from a dead server: the turn's tool calls before the takeover are in history.
      const stored = await history.listEvents(session.tenantId, session.id, {
        after: 0,
        limit: 1000,
        type: 'tool_use',
        turnId: log.turnId,
      });
      for (const r of stored.rows)
        events.push({ event: 'tool_use', data: JSON.parse(r.data) as { id?: string } });
    }
    for (const ev of events) {
      if (ev.event !== 'tool_use' || !ev.data.id) continue;
      await usage.insert({
        ...this.base(session, log.turnId, 'tool_call', `tool:${ev.data.id}`),
        toolCalls: 1,
      });
    }
    const result = [...log.events].reverse().find((e) => e.event === 'message' && e.data.type === 'result');
    await usage.insert({
      ...this.base(session, log.turnId, 'turn', `turn:${log.turnId}`),
      sdkCostUsd: result ? sdkTurnCostUsd(result.data as Record<string, unknown>) : null,
    });
    if (cpuSeconds !== undefined) {
      await usage.insert({
        ...this.base(session, log.turnId, 'compute', `compute:${log.turnId}`),
        computeSeconds: cpuSeconds,
      });
    }
  }

  /**
   * Why a turn of this session may not go on (a budget reached), or undefined.
   * @param known the session's budget when the caller has just read it (undefined: read it now).
   */
  private async budgetProblem(
    session: Pick<SessionRecord, 'id' | 'tenantId'>,
    known?: number | null,
  ): Promise<TurnEndError | undefined> {
    const { repos } = this.deps;
    // Budgets can change while a session runs: read them now.
    const sessionBudget =
      known !== undefined
        ? known
        : ((await repos.sessions.get(session.tenantId, session.id))?.budgetUsd ?? null);
    if (sessionBudget !== null) {
      const spent = await repos.usage.spentUsd(session.tenantId, session.id);
      if (spent >= sessionBudget)
        return {
          code: 'budget_exceeded',
          message: `the session reached its budget: spent $${usd(spent)} of $${usd(sessionBudget)}; raise budgetUsd to go on`,
        };
    }
    const tenantBudget = await repos.usage.tenantBudget(session.tenantId);
    if (tenantBudget !== null) {
      const spent = await repos.usage.spentUsd(session.tenantId);
      if (spent >= tenantBudget)
        return {
          code: 'budget_exceeded',
          message: `the tenant reached its budget: spent $${usd(spent)} of $${usd(tenantBudget)}`,
        };
    }
    return undefined;
  }

  /** `GET /api/usage`. @throws AppError 400 when `from` is not before `to`. */
  async list(
    tenantId: string,
    q: ListUsageQuery,
  ): Promise<{ records: UsageRecord[]; total: number; hasMore: boolean; events: UsageEvent[] }> {
    const limit = q.limit ?? 100;
    const offset = q.offset ?? 0;
    const { rows, total } = await this.deps.repos.usage.list(tenantId, filterOf(q), limit, offset);
    const records = rows.map(toApi);
    return {
      records,
      total,
      hasMore: offset + rows.length < total,
      events: records.flatMap(upstreamEvents),
    };
  }

  /** `GET /api/usage/stats`. */
  async stats(tenantId: string, q: UsageStatsQuery): Promise<UsageStatsResponse> {
    const r = await this.deps.repos.usage.sums(tenantId, filterOf(q), q.groupBy);
    const out: UsageStatsResponse = { stats: totals(r.total) };
    if (r.groups) out.groups = r.groups.map((g) => ({ key: g.key, stats: totals(g.sums) }));
    return out;
  }

  async budget(tenantId: string): Promise<TenantBudget> {
    const { usage } = this.deps.repos;
    return { budgetUsd: await usage.tenantBudget(tenantId), spentUsd: await usage.spentUsd(tenantId) };
  }

  async setBudget(tenantId: string, budgetUsd: number | null): Promise<TenantBudget> {
    await this.deps.repos.usage.setTenantBudget(tenantId, budgetUsd, new Date().toISOString());
    return this.budget(tenantId);
  }

  private base(
    session: Pick<SessionRecord, 'id' | 'tenantId' | 'agentName'>,
    turnId: string | null,
    kind: UsageRow['kind'],
    dedupeKey: string,
  ): UsageRow {
    return {
      id: randomUUID(),
      tenantId: session.tenantId,
      sessionId: session.id,
      agentName: session.agentName,
      turnId,
      kind,
      dedupeKey,
      model: null,
      inputTokens: 0,
      outputTokens: 0,
      cacheCreationTokens: 0,
      cacheReadTokens: 0,
      toolCalls: 0,
      egressAllowed: 0,
      egressDenied: 0,
      egressBytesUp: 0,
      egressBytesDown: 0,
      computeSeconds: 0,
      costUsd: 0,
      sdkCostUsd: null,
      priceVersion: null,
      createdAt: new Date().toISOString(),
    };
  }

  private serialise(sessionId: string, work: () => Promise<void>): void {
    const previous = this.chains.get(sessionId) ?? Promise.resolve();
    const next = previous
      .then(work)
      .catch((err: unknown) =>
        this.deps.log.error(
          { err: err instanceof Error ? err.message : String(err), sessionId },
          'could not record usage',
        ),
      );
    this.chains.set(sessionId, next);
    void next.finally(() => {
      if (this.chains.get(sessionId) === next) this.chains.delete(sessionId);
    });
  }
}

/** A record as the upstream Ash's usage rows: one row per non-zero metric. */
function upstreamEvents(r: UsageRecord): UsageEvent[] {
  const metrics: Array<[string, number]> = [
    ['input_tokens', r.inputTokens],
    ['output_tokens', r.outputTokens],
    ['cache_creation_tokens', r.cacheCreationTokens],
    ['cache_read_tokens', r.cacheReadTokens],
    ['message', r.kind === 'model_call' ? 1 : 0],
    ['tool_call', r.toolCalls],
    ['compute_seconds', r.computeSeconds],
    ['egress_allowed', r.egressAllowed],
    ['egress_denied', r.egressDenied],
    ['egress_bytes_up', r.egressBytesUp],
    ['egress_bytes_down', r.egressBytesDown],
  ];
  return metrics
    .filter(([, v]) => v > 0)
    .map(([eventType, value]) => ({
      id: `${r.id}:${eventType}`,
      sessionId: r.sessionId,
      agentName: r.agentName,
      eventType,
      value,
      createdAt: r.createdAt,
    }));
}

function filterOf(q: {
  sessionId?: string;
  agentName?: string;
  from?: string;
  to?: string;
  after?: string;
  before?: string;
  kind?: UsageRow['kind'];
}): UsageFilter {
  // `after`/`before` are the upstream names of `from`/`to`.
  q = { ...q, from: q.from ?? q.after, to: q.to ?? q.before };
  const f: UsageFilter = {};
  if (q.sessionId) f.sessionId = q.sessionId;
  if (q.agentName) f.agentName = q.agentName;
  if (q.kind) f.kind = q.kind;
  // Stored times are UTC ISO text: normalise offsets so text comparison is time comparison.
  if (q.from) f.from = new Date(q.from).toISOString();
  if (q.to) f.to = new Date(q.to).toISOString();
  if (f.from && f.to && f.from >= f.to) throw invalidField('/query/to', 'must be later than from');
  return f;
}

/** Totals in the API's shape. */
export function totals(s: UsageSums): UsageTotals {
  return {
    totalInputTokens: s.inputTokens,
    totalOutputTokens: s.outputTokens,
    totalCacheCreationTokens: s.cacheCreationTokens,
    totalCacheReadTokens: s.cacheReadTokens,
    totalToolCalls: s.toolCalls,
    totalMessages: s.modelCalls,
    totalModelCalls: s.modelCalls,
    totalTurns: s.turns,
    totalComputeSeconds: s.computeSeconds,
    totalCostUsd: s.costUsd,
    totalSdkCostUsd: s.sdkCostUsd,
    fallbackPricedCalls: s.fallbackModelCalls,
    totalEgressAllowed: s.egressAllowed,
    totalEgressDenied: s.egressDenied,
    totalEgressBytesUp: s.egressBytesUp,
    totalEgressBytesDown: s.egressBytesDown,
  };
}

function toApi(r: UsageRow): UsageRecord {
  return {
    id: r.id,
    sessionId: r.sessionId,
    agentName: r.agentName,
    turnId: r.turnId,
    kind: r.kind,
    messageId: r.kind === 'model_call' ? r.dedupeKey : null,
    model: r.model,
    inputTokens: r.inputTokens,
    outputTokens: r.outputTokens,
    cacheCreationTokens: r.cacheCreationTokens,
    cacheReadTokens: r.cacheReadTokens,
    toolCalls: r.toolCalls,
    egressAllowed: r.egressAllowed,
    egressDenied: r.egressDenied,
    egressBytesUp: r.egressBytesUp,
    egressBytesDown: r.egressBytesDown,
    computeSeconds: r.computeSeconds,
    costUsd: r.costUsd,
    sdkCostUsd: r.sdkCostUsd,
    priceVersion: r.priceVersion,
    createdAt: r.createdAt,
  };
}

function usd(n: number): string {
  return n.toFixed(6).replace(/0+$/, '').replace(/\.$/, '');
}
