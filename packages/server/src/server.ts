import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type pino from 'pino';
import { EgressCa, resolveLimits, type SandboxManager } from '@ash-ai/sandbox';
import { createSandboxHost, type InProcessRunner, scanManifest } from '@ash-ai/runner';
import type { Health, RunnerStatus, SandboxInfo } from '@ash-ai/shared';
import { buildApp } from './app.js';
import { lockDataDir } from './data-dir-lock.js';
import type { Config } from './config.js';
import { openDatabase, type AshDatabase } from './db/client.js';
import { createRepos, type Repos, type SessionRecord } from './db/repos/index.js';
import { AppError } from './errors.js';
import { createLogger, SecretRegistry } from './logger.js';
import { createTelemetry } from './telemetry/telemetry.js';
import { AgentService } from './services/agents/agent-service.js';
import { CompatService } from './services/agents/compat-service.js';
import { ApiKeyService, loadKeyHashSecret } from './services/auth/api-key-service.js';
import { CredentialService } from './services/auth/credential-service.js';
import { RunnerService } from './services/runners/runner-registry.js';
import { RunnerRouter } from './services/runners/runner-router.js';
import { RunnerFleet } from './services/runners/runner-fleet.js';
import { ModelGateway } from './services/runners/model-gateway.js';
import { RunnerLinkService } from './services/runners/runner-link.js';
import { HttpRunnerClient } from './services/runners/http-runner-client.js';
import { bindingsOf } from './services/sessions/egress.js';
import { TurnScheduler } from './services/sessions/turn-scheduler.js';
import { QueueProcessor } from './services/queue/queue-processor.js';
import { QueueService } from './services/queue/queue-service.js';
import { SessionConfigService } from './services/sessions/session-config.js';
import { loadPricing } from './services/usage/usage-prices.js';
import { UsageService } from './services/usage/usage-service.js';
import { SessionPaths } from './services/sessions/session-paths.js';
import { DiskGuard } from './services/files/disk-guard.js';
import { SessionRuntime } from './services/sessions/session-runtime.js';
import { closeInterruptedTurn, SessionOwnership } from './services/sessions/session-ownership.js';
import { SessionService } from './services/sessions/session-service.js';
import { ToolRequestService } from './managed/tool-requests.js';
import { ManagedAgentsService } from './managed/managed-service.js';
import { PathScrubber } from './services/sessions/text-safety.js';
import { AgentStore } from './storage/agent-store.js';
import { createObjectStore } from './storage/create-object-store.js';
import { AgentArchives, AgentFiles } from './services/agents/agent-files.js';
import { AttachmentService } from './services/files/attachment-service.js';
import { SessionFiles } from './services/files/session-files.js';
import { WorkspaceSnapshots } from './services/files/workspace-snapshots.js';
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
  /** The session engine. */
  runtime: SessionRuntime;
  /**
   * The in-process runner hosting this server's sandboxes (`runner.pool.startGate` is what tests
   * hold to keep a sandbox start pending); none with ASH_LOCAL_RUNNER=off.
   */
  runner: InProcessRunner | undefined;
  /** This host's sandbox manager (the runner's factory); none with ASH_LOCAL_RUNNER=off. */
  sandboxes: SandboxManager | undefined;
  /** Where sessions run: the local runner and registered runners (the session engine's runner client). */
  router: RunnerRouter;
  /** The registered runners this server places on. */
  fleet: RunnerFleet;
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
  // Traces only with OTEL_EXPORTER_OTLP_ENDPOINT (the SDK is loaded only then); metrics always.
  const telemetry = await createTelemetry({
    tracesUrl: config.otel.tracesUrl,
    serviceName: config.otel.serviceName,
    version: SERVER_VERSION,
  });
  const logger = createLogger({
    level: config.logLevel,
    secrets,
    mixin: () => telemetry.logIds(),
    ...(opts.logDestination ? { destination: opts.logDestination } : {}),
  });
  const ownerId = serverId(config.dataDir);
  const pricing = loadPricing(config.pricesFile);
  // The egress CA (created once under the data dir: two openssl runs the first time): terminates
  // TLS for hosts with a bound credential. Opened while the database opens (it only waits).
  const openingEgressCa = EgressCa.open(join(config.dataDir, 'egress-ca')).catch((err: unknown) => {
    logger.warn(
      { err: err instanceof Error ? err.message : String(err) },
      'no egress CA (is the openssl CLI installed?): HTTPS to hosts with a bound credential is refused',
    );
    return undefined;
  });
  // `phase` lines tell `ash start` how far the start got (it shows them while it waits).
  logger.info({ phase: 'database' }, 'opening the database and applying migrations');
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
  const objects = await createObjectStore(config);
  try {
    await objects.check();
  } catch (err) {
    await db.close();
    throw err;
  }
  // The egress CA (opened above, beside the database).
  const egressCa = await openingEgressCa;
  // The embedded default: this process hosts sandboxes too (one pool, an in-process runner).
  let local: Awaited<ReturnType<typeof createSandboxHost>> | undefined;
  if (config.localRunner)
    logger.info({ phase: 'sandbox' }, 'checking sandbox isolation (bubblewrap, cgroups)');
  try {
    local = !config.localRunner
      ? undefined
      : await createSandboxHost(config, {
          groupPrefix: 'ash-',
          modelUpstreamUrl: config.anthropicBaseUrl,
          egressCa,
          onSpareStart: (outcome, seconds) =>
            telemetry.metrics.sandboxStart.observe({ kind: 'spare', outcome }, seconds),
          log: logger,
        });
  } catch (err) {
    await db.close();
    throw err;
  }
  const sandboxes = local?.manager;
  // With ASH_LOCAL_RUNNER=off this server hosts no sandboxes: every session runs on a runner.
  const sandboxInfo: SandboxInfo = sandboxes?.info ?? {
    mode: config.sandboxMode,
    limits: 'none',
    disk: 'poll',
    warnings: ['this server hosts no sandboxes (ASH_LOCAL_RUNNER=off): sessions run on registered runners'],
  };
  for (const w of sandboxes?.info.warnings ?? []) logger.warn(w);
  const host = sandboxes;
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
  const usage = new UsageService({
    repos,
    pricing,
    log: logger.child({ component: 'usage' }),
    metrics: telemetry.metrics,
  });
  let sessions: SessionService | undefined;
  const toolRequests = new ToolRequestService({ repos, log: logger.child({ component: 'tool-requests' }) });
  const diskGuard = new DiskGuard(config.dataDir, config.minFreeDiskMb);
  const runner = local?.runner;
  // Registered runners (`ash runner`): sessions are placed over them and the local runner.
  const router = new RunnerRouter({
    ...(runner ? { local: runner } : {}),
    needs: async (sessionId) => {
      const s = await repos.sessions.getInternal(sessionId);
      if (!s) return { labels: {}, localOnly: false };
      const agent = await repos.agents.get(s.tenantId, s.agentName);
      const agentLabels = agent?.config.runnerLabels;
      return {
        labels: {
          ...(agentLabels && typeof agentLabels === 'object' ? (agentLabels as Record<string, string>) : {}),
          ...s.runnerLabels,
        },
        localOnly: bindingsOf(agent?.config, s.config).length > 0,
        agent: { tenantId: s.tenantId, name: s.agentName, version: s.agentVersion },
      };
    },
    log: logger.child({ component: 'router' }),
  });
  const gateway = new ModelGateway({
    upstreamUrl: config.anthropicBaseUrl,
    log: logger.child({ component: 'gateway' }),
  });
  // Where runners reach this server (checkout, checkpoint, model gateway): set once listening.
  let coordinatorUrl = config.advertiseUrl ?? '';
  const fleet = new RunnerFleet({
    repos,
    router,
    timeoutMs: config.runnerTimeoutMs,
    client: {
      secret: config.internalSecret,
      timeoutMs: RUNNER_CALL_TIMEOUT_MS,
      coordinatorUrl: () => coordinatorUrl,
      gateway,
      place: (id, runnerId) => repos.sessions.placeOnRunner(id, runnerId),
      leave: (id, generation) => repos.sessions.leaveRunner(id, generation),
      manifest: (id) => scanManifest({ workspace: paths.workspace(id), claude: paths.claudeConfig(id) }),
      log: logger.child({ component: 'runner-link' }),
    },
    // A lost runner's sessions: fenced (a new lease generation: anything the runner still sends
    // is refused, and its heartbeat answer names them foreign), their files stored and released
    // when no turn runs, so the next message (through any server) places them again from the
    // last checkpoint.
    onSessionsLost: async (runnerId, ids) => {
      for (const id of ids) {
        if (!(await repos.sessions.fenceFromRunner(id, runnerId))) continue; // placed again meanwhile
        const s = await repos.sessions.getInternal(id);
        if (!s || s.ownerId !== ownerId || s.activeTurnId) continue;
        // Like every release: the files (this server's copy, as of the last checkpoint) are
        // stored first, so whichever server claims the session next finds them. If storing
        // fails the session stays owned here and the lease renewal retries.
        try {
          await persist?.(s);
        } catch (err) {
          logger.warn(
            { err, sessionId: id },
            'could not store the files of a lost runner’s session; keeping it',
          );
          continue;
        }
        // Not if a turn started meanwhile (a message placed it again): it stays owned here.
        await repos.sessions.releaseOwnershipIfIdle(id, ownerId);
      }
    },
    log: logger.child({ component: 'runners' }),
  });
  const runtime = new SessionRuntime({
    diskGuard,
    repos,
    runner: router,
    agents: store,
    config,
    log: logger,
    version: SERVER_VERSION,
    ownerId,
    scrubber,
    credentials,
    hooks: usage,
    telemetry,
    onToolRequest: (r) => toolRequests.onRequest(r),
    onSessionEvicted: async (s, reason) => {
      const record = await repos.sessions.get(s.tenantId, s.id);
      if (record && sessions) await sessions.lifecycle(record, 'paused', { reason });
    },
    // Evicted sessions are released like paused ones: their snapshot first (see below).
    beforeRelease: async (s) => {
      const record = await repos.sessions.get(s.tenantId, s.id);
      if (record) await persist?.(record);
    },
  });
  // Workspace data (issue 5): object storage copies, files, bundles, snapshots, attachments.
  const archives = new AgentArchives({ repos, store: objects, agents: store, log: logger });
  const snapshots = new WorkspaceSnapshots({ repos, store: objects, paths, log: logger });
  // Snapshots go to object storage when a session is released (pause, eviction, shutdown) and
  // the store is remote (S3): another server sharing the database and the bucket can then take
  // the session over. A local store shares the disk with the workspace: a copy would add nothing.
  // Snapshots go to object storage when it is remote (S3): another server sharing the database
  // and the bucket can then take the session over. A local store shares the disk with the
  // workspace, so a copy there would add nothing. If the snapshot cannot be stored, the session
  // keeps its workspace here (resumable on this server); pausing again retries the snapshot.
  const persist =
    objects.kind === 's3'
      ? async (s: SessionRecord) => {
          const span = telemetry.tracing.start('ash.checkpoint', {
            ...(telemetry.current()?.span ? { parent: telemetry.current()!.span! } : {}),
            attributes: { 'ash.session_id': s.id },
          });
          try {
            await snapshots.save(s);
            span.end();
          } catch (err) {
            span.fail(err instanceof Error ? err.message : String(err));
            span.end();
            if (err instanceof AppError && err.code === 'storage_unavailable')
              throw new AppError(
                'storage_unavailable',
                'object storage is unavailable: the session workspace is kept on this server (it can be resumed here), but its snapshot was not stored; pause it again to retry',
                err.extra,
              );
            throw err;
          }
        }
      : undefined;
  const ownership = new SessionOwnership({
    repos,
    ownerId,
    leaseMs: config.ownerLeaseMs,
    paths,
    snapshots,
    log: logger.child({ component: 'ownership' }),
    localSessions: () => runtime.localSessionIds(),
    onLost: (id) => runtime.stop(id, 'ended or taken over by another server'),
    ...(persist ? { persist } : {}),
    // Runners (other processes) keep a turn running when the server streaming it dies: the
    // server that takes the session over continues it (only with the runner link configured).
    ...(config.internalSecret ? { adoptTurn: (s: SessionRecord) => runtime.adoptTurn(s) } : {}),
  });
  const sessionFiles = new SessionFiles({
    repos,
    paths,
    snapshots,
    ownership,
    isLive: (id) => runtime.hasLiveSandbox(id),
    owner: (id) => host?.ownerOf(id),
    ...(host ? { lockFiles: (id: string) => host.lockSessionFiles(id) } : {}),
    // A write to a session live on a runner: its next turn checks the files out first.
    onWritten: (id) => {
      const client = router.runnerOf(id)?.client;
      if (client instanceof HttpRunnerClient) client.markCheckout(id);
    },
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
    ownership,
    defaultPrewarmCount: config.prewarmCount,
    poolRefillDelayMs: config.poolRefillDelayMs,
    hooks: {
      ...(persist ? { beforeRelease: persist } : {}),
      beforeResume: async (s) => void (await snapshots.restore(s)),
      beforeTurn: async (s) => void (await snapshots.restore(s)),
      restoreAgentFolder: (s) => archives.ensureVersion(s.tenantId, s.agentName, s.agentVersion),
      ensureAgentFolder: (agent) => archives.ensureLocal(agent),
      resolveContent: (session, content) => attachments.resolveContent(session, content),
      copyForkData: (parent, child) => attachments.copyToSession(parent, child),
    },
  });
  const sessionService = sessions;
  const agents = new AgentService({
    repos,
    store,
    dataDir: config.dataDir,
    maxAgentBytes: config.agentMaxSizeBytes,
    deployPathRoots: config.deployPathRoots,
    credentials,
    onAgentDeleted: async (tenantId, name) => {
      await runtime.dropSpares(tenantId, name);
      await sessionService.endAgentSessions(tenantId, name);
      await repos.agentVersions.deleteAgent(tenantId, name);
    },
    stopWarmSandboxes: (tenantId, name) => runtime.dropSpares(tenantId, name),
    onAgentDeployed: async (agent, replaceSpares) => {
      if (replaceSpares) await runtime.dropSpares(agent.tenantId, agent.name);
      void runtime.replenishSpares(agent, sessionService.prewarmCount(agent)).catch(() => undefined);
    },
    archives,
  });
  credentials.onRevoked(async (tenantId, id) => {
    await runtime.stopSessionsUsingCredential(tenantId, id);
  });
  logger.info({ phase: 'recover' }, 'recovering the sessions of a previous run');
  await releaseOwned(repos, ownerId, logger, persist);
  await apiKeys.bootstrap(config.dataDir);
  await credentials.selfCheck();
  runner?.start();
  ownership.start();
  fleet.start();
  // Warm pools, in the background once listening (a sandbox boot takes a core: it must not delay
  // the start), for the agents used within the idle timeout (not every agent ever deployed: a
  // spare is a process).
  const warmPools = () =>
    (async () => {
      const since = new Date(Date.now() - config.idleTimeoutMs).toISOString();
      const used = new Set(
        (await repos.sessions.agentsUsedSince(since)).map((u) => `${u.tenantId}\u0000${u.agentName}`),
      );
      for (const a of await repos.agents.listAllInternal()) {
        if (!used.has(`${a.tenantId}\u0000${a.name}`) || !store.hasVersion(a.tenantId, a.name, a.version))
          continue;
        logger.info({ phase: 'warm', agent: a.name }, `warming sandboxes for agent ${a.name}`);
        await runtime.replenishSpares(a, sessionService.prewarmCount(a));
      }
    })().catch((err: unknown) => logger.warn({ err }, 'could not prepare warm sandboxes'));
  const processor = new QueueProcessor({
    id: ownerId,
    repos,
    sessions: sessionService,
    log: logger.child({ component: 'queue' }),
    metrics: telemetry.metrics,
    ...config.queue,
  });
  const queue = new QueueService({ repos, onEnqueued: () => processor.notify() });

  /** The local runner and the registered runners (live ones from the fleet), as /health lists them. */
  const runnerStatus = (): RunnerStatus[] => {
    const out: RunnerStatus[] = [];
    if (runner) {
      const st = runner.stats();
      out.push({
        name: 'local',
        local: true,
        url: null,
        labels: {},
        state: 'ok',
        capacity: {
          max: st.maxCapacity,
          active: st.live,
          available: Math.max(0, st.maxCapacity - st.live - st.reserved),
        },
        liveSessions: router.sessionsOn('local').length,
        warm: st.warm,
        lastHeartbeat: null,
      });
    }
    for (const m of fleet.list()) {
      const st = m.client.stats();
      out.push({
        name: m.id,
        local: false,
        url: m.url,
        labels: m.labels,
        state: m.draining ? 'draining' : 'ok',
        capacity: {
          max: st.maxCapacity,
          active: st.live,
          available: Math.max(0, st.maxCapacity - st.live - st.reserved),
        },
        liveSessions: m.report?.sessions.length ?? m.client.placedSessions().length,
        warm: st.warm,
        lastHeartbeat: new Date(m.lastHeartbeatAt).toISOString(),
      });
    }
    return out;
  };
  /** {@link runnerStatus} plus registered runners that are not live (lost). */
  const runnersHealth = async (): Promise<RunnerStatus[]> => {
    const live = runnerStatus();
    const names = new Set(live.map((r) => r.name));
    for (const row of await repos.runners.list()) {
      if (names.has(row.id)) continue;
      live.push({
        name: row.id,
        local: false,
        url: row.url,
        labels: row.labels,
        state: 'lost',
        capacity: { max: row.maxSandboxes, active: 0, available: 0 },
        liveSessions: 0,
        warm: 0,
        lastHeartbeat: row.lastHeartbeatAt,
      });
    }
    return live;
  };
  const link = new RunnerLinkService({
    repos,
    paths,
    fleet,
    ownerId,
    // A checkpoint delta is at most the workspace (the sandbox's disk limit) plus tar framing.
    maxCheckpointBytes: Math.max(config.sandboxLimits.diskMb, 64) * 2 * 1024 * 1024,
    ...(persist ? { persist } : {}),
    agentDir: async (tenantId, name, version) =>
      (await archives.ensureVersion(tenantId, name, version))
        ? store.versionDir(tenantId, name, version)
        : undefined,
    log: logger.child({ component: 'runner-link' }),
  });
  const startedAt = Date.now();
  const coordinatorId = `${hostname()}-${process.pid}`;
  const health = async (): Promise<Health> => {
    const disk = await diskGuard.problem();
    return {
      status: disk ? 'degraded' : 'ok',
      reasons: disk ? [disk] : [],
      version: SERVER_VERSION,
      uptime: Math.floor((Date.now() - startedAt) / 1000),
      activeSessions: await repos.sessions.countActive(),
      activeSandboxes: runtime.liveSandboxCount,
      coordinatorId,
      pool: runtime.stats(),
      sandbox: sandboxInfo,
      runners: await runnersHealth(),
      warnings,
      uploadLimits: {
        agentBytes: config.agentMaxSizeBytes,
        messageBytes: config.messageMaxSizeBytes,
        fileBytes: config.data.fileMaxBytes,
        fileBatchBytes: config.data.batchMaxBytes,
        attachmentBytes: config.data.attachmentMaxBytes,
        bundleBytes: config.data.bundleMaxBytes,
      },
    };
  };

  const app = await buildApp({
    logger,
    telemetry,
    version: SERVER_VERSION,
    agents,
    sessions: sessionService,
    runtime,
    health,
    diskGuard,
    apiKeys,
    credentials,
    runners: new RunnerService({
      repos,
      fleet,
      hasLocal: !!runner,
      log: logger.child({ component: 'runners' }),
    }),
    runnerLink: { link, gateway },
    runnerStatus,
    security: {
      internal: { secret: config.internalSecret, open: config.internalOpen },
      rateLimit: config.rateLimit,
      allowedOrigins: config.allowedOrigins,
    },
    trustProxy: config.trustProxy,
    // base64 inflates by 4/3; allow for JSON around it.
    limits: {
      deployBodyBytes: Math.ceil(config.agentMaxSizeBytes * 1.4) + 1024 * 1024,
      messageBodyBytes: Math.ceil(config.messageMaxSizeBytes * 1.4) + 64 * 1024,
    },
    sseHeartbeatMs: config.sseHeartbeatMs,
    sessionConfig: new SessionConfigService({ repos, paths, credentials }),
    usage,
    queue,
    compat: new CompatService({ repos, agents }),
    managed: new ManagedAgentsService({
      repos,
      agents,
      sessions: sessionService,
      runtime,
      toolRequests,
      log: logger.child({ component: 'managed-agents' }),
    }),
    // Only a shared database (Postgres) can have other servers to forward to.
    ...(config.databaseUrl
      ? {
          forwarding: {
            repos,
            serverId: ownerId,
            leaseMs: config.ownerLeaseMs,
            log: logger.child({ component: 'forwarding' }),
          },
        }
      : {}),
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
    runtime,
    runner,
    sandboxes,
    router,
    fleet,
    async listen() {
      const address = await app.listen({ port: config.port, host: config.host });
      coordinatorUrl = config.advertiseUrl ?? advertisedAddress(address);
      if (config.databaseUrl) {
        // Where the other servers sharing the database forward requests for our sessions.
        const url = config.advertiseUrl ?? advertisedAddress(address);
        await repos.servers.upsert({ id: ownerId, url, now: new Date().toISOString() });
      }
      logger.info(
        {
          version: SERVER_VERSION,
          address,
          dataDir: config.dataDir,
          sandbox: sandboxes ? sandboxInfo.mode : 'none',
        },
        `Ash v${SERVER_VERSION} listening`,
      );
      // Warm-ups only now that /health answers: a spare bridge, then the agents' warm pools.
      sandboxes?.refillIdleBridges();
      void warmPools();
      loadDeferredModulesSoon(app.server, logger);
      return address;
    },
    async close() {
      if (closed) return;
      closed = true;
      processor.stop();
      await runtime.shutdown();
      await fleet.stop();
      await router.shutdown();
      await link.settled();
      await gateway.close();
      await processor.drain();
      await usage.settled();
      // Turns have ended, so open streams are closing. A client that stopped reading a response
      // (a stalled download) would hold the close forever: its connection is cut after a grace.
      const cut = setTimeout(() => app.server.closeAllConnections(), CLOSE_GRACE_MS);
      await app.close().finally(() => clearTimeout(cut));
      // Give the sessions this server ran back (snapshots stored first, with S3): another server
      // can take them over at once instead of waiting for the lease to run out.
      await ownership.stop();
      await releaseOwned(repos, ownerId, logger, persist).catch((err: unknown) =>
        logger.error({ err }, 'could not release the sessions of this server'),
      );
      await sandboxes?.close();
      await objects.close();
      await closeDb(db);
      await telemetry.shutdown().catch(() => undefined);
      unlock();
    },
  };
}

