import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import {
  AgentListResponseSchema,
  AgentNameParamsSchema,
  AgentResponseSchema,
  DeployAgentBodySchema,
  DeployAgentResponseSchema,
  OkSchema,
  UpdateAgentBodySchema,
} from '@ash-ai/shared';
import type { AgentService } from '../services/agents/agent-service.js';
import { errorResponses } from './common.js';

/** Agent routes: deploy, list, get, update, delete. */
export function agentRoutes(
  agents: AgentService,
  opts: { deployBodyLimit: number },
): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.post(
      '/api/agents',
      {
        bodyLimit: opts.deployBodyLimit,
        schema: {
          tags: ['agents'],
          summary:
            'Deploy an agent folder (from a path on the server or uploaded files); a redeploy bumps the version (201), unless nothing changed (200, `unchanged: true`)',
          body: DeployAgentBodySchema,
          response: {
            200: DeployAgentResponseSchema,
            201: DeployAgentResponseSchema,
            ...errorResponses(400, 401, 403, 413, 415, 422, 503),
          },
        },
      },
      async (req, reply) => {
        const r = await agents.deploy(req.tenantId, req.body);
        return r.unchanged ? reply.code(200).send(r) : reply.code(201).send({ agent: r.agent });
      },
    );
    app.get(
      '/api/agents',
      {
        schema: {
          tags: ['agents'],
          summary: 'List agents',
          response: { 200: AgentListResponseSchema, ...errorResponses(401) },
        },
      },
      async (req) => ({ agents: await agents.list(req.tenantId) }),
    );
    app.get(
      '/api/agents/:name',
      {
        schema: {
          tags: ['agents'],
          summary: 'Get an agent',
          params: AgentNameParamsSchema,
          response: { 200: AgentResponseSchema, ...errorResponses(401, 404) },
        },
      },
      async (req) => ({ agent: await agents.get(req.tenantId, req.params.name) }),
    );
    app.patch(
      '/api/agents/:name',
      {
        schema: {
          tags: ['agents'],
          summary: 'Update an agent: replace env, merge config, set description',
          params: AgentNameParamsSchema,
          body: UpdateAgentBodySchema,
          response: { 200: AgentResponseSchema, ...errorResponses(400, 401, 404) },
        },
      },
      async (req) => ({ agent: await agents.update(req.tenantId, req.params.name, req.body) }),
    );
    app.delete(
      '/api/agents/:name',
      {
        schema: {
          tags: ['agents'],
          summary: 'Delete an agent and its files; its sessions end (history is kept)',
          params: AgentNameParamsSchema,
          response: { 200: OkSchema, ...errorResponses(401, 404) },
        },
      },
      async (req) => {
        await agents.delete(req.tenantId, req.params.name);
        return { ok: true as const };
      },
    );
  };
}
