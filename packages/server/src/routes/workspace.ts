import { Readable } from 'node:stream';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import {
  RestoreWorkspaceBodySchema,
  RestoreWorkspaceResponseSchema,
  SessionIdParamsSchema,
  WorkspaceSnapshotResponseSchema,
} from '@ash-ai/shared';
import { AppError, notFound } from '../errors.js';
import type { Repos } from '../db/repos/index.js';
import type { SessionFiles } from '../services/files/session-files.js';
import type { WorkspaceSnapshots } from '../services/files/workspace-snapshots.js';
import { decodeBase64Strict } from '../util/base64.js';
import { contentDisposition } from '../util/content-disposition.js';
import { errorResponses } from './common.js';

/** Media types a bundle upload may be sent as (the raw tar.gz as the body). */
const BUNDLE_TYPES = ['application/gzip', 'application/x-gzip', 'application/octet-stream'];

/** Workspace bundles (`GET/POST /api/sessions/:id/workspace`) and snapshots. */
export function workspaceRoutes(
  files: SessionFiles,
  snapshots: WorkspaceSnapshots,
  repos: Repos,
  opts: {
    jsonBodyLimit: number;
    /** True when this server ran the session's last turn and it has sent `done` (its slot is being released). */
    turnEnding: (sessionId: string) => boolean;
  },
): FastifyPluginAsyncTypebox {
  return async (app) => {
    // Raw bundle bodies are handed over as the request stream; the extractor counts and limits them.
    app.addContentTypeParser(BUNDLE_TYPES, (_req, payload, done) => done(null, payload));

    app.get(
      '/api/sessions/:id/workspace',
      {
        schema: {
          tags: ['workspace'],
          summary: 'Download the workspace as tar.gz (without node_modules, .git and caches)',
          params: SessionIdParamsSchema,
          response: {
            200: {
              description: 'application/gzip',
              content: { 'application/gzip': { schema: Type.String({ format: 'binary' }) } },
            },
            ...errorResponses(401, 404, 409, 503),
          },
        },
      },
      async (req, reply) => {
        const { stream, source } = await files.bundle(req.tenantId, req.params.id);
        return reply
          .header('content-type', 'application/gzip')
          .header('content-disposition', contentDisposition('attachment', `${req.params.id}.tar.gz`))
          .header('x-content-type-options', 'nosniff')
          .header('x-ash-source', source)
          .send(stream as never);
      },
    );

    app.post(
      '/api/sessions/:id/workspace',
      {
        bodyLimit: opts.jsonBodyLimit,
        schema: {
          tags: ['workspace'],
          summary:
            'Restore a tar.gz into the workspace (raw application/gzip body, or JSON {bundle: base64}); unsafe bundles are refused whole',
          params: SessionIdParamsSchema,
          body: {
            content: {
              'application/json': { schema: RestoreWorkspaceBodySchema },
              'application/gzip': { schema: Type.Unknown() },
              'application/x-gzip': { schema: Type.Unknown() },
              'application/octet-stream': { schema: Type.Unknown() },
            },
          },
          response: {
            200: RestoreWorkspaceResponseSchema,
            ...errorResponses(400, 401, 404, 409, 410, 413, 415, 503),
          },
        },
      },
      async (req, reply) => {
        // The session first: an unknown (or another tenant's) id is 404 whatever the body holds.
        await files.checkWritable(req.tenantId, req.params.id);
        const body = req.body as unknown;
        let stream: Readable;
        if (body instanceof Readable) stream = body;
        else {
          const b64 = (body as { bundle?: unknown } | undefined)?.bundle;
          const bytes = typeof b64 === 'string' ? decodeBase64Strict(b64) : undefined;
          if (!bytes)
            throw new AppError('invalid_base64', 'bundle is not valid base64', {
              errors: [{ path: '/body/bundle', message: 'must be base64 (RFC 4648 §4, padded)' }],
            });
          stream = Readable.from([bytes]);
        }
        try {
          return await files.restoreBundle(req.tenantId, req.params.id, stream);
        } catch (err) {
          // Refused before the whole upload was read (over a limit, unsafe entry): the rest of
          // the body is not read, so the connection cannot carry another request.
          if (!req.raw.complete) reply.header('connection', 'close');
          throw err;
        }
      },
    );

    app.post(
      '/api/sessions/:id/workspace/snapshot',
      {
        schema: {
          tags: ['workspace'],
          summary:
            'Store a snapshot of the workspace and transcript in object storage (another server can then continue the session)',
          params: SessionIdParamsSchema,
          response: { 201: WorkspaceSnapshotResponseSchema, ...errorResponses(401, 404, 409, 503) },
        },
      },
      async (req, reply) => {
        let session = await repos.sessions.get(req.tenantId, req.params.id);
        if (!session) throw notFound('session_not_found', 'Session', req.params.id);
        // Right after `done` the turn slot is still being released: wait for it (briefly).
        for (let i = 0; session?.activeTurnId && opts.turnEnding(session.id) && i < 50; i++) {
          await new Promise((r) => setTimeout(r, 100));
          session = await repos.sessions.get(req.tenantId, req.params.id);
        }
        if (!session) throw notFound('session_not_found', 'Session', req.params.id);
        // Live on another server: only that server has the current files. Otherwise make this
        // server's copy the latest one before storing it.
        await files.prepareSnapshot(session);
        if (session.activeTurnId)
          throw new AppError(
            'session_busy',
            'a turn is running; snapshot the session after its `done` event',
            {
              headers: { 'Retry-After': '1' },
            },
          );
        return reply.code(201).send({ snapshot: await snapshots.save(session) });
      },
    );
  };
}
