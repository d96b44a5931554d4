import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { type BlockList, isIP } from 'node:net';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { type Static, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { BEARER_TOKEN_PATTERN } from '@ash-ai/shared';
import {
  SandboxHostEnvProperties,
  type SandboxHostSettings,
  sandboxHostSettingsFromEnv,
} from '@ash-ai/runner';

const Int = (def: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
  Type.Integer({ default: def, minimum: min, maximum: max });

/**
 * Every environment variable the server reads, with its default. Parsed once at start
 * ({@link loadConfig}); nothing else reads `process.env`.
 */
export const EnvSchema = Type.Object({
  ...SandboxHostEnvProperties,
  /** TCP port (0 = any free port). */
  ASH_PORT: Int(4100, 0, 65535),
  /** Interface to listen on. `0.0.0.0` exposes the server beyond this machine. */
  ASH_HOST: Type.String({ default: '127.0.0.1', minLength: 1 }),
  /** Data directory: database, agents, session workspaces. Default `~/.ash`. */
  ASH_DATA_DIR: Type.Optional(Type.String({ minLength: 1 })),
  /** `postgres://…` to use Postgres instead of the embedded SQLite. */
  ASH_DATABASE_URL: Type.Optional(Type.String({ minLength: 1 })),
  ASH_LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
    { default: 'info' },
  ),
  /**
   * PEM file of extra CA certificates that verify the upstream of hosts with a bound credential
   * (their TLS is terminated by the egress proxy), added to Node's roots.
   */
  ASH_EGRESS_CA_FILE: Type.Optional(Type.String({ minLength: 1 })),
  /** Below this much free space in the data dir (MiB) new sessions, turns and uploads answer 507 (0 = off). */
  ASH_MIN_FREE_DISK_MB: Int(256, 0),
  /** Pre-warmed sandboxes kept per agent (an agent's `config.preWarmCount` overrides it). */
  ASH_PREWARM_COUNT: Int(1, 0, 16),
  /** A turn with no event for this long ends with `turn_timeout`, ms. */
  ASH_TURN_IDLE_TIMEOUT_MS: Int(10 * 60_000, 100),
  /** After an interrupt, how long the SDK gets to stop on its own before the sandbox is killed, ms. */
  ASH_INTERRUPT_GRACE_MS: Int(3000, 0),
  /** SSE comment heartbeat interval when nothing else is sent, ms (at most 15 s). */
  ASH_SSE_HEARTBEAT_MS: Int(15_000, 100, 15_000),
  /** The real Anthropic API key; used only by the host-side model proxy, never given to a sandbox. */
  ANTHROPIC_API_KEY: Type.Optional(Type.String({ minLength: 1 })),
  /** Where the model proxy forwards to. */
  ANTHROPIC_BASE_URL: Type.String({ default: 'https://api.anthropic.com', minLength: 1 }),
  /** Largest agent deploy upload (decoded), MiB. */
  ASH_AGENT_MAX_SIZE_MB: Int(100, 1),
  /**
   * Comma-separated folders on the server from which agents may be deployed by `path`. Unset:
   * deploying by path is off (every tenant would otherwise read any folder of the server).
   */
  ASH_DEPLOY_PATH_ROOTS: Type.Optional(Type.String({ minLength: 1 })),
  /** Largest message body, MiB. */
  ASH_MESSAGE_MAX_SIZE_MB: Int(50, 1),
  // Workspace data: files, attachments, bundles, object storage.
  /** Largest single file of a files upload (decoded), MiB. */
  ASH_FILE_MAX_SIZE_MB: Int(50, 1),
  /** Largest files upload batch (decoded, all files together), MiB. */
  ASH_FILE_BATCH_MAX_SIZE_MB: Int(100, 1),
  /** Largest attachment (decoded), MiB. */
  ASH_ATTACHMENT_MAX_SIZE_MB: Int(10, 1),
  /** Largest workspace bundle: the upload and its extracted content, each, MiB. */
  ASH_BUNDLE_MAX_SIZE_MB: Int(200, 1),
  /** Most entries (files, folders, links) a workspace bundle may hold. */
  ASH_BUNDLE_MAX_ENTRIES: Int(20_000, 1),
  /** S3 bucket for object storage; when set, S3 replaces the local disk store. */
  ASH_S3_BUCKET: Type.Optional(Type.String({ minLength: 1 })),
  /** Endpoint of an S3-compatible service (default: AWS). */
  ASH_S3_ENDPOINT: Type.Optional(Type.String({ minLength: 1 })),
  /** Key prefix inside the bucket. */
  ASH_S3_PREFIX: Type.Optional(Type.String({ minLength: 1 })),
  ASH_S3_REGION: Type.String({ default: 'us-east-1', minLength: 1 }),
  /** Path-style bucket URLs (needed by most S3-compatible servers). */
  ASH_S3_FORCE_PATH_STYLE: Type.Boolean({ default: false }),
  /**
   * Longest wait of one S3 attempt, ms: for the connection, for an answer to a request without a
   * large body, and for any pause while data flows.
   */
  ASH_S3_TIMEOUT_MS: Int(10_000, 100, 600_000),
  /** Attempts per S3 operation (first try + retries of transient failures: no answer, 5xx, 429). */
  ASH_S3_MAX_ATTEMPTS: Int(3, 1, 10),
  /** Static S3 credentials (else the AWS default chain: instance role, profile...). */
  AWS_ACCESS_KEY_ID: Type.Optional(Type.String({ minLength: 1 })),
  AWS_SECRET_ACCESS_KEY: Type.Optional(Type.String({ minLength: 1 })),
  AWS_SESSION_TOKEN: Type.Optional(Type.String({ minLength: 1 })),
  // Auth, tenants, credentials (docs/security.md).
  /** A key of the `default` tenant (kept in memory only; not stored in the database). */
  ASH_API_KEY: Type.Optional(Type.String({ minLength: 16, maxLength: 512, pattern: BEARER_TOKEN_PATTERN })),
  /** Secret API keys are hashed with (HMAC-SHA256). Default: generated once into `<data dir>/key-hash-secret`. */
  ASH_KEY_HASH_SECRET: Type.Optional(Type.String({ minLength: 32 })),
  /** Bearer secret of the internal routes (`/api/internal/*`: tenant keys, runners). */
  ASH_INTERNAL_SECRET: Type.Optional(
    Type.String({ minLength: 16, maxLength: 512, pattern: BEARER_TOKEN_PATTERN }),
  ),
  /** `1`: internal routes need no secret. Only allowed when the server listens on loopback only. */
  ASH_INTERNAL_OPEN: Type.Union([Type.Literal('0'), Type.Literal('1')], { default: '0' }),
  /** Master key of stored credentials (AES-256-GCM, per-credential scrypt). Unset: credentials are off. */
  ASH_CREDENTIAL_KEY: Type.Optional(Type.String({ minLength: 16 })),
  /** Requests per API key (or per client IP without one) and window; `0` switches rate limiting off. */
  ASH_RATE_LIMIT_MAX: Int(1000, 0),
  ASH_RATE_LIMIT_WINDOW_MS: Int(60_000, 1000),
  /**
   * Which proxies' `X-Forwarded-For` is believed for the client address (rate limits, failed-auth
   * lockout): `true` (every hop: only when the server is reachable solely through the proxy) or
   * comma-separated proxy addresses / CIDRs. Unset: the socket's peer address.
   */
  ASH_TRUST_PROXY: Type.Optional(Type.String({ minLength: 1 })),
  /** Comma-separated origins allowed by CORS (exact, e.g. `https://app.example.com`); `*` allows any. */
  ASH_ALLOWED_ORIGINS: Type.Optional(Type.String()),
  /** JSON price table laid over the built-in one (usage ledger costs); see docs/configuration.md. */
  ASH_PRICES_FILE: Type.Optional(Type.String({ minLength: 1 })),
  /** Queue items this server runs at once (0: this server runs no queue processor). */
  ASH_QUEUE_CONCURRENCY: Int(2, 0, 64),
  /** How often an idle queue processor looks for due items, ms. */
  ASH_QUEUE_POLL_MS: Int(1000, 10, 60_000),
  /** First retry delay of a failed queue item, ms; doubled on every further retry. */
  ASH_QUEUE_RETRY_BASE_MS: Int(5000, 0),
  /** Longest retry delay, ms. */
  ASH_QUEUE_RETRY_MAX_MS: Int(15 * 60_000, 0),
  /** How often a running queue item's heartbeat is written, ms. */
  ASH_QUEUE_HEARTBEAT_MS: Int(5000, 10),
  /** A running item whose heartbeat is older than this is taken back (its server died), ms. */
  ASH_QUEUE_STALE_MS: Int(30_000, 100),
  /**
   * Session ownership lease, ms: a server renews the lease of the sessions it runs every third of
   * this; another server sharing the database may take a session over only when its owner released
   * it or did not renew the lease for this long (the owner is considered dead).
   */
  ASH_OWNER_LEASE_MS: Int(30_000, 300),
  /**
   * The base URL other servers sharing the database reach this one at (they forward requests for
   * the sessions this server runs); default: the listen address (0.0.0.0 / :: → the host name).
   */
  ASH_ADVERTISE_URL: Type.Optional(Type.String({ minLength: 1 })),
  /**
   * `off`: this server hosts no sandboxes (no sandbox manager, no local runner) and places every
   * session on registered runners (`ash runner`); none with room → 503 `capacity_reached`.
   */
  ASH_LOCAL_RUNNER: Type.Union([Type.Literal('on'), Type.Literal('off')], { default: 'on' }),
  /**
   * A registered runner whose last heartbeat is older than this is lost, ms: its turns end with
   * `runner_lost` and its sessions are placed elsewhere at their next message.
   */
  ASH_RUNNER_TIMEOUT_MS: Int(10_000, 500),
  /** OpenTelemetry: traces are exported over OTLP/HTTP to this base URL (`/v1/traces` is added); off when unset. */
  OTEL_EXPORTER_OTLP_ENDPOINT: Type.Optional(Type.String({ minLength: 1 })),
  /** OpenTelemetry: the full traces URL (takes precedence over the base endpoint). */
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: Type.Optional(Type.String({ minLength: 1 })),
  /** OpenTelemetry: `service.name` of the spans. */
  OTEL_SERVICE_NAME: Type.String({ default: 'ash-server', minLength: 1 }),
});
export type Env = Static<typeof EnvSchema>;

/** The parsed server configuration (its sandbox settings as `ash runner`'s). Units are in the names. */
export interface Config extends SandboxHostSettings {
  port: number;
  host: string;
  databaseUrl: string | undefined;
  logLevel: string;
  /** Host uids for sandboxes, one per live sandbox (inclusive). */
  sandboxUidRange: { first: number; last: number };
  /** Sandbox network egress: private CIDRs allowed (ASH_EGRESS_ALLOW_CIDRS) and per-sandbox limits. */
  egress: {
    allowCidrs: BlockList;
    allowCidrsText: string;
    maxConnections: number;
    maxBytesPerTurn: number;
    /** Roots verifying intercepted upstreams (Node's + ASH_EGRESS_CA_FILE); undefined: Node's defaults. */
    upstreamCa?: string[] | undefined;
  };
  /** ASH_MAX_CONCURRENT_STARTS (default: CPUs). */
  maxConcurrentStarts: number;
  /** ASH_MIN_FREE_DISK_MB. */
  minFreeDiskMb: number;
  prewarmCount: number;
  turnIdleTimeoutMs: number;
  interruptGraceMs: number;
  sseHeartbeatMs: number;
  anthropicApiKey: string | undefined;
  anthropicBaseUrl: string;
  agentMaxSizeBytes: number;
  /** Absolute folders `path` deploys must lie in; empty = path deploys are off. */
  deployPathRoots: string[];
  messageMaxSizeBytes: number;
  /** Limits on workspace data, bytes / counts. */
  data: {
    fileMaxBytes: number;
    batchMaxBytes: number;
    attachmentMaxBytes: number;
    bundleMaxBytes: number;
    bundleMaxEntries: number;
  };
  /** S3 object storage; undefined = local disk under the data dir. */
  s3:
    | {
        bucket: string;
        endpoint: string | undefined;
        prefix: string | undefined;
        region: string;
        forcePathStyle: boolean;
        /** Per-attempt timeout, ms. */
        timeoutMs: number;
        /** Attempts per operation (≥ 1). */
        maxAttempts: number;
        credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined;
      }
    | undefined;
  /** A key of the `default` tenant from the environment. */
  apiKey: string | undefined;
  /** The HMAC secret for API keys, when given by the environment. */
  keyHashSecret: string | undefined;
  internalSecret: string | undefined;
  /** Internal routes need no secret (loopback-only servers; checked at load). */
  internalOpen: boolean;
  credentialKey: string | undefined;
  /** Requests per key per window; `max` 0 = off. */
  rateLimit: { max: number; windowMs: number };
  /** Exact origins CORS allows (`*` = any); empty = none. */
  allowedOrigins: string[];
  /** Fastify `trustProxy`: whose `X-Forwarded-For` gives the client address; `false` = none. */
  trustProxy: boolean | string[];
  pricesFile: string | undefined;
  /** OpenTelemetry traces: the OTLP/HTTP traces URL (tracing is off without one) and service name. */
  otel: { tracesUrl: string | undefined; serviceName: string };
  /** Session ownership lease (multi-server), ms. */
  ownerLeaseMs: number;
  /** Where other servers reach this one (multi-server forwarding); undefined = the listen address. */
  advertiseUrl: string | undefined;
  /** ASH_LOCAL_RUNNER: whether this server hosts sandboxes itself. */
  localRunner: boolean;
  /** ASH_RUNNER_TIMEOUT_MS: a runner silent for this long is lost. */
  runnerTimeoutMs: number;
  queue: {
    concurrency: number;
    pollMs: number;
    retryBaseMs: number;
    retryMaxMs: number;
    heartbeatMs: number;
    staleMs: number;
  };
}

/**
 * `ASH_TRUST_PROXY`: unset/`false` = no proxy is trusted; `true` = every hop; otherwise
 * comma-separated IP addresses or CIDR ranges of the trusted proxies. (Hop counts are not offered:
 * they cannot check the immediate peer, and Fastify ignores them.)
 */
function parseTrustProxy(value: string | undefined): boolean | string[] {
  const v = value?.trim().toLowerCase();
  if (!v || v === 'false' || v === '0') return false;
  if (v === 'true') return true;
  const list = v
    .split(',')
    .map((a) => a.trim())
    .filter(Boolean);
  for (const a of list) {
    const [addr, bits, ...rest] = a.split('/');
    const okBits = bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= 128);
    if (rest.length || !okBits || !addr || isIP(addr) === 0) {
      throw new ConfigError(
        `invalid configuration: ASH_TRUST_PROXY: '${a}' is not an IP address or CIDR range (expected true or comma-separated proxy addresses)`,
      );
    }
  }
  return list;
}

