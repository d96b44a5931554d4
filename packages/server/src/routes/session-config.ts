import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { SessionIdParamsSchema, SessionResponseSchema, UpdateSessionConfigBodySchema } from '@ash-ai/shared';
import type { SessionConfigService } from '../services/sessions/session-config.js';
import { errorResponses } from './common.js';

/** `PATCH /api/sessions/:id/config`. */
export function sessionConfigRoutes(service: SessionConfigService): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.patch(
      '/api/sessions/:id/config',
      {
        schema: {
          tags: ['sessions'],
          summary:
            'Change session options for later turns (JSON merge patch: a value sets an option, null removes it); also budgetUsd',
          params: SessionIdParamsSchema,
          body: UpdateSessionConfigBodySchema,
          response: { 200: SessionResponseSchema, ...errorResponses(400, 401, 404, 410) },
        },
      },
      async (req) => ({ session: await service.update(req.tenantId, req.params.id, req.body) }),
    );
  };
}
