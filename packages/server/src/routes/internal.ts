import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import {
  CreateTenantApiKeyBodySchema,
  CreatedApiKeyResponseSchema,
  DeregisterRunnerBodySchema,
  OkSchema,
  RegisterRunnerBodySchema,
  RunnerHeartbeatBodySchema,
  RunnerListResponseSchema,
} from '@ash-ai/shared';
import type { ApiKeyService } from '../services/auth/api-key-service.js';
import type { RunnerService } from '../services/runners/runner-registry.js';
import { errorResponses } from './common.js';

const BODY_LIMIT = 16 * 1024;
/** Internal routes are guarded by the internal secret (plugins/auth.ts), not by API keys. */
const config = { internal: true } as const;
const security = [{ internalSecret: [] }];

/**
 * `/api/internal/*`: tenant provisioning and the runner registry. Every one of them needs
 * `Authorization: Bearer <ASH_INTERNAL_SECRET>`.
 */
export function internalRoutes(keys: ApiKeyService, runners: RunnerService): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.post(
      '/api/internal/api-keys',
      {
        config,
        bodyLimit: BODY_LIMIT,
        schema: {
          tags: ['internal'],
          security,
          summary: 'Create an API key for any tenant (this is how tenants are provisioned)',
          body: CreateTenantApiKeyBodySchema,
          response: { 201: CreatedApiKeyResponseSchema, ...errorResponses(400, 401, 403, 413, 415, 429) },
        },
      },
      async (req, reply) => reply.code(201).send(await keys.create(req.body.tenantId, req.body.label)),
    );
    app.post(
      '/api/internal/runners/register',
      {
        config,
        bodyLimit: BODY_LIMIT,
        schema: {
          tags: ['internal'],
          security,
          summary: 'A runner registers (or re-registers)',
          body: RegisterRunnerBodySchema,
          response: { 200: OkSchema, ...errorResponses(400, 401, 403, 413, 415, 429) },
        },
      },
      async (req) => {
        await runners.register(req.body);
        return { ok: true as const };
      },
    );
    app.post(
      '/api/internal/runners/heartbeat',
      {
        config,
        bodyLimit: BODY_LIMIT,
        schema: {
          tags: ['internal'],
          security,
          summary: 'A runner reports it is alive; 404 means: register again',
          body: RunnerHeartbeatBodySchema,
          response: { 200: OkSchema, ...errorResponses(400, 401, 403, 404, 413, 415, 429) },
        },
      },
      async (req) => {
        await runners.heartbeat(req.body);
        return { ok: true as const };
      },
    );
    app.post(
      '/api/internal/runners/deregister',
      {
        config,
        bodyLimit: BODY_LIMIT,
        schema: {
          tags: ['internal'],
          security,
          summary: 'A runner leaves; its running sessions become paused',
          body: DeregisterRunnerBodySchema,
          response: { 200: OkSchema, ...errorResponses(400, 401, 403, 404, 413, 415, 429) },
        },
      },
      async (req) => {
        await runners.deregister(req.body.runnerId);
        return { ok: true as const };
      },
    );
    app.get(
      '/api/internal/runners',
      {
        config,
        schema: {
          tags: ['internal'],
          security,
          summary: 'List registered runners',
          response: { 200: RunnerListResponseSchema, ...errorResponses(401, 403, 429) },
        },
      },
      async () => runners.list(),
    );
  };
}
