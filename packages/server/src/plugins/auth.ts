import { createHash, timingSafeEqual } from 'node:crypto';
import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../errors.js';
import { isManagedAgentsPath } from './error-handler.js';
import { parseAuthorization, type ApiKeyService } from '../services/auth/api-key-service.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The id of the API key that authenticated the request (`env` for ASH_API_KEY; '' on public and internal routes). */
    apiKeyId: string;
  }
  interface FastifyContextConfig {
    /** Route is guarded by the internal secret instead of an API key (`/api/internal/*`). */
    internal?: boolean;
    /** Not rate limited (the model gateway: every sandbox of a runner calls it from one address). */
    rateLimitExempt?: boolean;
  }
}

/** Options of {@link registerSecurity}. */
export interface SecurityOptions {
  keys: ApiKeyService;
  /** `ASH_INTERNAL_SECRET`, and whether internal routes are open without it (loopback-only dev servers). */
  internal: { secret: string | undefined; open: boolean };
  /** Requests per key (or per IP without a key) per window; `max` 0 = off. */
  rateLimit: { max: number; windowMs: number };
  /** Exact origins CORS allows; `*` = any; empty = none (default-deny). */
  allowedOrigins: string[];
}

const REALM = 'Bearer realm="ash"';

/**
 * The upstream Ash's 401 texts, sent in the body's `error` field (upstream clients show it);
 * `detail` keeps our fuller explanation.
 */
const UPSTREAM_401 = {
  missing: 'Missing Authorization header',
  malformed: 'Invalid Authorization header format',
  invalid: 'Invalid API key',
} as const;

/** 401 with a `WWW-Authenticate` challenge (RFC 6750 §3) saying what is wrong, never echoing the token. */
function unauthorized(
  detail: string,
  upstream: keyof typeof UPSTREAM_401,
  error?: 'invalid_request' | 'invalid_token',
): AppError {
  return new AppError('unauthorized', detail, {
    headers: { 'WWW-Authenticate': error ? `${REALM}, error="${error}"` : REALM },
    error: UPSTREAM_401[upstream],
  });
}

/** Constant-time string comparison (compares SHA-256 digests, so lengths need not match). */
function safeEqual(a: string, b: string): boolean {
  const da = createHash('sha256').update(a, 'utf8').digest();
  const db = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(da, db);
}

/**
 * The `Authorization` header to authenticate with. On the Managed Agents API (`/v1/…`) an
 * `x-api-key: <key>` header (what the official Python SDK sends) stands for `Bearer <key>` when
 * there is no `Authorization` header.
 */
function authorizationOf(req: FastifyRequest): string | undefined {
  const header = req.headers.authorization;
  if (header !== undefined || !isManagedAgentsPath(req.url)) return header;
  const key = req.headers['x-api-key'];
  return typeof key === 'string' && key !== '' ? `Bearer ${key}` : undefined;
}

/** True for routes that need no key: marked `public`, and the docs UI under `/docs`. */
function isPublic(req: FastifyRequest): boolean {
  if (req.routeOptions.config?.public) return true;
  const url = req.routeOptions.url;
  return url === '/docs' || (url?.startsWith('/docs/') ?? false);
}

/**
 * Security for every request, in this order (all `onRequest`, app-wide):
 * 1. standard security headers (@fastify/helmet; a strict CSP for the API, swagger-ui's own for `/docs`);
 * 2. CORS (@fastify/cors): default-deny; only origins in the allowlist get CORS headers;
 * 3. rate limiting (@fastify/rate-limit) per API key — keyed by the HMAC of the presented
 *    token, so it runs before (and also counts) failed authentications; per client IP without
 *    a token; `/health` is exempt;
 * 4. authentication: `Authorization: Bearer <API key>` on every route except `/health`,
 *    `/openapi.json` and `/docs*`; `/api/internal/*` routes need the internal secret instead.
 *    Failed authentications are counted per client address; past the limit, requests from it
 *    whose key is missing or invalid get 429 — a valid key is always let through.
 * Sets `req.tenantId` and `req.apiKeyId`.
 */
