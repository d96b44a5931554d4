import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type pino from 'pino';
import { bridgeEntryPath, resolveClaudeExecutable } from '@ash-ai/bridge';
import { resolveLimits, SandboxManager } from '@ash-ai/sandbox';
import type { Health } from '@ash-ai/shared';
import { buildApp } from './app.js';
import { lockDataDir } from './data-dir-lock.js';
import type { Config } from './config.js';
import { openDatabase, type AshDatabase } from './db/client.js';
import { createRepos, type Repos } from './db/repos/index.js';
import { AppError } from './errors.js';
import { createLogger, SecretRegistry } from './logger.js';
import { AgentService } from './services/agent-service.js';
import { ApiKeyService, loadKeyHashSecret } from './services/api-key-service.js';
import { CredentialService } from './services/credential-service.js';
import { RunnerService } from './services/runner-service.js';
import { TurnScheduler } from './services/busy-policy.js';
import { QueueProcessor } from './services/queue-processor.js';
import { QueueService } from './services/queue-service.js';
import { SessionConfigService } from './services/session-config.js';
import { loadPricing } from './services/usage-prices.js';
import { UsageService } from './services/usage-service.js';
import { SessionPaths } from './services/session-paths.js';
import { SessionRuntime } from './services/session-runtime.js';
import { SessionService } from './services/session-service.js';
import { PathScrubber } from './services/text-safety.js';
import { AgentStore } from './storage/agent-store.js';
import { createObjectStore } from './storage/create-object-store.js';
import { AgentArchives, AgentFiles } from './services/agent-files.js';
import { AttachmentService } from './services/attachment-service.js';
import { SessionFiles } from './services/session-files.js';
import { WorkspaceSnapshots } from './services/workspace-snapshots.js';
import { SERVER_VERSION } from './version.js';

/** A setting that cannot work was found at start. */
export class StartupCheckError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StartupCheckError';
  }
}

/** A wired Ash server: the Fastify app plus everything behind it. */
export interface AshServer {
  app: FastifyInstance;
  config: Config;
  logger: Logger;
  /** Starts listening; resolves to the base URL. */
  listen(): Promise<string>;
  /** Stops sandboxes, closes the app and the database. */
  close(): Promise<void>;
}

export interface CreateServerOptions {
  /** Log destination (default stdout). */
  logDestination?: pino.DestinationStream;
}

/**
 * Wires the server from a config: data dir, logger, database (migrated), sandbox manager,
 * services and the app. Reconciles what a crashed previous run left behind.
 * @throws SandboxUnavailableError when the requested isolation is not available.
 */
export async function createAshServer(config: Config, opts: CreateServerOptions = {}): Promise<AshServer> {
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const unlock = lockDataDir(config.dataDir);
  try {
    return await createLocked(config, opts, unlock);
  } catch (err) {
    unlock();
    throw err;
  }
}

