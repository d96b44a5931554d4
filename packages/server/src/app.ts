import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Logger } from 'pino';
import {
  AgentSchema,
  AttachmentSchema,
  MessageSchema,
  ProblemSchema,
  SessionEventSchema,
  SessionSchema,
  type Health,
} from '@ash-ai/shared';
import { registerErrorHandler } from './plugins/error-handler.js';
import { agentRoutes } from './routes/agents.js';
import { attachmentRoutes } from './routes/attachments.js';
import { fileRoutes } from './routes/files.js';
import { workspaceRoutes } from './routes/workspace.js';
import { healthRoutes } from './routes/health.js';
import { metricsRoutes } from './routes/metrics.js';
import { sessionRoutes } from './routes/sessions.js';
import type { Repos } from './db/repos/index.js';
import type { AgentFiles } from './services/agent-files.js';
import type { AgentService } from './services/agent-service.js';
import type { AttachmentService } from './services/attachment-service.js';
import type { SessionFiles } from './services/session-files.js';
import type { WorkspaceSnapshots } from './services/workspace-snapshots.js';
import type { SessionRuntime } from './services/session-runtime.js';
import type { SessionService } from './services/session-service.js';

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
  version: string;
  agents: AgentService;
  sessions: SessionService;
  runtime: SessionRuntime;
  health: () => Promise<Health>;
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
    // Reject unknown fields and prototype pollution instead of silently dropping them.
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    ajv: {
      customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: false },
    },
  }).withTypeProvider<TypeBoxTypeProvider>();

  for (const s of [
    ProblemSchema,
    AgentSchema,
    SessionSchema,
    MessageSchema,
    SessionEventSchema,
    AttachmentSchema,
  ])
    app.addSchema(s);
  app.decorateRequest('tenantId', '');
  app.addHook('onRequest', async (req) => {
    req.tenantId = 'default';
  });
  registerErrorHandler(app);

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Ash API',
        version: deps.version,
        description:
          'Deploy Claude agent folders and run sessions on the Claude Agent SDK, streamed over SSE.',
      },
      tags: [
        { name: 'health' },
        { name: 'agents' },
        { name: 'sessions' },
        { name: 'files' },
        { name: 'workspace' },
        { name: 'attachments' },
      ],
    },
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) =>
        typeof json.$id === 'string' ? json.$id : `def-${i}`,
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list' } });

  await app.register(healthRoutes(deps.health));
  await app.register(agentRoutes(deps.agents, { deployBodyLimit: deps.limits.deployBodyBytes }));
  await app.register(
    sessionRoutes(deps.sessions, deps.runtime, {
      messageBodyLimit: deps.limits.messageBodyBytes,
      heartbeatMs: deps.sseHeartbeatMs,
    }),
  );
  await app.register(metricsRoutes(deps.runtime, deps.version));
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
  app.get('/openapi.json', { schema: { hide: true }, config: { public: true } }, async () => app.swagger());
  return app;
}