export async function registerSecurity(app: FastifyInstance, opts: SecurityOptions): Promise<void> {
  app.decorateRequest('apiKeyId', '');

  await app.register(helmet, {
    global: true,
    contentSecurityPolicy: {
      useDefaults: false,
      directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"], baseUri: ["'none'"] },
    },
  });

  const origins = new Set(opts.allowedOrigins);
  await app.register(cors, {
    origin: (origin, cb) => cb(null, origin !== undefined && (origins.has('*') || origins.has(origin))),
    methods: ['GET', 'HEAD', 'POST', 'PATCH', 'PUT', 'DELETE'],
    allowedHeaders: [
      'authorization',
      'content-type',
      'last-event-id',
      'accept',
      'x-api-key',
      'anthropic-version',
      'anthropic-beta',
    ],
    exposedHeaders: [
      'retry-after',
      'x-ratelimit-limit',
      'x-ratelimit-remaining',
      'x-ratelimit-reset',
      'x-ash-turn',
      'request-id',
    ],
    credentials: false,
    maxAge: 600,
  });

  let limiter: ((req: FastifyRequest, reply: FastifyReply) => Promise<void>) | undefined;
  if (opts.rateLimit.max > 0) {
    await app.register(rateLimit, { global: false });
    limiter = app.rateLimit({
      max: opts.rateLimit.max,
      timeWindow: opts.rateLimit.windowMs,
      keyGenerator: (req) => {
        const parsed = parseAuthorization(authorizationOf(req));
        return parsed.ok ? `key:${opts.keys.hash(parsed.token).slice(0, 32)}` : `ip:${req.ip}`;
      },
      errorResponseBuilder: (_req, ctx) =>
        new AppError(
          'rate_limited',
          `too many requests for this API key: at most ${ctx.max} per ${Math.round(opts.rateLimit.windowMs / 1000)} s; retry after ${ctx.after}`,
        ),
    }) as unknown as (req: FastifyRequest, reply: FastifyReply) => Promise<void>;
  }

  // Failed authentications are also counted per client address: otherwise every made-up key
  // would get a fresh rate-limit bucket of its own.
  const failures =
    opts.rateLimit.max > 0
      ? new FailureCounter(Math.max(5, Math.ceil(opts.rateLimit.max / 50)), opts.rateLimit.windowMs)
      : undefined;
  // The failure block applies only to requests that fail to authenticate: a valid key (or the
  // internal secret) is never refused by it, so whoever shares an address with an attacker (NAT,
  // proxy) keeps working. The address is `req.ip`: the socket peer, or the client named by
  // `X-Forwarded-For` only when the operator trusts the proxy (ASH_TRUST_PROXY).
  const refuseIfBlocked = (req: FastifyRequest): void => {
    const blockedForMs = failures?.blockedFor(req.ip);
    if (!blockedForMs) return;
    const seconds = Math.ceil(blockedForMs / 1000);
    throw new AppError(
      'rate_limited',
      `too many failed authentications from this address; retry after ${seconds} s`,
      { headers: { 'Retry-After': String(seconds) } },
    );
  };
  app.addHook('onRequest', async (req, reply) => {
    if (limiter && req.routeOptions.url !== '/health' && !req.routeOptions.config?.rateLimitExempt)
      await limiter(req, reply);
    if (isPublic(req)) return;
    if (req.routeOptions.config?.internal) {
      try {
        return checkInternal(req, opts.internal);
      } catch (err) {
        if (err instanceof AppError && err.code === 'unauthorized') refuseIfBlocked(req);
        throw err;
      }
    }
    const parsed = parseAuthorization(authorizationOf(req));
    if (!parsed.ok) {
      refuseIfBlocked(req);
      throw parsed.reason === 'missing'
        ? unauthorized('this route needs an API key: send `Authorization: Bearer <key>`', 'missing')
        : unauthorized(
            'malformed Authorization header: expected `Bearer <key>` (one space, one token)',
            'malformed',
            'invalid_request',
          );
    }
    const principal = await opts.keys.authenticate(parsed.token);
    if (!principal) {
      refuseIfBlocked(req);
      failures?.fail(req.ip);
      throw unauthorized('the API key is unknown or has been revoked', 'invalid', 'invalid_token');
    }
    req.tenantId = principal.tenantId;
    req.apiKeyId = principal.keyId;
  });
}

/** Failed authentications per client address in a fixed window (in memory, bounded). */
class FailureCounter {
  private readonly byIp = new Map<string, { count: number; resetAt: number }>();

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
  ) {}

  /** Milliseconds until `ip` may try again, or 0. */
  blockedFor(ip: string): number {
    const e = this.byIp.get(ip);
    if (!e) return 0;
    const now = Date.now();
    if (now >= e.resetAt) {
      this.byIp.delete(ip);
      return 0;
    }
    return e.count >= this.max ? e.resetAt - now : 0;
  }

  fail(ip: string): void {
    const now = Date.now();
    const e = this.byIp.get(ip);
    if (e && now < e.resetAt) e.count++;
    else {
      if (this.byIp.size >= 100_000) this.byIp.delete(this.byIp.keys().next().value!);
      this.byIp.set(ip, { count: 1, resetAt: now + this.windowMs });
    }
  }
}

/**
 * The internal routes' guard: `Authorization: Bearer <ASH_INTERNAL_SECRET>`, compared in constant
 * time. Without a configured secret they are refused (403), unless the operator opened them on a
 * loopback-only server (`ASH_INTERNAL_OPEN=1`, checked when the config loads).
 */
function checkInternal(req: FastifyRequest, internal: SecurityOptions['internal']): void {
  if (!internal.secret) {
    if (internal.open) return;
    throw new AppError(
      'forbidden',
      'internal routes are switched off on this server: set ASH_INTERNAL_SECRET (or ASH_INTERNAL_OPEN=1 on a loopback-only server)',
    );
  }
  const parsed = parseAuthorization(req.headers.authorization);
  if (!parsed.ok) {
    throw parsed.reason === 'missing'
      ? unauthorized(
          'internal routes need the internal secret: send `Authorization: Bearer <secret>`',
          'missing',
        )
      : unauthorized(
          'malformed Authorization header: expected `Bearer <secret>`',
          'malformed',
          'invalid_request',
        );
  }
  if (!safeEqual(parsed.token, internal.secret))
    throw unauthorized('the internal secret is wrong', 'invalid', 'invalid_token');
}
