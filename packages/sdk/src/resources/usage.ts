import type {
  ListUsageQuery,
  TenantBudget,
  UsageRecord,
  UsageStatsQuery,
  UsageStatsResponse,
} from '@ash-ai/shared';
import type { HttpClient } from '../core/http.js';

/** The usage ledger: `client.usage`. */
export class Usage {
  constructor(private readonly http: HttpClient) {}

  /** Usage records, newest first (filters: sessionId, agentName, kind, from, to; limit/offset). */
  async list(q: ListUsageQuery = {}): Promise<{ records: UsageRecord[]; total: number; hasMore: boolean }> {
    return this.http.request('GET', '/api/usage', { query: { ...q } });
  }

  /**
   * Totals (tokens, model calls, tool calls, turns, compute seconds, cost), optionally grouped.
   * @example const { groups } = await client.usage.stats({ groupBy: 'agent' })
   */
  async stats(q: UsageStatsQuery = {}): Promise<UsageStatsResponse> {
    return this.http.request('GET', '/api/usage/stats', { query: { ...q } });
  }

  /** The tenant's budget and what it spent. */
  async budget(): Promise<TenantBudget> {
    return (await this.http.request<{ budget: TenantBudget }>('GET', '/api/usage/budget')).budget;
  }

  /** Sets (or with `null` removes) the tenant's budget in USD. */
  async setBudget(budgetUsd: number | null): Promise<TenantBudget> {
    return (
      await this.http.request<{ budget: TenantBudget }>('PUT', '/api/usage/budget', { body: { budgetUsd } })
    ).budget;
  }
}
