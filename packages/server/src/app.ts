import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifySchema } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Logger } from 'pino';
import {
  AgentSchema,
  AgentVersionSchema,
  AttachmentSchema,
  ExecResultSchema,
  ApiKeySchema,
  CredentialSchema,
  MessageSchema,
  ProblemSchema,
  QueueItemSchema,
  SessionEventSchema,
  SessionSchema,
  UsageEventSchema,
  UsageRecordSchema,
  type Health,
  type RunnerStatus,
} from '@ash-ai/shared';
import { finishOpenApi } from './openapi.js';
import { registerSecurity, type SecurityOptions } from './plugins/auth.js';
import { handleClientError, handleFrameworkError, registerErrorHandler } from './plugins/error-handler.js';
import { registerSessionForwarding, type SessionForwardingOptions } from './plugins/session-forwarding.js';
import { findConsoleDir, registerConsole } from './plugins/console.js';
import { recordOpenApi, registerDocsUi } from './plugins/docs.js';
import {
  buildLazySerializerFactory,
  buildValidatorFactory,
  fastifySerializerFactory,
} from './plugins/validation.js';
import { agentRoutes } from './routes/agents.js';
import { compatRoutes } from './routes/compat.js';
import { attachmentRoutes } from './routes/attachments.js';
import { fileRoutes } from './routes/files.js';
import { workspaceRoutes } from './routes/workspace.js';
import { apiKeyRoutes } from './routes/api-keys.js';
import { credentialRoutes } from './routes/credentials.js';
import type { DiskGuard } from './services/files/disk-guard.js';
import { healthRoutes } from './routes/health.js';
import { metricsRoutes } from './routes/metrics.js';
import { internalRoutes, runnerLinkRoutes } from './routes/internal.js';
import { sessionRoutes } from './routes/sessions.js';
import { managedRoutes } from './routes/managed.js';
import { toolAnswerRoutes } from './routes/tool-answers.js';
import type { ManagedAgentsService } from './managed/managed-service.js';
import type { Repos } from './db/repos/index.js';
import type { AgentFiles } from './services/agents/agent-files.js';
import type { AgentService } from './services/agents/agent-service.js';
import type { CompatService } from './services/agents/compat-service.js';
import type { AttachmentService } from './services/files/attachment-service.js';
import type { SessionFiles } from './services/files/session-files.js';
import type { WorkspaceSnapshots } from './services/files/workspace-snapshots.js';
import { queueRoutes } from './routes/queue.js';
import { sessionConfigRoutes } from './routes/session-config.js';
import { usageRoutes } from './routes/usage.js';
import type { ApiKeyService } from './services/auth/api-key-service.js';
import type { CredentialService } from './services/auth/credential-service.js';
import type { RunnerService } from './services/runners/runner-registry.js';
import type { ModelGateway } from './services/runners/model-gateway.js';
import type { RunnerLinkService } from './services/runners/runner-link.js';
import type { QueueService } from './services/queue/queue-service.js';
import type { SessionConfigService } from './services/sessions/session-config.js';
import type { UsageService } from './services/usage/usage-service.js';
import type { SessionRuntime } from './services/sessions/session-runtime.js';
import type { SessionService } from './services/sessions/session-service.js';
import type { Telemetry } from './telemetry/telemetry.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The tenant the request acts for (set by the auth hook). */
    tenantId: string;
  }
  interface FastifyContextConfig {
    /** Route needs no authentication. */
    public?: boolean;
  }
}

