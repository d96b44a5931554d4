import type { Readable } from 'node:stream';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import {
  AgentFilesBodySchema,
  CheckoutBodySchema,
  CreateTenantApiKeyBodySchema,
  CreatedApiKeyResponseSchema,
  DeregisterRunnerBodySchema,
  GATEWAY_PATH,
  GENERATION_HEADER,
  OkSchema,
  RegisterRunnerBodySchema,
  RUNNER_HEADER,
  RunnerEgressReportBodySchema,
  RunnerEvictedBodySchema,
  RunnerHeartbeatAnswerSchema,
  RunnerHeartbeatBodySchema,
  RunnerId,
  RunnerListResponseSchema,
  SessionIdParamsSchema,
} from '@ash-ai/shared';
import { AppError } from '../errors.js';
import type { ApiKeyService } from '../services/auth/api-key-service.js';
import type { ModelGateway } from '../services/runners/model-gateway.js';
import type { RunnerLinkService } from '../services/runners/runner-link.js';
import type { RunnerService } from '../services/runners/runner-registry.js';
import { errorResponses } from './common.js';

const BODY_LIMIT = 16 * 1024;
/** A heartbeat carries the runner's report (one entry per session it hosts). */
const HEARTBEAT_BODY_LIMIT = 4 * 1024 * 1024;
/** A checkout request carries the runner's manifest (one entry per file). */
const MANIFEST_BODY_LIMIT = 64 * 1024 * 1024;
const RunnerParams = Type.Object({ runnerId: RunnerId });
/** Internal routes are guarded by the internal secret (plugins/auth.ts), not by API keys. */
const config = { internal: true } as const;
const security = [{ internalSecret: [] }];

/**
 * `/api/internal/*`: tenant provisioning and the runner registry. Every one of them needs
 * `Authorization: Bearer <ASH_INTERNAL_SECRET>`.
 */
export function internalRoutes(keys: ApiKeyService, runners: RunnerService): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.post(
      '/api/internal/api-keys',
      {
        config,
        bodyLimit: BODY_LIMIT,
        schema: {
          tags: ['internal'],
          security,
          summary: 'Create an API key for any tenant (this is how tenants are provisioned)',
          body: CreateTenantApiKeyBodySchema,
          response: { 201: CreatedApiKeyResponseSchema, ...errorResponses(400, 401, 403, 413, 415, 429) },
        },
      },
      async (req, reply) => reply.code(201).send(await keys.create(req.body.tenantId, req.body.label)),
    );
    app.post(
      '/api/internal/runners/register',
      {
        config,
        bodyLimit: BODY_LIMIT,
        schema: {
          tags: ['internal'],
          security,
          summary: 'A runner registers (or re-registers)',
          body: RegisterRunnerBodySchema,
          response: { 200: OkSchema, ...errorResponses(400, 401, 403, 413, 415, 429) },
        },
      },
      async (req) => {
        await runners.register(req.body);
        return { ok: true as const };
      },
    );
    app.post(
      '/api/internal/runners/heartbeat',
      {
        config,
        bodyLimit: HEARTBEAT_BODY_LIMIT,
        schema: {
          tags: ['internal'],
          security,
          summary: 'A runner reports it is alive; 404 means: register again',
          body: RunnerHeartbeatBodySchema,
          response: {
            200: RunnerHeartbeatAnswerSchema,
            ...errorResponses(400, 401, 403, 404, 413, 415, 429),
          },
        },
      },
      async (req) => runners.heartbeat(req.body),
    );
    app.post(
      '/api/internal/runners/:runnerId/evicted',
      {
        config,
        bodyLimit: BODY_LIMIT,
        schema: {
          tags: ['internal'],
          security,
          summary: 'A runner stopped a session on its own (idle, capacity, drain) after checkpointing it',
          params: RunnerParams,
          body: RunnerEvictedBodySchema,
          response: { 200: OkSchema, ...errorResponses(400, 401, 403, 409, 413, 415, 429) },
        },
      },
      async (req) => {
        await runners.evicted(req.params.runnerId, req.body);
        return { ok: true as const };
      },
    );
    app.post(
      '/api/internal/runners/:runnerId/drain',
      {
        config,
        bodyLimit: BODY_LIMIT,
        schema: {
          tags: ['internal'],
          security,
          summary: 'Drain a runner: no new sessions; it checkpoints and releases its sessions, then exits',
          params: RunnerParams,
          response: { 202: OkSchema, ...errorResponses(401, 403, 404, 429) },
        },
      },
      async (req, reply) => {
        await runners.drain(req.params.runnerId);
        return reply.code(202).send({ ok: true as const });
      },
    );
    app.post(
      '/api/internal/runners/deregister',
      {
        config,
        bodyLimit: BODY_LIMIT,
        schema: {
          tags: ['internal'],
          security,
          summary: 'A runner leaves; its running sessions become paused',
          body: DeregisterRunnerBodySchema,
          response: { 200: OkSchema, ...errorResponses(400, 401, 403, 404, 413, 415, 429) },
        },
      },
      async (req) => {
        await runners.deregister(req.body.runnerId);
        return { ok: true as const };
      },
    );
    app.get(
      '/api/internal/runners',
      {
        config,
        schema: {
          tags: ['internal'],
          security,
          summary: 'List registered runners',
          response: { 200: RunnerListResponseSchema, ...errorResponses(401, 403, 429) },
        },
      },
      async () => runners.list(),
    );
  };
}

