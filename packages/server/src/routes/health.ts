import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { HealthSchema, type Health } from '@ash-ai/shared';
import { projectingSerializer } from '../plugins/validation.js';

/** `GET /health`: public liveness and figures. */
export function healthRoutes(health: () => Promise<Health>): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get(
      '/health',
      {
        schema: {
          tags: ['health'],
          summary: 'Liveness, version and pool figures',
          security: [],
          response: { 200: HealthSchema },
        },
        config: { public: true },
        // Written without a compiled serializer: the first /health is what a start waits for.
        serializerCompiler: ({ schema }) => projectingSerializer(schema),
      },
      async () => health(),
    );
  };
}