/** Everything the HTTP layer needs; built by `createAshServer` (or a test). */
export interface AppDeps {
  logger: Logger;
  /** Traces, metrics and log ids (HTTP spans, `/metrics`). */
  telemetry: Telemetry;
  version: string;
  agents: AgentService;
  sessions: SessionService;
  runtime: SessionRuntime;
  health: () => Promise<Health>;
  /** Free space of the data dir: the routes in {@link NEEDS_DISK} answer 507 when it is low. */
  diskGuard?: DiskGuard;
  apiKeys: ApiKeyService;
  credentials: CredentialService;
  runners: RunnerService;
  /** The runners this server places on, for `/metrics` (as `/health` lists them). */
  runnerStatus?: () => RunnerStatus[];
  /** The coordinator side of the runner link (checkout, checkpoint, egress, model gateway). */
  runnerLink?: { link: RunnerLinkService; gateway: ModelGateway };
  /** Internal-route guard, rate limit and CORS settings (the API key service comes from `apiKeys`). */
  security: Omit<SecurityOptions, 'keys'>;
  /** Fastify `trustProxy` (`ASH_TRUST_PROXY`): whose `X-Forwarded-For` sets `req.ip`; default none. */
  trustProxy?: boolean | string[];
  limits: { deployBodyBytes: number; messageBodyBytes: number };
  sseHeartbeatMs: number;
  /** Workspace data: files, bundles, snapshots, attachments (issue 5). */
  data: {
    repos: Repos;
    sessionFiles: SessionFiles;
    agentFiles: AgentFiles;
    snapshots: WorkspaceSnapshots;
    attachments: AttachmentService;
    /** Body limits, bytes: file batches, bundles sent as JSON, attachments. */
    limits: { uploadBodyBytes: number; bundleJsonBodyBytes: number; attachmentBodyBytes: number };
  };
  sessionConfig: SessionConfigService;
  usage: UsageService;
  queue: QueueService;
  /** Upstream Ash routes with its shapes: agent versions and config, analytics. */
  compat: CompatService;
  /** The Managed Agents API (`/v1`) over the same engine. */
  managed: ManagedAgentsService;
  /** The built web console to serve at `/console/` (default: `@ash-ai/console`'s dist when built; null = none). */
  consoleDir?: string | null;
  /** Several servers on one database: requests for sessions another server runs are forwarded there. */
  forwarding?: SessionForwardingOptions;
}

/**
 * Routes that start new work on the data disk (sessions, turns, uploads, deploys), by method and
 * route pattern, with what the 507 refusal names. Checked before the body is read.
 */
const NEEDS_DISK = new Map<string, string>([
  ['POST /api/sessions', 'a new session'],
  ['POST /api/sessions/:id/fork', 'a fork'],
  ['POST /api/sessions/:id/resume', 'a resume'],
  ['POST /api/sessions/:id/messages', 'a new turn'],
  ['POST /api/sessions/:id/attachments', 'an upload'],
  ['POST /api/sessions/:id/files', 'an upload'],
  ['POST /api/sessions/:id/workspace', 'a workspace restore'],
  ['POST /api/agents', 'a deploy'],
  ['POST /api/agents/:name/files', 'an upload'],
  ['POST /api/queue', 'a queued message'],
  ['POST /v1/sessions', 'a new session'],
  ['POST /v1/sessions/:id/events', 'a new turn'],
  ['POST /v1/agents', 'a deploy'],
]);

/** The OpenAPI view of a wildcard route: `*` becomes the path parameter `path` (the route is unchanged). */
function namedWildcard(schema: FastifySchema, url: string): { schema: FastifySchema; url: string } {
  const params = schema?.params as { properties?: Record<string, unknown>; required?: string[] } | undefined;
  if (!params?.properties || !('*' in params.properties)) return { schema, url: url.replace(/\*$/, ':path') };
  const { '*': wildcard, ...rest } = params.properties;
  const renamed = {
    ...params,
    properties: { ...rest, path: wildcard },
    required: (params.required ?? []).map((n) => (n === '*' ? 'path' : n)),
  };
  return { schema: { ...schema, params: renamed }, url: url.replace(/\*$/, ':path') };
}

