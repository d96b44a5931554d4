import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import {
  ActivatedVersionResponseSchema,
  AgentConfigResponseSchema,
  AgentConfigSchema,
  AgentNameParamsSchema,
  AgentVersionListResponseSchema,
  AgentVersionParamsSchema,
  AgentVersionResponseSchema,
  AnalyticsQuerySchema,
  AnalyticsSchema,
  CreateAgentVersionBodySchema,
  UpdateAgentVersionBodySchema,
} from '@ash-ai/shared';
import type { CompatService } from '../services/agents/compat-service.js';
import { errorResponses } from './common.js';

/** The config body: the config object itself, or `{config: {...}}` (both forms are sent by clients). */
const ConfigBody = AgentConfigSchema;
const unwrap = (body: Record<string, unknown>): Record<string, unknown> => {
  const keys = Object.keys(body);
  const inner = body.config;
  return keys.length === 1 && inner && typeof inner === 'object' && !Array.isArray(inner)
    ? (inner as Record<string, unknown>)
    : body;
};

/**
 * Routes of the upstream Ash with its shapes: agent prompt versions, agent config, analytics.
 * (Exec and logs of a session are in sessions.ts.)
 */
export function compatRoutes(compat: CompatService): FastifyPluginAsyncTypebox {
  return async (app) => {
    const agentParams = AgentNameParamsSchema;
    const params = AgentVersionParamsSchema;
    app.get(
      '/api/agents/:name/versions',
      {
        schema: {
          operationId: 'listAgentVersions',
          tags: ['agents'],
          summary: 'Prompt versions of an agent, oldest first',
          params: agentParams,
          response: { 200: AgentVersionListResponseSchema, ...errorResponses(401, 404) },
        },
      },
      async (req) => ({ versions: await compat.listVersions(req.tenantId, req.params.name) }),
    );
    app.post(
      '/api/agents/:name/versions',
      {
        schema: {
          operationId: 'createAgentVersion',
          tags: ['agents'],
          summary: 'Create a prompt version (the next number; `cloneFrom` copies unset fields)',
          params: agentParams,
          body: CreateAgentVersionBodySchema,
          response: { 201: AgentVersionResponseSchema, ...errorResponses(400, 401, 404) },
        },
      },
      async (req, reply) =>
        reply
          .code(201)
          .send({ version: await compat.createVersion(req.tenantId, req.params.name, req.body) }),
    );
    app.get(
      '/api/agents/:name/versions/:version',
      {
        schema: {
          operationId: 'getAgentVersion',
          tags: ['agents'],
          summary: 'A prompt version, by number or id',
          params,
          response: { 200: AgentVersionResponseSchema, ...errorResponses(401, 404) },
        },
      },
      async (req) => ({
        version: await compat.getVersion(req.tenantId, req.params.name, req.params.version),
      }),
    );
    app.patch(
      '/api/agents/:name/versions/:version',
      {
        schema: {
          operationId: 'updateAgentVersion',
          tags: ['agents'],
          summary: 'Change a prompt version',
          params,
          body: UpdateAgentVersionBodySchema,
          response: { 200: AgentVersionResponseSchema, ...errorResponses(400, 401, 404) },
        },
      },
      async (req) => ({
        version: await compat.updateVersion(req.tenantId, req.params.name, req.params.version, req.body),
      }),
    );
    app.delete(
      '/api/agents/:name/versions/:version',
      {
        schema: {
          operationId: 'deleteAgentVersion',
          tags: ['agents'],
          summary: 'Delete a prompt version',
          params,
          response: { 204: Type.Null({ description: 'Deleted' }), ...errorResponses(401, 404) },
        },
      },
      async (req, reply) => {
        await compat.deleteVersion(req.tenantId, req.params.name, req.params.version);
        return reply.code(204).send(null);
      },
    );
    app.post(
      '/api/agents/:name/versions/:version/activate',
      {
        schema: {
          operationId: 'activateAgentVersion',
          tags: ['agents'],
          summary: 'Make a version the active one: new sessions get its system prompt (unless they set one)',
          params,
          response: { 200: ActivatedVersionResponseSchema, ...errorResponses(401, 404) },
        },
      },
      async (req) => ({
        activated: true as const,
        versionNumber: await compat.activateVersion(req.tenantId, req.params.name, req.params.version),
      }),
    );

    app.get(
      '/api/agents/:name/config',
      {
        schema: {
          operationId: 'getAgentConfig',
          tags: ['agents'],
          summary: "The agent's config (session defaults and other settings)",
          params: agentParams,
          response: { 200: AgentConfigResponseSchema, ...errorResponses(401, 404) },
        },
      },
      async (req) => ({ config: await compat.config(req.tenantId, req.params.name) }),
    );
    for (const method of ['put', 'patch'] as const) {
      app[method](
        '/api/agents/:name/config',
        {
          schema: {
            operationId: method === 'put' ? 'replaceAgentConfig' : 'updateAgentConfig',
            tags: ['agents'],
            summary:
              method === 'put'
                ? "Replace the agent's config (the config object, or `{config}`)"
                : "Shallow-merge into the agent's config (`null` removes a key)",
            params: agentParams,
            body: ConfigBody,
            response: { 200: AgentConfigResponseSchema, ...errorResponses(400, 401, 404) },
          },
        },
        async (req) => ({
          config: await compat.setConfig(
            req.tenantId,
            req.params.name,
            unwrap(req.body as Record<string, unknown>),
            method === 'patch',
          ),
        }),
      );
    }

    app.get(
      '/api/analytics',
      {
        schema: {
          operationId: 'getAnalytics',
          tags: ['usage'],
          summary: "The tenant's agents, sessions by status and usage totals in a time range",
          querystring: AnalyticsQuerySchema,
          response: { 200: AnalyticsSchema, ...errorResponses(400, 401) },
        },
      },
      async (req) => compat.analytics(req.tenantId, req.query),
    );
  };
}
