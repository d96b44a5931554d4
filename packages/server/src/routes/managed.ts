import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { ManagedAgentsService } from '../managed/managed-service.js';
import { SSE_HEADERS } from '../sse/sse-stream.js';

/** Options of {@link managedRoutes}. */
export interface ManagedRouteOptions {
  /** `event: ping` keep-alive interval on the event stream, ms. */
  heartbeatMs: number;
  /** Body limit of `POST …/events` (images inline), bytes. */
  eventsBodyLimit: number;
}

const Id = Type.Object({ id: Type.String({ minLength: 1, maxLength: 255 }) });
const AnyBody = Type.Object({}, { additionalProperties: true });
const AnyQuery = Type.Object({}, { additionalProperties: true });
const Json = {
  description: 'The Managed Agents object (see docs/managed-agents.md)',
  content: { 'application/json': { schema: Type.Object({}, { additionalProperties: true }) } },
};
const ok = { 200: Json };

/**
 * The Managed Agents API under `/v1` (agents, environments, sessions, events), for the official
 * Anthropic SDKs: thin routes over {@link ManagedAgentsService}. Errors leave in the Anthropic
 * envelope (the one error handler picks it for `/v1`). Bodies are checked by the service, which
 * names the field in a 400.
 */
export function managedRoutes(
  svc: ManagedAgentsService,
  opts: ManagedRouteOptions,
): FastifyPluginAsyncTypebox {
  return async (app) => {
    const tags = ['managed-agents'];
    // Event streams never end by themselves: a closing server ends them first.
    const open = new Set<AbortController>();
    app.addHook('preClose', async () => {
      for (const a of open) a.abort();
    });
    const route = (
      method: 'GET' | 'POST' | 'DELETE',
      url: string,
      operationId: string,
      summary: string,
      handler: (
        tenantId: string,
        params: { id?: string },
        body: Record<string, unknown>,
        query: Record<string, unknown>,
      ) => Promise<unknown>,
    ) =>
      app.route({
        method,
        url,
        schema: {
          operationId,
          tags,
          summary,
          ...(url.includes(':id') ? { params: Id } : {}),
          ...(method === 'POST' && !url.endsWith('/archive') ? { body: AnyBody } : {}),
          querystring: AnyQuery,
          response: ok,
        },
        handler: async (req) =>
          handler(
            req.tenantId,
            req.params as { id?: string },
            (req.body ?? {}) as Record<string, unknown>,
            req.query as Record<string, unknown>,
          ),
      });

    route(
      'POST',
      '/v1/agents',
      'managedCreateAgent',
      'Create a config-defined agent (deployed as an agent folder)',
      (t, _p, b) => svc.createAgent(t, b),
    );
    route(
      'GET',
      '/v1/agents',
      'managedListAgents',
      'List agents (config-defined and folder-deployed)',
      (t, _p, _b, q) => svc.listAgents(t, q),
    );
    route(
      'GET',
      '/v1/agents/:id',
      'managedGetAgent',
      'Get an agent (`?version=` for an older one)',
      (t, p, _b, q) => svc.getAgent(t, p.id!, q.version === undefined ? undefined : Number(q.version)),
    );
    route(
      'POST',
      '/v1/agents/:id',
      'managedUpdateAgent',
      'Update a config-defined agent (a new version)',
      (t, p, b) => svc.updateAgent(t, p.id!, b),
    );
    route('POST', '/v1/agents/:id/archive', 'managedArchiveAgent', 'Archive an agent', (t, p) =>
      svc.archiveAgent(t, p.id!),
    );
    route(
      'GET',
      '/v1/agents/:id/versions',
      'managedListAgentVersions',
      'List the versions of an agent',
      (t, p, _b, q) => svc.listAgentVersions(t, p.id!, q),
    );

    route(
      'POST',
      '/v1/environments',
      'managedCreateEnvironment',
      'Create an environment (limits and networking stored, not yet enforced)',
      (t, _p, b) => svc.createEnvironment(t, b),
    );
    route('GET', '/v1/environments', 'managedListEnvironments', 'List environments', (t, _p, _b, q) =>
      svc.listEnvironments(t, q),
    );
    route('GET', '/v1/environments/:id', 'managedGetEnvironment', 'Get an environment', (t, p) =>
      svc.getEnvironment(t, p.id!),
    );
    route('POST', '/v1/environments/:id', 'managedUpdateEnvironment', 'Update an environment', (t, p, b) =>
      svc.updateEnvironment(t, p.id!, b),
    );
    route(
      'POST',
      '/v1/environments/:id/archive',
      'managedArchiveEnvironment',
      'Archive an environment',
      (t, p) => svc.archiveEnvironment(t, p.id!),
    );
    route('DELETE', '/v1/environments/:id', 'managedDeleteEnvironment', 'Delete an environment', (t, p) =>
      svc.deleteEnvironment(t, p.id!),
    );

    route(
      'POST',
      '/v1/sessions',
      'managedCreateSession',
      'Create a session (an Ash session, also on /api)',
      (t, _p, b) => svc.createSession(t, b),
    );
    route(
      'GET',
      '/v1/sessions',
      'managedListSessions',
      'List sessions (also those created through /api)',
      (t, _p, _b, q) => svc.listSessions(t, q),
    );
    route('GET', '/v1/sessions/:id', 'managedGetSession', 'Get a session', (t, p) =>
      svc.getSession(t, p.id!),
    );
    route(
      'POST',
      '/v1/sessions/:id',
      'managedUpdateSession',
      'Update a session’s title and metadata',
      (t, p, b) => svc.updateSession(t, p.id!, b),
    );
    route(
      'POST',
      '/v1/sessions/:id/archive',
      'managedArchiveSession',
      'Archive a session (it ends)',
      (t, p) => svc.archiveSession(t, p.id!),
    );
    route(
      'DELETE',
      '/v1/sessions/:id',
      'managedDeleteSession',
      'Delete a session from /v1 (it ends; /api keeps its history)',
      (t, p) => svc.deleteSession(t, p.id!),
    );
    route(
      'GET',
      '/v1/sessions/:id/events',
      'managedListEvents',
      'List session events, oldest first',
      (t, p, _b, q) => svc.listEvents(t, p.id!, q),
    );

    app.post(
      '/v1/sessions/:id/events',
      {
        bodyLimit: opts.eventsBodyLimit,
        schema: {
          operationId: 'managedSendEvents',
          tags,
          summary: 'Send events (user.message, user.interrupt); returns at once',
          params: Id,
          body: AnyBody,
          response: ok,
        },
      },
      async (req) => svc.sendEvents(req.tenantId, req.params.id, req.body as Record<string, unknown>),
    );

    app.get(
      '/v1/sessions/:id/events/stream',
      {
        schema: {
          operationId: 'managedStreamEvents',
          tags,
          summary:
            'The session’s events as Server-Sent Events (`event:` = type, `ping` keep-alives), across turns',
          params: Id,
          querystring: AnyQuery,
          response: {
            200: {
              description: 'Server-Sent Events',
              content: { 'text/event-stream': { schema: Type.String() } },
            },
          },
        },
      },
      async (req, reply) => {
        const abort = new AbortController();
        const events = await svc.follow(req.tenantId, req.params.id, abort.signal);
        open.add(abort);
        try {
          await streamManaged(reply, events, abort, opts.heartbeatMs);
        } finally {
          open.delete(abort);
        }
      },
    );
  };
}

