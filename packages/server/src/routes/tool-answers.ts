import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { SessionIdParamsSchema, ToolAnswerBodySchema, ToolAnswerResponseSchema } from '@ash-ai/shared';
import type { ManagedAgentsService } from '../managed/managed-service.js';
import { errorResponses } from './common.js';

/**
 * `POST /api/sessions/:id/tool-answers`: the `/api` way to answer a `permission_request` or a
 * `custom_tool_use`. The answer takes the same path as `/v1`'s `user.tool_confirmation` /
 * `user.custom_tool_result` (one implementation, in the managed service).
 */
export function toolAnswerRoutes(managed: ManagedAgentsService): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.post(
      '/api/sessions/:id/tool-answers',
      {
        schema: {
          tags: ['sessions'],
          summary: 'Answer a call that waits for the client (permission_request or custom_tool_use)',
          params: SessionIdParamsSchema,
          body: ToolAnswerBodySchema,
          response: { 200: ToolAnswerResponseSchema, ...errorResponses(400, 401, 404, 410) },
        },
      },
      async (req) => managed.answerToolRequest(req.tenantId, req.params.id, req.body),
    );
  };
}
