import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import {
  EnqueueBodySchema,
  ListQueueQuerySchema,
  QueueItemParamsSchema,
  QueueItemResponseSchema,
  QueueListResponseSchema,
  QueueStatsResponseSchema,
} from '@ash-ai/shared';
import type { QueueService } from '../services/queue/queue-service.js';
import { errorResponses } from './common.js';

/** Queue routes: background prompts run as turns, with retries. */
export function queueRoutes(queue: QueueService): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.post(
      '/api/queue',
      {
        schema: {
          tags: ['queue'],
          summary: 'Queue a prompt to run as a turn in the background (new session unless sessionId)',
          body: EnqueueBodySchema,
          response: { 201: QueueItemResponseSchema, ...errorResponses(400, 401, 404, 410) },
        },
      },
      async (req, reply) => reply.code(201).send({ item: await queue.enqueue(req.tenantId, req.body) }),
    );
    app.get(
      '/api/queue',
      {
        schema: {
          tags: ['queue'],
          summary: 'Queue items, newest first, optionally of one status',
          querystring: ListQueueQuerySchema,
          response: { 200: QueueListResponseSchema, ...errorResponses(400, 401) },
        },
      },
      async (req) => queue.list(req.tenantId, req.query),
    );
    app.get(
      '/api/queue/stats',
      {
        schema: {
          tags: ['queue'],
          summary: 'Queue items per status',
          response: { 200: QueueStatsResponseSchema, ...errorResponses(401) },
        },
      },
      async (req) => ({ stats: await queue.stats(req.tenantId) }),
    );
    app.get(
      '/api/queue/:id',
      {
        schema: {
          tags: ['queue'],
          summary: 'A queue item, with its result or error',
          params: QueueItemParamsSchema,
          response: { 200: QueueItemResponseSchema, ...errorResponses(401, 404) },
        },
      },
      async (req) => ({ item: await queue.get(req.tenantId, req.params.id) }),
    );
    app.delete(
      '/api/queue/:id',
      {
        schema: {
          tags: ['queue'],
          summary: 'Cancel a pending item (409 once it runs or has finished)',
          params: QueueItemParamsSchema,
          response: { 200: QueueItemResponseSchema, ...errorResponses(401, 404, 409) },
        },
      },
      async (req) => ({ item: await queue.cancel(req.tenantId, req.params.id) }),
    );
  };
}