async function createLocked(
  config: Config,
  opts: CreateServerOptions,
  unlock: () => void,
): Promise<AshServer> {
  if (config.claudeExecutable && !existsSync(config.claudeExecutable)) {
    throw new StartupCheckError(
      `CLAUDE_CODE_EXECUTABLE points to ${config.claudeExecutable}, which does not exist`,
    );
  }
  const secrets = new SecretRegistry();
  secrets.add(config.anthropicApiKey);
  secrets.add(config.s3?.credentials?.secretAccessKey);
  secrets.add(config.s3?.credentials?.sessionToken);
  secrets.add(config.internalSecret);
  const logger = createLogger({
    level: config.logLevel,
    secrets,
    ...(opts.logDestination ? { destination: opts.logDestination } : {}),
  });
  const ownerId = serverId(config.dataDir);
  const pricing = loadPricing(config.pricesFile);
  const db = await openDatabase(
    config.databaseUrl ? { postgresUrl: config.databaseUrl } : { sqlitePath: join(config.dataDir, 'ash.db') },
  );
  const repos = createRepos(db);
  if (config.databaseUrl && !config.keyHashSecret) {
    logger.warn(
      'ASH_KEY_HASH_SECRET is unset: API keys are hashed with a secret kept in this server’s data dir; servers sharing this database must all set the same ASH_KEY_HASH_SECRET',
    );
  }
  const apiKeys = new ApiKeyService({
    repos,
    hashSecret: loadKeyHashSecret(config.dataDir, config.keyHashSecret),
    envKey: config.apiKey,
    secrets,
    log: logger.child({ component: 'auth' }),
  });
  const credentials = new CredentialService({
    repos,
    masterKey: config.credentialKey,
    secrets,
    log: logger.child({ component: 'credentials' }),
  });
  const objects = createObjectStore(config);
  try {
    await objects.check();
  } catch (err) {
    await db.close();
    throw err;
  }
  let sandboxes: SandboxManager;
  try {
    sandboxes = await SandboxManager.create({
      mode: config.sandboxMode,
      spareBridges: config.spareBridges,
      ...(config.bwrapPath ? { bwrapPath: config.bwrapPath } : {}),
      bridgeEntry: bridgeEntryPath,
      claudeExecutable: config.claudeExecutable ?? resolveClaudeExecutable(),
      groupName: `ash-${createHash('sha256').update(config.dataDir).digest('hex').slice(0, 12)}`,
      defaultLimits: config.sandboxLimits,
      modelUpstreamUrl: config.anthropicBaseUrl,
      baseClaudeEnv:
        config.modelMaxRetries !== undefined
          ? { CLAUDE_CODE_MAX_RETRIES: String(config.modelMaxRetries) }
          : {},
      ...(config.sandboxUid !== undefined ? { sandboxUid: config.sandboxUid } : {}),
      ...(config.sandboxGid !== undefined ? { sandboxGid: config.sandboxGid } : {}),
      log: logger.child({ component: 'sandbox' }),
    });
  } catch (err) {
    await db.close();
    throw err;
  }
  for (const w of sandboxes.info.warnings) logger.warn(w);
  const warnings: string[] = [];
  if (!config.anthropicApiKey) {
    warnings.push(
      'ANTHROPIC_API_KEY is not set: sessions reach the model only with an anthropic credential (credentialId)',
    );
  }
  for (const w of warnings) logger.warn(w);

  const paths = new SessionPaths(config.dataDir);
  const store = new AgentStore(config.dataDir);
  const scrubber = new PathScrubber([config.dataDir, tmpdir()]);
  const usage = new UsageService({ repos, pricing, log: logger.child({ component: 'usage' }) });
  let sessions: SessionService | undefined;
  const runtime = new SessionRuntime({
    repos,
    sandboxes,
    paths,
    agents: store,
    config,
    log: logger,
    version: SERVER_VERSION,
    ownerId,
    scrubber,
    credentials,
    hooks: usage,
    onSessionEvicted: async (s, reason) => {
      const record = await repos.sessions.get(s.tenantId, s.id);
      if (record && sessions) await sessions.lifecycle(record, 'paused', { reason });
    },
  });
  // Workspace data (issue 5): object storage copies, files, bundles, snapshots, attachments.
  const archives = new AgentArchives({ repos, store: objects, agents: store, log: logger });
  const snapshots = new WorkspaceSnapshots({ repos, store: objects, paths, log: logger });
  const sessionFiles = new SessionFiles({
    repos,
    paths,
    snapshots,
    isLive: (id) => runtime.hasLiveSandbox(id),
    owner: sandboxes.sandboxOwner,
    // The same per-session limit the sandbox enforces while a turn runs (agent config overrides).
    diskLimitBytes: async (s) => {
      const agent = await repos.agents.get(s.tenantId, s.agentName);
      const override = agent?.config.limits;
      const limits = resolveLimits(
        config.sandboxLimits,
        override && typeof override === 'object' ? (override as Record<string, unknown>) : undefined,
      );
      return limits.diskMb * 1024 * 1024;
    },
    limits: {
      fileMaxBytes: config.data.fileMaxBytes,
      batchMaxBytes: config.data.batchMaxBytes,
      bundleMaxBytes: config.data.bundleMaxBytes,
      bundleMaxEntries: config.data.bundleMaxEntries,
    },
  });
  const agentFiles = new AgentFiles({
    repos,
    agents: store,
    archives,
    limits: {
      fileMaxBytes: config.data.fileMaxBytes,
      batchMaxBytes: config.data.batchMaxBytes,
      agentMaxBytes: config.agentMaxSizeBytes,
    },
  });
  const attachments = new AttachmentService({
    repos,
    store: objects,
    files: sessionFiles,
    maxBytes: config.data.attachmentMaxBytes,
    log: logger,
  });
  const turns = new TurnScheduler({ runtime, repos, log: logger });
  sessions = new SessionService({
    repos,
    runtime,
    agents: store,
    paths,
    log: logger,
    credentials,
    turns,
    defaultPrewarmCount: config.prewarmCount,
    hooks: {
      // Snapshots go to object storage on pause when it is remote (S3): another server sharing
      // the database and the bucket can then resume the session. A local store shares the disk
      // with the workspace, so a copy there would add nothing.
      // If the snapshot cannot be stored, the session stays paused with its workspace kept here
      // (resumable on this server); pausing again retries the snapshot.
      ...(objects.kind === 's3'
        ? {
            onPaused: async (s) => {
              try {
                await snapshots.save(s);
              } catch (err) {
                if (err instanceof AppError && err.code === 'storage_unavailable')
                  throw new AppError(
                    'storage_unavailable',
                    'object storage is unavailable: the session is paused and its workspace kept on this server (it can be resumed here), but its snapshot was not stored; pause it again to retry',
                    err.extra,
                  );
                throw err;
              }
            },
          }
        : {}),
      beforeResume: async (s) => void (await snapshots.restore(s)),
      beforeTurn: async (s) => void (await snapshots.restore(s)),
      restoreAgentFolder: (s) => archives.ensureVersion(s.tenantId, s.agentName, s.agentVersion),
      ensureAgentFolder: (agent) => archives.ensureLocal(agent),
      resolveContent: (session, content) => attachments.resolveContent(session, content),
    },
  });
  const sessionService = sessions;
  const agents = new AgentService({
    repos,
    store,
    dataDir: config.dataDir,
    maxAgentBytes: config.agentMaxSizeBytes,
    deployPathRoots: config.deployPathRoots,
    onAgentDeleted: async (tenantId, name) => {
      await runtime.dropSpares(tenantId, name);
      await sessionService.endAgentSessions(tenantId, name);
    },
    onAgentDeployed: async (agent, replaceSpares) => {
      if (replaceSpares) await runtime.dropSpares(agent.tenantId, agent.name);
      void runtime.replenishSpares(agent, sessionService.prewarmCount(agent)).catch(() => undefined);
    },
    archives,
  });
  credentials.onRevoked(async (tenantId, id) => {
    await runtime.stopSessionsUsingCredential(tenantId, id);
  });
  await reconcile(repos, ownerId, logger);
  await apiKeys.bootstrap(config.dataDir);
  await credentials.selfCheck();
  runtime.start();
  // Warm pools, in the background, for the agents used within the idle timeout (not for every
  // agent ever deployed: a spare is a process).
  void (async () => {
    const since = new Date(Date.now() - config.idleTimeoutMs).toISOString();
    const used = new Set(
      (await repos.sessions.agentsUsedSince(since)).map((u) => `${u.tenantId}\u0000${u.agentName}`),
    );
    for (const a of await repos.agents.listAllInternal()) {
      if (!used.has(`${a.tenantId}\u0000${a.name}`) || !store.hasVersion(a.tenantId, a.name, a.version))
        continue;
      await runtime.replenishSpares(a, sessionService.prewarmCount(a));
    }
  })().catch((err: unknown) => logger.warn({ err }, 'could not prepare warm sandboxes'));
  const processor = new QueueProcessor({
    id: ownerId,
    repos,
    sessions: sessionService,
    log: logger.child({ component: 'queue' }),
    ...config.queue,
  });
  const queue = new QueueService({ repos, onEnqueued: () => processor.notify() });

  const startedAt = Date.now();
  const coordinatorId = `${hostname()}-${process.pid}`;
  const health = async (): Promise<Health> => ({
    status: 'ok',
    version: SERVER_VERSION,
    uptime: (Date.now() - startedAt) / 1000,
    activeSessions: await repos.sessions.countActive(),
    activeSandboxes: runtime.liveSandboxCount,
    coordinatorId,
    pool: runtime.stats(),
    sandbox: sandboxes.info,
    warnings,
  });

  const app = await buildApp({
    logger,
    version: SERVER_VERSION,
    agents,
    sessions: sessionService,
    runtime,
    health,
    apiKeys,
    credentials,
    runners: new RunnerService(repos),
    security: {
      internal: { secret: config.internalSecret, open: config.internalOpen },
      rateLimit: config.rateLimit,
      allowedOrigins: config.allowedOrigins,
    },
    // base64 inflates by 4/3; allow for JSON around it.
    limits: {
      deployBodyBytes: Math.ceil(config.agentMaxSizeBytes * 1.4) + 1024 * 1024,
      messageBodyBytes: Math.ceil(config.messageMaxSizeBytes * 1.4) + 64 * 1024,
    },
    sseHeartbeatMs: config.sseHeartbeatMs,
    sessionConfig: new SessionConfigService({ repos, paths }),
    usage,
    queue,
    data: {
      repos,
      sessionFiles,
      agentFiles,
      snapshots,
      attachments,
      limits: {
        uploadBodyBytes: Math.ceil(config.data.batchMaxBytes * 1.4) + 1024 * 1024,
        bundleJsonBodyBytes: Math.ceil(config.data.bundleMaxBytes * 1.4) + 64 * 1024,
        attachmentBodyBytes: Math.ceil(config.data.attachmentMaxBytes * 1.4) + 64 * 1024,
      },
    },
  });

  processor.start();
  let closed = false;
  return {
    app,
    config,
    logger,
    async listen() {
      const address = await app.listen({ port: config.port, host: config.host });
      logger.info(
        { version: SERVER_VERSION, address, dataDir: config.dataDir, sandbox: sandboxes.info.mode },
        `Ash v${SERVER_VERSION} listening`,
      );
      return address;
    },
    async close() {
      if (closed) return;
      closed = true;
      processor.stop();
      await runtime.shutdown();
      await processor.drain();
      await usage.settled();
      await app.close();
      await sandboxes.close();
      await objects.close();
      await closeDb(db);
      unlock();
    },
  };
}