/**
 * Loads, in the background, what the start left to first use (undici for model and runner calls,
 * Ajv and fast-json-stringify for request validation and responses, mime-types for files), so the
 * first turn or upload does not pay for it: once the first response is sent (usually the /health
 * a start waits for) or a second after listening, whichever comes first.
 */
function loadDeferredModulesSoon(server: FastifyInstance['server'], log: Logger): void {
  let started = false;
  const load = () => {
    if (started) return;
    started = true;
    clearTimeout(timer);
    server.off('request', onRequest);
    void (async () => {
      for (const name of [
        'undici',
        'ajv',
        'ajv-formats',
        '@fastify/fast-json-stringify-compiler',
        'mime-types',
      ])
        await import(name);
    })().catch((err: unknown) => log.warn({ err }, 'could not preload a module'));
  };
  const onRequest = (_req: unknown, res: NodeJS.EventEmitter) => res.once('finish', load);
  const timer = setTimeout(load, 1_000);
  timer.unref();
  server.on('request', onRequest);
}

/** Timeout of each call to a runner (turn streams and sandbox starts excepted), ms. */
const RUNNER_CALL_TIMEOUT_MS = 30_000;

/** How long (ms) a closing server waits for in-flight responses before cutting connections. */
const CLOSE_GRACE_MS = 5_000;

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
 * Releases the sessions this server owns (at start, after a crash; at shutdown). A turn that was
 * running is closed with `error` + `done` (so clients and history see how it ended), its slot
 * released; active sessions become `paused` (resumable; the next message resumes them). With
 * `persist` (S3), their files are stored first so another server can take them over; a session
 * whose files cannot be stored is released all the same (logged): this server is going away.
 */
async function releaseOwned(
  repos: Repos,
  ownerId: string,
  log: Logger,
  persist: ((s: SessionRecord) => Promise<void>) | undefined,
): Promise<void> {
  const owned = await repos.sessions.listOwnedBy(ownerId);
  for (const s of owned) {
    await closeInterruptedTurn(repos, s, log);
    if (persist && s.status !== 'ended') {
      await persist(s).catch((err: unknown) =>
        log.error({ err, sessionId: s.id }, 'could not store the files of a session being released'),
      );
    }
    await repos.sessions.update(s.tenantId, s.id, {
      ownerId: null,
      ownerHeartbeatAt: null,
      ...(s.status === 'active' || s.status === 'starting' ? { status: 'paused' } : {}),
    });
  }
}

/** The listen address as others reach it: a wildcard host (0.0.0.0, ::) becomes this host's name. */
function advertisedAddress(address: string): string {
  const u = new URL(address);
  if (u.hostname === '0.0.0.0' || u.hostname === '[::]') u.hostname = hostname();
  return u.origin;
}
