import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import {
  ApiKeyIdParamsSchema,
  ApiKeyListResponseSchema,
  CreateApiKeyBodySchema,
  CreatedApiKeyResponseSchema,
  OkSchema,
} from '@ash-ai/shared';
import type { ApiKeyService } from '../services/auth/api-key-service.js';
import { errorResponses } from './common.js';

/** Small bodies only: a label. */
const BODY_LIMIT = 4 * 1024;

/** `/api/api-keys`: a tenant manages its own keys. */
export function apiKeyRoutes(keys: ApiKeyService): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.post(
      '/api/api-keys',
      {
        bodyLimit: BODY_LIMIT,
        schema: {
          tags: ['api-keys'],
          summary: 'Create an API key for your tenant; the key is in this response only',
          body: CreateApiKeyBodySchema,
          response: { 201: CreatedApiKeyResponseSchema, ...errorResponses(400, 401, 413, 415, 429) },
        },
      },
      async (req, reply) => reply.code(201).send(await keys.create(req.tenantId, req.body.label)),
    );
    app.get(
      '/api/api-keys',
      {
        schema: {
          tags: ['api-keys'],
          summary: "List your tenant's keys (prefix, label, created and last-used times; never the key)",
          response: { 200: ApiKeyListResponseSchema, ...errorResponses(401, 429) },
        },
      },
      async (req) => ({ keys: await keys.list(req.tenantId) }),
    );
    app.delete(
      '/api/api-keys/:id',
      {
        schema: {
          tags: ['api-keys'],
          summary: 'Revoke a key: the next request with it gets 401',
          params: ApiKeyIdParamsSchema,
          response: { 200: OkSchema, ...errorResponses(401, 404, 409, 429) },
        },
      },
      async (req) => {
        await keys.revoke(req.tenantId, req.params.id);
        return { ok: true as const };
      },
    );
  };
}
