import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import type { Repos } from '../db/repos/index.js';
import { AppError } from '../errors.js';
import { ownedElsewhere } from '../services/sessions/session-ownership.js';

/** Set on a forwarded request (to the forwarding server's id): a request is forwarded at most once. */
export const FORWARDED_BY_HEADER = 'x-ash-forwarded-by';
/** Set on the response to a forwarded request: the id of the server that answered it. */
export const FORWARDED_TO_HEADER = 'x-ash-forwarded-to';

/**
 * Reads every server answers from the database itself (session, history): never forwarded, so
 * they work even while the owner is unreachable.
 */
const DATABASE_READS = new Set([
  'GET /api/sessions/:id',
  'GET /api/sessions/:id/messages',
  'GET /api/sessions/:id/events',
  'GET /v1/sessions/:id',
]);

/** Changes the database alone can make: forwarded, but done here when the owner cannot be reached. */
const LOCAL_FALLBACK = new Set(['DELETE /api/sessions/:id']);

/** Request headers that belong to one connection, not to the request (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
]);

export interface SessionForwardingOptions {
  repos: Repos;
  /** This server's id (the session owner id it writes). */
  serverId: string;
  /** ASH_OWNER_LEASE_MS: an owner whose lease is older is dead, and the session is taken over instead. */
  leaseMs: number;
  log: Logger;
  /**
   * How long to wait for the owner's response headers, ms; default none: the owner's own limits
   * apply (an `exec` or a large upload can take minutes before it answers). An owner that cannot
   * be reached at all fails at connect time (undici's 10 s connect timeout).
   */
  headersTimeoutMs?: number;
  dispatcher?: Dispatcher;
}

/**
 * Any server answers for any session: a request for a session that another live server owns
 * (its sandbox runs there) is forwarded to that server — body streamed through, response (SSE
 * included) streamed back — instead of answering 409 `session_owned_elsewhere`. Runs after
 * authentication (the key is checked here and again by the owner) and before any body is read.
 * Routes: `/api/sessions/:id…` and `/v1/sessions/:id…`. A request is forwarded once at most.
 */
export function registerSessionForwarding(app: FastifyInstance, opts: SessionForwardingOptions): void {
  app.addHook('onRequest', async (req, reply) => {
    const route = req.routeOptions.url;
    if (!route || !(route.startsWith('/api/sessions/:id') || route.startsWith('/v1/sessions/:id'))) return;
    if (req.headers[FORWARDED_BY_HEADER] !== undefined || !req.tenantId) return;
    const key = `${req.method} ${route}`;
    if (DATABASE_READS.has(key)) return;
    const id = (req.params as { id?: string }).id;
    if (!id) return;
    const s = await opts.repos.sessions.get(req.tenantId, id);
    if (!s?.ownerId || !ownedElsewhere(s, opts.serverId, opts.leaseMs)) return;
    const owner = await opts.repos.servers.get(s.ownerId);
    // An owner that never said where it is (an older server): the services answer 409.
    if (!owner) return;
    try {
      return await forward(req, reply, owner.url, s.ownerId, opts);
    } catch (err) {
      // The owner is gone (its lease not yet run out): a change the database alone makes is
      // done here; its sandbox stops when the owner comes back or its lease is taken over.
      if (err instanceof AppError && err.code === 'owner_unreachable' && LOCAL_FALLBACK.has(key)) return;
      throw err;
    }
  });
}

async function forward(
  req: FastifyRequest,
  reply: FastifyReply,
  baseUrl: string,
  ownerId: string,
  opts: SessionForwardingOptions,
): Promise<FastifyReply> {
  const headers: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(req.headers as IncomingHttpHeaders))
    if (v !== undefined && !HOP_BY_HOP.has(k)) headers[k] = v;
  headers[FORWARDED_BY_HEADER] = opts.serverId;
  const xff = req.headers['x-forwarded-for'];
  headers['x-forwarded-for'] = xff ? `${xff}, ${req.ip}` : req.ip;
  const hasBody =
    req.method !== 'GET' &&
    req.method !== 'HEAD' &&
    (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined);
  // The client going away ends the forwarded request too (an SSE stream included).
  const abort = new AbortController();
  reply.raw.once('close', () => abort.abort());
  // Loaded at the first forward, not at start (most servers never forward).
  const { request } = await import('undici');
  let res: Dispatcher.ResponseData;
  try {
    res = await request(new URL(req.url, baseUrl), {
      method: req.method as Dispatcher.HttpMethod,
      headers,
      body: hasBody ? req.raw : null,
      signal: abort.signal,
      headersTimeout: opts.headersTimeoutMs ?? 0,
      bodyTimeout: 0,
      ...(opts.dispatcher ? { dispatcher: opts.dispatcher } : {}),
    });
  } catch (err) {
    opts.log.warn(
      { err: err instanceof Error ? err.message : String(err), url: baseUrl },
      'could not forward a request to the session owner',
    );
    throw new AppError(
      'owner_unreachable',
      'the server running this session did not answer; retry shortly (once its lease runs out, any server takes the session over)',
      { headers: { 'Retry-After': String(Math.max(1, Math.ceil(opts.leaseMs / 1000))) } },
    );
  }
  reply.code(res.statusCode);
  reply.header(FORWARDED_TO_HEADER, ownerId);
  for (const [k, v] of Object.entries(res.headers))
    if (v !== undefined && !HOP_BY_HOP.has(k) && k !== 'content-length') reply.header(k, v);
  return reply.send(res.body);
}
