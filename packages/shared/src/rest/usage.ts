import { type Static, Type } from '@sinclair/typebox';
import { Nullable, Timestamp } from './common.js';

/**
 * Kinds of usage records:
 * - `model_call`: one Messages API response, metered by the host-side model proxy from the API's
 *   own `usage` fields; deduplicated by the API message id;
 * - `tool_call`: one tool use of the model (deduplicated by the tool-use id);
 * - `turn`: one finished turn, carrying the SDK's own cost estimate (`sdkCostUsd`);
 * - `compute`: CPU seconds the sandbox's processes used during a turn (cgroup accounting);
 * - `egress`: one network connection of the sandbox through the egress proxy, allowed or denied,
 *   with the bytes it carried (counted by the host-side proxy).
 */
export const UsageKindSchema = Type.Union([
  Type.Literal('model_call'),
  Type.Literal('tool_call'),
  Type.Literal('turn'),
  Type.Literal('compute'),
  Type.Literal('egress'),
]);
export type UsageKind = Static<typeof UsageKindSchema>;

/** One row of the usage ledger. Token counts are integers; money is USD. */
export const UsageRecordSchema = Type.Object(
  {
    id: Type.String(),
    sessionId: Nullable(Type.String()),
    agentName: Nullable(Type.String()),
    turnId: Nullable(Type.String()),
    kind: UsageKindSchema,
    /** The API message id (`model_call`): the deduplication key of the call. */
    messageId: Nullable(Type.String()),
    /** The model that answered (`model_call`). */
    model: Nullable(Type.String()),
    inputTokens: Type.Integer(),
    outputTokens: Type.Integer(),
    cacheCreationTokens: Type.Integer(),
    cacheReadTokens: Type.Integer(),
    toolCalls: Type.Integer(),
    /** CPU seconds (user + system) of the sandbox's processes (`compute`). */
    computeSeconds: Type.Number(),
    /** 1 for an allowed connection (`egress`), else 0. */
    egressAllowed: Type.Integer(),
    /** 1 for a connection the network policy refused (`egress`), else 0. */
    egressDenied: Type.Integer(),
    /** Bytes the connection sent out of the sandbox (`egress`). */
    egressBytesUp: Type.Integer(),
    /** Bytes the connection brought into the sandbox (`egress`). */
    egressBytesDown: Type.Integer(),
    /** Cost computed by Ash from the price table, USD (`model_call`; 0 for other kinds). */
    costUsd: Type.Number(),
    /** The SDK's own estimate for the turn, USD (`turn` records), kept for comparison. */
    sdkCostUsd: Nullable(Type.Number()),
    /**
     * Version of the price table `costUsd` was computed with; `<version>;fallback=<family|default|max>`
     * when the model had no price of its own (priced at a fallback rate, never 0).
     */
    priceVersion: Nullable(Type.String()),
    createdAt: Timestamp,
  },
  { $id: 'UsageRecord' },
);
export type UsageRecord = Static<typeof UsageRecordSchema>;

const UsageFilters = {
  sessionId: Type.Optional(Type.String({ maxLength: 64 })),
  agentName: Type.Optional(Type.String({ maxLength: 255 })),
  /** Records created at or after this time. */
  from: Type.Optional(Timestamp),
  /** Records created before this time. */
  to: Type.Optional(Timestamp),
  /** Upstream name of `from`. */
  after: Type.Optional(Timestamp),
  /** Upstream name of `to`. */
  before: Type.Optional(Timestamp),
};

/** `GET /api/usage`: newest first, offset-paginated. */
export const ListUsageQuerySchema = Type.Object(
  {
    ...UsageFilters,
    kind: Type.Optional(UsageKindSchema),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
    offset: Type.Optional(Type.Integer({ minimum: 0, default: 0 })),
  },
  { additionalProperties: false },
);
export type ListUsageQuery = Static<typeof ListUsageQuerySchema>;

/**
 * The upstream Ash's usage row: one metric of one record (`eventType` `input_tokens`,
 * `output_tokens`, `cache_creation_tokens`, `cache_read_tokens`, `message`, `tool_call`,
 * `compute_seconds`, and Ash's `egress_allowed`, `egress_denied`, `egress_bytes_up`,
 * `egress_bytes_down`; zero metrics are left out). `id` is `<record id>:<eventType>`.
 */
