import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import {
  CreateCredentialBodySchema,
  CredentialIdParamsSchema,
  CredentialListResponseSchema,
  CredentialResponseSchema,
  OkSchema,
  UpdateCredentialBodySchema,
} from '@ash-ai/shared';
import type { CredentialService } from '../services/auth/credential-service.js';
import { errorResponses } from './common.js';

/** A key (bedrock JSON included) fits in 16 KiB; the body limit leaves room for JSON around it. */
const BODY_LIMIT = 64 * 1024;

/** `/api/credentials`: stored provider keys. No route ever returns a value. */
export function credentialRoutes(credentials: CredentialService): FastifyPluginAsyncTypebox {
  return async (app) => {
    const params = CredentialIdParamsSchema;
    app.post(
      '/api/credentials',
      {
        bodyLimit: BODY_LIMIT,
        schema: {
          tags: ['credentials'],
          summary: 'Store a credential (encrypted at rest; the value is never returned)',
          body: CreateCredentialBodySchema,
          response: { 201: CredentialResponseSchema, ...errorResponses(400, 401, 413, 415, 429, 503) },
        },
      },
      async (req, reply) =>
        reply.code(201).send({ credential: await credentials.create(req.tenantId, req.body) }),
    );
    app.get(
      '/api/credentials',
      {
        schema: {
          tags: ['credentials'],
          summary: "List your tenant's credentials (never their values)",
          response: { 200: CredentialListResponseSchema, ...errorResponses(401, 429, 503) },
        },
      },
      async (req) => ({ credentials: await credentials.list(req.tenantId) }),
    );
    app.get(
      '/api/credentials/:id',
      {
        schema: {
          tags: ['credentials'],
          summary: 'Get a credential (never its value)',
          params,
          response: { 200: CredentialResponseSchema, ...errorResponses(401, 404, 429, 503) },
        },
      },
      async (req) => ({ credential: await credentials.get(req.tenantId, req.params.id) }),
    );
    app.patch(
      '/api/credentials/:id',
      {
        bodyLimit: BODY_LIMIT,
        schema: {
          tags: ['credentials'],
          summary: 'Relabel a credential or switch it on or off',
          params,
          body: UpdateCredentialBodySchema,
          response: { 200: CredentialResponseSchema, ...errorResponses(400, 401, 404, 413, 415, 429, 503) },
        },
      },
      async (req) => ({ credential: await credentials.update(req.tenantId, req.params.id, req.body) }),
    );
    app.delete(
      '/api/credentials/:id',
      {
        schema: {
          tags: ['credentials'],
          summary: 'Delete a credential',
          params,
          response: { 200: OkSchema, ...errorResponses(401, 404, 429, 503) },
        },
      },
      async (req) => {
        await credentials.delete(req.tenantId, req.params.id);
        return { ok: true as const };
      },
    );
  };
}
