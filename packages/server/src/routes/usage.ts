import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import {
  ListUsageQuerySchema,
  TenantBudgetResponseSchema,
  UpdateTenantBudgetBodySchema,
  UsageListResponseSchema,
  UsageStatsQuerySchema,
  UsageStatsResponseSchema,
} from '@ash-ai/shared';
import type { UsageService } from '../services/usage/usage-service.js';
import { errorResponses } from './common.js';

/** Usage ledger routes: records, stats, the tenant budget. */
export function usageRoutes(usage: UsageService): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get(
      '/api/usage',
      {
        schema: {
          tags: ['usage'],
          summary:
            'Usage records (model calls, tool calls, turns, compute, egress connections), newest first',
          querystring: ListUsageQuerySchema,
          response: { 200: UsageListResponseSchema, ...errorResponses(400, 401) },
        },
      },
      async (req) => usage.list(req.tenantId, req.query),
    );
    app.get(
      '/api/usage/stats',
      {
        schema: {
          tags: ['usage'],
          summary: 'Usage totals, optionally grouped by agent, session, model or day',
          querystring: UsageStatsQuerySchema,
          response: { 200: UsageStatsResponseSchema, ...errorResponses(400, 401) },
        },
      },
      async (req) => usage.stats(req.tenantId, req.query),
    );
    app.get(
      '/api/usage/budget',
      {
        schema: {
          tags: ['usage'],
          summary: "The tenant's budget and what it spent",
          response: { 200: TenantBudgetResponseSchema, ...errorResponses(401) },
        },
      },
      async (req) => ({ budget: await usage.budget(req.tenantId) }),
    );
    app.put(
      '/api/usage/budget',
      {
        schema: {
          tags: ['usage'],
          summary: "Set (or with null remove) the tenant's budget",
          body: UpdateTenantBudgetBodySchema,
          response: { 200: TenantBudgetResponseSchema, ...errorResponses(400, 401) },
        },
      },
      async (req) => ({ budget: await usage.setBudget(req.tenantId, req.body.budgetUsd) }),
    );
  };
}
