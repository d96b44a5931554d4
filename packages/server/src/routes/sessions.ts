import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import {
  CreateSessionBodySchema,
  EventListResponseSchema,
  ExecBodySchema,
  ExecResultSchema,
  LogsQuerySchema,
  LogsResponseSchema,
  ListEventsQuerySchema,
  ListSessionsQuerySchema,
  MessageListResponseSchema,
  SendMessageBodySchema,
  SequenceCursorQuery,
  SessionIdParamsSchema,
  SessionListResponseSchema,
  SessionResponseSchema,
  STREAM_EVENT_NAMES,
} from '@ash-ai/shared';
import type { SessionRuntime } from '../services/sessions/session-runtime.js';
import { isUpstreamPythonClient, type SessionService } from '../services/sessions/session-service.js';
import { sendSse } from '../sse/sse-stream.js';
import { errorResponses } from './common.js';

const SseResponse = {
  description: `Server-Sent Events. Event names: ${STREAM_EVENT_NAMES.join(', ')}. Each frame's id is the per-session event sequence; \`done\` is always last.`,
  content: { 'text/event-stream': { schema: Type.String() } },
};

export interface SessionRouteOptions {
  messageBodyLimit: number;
  heartbeatMs: number;
}

/** Session routes: lifecycle, messages (SSE), history, reconnectable stream. */
export function sessionRoutes(
  sessions: SessionService,
  runtime: SessionRuntime,
  opts: SessionRouteOptions,
): FastifyPluginAsyncTypebox {
  return async (app) => {
    const params = SessionIdParamsSchema;

    app.post(
      '/api/sessions',
      {
        schema: {
          tags: ['sessions'],
          summary: 'Create a session on an agent',
          body: CreateSessionBodySchema,
          response: { 201: SessionResponseSchema, ...errorResponses(400, 401, 404, 422, 503, 507) },
        },
      },
      async (req, reply) => reply.code(201).send({ session: await sessions.create(req.tenantId, req.body) }),
    );

    app.get(
      '/api/sessions',
      {
        schema: {
          tags: ['sessions'],
          summary: 'List sessions, newest first',
          querystring: ListSessionsQuerySchema,
          response: { 200: SessionListResponseSchema, ...errorResponses(400, 401) },
        },
      },
      async (req) => sessions.list(req.tenantId, req.query),
    );

    app.get(
      '/api/sessions/:id',
      {
        schema: {
          tags: ['sessions'],
          summary: 'Get a session',
          params,
          response: { 200: SessionResponseSchema, ...errorResponses(401, 404) },
        },
      },
      async (req) => ({ session: await sessions.get(req.tenantId, req.params.id) }),
    );

    app.delete(
      '/api/sessions/:id',
      {
        schema: {
          tags: ['sessions'],
          summary: 'End a session: stop its processes; history stays readable',
          params,
          response: { 200: SessionResponseSchema, ...errorResponses(401, 404) },
        },
      },
      async (req) => ({ session: await sessions.end(req.tenantId, req.params.id) }),
    );

    const lifecycleRoute = (
      action: 'pause' | 'resume' | 'stop' | 'fork',
      summary: string,
      run: (tenantId: string, id: string) => Promise<unknown>,
    ) =>
      app.post(
        `/api/sessions/:id/${action}`,
        {
          schema: {
            tags: ['sessions'],
            summary,
            params,
            response: {
              [action === 'fork' ? 201 : 200]: SessionResponseSchema,
              ...errorResponses(401, 404, 409, 410, 422, 503, 507),
            },
          },
        },
        async (req, reply) =>
          reply.code(action === 'fork' ? 201 : 200).send({ session: await run(req.tenantId, req.params.id) }),
      );
    lifecycleRoute(
      'pause',
      'Pause: stop the process tree, keep workspace and transcript (a message resumes it)',
      (t, id) => sessions.pause(t, id),
    );
    lifecycleRoute(
      'stop',
      'Stop: like pause (process gone, state kept), status `stopped`; resumable',
      (t, id) => sessions.pause(t, id, 'stopped'),
    );
    lifecycleRoute(
      'resume',
      'Resume: warm if the process is alive, else a new sandbox on the same workspace and conversation',
      (t, id) => sessions.resume(t, id),
    );
    lifecycleRoute(
      'fork',
      'Fork: a new, independent session with a copy of the history, transcript and workspace',
      (t, id) => sessions.fork(t, id),
    );

    app.post(
      '/api/sessions/:id/messages',
      {
        bodyLimit: opts.messageBodyLimit,
        schema: {
          tags: ['sessions'],
          summary: 'Send a message; the turn streams back as SSE',
          params,
          body: SendMessageBodySchema,
          response: { 200: SseResponse, ...errorResponses(400, 401, 404, 409, 410, 413, 415, 503, 507) },
        },
      },
      async (req, reply) => {
        const turn = await sessions.sendMessage(req.tenantId, req.params.id, req.body);
        return sendSse(reply, turn.stream(0), { heartbeatMs: opts.heartbeatMs });
      },
    );

    app.get(
      '/api/sessions/:id/stream',
      {
        schema: {
          tags: ['sessions'],
          summary:
            'Rejoin a turn stream: every event after `Last-Event-ID` (or `?after=`), then the live rest of the turn',
          params,
          querystring: Type.Object({ after: Type.Optional(Type.Integer({ minimum: 0 })) }),
          headers: Type.Object({ 'last-event-id': Type.Optional(Type.String({ maxLength: 32 })) }),
          response: { 200: SseResponse, ...errorResponses(400, 401, 404) },
        },
      },
      async (req, reply) => {
        const header = req.headers['last-event-id'];
        const fromHeader = header !== undefined && /^\d+$/.test(header) ? Number(header) : undefined;
        const after = fromHeader ?? req.query.after ?? 0;
        await sessions.record(req.tenantId, req.params.id);
        // Which turn this stream follows to its `done` (`none`: history only, it just ends).
        reply.header('x-ash-turn', runtime.turnFor(req.params.id)?.turnId ?? 'none');
        return sendSse(reply, sessions.stream(req.tenantId, req.params.id, after), {
          heartbeatMs: opts.heartbeatMs,
        });
      },
    );

    app.post(
      '/api/sessions/:id/interrupt',
      {
        schema: {
          tags: ['sessions'],
          summary: 'Interrupt the running turn (soft first, then kill); resolves when the turn has ended',
          params,
          response: { 200: Type.Object({ interrupted: Type.Boolean() }), ...errorResponses(401, 404, 409) },
        },
      },
      async (req) => ({ interrupted: await sessions.interrupt(req.tenantId, req.params.id) }),
    );

    app.post(
      '/api/sessions/:id/exec',
      {
        schema: {
          operationId: 'execInSession',
          tags: ['sessions'],
          summary:
            "Run a shell command in the session's sandbox (its workspace; killed after `timeout` ms; output cut at 1 MiB per stream)",
          params,
          body: ExecBodySchema,
          response: { 200: Type.Ref(ExecResultSchema), ...errorResponses(400, 401, 404, 409, 410, 503) },
        },
      },
      async (req) => sessions.exec(req.tenantId, req.params.id, req.body),
    );

    app.get(
      '/api/sessions/:id/logs',
      {
        schema: {
          operationId: 'getSessionLogs',
          tags: ['sessions'],
          summary:
            "The sandbox's output ring (Claude's stderr, exec output, system notes) after `after`; empty without a live sandbox",
          params,
          querystring: LogsQuerySchema,
          response: { 200: LogsResponseSchema, ...errorResponses(400, 401, 404) },
        },
      },
      async (req) => sessions.logs(req.tenantId, req.params.id, req.query.after ?? -1),
    );

    app.get(
      '/api/sessions/:id/messages',
      {
        schema: {
          tags: ['sessions'],
          summary: 'Persisted messages, in order (sequence cursor)',
          params,
          querystring: SequenceCursorQuery,
          response: { 200: MessageListResponseSchema, ...errorResponses(400, 401, 404) },
        },
      },
      async (req) =>
        sessions.messages(req.tenantId, req.params.id, req.query.after ?? 0, req.query.limit ?? 100),
    );

    app.get(
      '/api/sessions/:id/events',
      {
        schema: {
          tags: ['sessions'],
          summary: 'Persisted events (exactly what was streamed, plus lifecycle events), in order',
          params,
          querystring: ListEventsQuerySchema,
          response: { 200: EventListResponseSchema, ...errorResponses(400, 401, 404) },
        },
      },
      async (req) =>
        sessions.events(req.tenantId, req.params.id, {
          after: req.query.after ?? 0,
          limit: req.query.limit ?? 200,
          ...(req.query.type ? { type: req.query.type } : {}),
          ...(req.query.turnId ? { turnId: req.query.turnId } : {}),
          view: req.query.view ?? (isUpstreamPythonClient(req.headers['user-agent']) ? 'timeline' : 'log'),
        }),
    );
  };
}
