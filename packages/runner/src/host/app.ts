import { timingSafeEqual } from 'node:crypto';
import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  LogController,
} from 'fastify';
import {
  problem,
  RUNNER_API_PREFIX,
  RunnerAbortBodySchema,
  RunnerAttachBodySchema,
  RunnerExecBodySchema,
  RunnerInterruptBodySchema,
  RunnerSpareClaimBodySchema,
  RunnerSparesBodySchema,
  RunnerStartBodySchema,
  RunnerToolAnswerBodySchema,
  RunnerTurnBodySchema,
  type ErrorCode,
  type FieldError,
  type RunnerHealth,
} from '@ash-ai/shared';
import type { Logger } from 'pino';
import type { RunnerMetrics } from './metrics.js';
import { HostError, toHostError } from './problems.js';
import type { Registration } from './registration.js';
import type { RunnerHost } from './runner-host.js';

const PROBLEM_TYPE = 'application/problem+json; charset=utf-8';
/** Session ids the sandbox package accepts. */
const SESSION_ID = /^[a-zA-Z0-9-]{1,48}$/;

/** A TypeBox schema compiled once, checking a request body. */
function validator<T extends TSchema>(schema: T): TypeCheck<T> {
  return TypeCompiler.Compile(schema);
}
const checks = {
  start: validator(RunnerStartBodySchema),
  turn: validator(RunnerTurnBodySchema),
  toolAnswer: validator(RunnerToolAnswerBodySchema),
  interrupt: validator(RunnerInterruptBodySchema),
  abort: validator(RunnerAbortBodySchema),
  attach: validator(RunnerAttachBodySchema),
  exec: validator(RunnerExecBodySchema),
  spares: validator(RunnerSparesBodySchema),
  spareClaim: validator(RunnerSpareClaimBodySchema),
};

/** The body, checked against its schema. @throws HostError `validation_failed` naming the fields. */
function body<T extends TSchema>(check: TypeCheck<T>, value: unknown): import('@sinclair/typebox').Static<T> {
  if (check.Check(value)) return value;
  const errors: FieldError[] = [];
  for (const e of check.Errors(value)) {
    if (errors.length >= 20) break;
    errors.push({ path: `/body${e.path}`, message: e.message });
  }
  throw new HostError('validation_failed', 'the request body is invalid', { errors });
}

function sessionId(params: unknown): string {
  const id = (params as { id?: string }).id ?? '';
  if (!SESSION_ID.test(id))
    throw new HostError('validation_failed', 'invalid session id', {
      errors: [{ path: '/params/id', message: 'letters, digits and -, 1..48 characters' }],
    });
  return id;
}

function sendProblem(reply: FastifyReply, err: HostError): FastifyReply {
  const path = reply.request.url.split('?')[0] ?? '';
  const body = problem(err.code, err.message, {
    ...(err.extra.errors ? { errors: err.extra.errors } : {}),
    ...(err.extra.status ? { status: err.extra.status } : {}),
    instance: path.slice(0, 1024),
  });
  if (err.extra.retryAfterSeconds !== undefined)
    reply.header('retry-after', String(Math.max(1, Math.ceil(err.extra.retryAfterSeconds))));
  return reply.code(body.status).type(PROBLEM_TYPE).send(body);
}

/** Maps a framework error (bad JSON, body too large, wrong content type) to its code. */
function frameworkCode(err: FastifyError): ErrorCode | undefined {
  switch (err.statusCode) {
    case 400:
      return err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || /JSON/i.test(err.message)
        ? 'invalid_json'
        : 'invalid_request';
    case 413:
      return 'payload_too_large';
    case 415:
      return 'unsupported_media_type';
    default:
      return undefined;
  }
}

/** Constant-time comparison of the request's bearer token with the secret. */
function bearerMatches(header: string | undefined, secret: string): boolean {
  if (!header?.startsWith('Bearer ')) return false;
  const given = Buffer.from(header.slice(7));
  const want = Buffer.from(secret);
  return given.length === want.length && timingSafeEqual(given, want);
}