async function closeDb(db: AshDatabase): Promise<void> {
  await db.close().catch(() => undefined);
}

/** The stable id of the server owning this data dir (kept in `<data>/server-id`). */
function serverId(dataDir: string): string {
  const file = join(dataDir, 'server-id');
  if (existsSync(file)) {
    const id = readFileSync(file, 'utf8').trim();
    if (id) return id;
  }
  const id = `srv-${randomUUID()}`;
  writeFileSync(file, `${id}\n`, { mode: 0o600 });
  return id;
}

/**
 * After a crash: sessions this server hosted have no process any more. A turn that was running
 * is closed with `error` + `done` (so clients and history see how it ended), its slot released;
 * active sessions become `paused` (resumable; the next message resumes them).
 */
async function reconcile(repos: Repos, ownerId: string, log: Logger): Promise<void> {
  const owned = await repos.sessions.listOwnedBy(ownerId);
  for (const s of owned) {
    if (s.activeTurnId) {
      const counters = await repos.history.maxSequences(s.id);
      const now = new Date().toISOString();
      const turnId = s.activeTurnId;
      await repos.history.insertEvents(
        [
          { type: 'error', data: { error: 'the server stopped during the turn', code: 'sandbox_crashed' } },
          { type: 'done', data: { sessionId: s.id, turnId, outcome: 'error' } },
        ].map((e, i) => ({
          id: randomUUID(),
          tenantId: s.tenantId,
          sessionId: s.id,
          type: e.type,
          data: JSON.stringify(e.data),
          sequence: counters.lastEventSeq + 1 + i,
          turnId,
          createdAt: now,
        })),
      );
      await repos.sessions.releaseTurn(
        s.id,
        turnId,
        { lastEventSeq: counters.lastEventSeq + 2, lastMessageSeq: counters.lastMessageSeq },
        now,
      );
      log.warn({ sessionId: s.id, turnId }, 'closed a turn interrupted by a server stop');
    }
    await repos.sessions.update(s.tenantId, s.id, {
      ownerId: null,
      ...(s.status === 'active' || s.status === 'starting' ? { status: 'paused' } : {}),
    });
  }
}