export const UsageEventSchema = Type.Object(
  {
    id: Type.String(),
    sessionId: Nullable(Type.String()),
    agentName: Nullable(Type.String()),
    eventType: Type.String(),
    value: Type.Number(),
    createdAt: Timestamp,
  },
  { $id: 'UsageEvent' },
);
export type UsageEvent = Static<typeof UsageEventSchema>;

export const UsageListResponseSchema = Type.Object({
  records: Type.Array(UsageRecordSchema),
  total: Type.Integer(),
  hasMore: Type.Boolean(),
  /** The same records as upstream-shaped rows (what upstream clients read). */
  events: Type.Array(UsageEventSchema),
});

/** What usage stats can be grouped by. `day` is the UTC date (`YYYY-MM-DD`) of the record. */
export const UsageGroupBySchema = Type.Union([
  Type.Literal('agent'),
  Type.Literal('session'),
  Type.Literal('model'),
  Type.Literal('day'),
]);
export type UsageGroupBy = Static<typeof UsageGroupBySchema>;

/** `GET /api/usage/stats`. */
export const UsageStatsQuerySchema = Type.Object(
  { ...UsageFilters, groupBy: Type.Optional(UsageGroupBySchema) },
  { additionalProperties: false },
);
export type UsageStatsQuery = Static<typeof UsageStatsQuerySchema>;

/** Totals over a set of usage records (names as the upstream Ash's `UsageStats`, plus cost). */
export const UsageTotalsSchema = Type.Object({
  totalInputTokens: Type.Integer(),
  totalOutputTokens: Type.Integer(),
  totalCacheCreationTokens: Type.Integer(),
  totalCacheReadTokens: Type.Integer(),
  totalToolCalls: Type.Integer(),
  /** Model responses (= `totalModelCalls`; upstream name). */
  totalMessages: Type.Integer(),
  totalModelCalls: Type.Integer(),
  totalTurns: Type.Integer(),
  totalComputeSeconds: Type.Number(),
  /** Ash's cost, USD. */
  totalCostUsd: Type.Number(),
  /** The SDK's own estimate, USD (sum over turns). */
  totalSdkCostUsd: Type.Number(),
  /**
   * Model calls whose model had no price of its own in the price table: `totalCostUsd` priced
   * them at a fallback rate (their records' `priceVersion` ends in `;fallback=…`).
   */
  fallbackPricedCalls: Type.Integer(),
  /** Sandbox network connections the egress proxy let through. */
  totalEgressAllowed: Type.Integer(),
  /** Sandbox network connections the network policy refused. */
  totalEgressDenied: Type.Integer(),
  /** Bytes sent out of the sandbox through the egress proxy. */
  totalEgressBytesUp: Type.Integer(),
  /** Bytes received into the sandbox through the egress proxy. */
  totalEgressBytesDown: Type.Integer(),
});
export type UsageTotals = Static<typeof UsageTotalsSchema>;

export const UsageStatsResponseSchema = Type.Object({
  stats: UsageTotalsSchema,
  /** With `groupBy`: one entry per group (key null: records without that attribute), by key. */
  groups: Type.Optional(Type.Array(Type.Object({ key: Nullable(Type.String()), stats: UsageTotalsSchema }))),
});
export type UsageStatsResponse = Static<typeof UsageStatsResponseSchema>;

/** The tenant's budget: its spending limit and what the ledger says it spent. */
export const TenantBudgetSchema = Type.Object({
  /** Spending limit in USD over all of the tenant's usage (null: none). */
  budgetUsd: Nullable(Type.Number()),
  /** Ash's cost of everything the tenant used so far, USD. */
  spentUsd: Type.Number(),
});
export type TenantBudget = Static<typeof TenantBudgetSchema>;
export const TenantBudgetResponseSchema = Type.Object({ budget: TenantBudgetSchema });

/** `PUT /api/usage/budget`: sets (or with `null` removes) the tenant's budget. */
export const UpdateTenantBudgetBodySchema = Type.Object(
  { budgetUsd: Nullable(Type.Number({ exclusiveMinimum: 0, maximum: 1_000_000_000 })) },
  { additionalProperties: false },
);
export type UpdateTenantBudgetBody = Static<typeof UpdateTenantBudgetBodySchema>;
