import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import {
  AttachmentIdParamsSchema,
  AttachmentListResponseSchema,
  AttachmentResponseSchema,
  CreateAttachmentBodySchema,
  SessionIdParamsSchema,
} from '@ash-ai/shared';
import type { AttachmentService } from '../services/files/attachment-service.js';
import { contentDisposition } from '../util/content-disposition.js';
import { errorResponses } from './common.js';

/** Attachments: upload to a session, list, download, delete. */
export function attachmentRoutes(
  attachments: AttachmentService,
  opts: { uploadBodyLimit: number },
): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.post(
      '/api/sessions/:id/attachments',
      {
        bodyLimit: opts.uploadBodyLimit,
        schema: {
          tags: ['attachments'],
          summary: 'Attach a file to a session (stored, and copied into the workspace under attachments/)',
          params: SessionIdParamsSchema,
          body: CreateAttachmentBodySchema,
          response: {
            201: AttachmentResponseSchema,
            ...errorResponses(400, 401, 404, 409, 410, 413, 415, 503),
          },
        },
      },
      async (req, reply) =>
        reply.code(201).send({ attachment: await attachments.create(req.tenantId, req.params.id, req.body) }),
    );

    app.get(
      '/api/sessions/:id/attachments',
      {
        schema: {
          tags: ['attachments'],
          summary: "A session's attachments, oldest first",
          params: SessionIdParamsSchema,
          response: { 200: AttachmentListResponseSchema, ...errorResponses(401, 404) },
        },
      },
      async (req) => ({ attachments: await attachments.list(req.tenantId, req.params.id) }),
    );

    app.get(
      '/api/attachments/:id',
      {
        schema: {
          tags: ['attachments'],
          summary: 'Download an attachment (its type, an RFC 6266 disposition with its exact name, nosniff)',
          params: AttachmentIdParamsSchema,
          response: {
            200: {
              description: 'The bytes',
              content: { '*/*': { schema: Type.String({ format: 'binary' }) } },
            },
            ...errorResponses(400, 401, 404, 410, 503),
          },
        },
      },
      async (req, reply) => {
        const { attachment, stream } = await attachments.open(req.tenantId, req.params.id);
        return reply
          .header('content-type', attachment.mimeType)
          .header('content-length', String(attachment.size))
          .header('content-disposition', contentDisposition('attachment', attachment.filename))
          .header('x-content-type-options', 'nosniff')
          .header('content-security-policy', "default-src 'none'; sandbox")
          .send(stream as never);
      },
    );

    app.delete(
      '/api/attachments/:id',
      {
        schema: {
          tags: ['attachments'],
          summary: 'Delete an attachment (the workspace copy stays)',
          params: AttachmentIdParamsSchema,
          response: { 204: Type.Null({ description: 'Deleted' }), ...errorResponses(400, 401, 404, 503) },
        },
      },
      async (req, reply) => {
        await attachments.delete(req.tenantId, req.params.id);
        return reply.code(204).send(null);
      },
    );
  };
}