/**
 * The runner's HTTP API for coordinators (the routes of `packages/shared/src/runner-link.ts`
 * under `RUNNER_API_PREFIX`), thin over {@link RunnerHost}; `/health` and `/metrics` need no
 * authentication, everything else the shared secret as a Bearer token. Errors are problem
 * details with a stable `code`.
 */
export function buildRunnerApp(deps: {
  host: RunnerHost;
  registration: Registration | undefined;
  metrics: RunnerMetrics;
  secret: string;
  log: Logger;
  startedAt: number;
  /** PEM certificate and key: the API serves https only (no plain http next to it). */
  tls?: { cert: Buffer; key: Buffer };
}): FastifyInstance {
  const { host, metrics } = deps;
  const options = {
    loggerInstance: deps.log.child({ component: 'api' }) as unknown as FastifyBaseLogger,
    // No per-request lines, through logController (the top-level option is deprecated and warns).
    logController: new LogController({ disableRequestLogging: true }),
    // A turn's prompt may hold base64 images (the bridge accepts lines up to 64 MiB).
    bodyLimit: 64 * 1024 * 1024,
    onProtoPoisoning: 'error' as const,
    onConstructorPoisoning: 'error' as const,
    routerOptions: { maxParamLength: 1024 },
  };
  // An https instance has the same routes and hooks; only its server type differs.
  const app = deps.tls
    ? (Fastify({ ...options, https: deps.tls }) as unknown as FastifyInstance)
    : Fastify(options);

  app.addHook('onRequest', async (req, reply) => {
    const path = req.url.split('?')[0];
    if (path === '/health' || path === '/metrics') return;
    if (!bearerMatches(req.headers.authorization, deps.secret))
      return sendProblem(
        reply,
        new HostError('unauthorized', 'a Bearer token with the internal secret is required'),
      );
  });

  app.setErrorHandler((err: FastifyError, req, reply) => {
    const fw = !(err instanceof HostError) && err.statusCode ? frameworkCode(err) : undefined;
    const e = fw ? new HostError(fw, err.message) : toHostError(err);
    if (e.code === 'internal_error')
      req.log.error(
        { err: err instanceof Error ? err.message : String(err), url: req.url },
        'request failed',
      );
    return sendProblem(reply, e);
  });
  app.setNotFoundHandler((req, reply) =>
    sendProblem(reply, new HostError('route_not_found', `no route ${req.method} ${req.url.split('?')[0]}`)),
  );

  app.get('/health', async (): Promise<RunnerHealth> => {
    const r = host.report();
    return {
      status: r.draining ? 'draining' : 'ok',
      runnerId: r.runnerId,
      version: r.version,
      labels: r.labels,
      capacity: {
        max: r.maxSandboxes,
        active: r.live,
        available: Math.max(0, r.maxSandboxes - r.live - r.reserved),
      },
      warm: (r.spares ?? []).reduce((n, s) => n + s.ready, 0),
      coordinators: deps.registration?.health() ?? [],
      uptime: (Date.now() - deps.startedAt) / 1000,
    };
  });

  app.get('/metrics', async (_req, reply) => {
    host.report(); // refreshes the gauges
    reply.type(metrics.registry.contentType);
    return metrics.registry.metrics();
  });

  const P = RUNNER_API_PREFIX;
  app.get(`${P}/state`, async () => host.report());

  app.post(`${P}/reservations`, async (_req, reply) => reply.code(201).send(await host.reserve()));
  app.delete(`${P}/reservations/:reservationId`, async (req, reply) => {
    host.releaseReservation((req.params as { reservationId: string }).reservationId);
    return reply.code(204).send();
  });

  app.post(`${P}/spares`, async (req, reply) => {
    host.keepSpares(body(checks.spares, req.body));
    return reply.code(202).send({ ok: true });
  });
  app.delete(`${P}/spares`, async (req, reply) => {
    const q = req.query as { tenantId?: string; agent?: string };
    if (!q.tenantId || !q.agent)
      throw new HostError('validation_failed', 'tenantId and agent are required', {
        errors: [{ path: '/query', message: 'tenantId and agent are required' }],
      });
    await host.dropSpares(q.tenantId, q.agent);
    return reply.code(204).send();
  });
  app.post(`${P}/spares/claim`, async (req) => host.claimSpare(body(checks.spareClaim, req.body)));

  app.post(`${P}/sessions/:id/sandbox`, async (req) =>
    host.startSession(sessionId(req.params), body(checks.start, req.body)),
  );

  app.post(`${P}/sessions/:id/turns`, async (req, reply) => {
    const id = sessionId(req.params);
    const turn = body(checks.turn, req.body);
    // Errors before the stream starts are answered by the error handler; after, the stream ends.
    await host.runTurn(id, turn, reply.raw, () => reply.hijack());
    return reply;
  });

  app.post(`${P}/sessions/:id/turns/:turnId/attach`, async (req, reply) => {
    const id = sessionId(req.params);
    const turnId = (req.params as { turnId: string }).turnId;
    const b = body(checks.attach, req.body);
    host.attachTurn(id, turnId, b, reply.raw, () => reply.hijack());
    return reply;
  });

  app.post(`${P}/sessions/:id/tool-answers`, async (req, reply) => {
    const b = body(checks.toolAnswer, req.body);
    host.answerToolRequest(sessionId(req.params), b.requestId, b.answer);
    return reply.code(204).send();
  });
  app.post(`${P}/sessions/:id/interrupt`, async (req, reply) => {
    host.interrupt(sessionId(req.params), body(checks.interrupt, req.body).turnId);
    return reply.code(204).send();
  });
  app.post(`${P}/sessions/:id/abort`, async (req, reply) => {
    const b = body(checks.abort, req.body);
    await host.abort(sessionId(req.params), b.turnId, b.error, b.outcome);
    return reply.code(204).send();
  });
  app.post(`${P}/sessions/:id/exec`, async (req) =>
    host.exec(sessionId(req.params), body(checks.exec, req.body)),
  );
  app.get(`${P}/sessions/:id/logs`, async (req) => {
    const after = Number((req.query as { after?: string }).after ?? -1);
    if (!Number.isInteger(after) || after < -1)
      throw new HostError('validation_failed', 'after must be an integer >= -1', {
        errors: [{ path: '/query/after', message: 'must be an integer >= -1' }],
      });
    return { logs: await host.logs(sessionId(req.params), after) };
  });
  app.post(`${P}/sessions/:id/pin`, async (req, reply) => {
    host.pin(sessionId(req.params));
    return reply.code(204).send();
  });
  app.post(`${P}/sessions/:id/unpin`, async (req, reply) => {
    host.unpin(sessionId(req.params));
    return reply.code(204).send();
  });
  app.post(`${P}/sessions/:id/checkpoint`, async (req, reply) => {
    await host.checkpointRoute(sessionId(req.params));
    return reply.code(204).send();
  });
  app.delete(`${P}/sessions/:id`, async (req, reply) => {
    const q = (req.query as { checkpoint?: string }).checkpoint;
    if (q !== undefined && q !== '0' && q !== '1')
      throw new HostError('validation_failed', 'checkpoint must be 0 or 1', {
        errors: [{ path: '/query/checkpoint', message: 'must be 0 or 1' }],
      });
    await host.stopSession(sessionId(req.params), q !== '0');
    return reply.code(204).send();
  });
  app.post(`${P}/sweep`, async () => ({ stopped: await host.sweep() }));
  app.post(`${P}/drain`, async (_req, reply) => {
    void host.drain();
    return reply.code(202).send({ draining: true });
  });

  return app;
}