/** Raised when the environment is invalid; the message names every bad variable. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/**
 * Parses the environment into a {@link Config}.
 * @throws ConfigError naming each invalid variable.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const raw: Record<string, unknown> = {};
  for (const key of Object.keys(EnvSchema.properties)) {
    const v = env[key];
    if (v !== undefined && v !== '') raw[key] = v;
  }
  const converted = Value.Default(EnvSchema, Value.Convert(EnvSchema, raw));
  if (!Value.Check(EnvSchema, converted)) {
    const seen = new Set<string>();
    const problems = [...Value.Errors(EnvSchema, converted)].flatMap((e) => {
      const name = e.path.slice(1);
      if (seen.has(name)) return [];
      seen.add(name);
      // A union of literals: name the allowed values instead of "Expected union value".
      const options = (e.schema as { anyOf?: Array<{ const?: unknown }> }).anyOf
        ?.map((s) => s.const)
        .filter((c) => c !== undefined);
      return [`${name}: ${options?.length ? `must be one of ${options.join(', ')}` : e.message}`];
    });
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  }
  const e = converted as Env;
  if (e.ASH_ADVERTISE_URL && !/^https?:\/\/[^/\s]+/i.test(e.ASH_ADVERTISE_URL)) {
    throw new ConfigError(
      `invalid configuration: ASH_ADVERTISE_URL must be an http:// or https:// base URL (it is ${e.ASH_ADVERTISE_URL})`,
    );
  }
  if (e.ASH_DATABASE_URL && !/^postgres(ql)?:\/\//i.test(e.ASH_DATABASE_URL)) {
    throw new ConfigError(
      'invalid configuration: ASH_DATABASE_URL must be a postgres:// URL (unset it to use SQLite)',
    );
  }
  if (e.ASH_S3_ENDPOINT && !/^https?:\/\//i.test(e.ASH_S3_ENDPOINT)) {
    throw new ConfigError('invalid configuration: ASH_S3_ENDPOINT must be an http(s):// URL');
  }
  if (e.ASH_INTERNAL_OPEN === '1' && !isLoopbackHost(e.ASH_HOST)) {
    throw new ConfigError(
      `invalid configuration: ASH_INTERNAL_OPEN=1 is only allowed when ASH_HOST is a loopback address (it is ${e.ASH_HOST}); set ASH_INTERNAL_SECRET instead`,
    );
  }
  const allowedOrigins = (e.ASH_ALLOWED_ORIGINS ?? '')
    .split(',')
    .map((o) => o.trim())
    .filter(Boolean);
  for (const o of allowedOrigins) {
    if (o !== '*' && !/^https?:\/\/[^/\s]+$/.test(o)) {
      throw new ConfigError(
        `invalid configuration: ASH_ALLOWED_ORIGINS: '${o}' is not an origin (scheme://host[:port], no path)`,
      );
    }
  }
  const trustProxy = parseTrustProxy(e.ASH_TRUST_PROXY);
  let upstreamCa: string[] | undefined;
  if (e.ASH_EGRESS_CA_FILE) {
    let pem: string;
    try {
      pem = readFileSync(e.ASH_EGRESS_CA_FILE, 'utf8');
    } catch (err) {
      throw new ConfigError(
        `invalid configuration: ASH_EGRESS_CA_FILE: cannot read ${e.ASH_EGRESS_CA_FILE} (${(err as NodeJS.ErrnoException).code ?? err})`,
      );
    }
    if (!pem.includes('-----BEGIN CERTIFICATE-----'))
      throw new ConfigError(
        `invalid configuration: ASH_EGRESS_CA_FILE: ${e.ASH_EGRESS_CA_FILE} holds no PEM certificate`,
      );
    upstreamCa = [...rootCertificates, pem];
  }
  const dataDir = e.ASH_DATA_DIR ? resolveDir(e.ASH_DATA_DIR) : join(homedir(), '.ash');
  const sandboxProblems: string[] = [];
  const sandbox = sandboxHostSettingsFromEnv(e, dataDir, sandboxProblems);
  if (sandboxProblems.length > 0)
    throw new ConfigError(`invalid configuration: ${sandboxProblems.join('; ')}`);
  return {
    ...sandbox,
    port: e.ASH_PORT,
    host: e.ASH_HOST,
    databaseUrl: e.ASH_DATABASE_URL,
    logLevel: e.ASH_LOG_LEVEL,
    egress: { ...sandbox.egress, allowCidrsText: e.ASH_EGRESS_ALLOW_CIDRS ?? '', upstreamCa },
    minFreeDiskMb: e.ASH_MIN_FREE_DISK_MB,
    prewarmCount: e.ASH_PREWARM_COUNT,
    turnIdleTimeoutMs: e.ASH_TURN_IDLE_TIMEOUT_MS,
    interruptGraceMs: e.ASH_INTERRUPT_GRACE_MS,
    sseHeartbeatMs: e.ASH_SSE_HEARTBEAT_MS,
    anthropicApiKey: e.ANTHROPIC_API_KEY,
    anthropicBaseUrl: e.ANTHROPIC_BASE_URL,
    agentMaxSizeBytes: e.ASH_AGENT_MAX_SIZE_MB * 1024 * 1024,
    deployPathRoots: (e.ASH_DEPLOY_PATH_ROOTS ?? '')
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean)
      .map(resolveDir),
    messageMaxSizeBytes: e.ASH_MESSAGE_MAX_SIZE_MB * 1024 * 1024,
    data: {
      fileMaxBytes: e.ASH_FILE_MAX_SIZE_MB * 1024 * 1024,
      batchMaxBytes: e.ASH_FILE_BATCH_MAX_SIZE_MB * 1024 * 1024,
      attachmentMaxBytes: e.ASH_ATTACHMENT_MAX_SIZE_MB * 1024 * 1024,
      bundleMaxBytes: e.ASH_BUNDLE_MAX_SIZE_MB * 1024 * 1024,
      bundleMaxEntries: e.ASH_BUNDLE_MAX_ENTRIES,
    },
    s3: e.ASH_S3_BUCKET
      ? {
          bucket: e.ASH_S3_BUCKET,
          endpoint: e.ASH_S3_ENDPOINT,
          prefix: e.ASH_S3_PREFIX,
          region: e.ASH_S3_REGION,
          forcePathStyle: e.ASH_S3_FORCE_PATH_STYLE,
          timeoutMs: e.ASH_S3_TIMEOUT_MS,
          maxAttempts: e.ASH_S3_MAX_ATTEMPTS,
          credentials:
            e.AWS_ACCESS_KEY_ID && e.AWS_SECRET_ACCESS_KEY
              ? {
                  accessKeyId: e.AWS_ACCESS_KEY_ID,
                  secretAccessKey: e.AWS_SECRET_ACCESS_KEY,
                  ...(e.AWS_SESSION_TOKEN ? { sessionToken: e.AWS_SESSION_TOKEN } : {}),
                }
              : undefined,
        }
      : undefined,
    apiKey: e.ASH_API_KEY,
    keyHashSecret: e.ASH_KEY_HASH_SECRET,
    internalSecret: e.ASH_INTERNAL_SECRET,
    internalOpen: e.ASH_INTERNAL_OPEN === '1',
    credentialKey: e.ASH_CREDENTIAL_KEY,
    rateLimit: { max: e.ASH_RATE_LIMIT_MAX, windowMs: e.ASH_RATE_LIMIT_WINDOW_MS },
    allowedOrigins,
    trustProxy,
    pricesFile: e.ASH_PRICES_FILE ? resolveDir(e.ASH_PRICES_FILE) : undefined,
    otel: {
      tracesUrl:
        e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ??
        (e.OTEL_EXPORTER_OTLP_ENDPOINT && `${e.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, '')}/v1/traces`),
      serviceName: e.OTEL_SERVICE_NAME,
    },
    ownerLeaseMs: e.ASH_OWNER_LEASE_MS,
    advertiseUrl: e.ASH_ADVERTISE_URL?.replace(/\/+$/, ''),
    localRunner: e.ASH_LOCAL_RUNNER === 'on',
    runnerTimeoutMs: e.ASH_RUNNER_TIMEOUT_MS,
    queue: {
      concurrency: e.ASH_QUEUE_CONCURRENCY,
      pollMs: e.ASH_QUEUE_POLL_MS,
      retryBaseMs: e.ASH_QUEUE_RETRY_BASE_MS,
      retryMaxMs: e.ASH_QUEUE_RETRY_MAX_MS,
      heartbeatMs: e.ASH_QUEUE_HEARTBEAT_MS,
      staleMs: e.ASH_QUEUE_STALE_MS,
    },
  };
}

function resolveDir(p: string): string {
  if (p === '~' || p.startsWith('~/')) return join(homedir(), p.slice(1));
  return isAbsolute(p) ? p : resolve(p);
}

/**
 * True when `host` only accepts connections from this machine: `localhost`, `127.0.0.0/8`
 * (RFC 1122 §3.2.1.3) or `::1`.
 */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** `first-last` (inclusive) of ASH_SANDBOX_UID_RANGE, at least 1 and below 2^31. */