/**
 * Builds the Fastify app: schemas, the one error handler, OpenAPI (`/openapi.json`, UI at
 * `/docs`) and the routes. Does not listen.
 */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger as unknown as FastifyBaseLogger,
    genReqId: () => randomUUID(),
    bodyLimit: 1024 * 1024,
    // `X-Forwarded-For` is believed only from the proxies the operator names (ASH_TRUST_PROXY).
    trustProxy: deps.trustProxy ?? false,
    // Reject unknown fields and prototype pollution instead of silently dropping them.
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    // Validators and serializers are compiled on each route's first use, not at start (start time).
    schemaController: {
      compilersFactory: {
        buildValidator: buildValidatorFactory,
        buildSerializer: buildLazySerializerFactory(fastifySerializerFactory),
      },
    },
    // Ids are UUIDs and names at most 255 characters: a longer path parameter is refused (414).
    routerOptions: { maxParamLength: 1024 },
    // Router and HTTP-parser refusals answer in problem details too (error-handler.ts).
    frameworkErrors: handleFrameworkError,
    clientErrorHandler: handleClientError,
  }).withTypeProvider<TypeBoxTypeProvider>();

  for (const s of [
    ProblemSchema,
    AgentSchema,
    SessionSchema,
    MessageSchema,
    SessionEventSchema,
    AttachmentSchema,
    ApiKeySchema,
    CredentialSchema,
  ])
    app.addSchema(s);
  for (const s of [UsageRecordSchema, QueueItemSchema]) app.addSchema(s);
  for (const s of [AgentVersionSchema, ExecResultSchema, UsageEventSchema]) app.addSchema(s);
  // JSON only: a JSON text sent as text/plain is a 415, not a confusing schema error.
  app.removeContentTypeParser('text/plain');
  // Upstream clients POST bodiless actions (pause, stop, resume, fork…) with
  // `Content-Type: application/json` and an empty body: on a route that takes no body, that is
  // no body (not an `invalid_json` 400). Routes with a body schema still refuse an empty one.
  app.addHook('onRequest', async (req) => {
    if (req.headers['content-length'] === '0' && !req.routeOptions.schema?.body)
      delete req.headers['content-type'];
  });
  app.decorateRequest('tenantId', '');
  registerErrorHandler(app);
  deps.telemetry.register(app);
  await registerSecurity(app, { ...deps.security, keys: deps.apiKeys });
  if (deps.forwarding) registerSessionForwarding(app, deps.forwarding);

  // The document and its UI are made on first use (@fastify/swagger and swagger-ui load then):
  // the start and `/health` need neither.
  const openapi = recordOpenApi(app, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Ash API',
        version: deps.version,
        license: { name: 'MIT', identifier: 'MIT' },
        description:
          'Deploy Claude agent folders and run sessions on the Claude Agent SDK, streamed over SSE.',
      },
      tags: [
        { name: 'health', description: 'Liveness and figures (no key needed)' },
        { name: 'agents', description: 'Deployed agent folders, their files, config and prompt versions' },
        { name: 'sessions', description: 'Sessions, their turns (SSE), history, lifecycle, exec and logs' },
        { name: 'files', description: 'Files of a session workspace or an agent folder' },
        { name: 'workspace', description: 'Whole workspaces as tar.gz bundles, snapshots' },
        { name: 'attachments', description: 'Files attached to a session' },
        { name: 'credentials', description: 'Stored provider keys (encrypted; never returned)' },
        { name: 'api-keys', description: 'API keys of the caller’s tenant' },
        { name: 'internal', description: 'Guarded by ASH_INTERNAL_SECRET, not by API keys' },
        { name: 'usage', description: 'The usage ledger, budgets, analytics' },
        { name: 'queue', description: 'Background prompts run as turns' },
        {
          name: 'managed-agents',
          description:
            'The Claude Managed Agents API (`/v1`) for the official Anthropic SDKs; errors use the Anthropic envelope (docs/managed-agents.md)',
        },
      ],
      components: {
        securitySchemes: {
          apiKey: {
            type: 'http',
            scheme: 'bearer',
            description: 'An Ash API key (`ash_…`): `Authorization: Bearer <key>`',
          },
          internalSecret: {
            type: 'http',
            scheme: 'bearer',
            description: 'The server’s ASH_INTERNAL_SECRET: `Authorization: Bearer <secret>`',
          },
        },
      },
      security: [{ apiKey: [] }],
    },
    // Fastify's wildcard (`…/files/*`, param `*`) would be published as `{*}`, which is no valid
    // OpenAPI parameter name: publish it as the named parameter `{path}`.
    transform: ({ schema, url }) => (url.endsWith('/*') ? namedWildcard(schema, url) : { schema, url }),
    // Operation ids, named components, problem+json errors, the SSE event union, servers.
    transformObject: (documentObject) =>
      finishOpenApi((documentObject as { openapiObject: Record<string, unknown> }).openapiObject) as never,
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) =>
        typeof json.$id === 'string' ? json.$id : `def-${i}`,
    },
  });
  registerDocsUi(app, openapi, {
    uiConfig: { docExpansion: 'list' },
    // swagger-ui's own CSP (hashes of its inline scripts), minus upgrade-insecure-requests, which
    // would break the page on a plain-HTTP server reached by a non-localhost name.
    staticCSP: true,
    transformStaticCSP: (header) => header.replace(/\s*upgrade-insecure-requests;?/, ''),
  });

  const { diskGuard } = deps;
  if (diskGuard) {
    // After authentication (registered later than the auth hook), before any body is read.
    app.addHook('onRequest', async (req) => {
      const what = NEEDS_DISK.get(`${req.method} ${req.routeOptions.url}`);
      if (what) await diskGuard.assertRoom(what);
    });
  }
  await app.register(healthRoutes(deps.health));
  await app.register(apiKeyRoutes(deps.apiKeys));
  await app.register(credentialRoutes(deps.credentials));
  await app.register(internalRoutes(deps.apiKeys, deps.runners));
  if (deps.runnerLink) await app.register(runnerLinkRoutes(deps.runnerLink.link, deps.runnerLink.gateway));
  await app.register(agentRoutes(deps.agents, { deployBodyLimit: deps.limits.deployBodyBytes }));
  await app.register(
    sessionRoutes(deps.sessions, deps.runtime, {
      messageBodyLimit: deps.limits.messageBodyBytes,
      heartbeatMs: deps.sseHeartbeatMs,
    }),
  );
  await app.register(metricsRoutes(deps.runtime, deps.version, deps.telemetry.metrics, deps.runnerStatus));
  const { data } = deps;
  await app.register(
    fileRoutes(data.sessionFiles, data.agentFiles, { uploadBodyLimit: data.limits.uploadBodyBytes }),
  );
  await app.register(
    workspaceRoutes(data.sessionFiles, data.snapshots, data.repos, {
      jsonBodyLimit: data.limits.bundleJsonBodyBytes,
      turnEnding: (id) => deps.runtime.turnFor(id)?.finished === true,
    }),
  );
  await app.register(
    attachmentRoutes(data.attachments, { uploadBodyLimit: data.limits.attachmentBodyBytes }),
  );
  await app.register(sessionConfigRoutes(deps.sessionConfig));
  await app.register(usageRoutes(deps.usage));
  await app.register(queueRoutes(deps.queue));
  await app.register(compatRoutes(deps.compat));
  await app.register(toolAnswerRoutes(deps.managed));
  await app.register(
    managedRoutes(deps.managed, {
      heartbeatMs: deps.sseHeartbeatMs,
      eventsBodyLimit: deps.limits.messageBodyBytes,
    }),
  );
  await registerConsole(
    app,
    deps.consoleDir === undefined ? findConsoleDir() : (deps.consoleDir ?? undefined),
  );
  app.get('/openapi.json', { schema: { hide: true }, config: { public: true } }, () => openapi.object());
  return app;
}
