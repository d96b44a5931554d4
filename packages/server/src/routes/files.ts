import { posix } from 'node:path';
import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import {
  AgentFileContentResponseSchema,
  AgentFileListResponseSchema,
  AgentFilesChangeResponseSchema,
  AgentNameParamsSchema,
  ListFilesQuerySchema,
  ReadFileQuerySchema,
  SessionDeleteFileResponseSchema,
  SessionFileContentResponseSchema,
  SessionFileListResponseSchema,
  SessionIdParamsSchema,
  SessionUploadResponseSchema,
  UploadFilesBodySchema,
} from '@ash-ai/shared';
import type { AgentFiles } from '../services/agents/agent-files.js';
import type { SessionFiles } from '../services/files/session-files.js';
import { contentDisposition } from '../util/content-disposition.js';
import { errorResponses } from './common.js';

const FilePathParams = Type.Object({
  id: SessionIdParamsSchema.properties.id,
  '*': Type.String({ maxLength: 8192, description: 'The file path (URL-encoded segments)' }),
});
const AgentFilePathParams = Type.Object({
  name: AgentNameParamsSchema.properties.name,
  '*': Type.String({ maxLength: 8192 }),
});

/** Raw bytes or JSON, by `format`. */
const fileResponse = (json: object) => ({
  description: 'The raw bytes (default) or, with `format=json`, a JSON body',
  content: {
    'application/octet-stream': { schema: Type.String({ format: 'binary' }) },
    'application/json': { schema: json },
  },
});

/**
 * Streams an open file: exact `Content-Length`, the type from the extension, an RFC 6266
 * `attachment` disposition valid for any name, `nosniff` and a sandboxing CSP (a served HTML
 * file can never run in the API's origin).
 */
export function sendFileStream(
  reply: FastifyReply,
  f: { path: string; size: number; mimeType: string; handle: import('node:fs/promises').FileHandle },
  headers: Record<string, string> = {},
): FastifyReply {
  reply
    .header('content-type', f.mimeType)
    .header('content-length', String(f.size))
    .header('content-disposition', contentDisposition('attachment', posix.basename(f.path)))
    .header('x-content-type-options', 'nosniff')
    .header('content-security-policy', "default-src 'none'; sandbox")
    .headers(headers);
  if (f.size === 0) {
    void f.handle.close();
    return reply.send(Buffer.alloc(0));
  }
  return reply.send(f.handle.createReadStream({ start: 0, end: f.size - 1 }));
}

/** Session files (`/api/sessions/:id/files…`) and agent files (`/api/agents/:name/files…`). */
export function fileRoutes(
  sessionFiles: SessionFiles,
  agentFiles: AgentFiles,
  opts: { uploadBodyLimit: number },
): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get(
      '/api/sessions/:id/files',
      {
        schema: {
          tags: ['files'],
          summary:
            'List a session workspace recursively (files and links; node_modules and .git are not walked)',
          params: SessionIdParamsSchema,
          querystring: ListFilesQuerySchema,
          response: { 200: SessionFileListResponseSchema, ...errorResponses(400, 401, 404, 409, 503) },
        },
      },
      async (req) => sessionFiles.list(req.tenantId, req.params.id, req.query),
    );

    app.get(
      '/api/sessions/:id/files/*',
      {
        schema: {
          tags: ['files'],
          summary: 'Read a workspace file: raw bytes (default) or `format=json`',
          params: FilePathParams,
          querystring: ReadFileQuerySchema,
          response: {
            200: fileResponse(SessionFileContentResponseSchema),
            ...errorResponses(400, 401, 404, 409, 413, 503),
          },
        },
      },
      async (req, reply) => {
        if (req.query.format === 'json')
          return reply.send(await sessionFiles.readJson(req.tenantId, req.params.id, req.params['*']));
        const f = await sessionFiles.openFile(req.tenantId, req.params.id, req.params['*']);
        return sendFileStream(reply, f, { 'x-ash-source': f.source });
      },
    );

    app.post(
      '/api/sessions/:id/files',
      {
        bodyLimit: opts.uploadBodyLimit,
        schema: {
          tags: ['files'],
          summary: 'Write files into a session workspace (base64); validated as a whole, results per file',
          params: SessionIdParamsSchema,
          body: UploadFilesBodySchema,
          response: {
            200: SessionUploadResponseSchema,
            ...errorResponses(400, 401, 404, 409, 410, 413, 415, 503),
          },
        },
      },
      async (req) => sessionFiles.upload(req.tenantId, req.params.id, req.body),
    );

    app.delete(
      '/api/sessions/:id/files/*',
      {
        schema: {
          tags: ['files'],
          summary: 'Delete a workspace file or folder (links are refused, never followed)',
          params: FilePathParams,
          response: { 200: SessionDeleteFileResponseSchema, ...errorResponses(400, 401, 404, 409, 410, 503) },
        },
      },
      async (req) => {
        const r = await sessionFiles.delete(req.tenantId, req.params.id, req.params['*']);
        return { path: r.path, deleted: true as const, source: r.source };
      },
    );

    app.get(
      '/api/agents/:name/files',
      {
        schema: {
          tags: ['files'],
          summary: "List the current version of an agent's folder",
          params: AgentNameParamsSchema,
          response: { 200: AgentFileListResponseSchema, ...errorResponses(401, 404, 422, 503) },
        },
      },
      async (req) => agentFiles.list(req.tenantId, req.params.name),
    );

    app.get(
      '/api/agents/:name/files/*',
      {
        schema: {
          tags: ['files'],
          summary: "Read a file of the agent's current version: raw bytes (default) or `format=json`",
          params: AgentFilePathParams,
          querystring: ReadFileQuerySchema,
          response: {
            200: fileResponse(AgentFileContentResponseSchema),
            ...errorResponses(400, 401, 404, 413, 422, 503),
          },
        },
      },
      async (req, reply) => {
        if (req.query.format === 'json')
          return reply.send(await agentFiles.readJson(req.tenantId, req.params.name, req.params['*']));
        const f = await agentFiles.openFile(req.tenantId, req.params.name, req.params['*']);
        return sendFileStream(reply, f, { 'x-ash-agent-version': String(f.version) });
      },
    );

    app.post(
      '/api/agents/:name/files',
      {
        bodyLimit: opts.uploadBodyLimit,
        schema: {
          tags: ['files'],
          summary: 'Add or replace agent files (knowledge files); publishes a new agent version',
          params: AgentNameParamsSchema,
          body: UploadFilesBodySchema,
          response: {
            200: AgentFilesChangeResponseSchema,
            ...errorResponses(400, 401, 404, 409, 413, 415, 422, 503),
          },
        },
      },
      async (req) => agentFiles.upload(req.tenantId, req.params.name, req.body),
    );

    app.delete(
      '/api/agents/:name/files/*',
      {
        schema: {
          tags: ['files'],
          summary: 'Delete an agent file or folder; publishes a new agent version',
          params: AgentFilePathParams,
          response: { 200: AgentFilesChangeResponseSchema, ...errorResponses(400, 401, 404, 409, 422, 503) },
        },
      },
      async (req) => agentFiles.delete(req.tenantId, req.params.name, req.params['*']),
    );
  };
}