/**
 * Writes Managed Agents events as SSE: `event: <type>` + one-line JSON `data:`, `event: ping`
 * when nothing was sent for `heartbeatMs`; no terminator. Headers go out at once (the SDKs'
 * timeout covers only the time to headers). Ends when the client goes away.
 */
async function streamManaged(
  reply: import('fastify').FastifyReply,
  events: AsyncGenerator<{ type: string }>,
  abort: AbortController,
  heartbeatMs: number,
): Promise<void> {
  reply.hijack();
  const raw = reply.raw;
  const headers: Record<string, string> = { ...SSE_HEADERS };
  for (const [k, v] of Object.entries(reply.getHeaders())) if (v !== undefined) headers[k] = String(v);
  raw.writeHead(200, headers);
  raw.flushHeaders();
  let last = Date.now();
  const write = (frame: string): Promise<void> =>
    new Promise((resolve) => {
      last = Date.now();
      if (raw.destroyed || raw.write(frame)) resolve();
      else {
        raw.once('drain', resolve);
        raw.once('close', resolve);
      }
    });
  const stop = () => {
    abort.abort();
  };
  raw.on('close', stop);
  const ping = setInterval(
    () => {
      if (Date.now() - last >= heartbeatMs && !raw.destroyed) void write('event: ping\ndata: {}\n\n');
    },
    Math.max(50, Math.min(heartbeatMs, 1000)),
  );
  try {
    for await (const e of events) {
      if (abort.signal.aborted) break;
      await write(`event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`);
    }
  } catch (err) {
    if (!raw.destroyed) {
      const body = { type: 'error', error: { type: 'api_error', message: 'the event stream failed' } };
      raw.write(`event: error\ndata: ${JSON.stringify(body)}\n\n`);
    }
    reply.log.error({ err }, 'managed event stream failed');
  } finally {
    clearInterval(ping);
    raw.off('close', stop);
    if (!raw.destroyed) raw.end();
  }
}