/** The lease generation a runner's write carries. @throws AppError 400 when missing or malformed. */
function generationOf(headers: Record<string, unknown>): number {
  const raw = headers[GENERATION_HEADER];
  const n = typeof raw === 'string' && /^[0-9]{1,15}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(n))
    throw new AppError(
      'invalid_request',
      `the ${GENERATION_HEADER} header (the session's lease generation) is required`,
    );
  return n;
}

function runnerOf(headers: Record<string, unknown>): string | undefined {
  const v = headers[RUNNER_HEADER];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

const GenerationHeaders = Type.Object({ [GENERATION_HEADER]: Type.String({ pattern: '^[0-9]{1,15}$' }) });

/**
 * The runner link's coordinator side (see packages/shared/src/runner-link.ts): workspace
 * checkout and checkpoints, egress reports (internal secret; every write fenced by the lease
 * generation), and the model gateway (`GATEWAY_PATH`: authenticated by the session's gateway
 * token as `x-api-key`, no API key, no rate limit).
 */
export function runnerLinkRoutes(link: RunnerLinkService, gateway: ModelGateway): FastifyPluginAsyncTypebox {
  return async (app) => {
    // Tar bodies and model calls are handed over as the request stream.
    app.addContentTypeParser('application/x-tar', (_req, payload, done) => done(null, payload));
    app.post(
      '/api/internal/sessions/:id/checkout',
      {
        config,
        bodyLimit: MANIFEST_BODY_LIMIT,
        schema: {
          tags: ['internal'],
          security,
          summary:
            "A runner checks a session's workspace out: the delta from its manifest to this server's copy",
          params: SessionIdParamsSchema,
          body: CheckoutBodySchema,
          response: {
            200: {
              description: 'application/x-tar (a workspace delta)',
              content: { 'application/x-tar': { schema: Type.String({ format: 'binary' }) } },
            },
            ...errorResponses(400, 401, 403, 404, 409, 413, 415, 429),
          },
        },
      },
      async (req, reply) => {
        const delta = await link.checkout(req.params.id, req.body, runnerOf(req.headers));
        return reply.header('content-type', 'application/x-tar').send(delta as never);
      },
    );
    app.post(
      '/api/internal/agents/files',
      {
        config,
        bodyLimit: BODY_LIMIT,
        schema: {
          tags: ['internal'],
          security,
          summary: "A runner pulls an agent version's files (a warm spare's workspace) as a workspace delta",
          body: AgentFilesBodySchema,
          response: {
            200: {
              description: 'application/x-tar (a workspace delta)',
              content: { 'application/x-tar': { schema: Type.String({ format: 'binary' }) } },
            },
            ...errorResponses(400, 401, 403, 404, 413, 415, 429),
          },
        },
      },
      async (req, reply) => {
        const delta = await link.agentFiles(req.body);
        return reply.header('content-type', 'application/x-tar').send(delta as never);
      },
    );
    app.post(
      '/api/internal/sessions/:id/checkpoint',
      {
        config,
        schema: {
          tags: ['internal'],
          security,
          summary: "A runner stores a session's checkpoint (a workspace delta); 409 lease_lost when stale",
          params: SessionIdParamsSchema,
          headers: GenerationHeaders,
          response: { 204: Type.Null(), ...errorResponses(400, 401, 403, 404, 409, 413, 415, 429) },
        },
      },
      async (req, reply) => {
        // The body (application/x-tar, a workspace delta) is the request stream, read by the apply.
        await link.checkpoint(
          req.params.id,
          generationOf(req.headers),
          runnerOf(req.headers),
          req.body as unknown as Readable,
        );
        return reply.code(204).send(null);
      },
    );
    app.post(
      '/api/internal/sessions/:id/egress',
      {
        config,
        bodyLimit: 4 * 1024 * 1024,
        schema: {
          tags: ['internal'],
          security,
          summary: "Connections a session's sandbox made on its runner (egress events and usage)",
          params: SessionIdParamsSchema,
          headers: GenerationHeaders,
          body: RunnerEgressReportBodySchema,
          response: { 204: Type.Null(), ...errorResponses(400, 401, 403, 404, 409, 413, 415, 429) },
        },
      },
      async (req, reply) => {
        await link.egress(req.params.id, generationOf(req.headers), runnerOf(req.headers), req.body);
        return reply.code(204).send(null);
      },
    );
    await app.register(async (gw) => {
      // The Messages API body goes upstream as it arrives: no parsing here.
      gw.removeAllContentTypeParsers();
      gw.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
      gw.route({
        method: ['GET', 'HEAD', 'POST'],
        url: `${GATEWAY_PATH}/*`,
        config: { public: true, rateLimitExempt: true },
        schema: { hide: true },
        handler: async (req, reply) => {
          reply.hijack();
          const target = (req.raw.url ?? '').slice(GATEWAY_PATH.length) || '/';
          await gateway.handle(req.raw, reply.raw, target);
        },
      });
    });
  };
}
