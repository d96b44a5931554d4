/**
 * Postgres tables. Column names and TypeScript property names are identical to `sqlite.ts`, so the
 * repositories are written once against either (drizzle has no dialect-neutral schema; see
 * drizzle-orm issue #1196). Timestamps are ISO-8601 text; JSON is text.
 */
import { bigint, doublePrecision, index, integer, pgTable, text, uniqueIndex } from 'drizzle-orm/pg-core';

export const agents = pgTable(
  'agents',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull(),
    name: text('name').notNull(),
    version: integer('version').notNull(),
    description: text('description'),
    env: text('env').notNull(),
    config: text('config').notNull(),
    fileCount: integer('file_count').notNull(),
    sizeBytes: integer('size_bytes').notNull(),
    /** Object storage key of the deployed folder's archive (null: not uploaded). */
    storageKey: text('storage_key'),
    createdAt: text('created_at').notNull(),
    updatedAt: text('updated_at').notNull(),
  },
  (t) => [uniqueIndex('agents_tenant_name').on(t.tenantId, t.name)],
);

export const sessions = pgTable(
  'sessions',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull(),
    agentName: text('agent_name').notNull(),
    agentVersion: integer('agent_version').notNull(),
    status: text('status').notNull(),
    /** The runner hosting the session's sandbox, when a remote runner does (null: this server's own). */
    runnerId: text('runner_id'),
    /** Lease generation: bumped at every placement on a runner; a runner's writes carry it (fencing). */
    leaseGeneration: integer('lease_generation').notNull().default(0),
    /** `runnerLabels` the session's runner must carry (JSON object; null: none). */
    runnerLabels: text('runner_labels'),
    ownerId: text('owner_id'),
    /** Lease of the owner: renewed by its heartbeat; older than ASH_OWNER_LEASE_MS = the owner is dead. */
    ownerHeartbeatAt: text('owner_heartbeat_at'),
    parentSessionId: text('parent_session_id'),
    model: text('model'),
    config: text('config').notNull(),
    extraEnv: text('extra_env'),
    credentialId: text('credential_id'),
    activeTurnId: text('active_turn_id'),
    turnStartedAt: text('turn_started_at'),
    lastEventSeq: integer('last_event_seq').notNull(),
    lastMessageSeq: integer('last_message_seq').notNull(),
    /** Per-session spending limit in USD (null: none). */
    budgetUsd: doublePrecision('budget_usd'),
    /** Where the last workspace snapshot was stored (object storage key), and when. */
    snapshotKey: text('snapshot_key'),
    snapshotAt: text('snapshot_at'),
    pausedAt: text('paused_at'),
    createdAt: text('created_at').notNull(),
    lastActiveAt: text('last_active_at').notNull(),
    endedAt: text('ended_at'),
  },
  (t) => [
    index('sessions_tenant_created').on(t.tenantId, t.createdAt),
    index('sessions_tenant_agent').on(t.tenantId, t.agentName),
    index('sessions_owner').on(t.ownerId),
  ],
);

export const messages = pgTable(
  'messages',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull(),
    sessionId: text('session_id').notNull(),
    role: text('role').notNull(),
    type: text('type').notNull(),
    content: text('content').notNull(),
    text: text('text').notNull(),
    sequence: integer('sequence').notNull(),
    turnId: text('turn_id'),
    /** The runner's number of the turn event this row came from (a takeover resumes after the highest). */
    sourceIndex: integer('source_index'),
    createdAt: text('created_at').notNull(),
  },
  (t) => [uniqueIndex('messages_session_seq').on(t.sessionId, t.sequence)],
);

export const sessionEvents = pgTable(
  'session_events',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull(),
    sessionId: text('session_id').notNull(),
    type: text('type').notNull(),
    data: text('data').notNull(),
    sequence: integer('sequence').notNull(),
    turnId: text('turn_id'),
    /** The runner's number of the turn event this row came from (a takeover resumes after the highest). */
    sourceIndex: integer('source_index'),
    createdAt: text('created_at').notNull(),
  },
  (t) => [uniqueIndex('session_events_session_seq').on(t.sessionId, t.sequence)],
);

/** API keys: only an HMAC of the key is stored; `prefix` is a short display hint. */
export const apiKeys = pgTable(
  'api_keys',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull(),
    keyHash: text('key_hash').notNull(),
    prefix: text('prefix').notNull(),
    label: text('label'),
    createdAt: text('created_at').notNull(),
    lastUsedAt: text('last_used_at'),
    revokedAt: text('revoked_at'),
  },
  (t) => [uniqueIndex('api_keys_hash').on(t.keyHash), index('api_keys_tenant').on(t.tenantId)],
);

/** Credentials: the value is AES-256-GCM encrypted under a key derived per credential (salt, KDF). */
export const credentials = pgTable(
  'credentials',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull(),
    type: text('type').notNull(),
    label: text('label'),
    ciphertext: text('ciphertext').notNull(),
    iv: text('iv').notNull(),
    authTag: text('auth_tag').notNull(),
    salt: text('salt').notNull(),
    kdf: text('kdf').notNull(),
    active: integer('active').notNull(),
    createdAt: text('created_at').notNull(),
    updatedAt: text('updated_at').notNull(),
    lastUsedAt: text('last_used_at'),
  },
  (t) => [index('credentials_tenant').on(t.tenantId)],
);

/** Files attached to a session (stored through the storage interface). */
export const attachments = pgTable(
  'attachments',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull(),
    sessionId: text('session_id').notNull(),
    messageId: text('message_id'),
    filename: text('filename').notNull(),
    storedName: text('stored_name').notNull(),
    mimeType: text('mime_type').notNull(),
    size: integer('size').notNull(),
    sha256: text('sha256').notNull(),
    storageKey: text('storage_key').notNull(),
    createdAt: text('created_at').notNull(),
  },
  (t) => [index('attachments_session').on(t.tenantId, t.sessionId)],
);

/**
 * The usage ledger. `kind`: `model_call` (one per API message, deduplicated by `dedupeKey` =
 * the API message id), `tool_call`, `turn`, `compute`, `egress` (one sandbox connection). Cost is computed at write time from a
 * versioned price table (`priceVersion`); the SDK's own estimate is kept beside it.
 */
export const usageRecords = pgTable(
  'usage_records',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull(),
    sessionId: text('session_id'),
    agentName: text('agent_name'),
    turnId: text('turn_id'),
    kind: text('kind').notNull(),
    dedupeKey: text('dedupe_key'),
    model: text('model'),
    inputTokens: integer('input_tokens').notNull(),
    outputTokens: integer('output_tokens').notNull(),
    cacheCreationTokens: integer('cache_creation_tokens').notNull(),
    cacheReadTokens: integer('cache_read_tokens').notNull(),
    toolCalls: integer('tool_calls').notNull(),
    egressAllowed: integer('egress_allowed').notNull().default(0),
    egressDenied: integer('egress_denied').notNull().default(0),
    egressBytesUp: bigint('egress_bytes_up', { mode: 'number' }).notNull().default(0),
    egressBytesDown: bigint('egress_bytes_down', { mode: 'number' }).notNull().default(0),
    computeSeconds: doublePrecision('compute_seconds').notNull(),
    costUsd: doublePrecision('cost_usd').notNull(),
    sdkCostUsd: doublePrecision('sdk_cost_usd'),
    priceVersion: text('price_version'),
    createdAt: text('created_at').notNull(),
  },
  (t) => [
    uniqueIndex('usage_dedupe').on(t.tenantId, t.dedupeKey),
    index('usage_tenant_time').on(t.tenantId, t.createdAt),
    index('usage_session').on(t.sessionId),
  ],
);

/** Background work: prompts run as turns by the queue processor, with retries. */
export const queueItems = pgTable(
  'queue_items',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull(),
    agentName: text('agent_name').notNull(),
    sessionId: text('session_id'),
    prompt: text('prompt').notNull(),
    options: text('options').notNull(),
    status: text('status').notNull(),
    priority: integer('priority').notNull(),
    retryCount: integer('retry_count').notNull(),
    maxRetries: integer('max_retries').notNull(),
    runAt: text('run_at').notNull(),
    error: text('error'),
    result: text('result'),
    claimedBy: text('claimed_by'),
    claimedAt: text('claimed_at'),
    heartbeatAt: text('heartbeat_at'),
    createdAt: text('created_at').notNull(),
    startedAt: text('started_at'),
    completedAt: text('completed_at'),
  },
  (t) => [
    index('queue_status_run').on(t.status, t.runAt, t.priority),
    index('queue_tenant').on(t.tenantId, t.status),
  ],
);

/** Runner nodes registered with a coordinator. */
export const runners = pgTable('runners', {
  id: text('id').primaryKey(),
  host: text('host').notNull(),
  port: integer('port').notNull(),
  maxSandboxes: integer('max_sandboxes').notNull(),
  activeCount: integer('active_count').notNull(),
  lastHeartbeatAt: text('last_heartbeat_at').notNull(),
  registeredAt: text('registered_at').notNull(),
  /** Base URL coordinators call the runner at (null: registered by an older runner, never placed on). */
  url: text('url'),
  /** Its labels (JSON object). */
  labels: text('labels').notNull().default('{}'),
  /** Its last report (JSON `RunnerReport`; null before the first heartbeat with one). */
  report: text('report'),
  /** 1: an operator asked it to drain (it takes no new session). */
  draining: integer('draining').notNull().default(0),
});

/**
 * The servers sharing this database, with the URL the others reach each at (ASH_ADVERTISE_URL):
 * a request for a session another live server owns is forwarded there.
 */
export const servers = pgTable('servers', {
  id: text('id').primaryKey(),
  url: text('url').notNull(),
  heartbeatAt: text('heartbeat_at').notNull(),
});

/** Per-tenant settings (budgets...). */
export const tenantSettings = pgTable('tenant_settings', {
  tenantId: text('tenant_id').primaryKey(),
  budgetUsd: doublePrecision('budget_usd'),
  updatedAt: text('updated_at').notNull(),
});

/**
 * Prompt versions of an agent (the upstream Ash's "agent versions"): a system prompt, release
 * notes and knowledge file paths; the active one gives new sessions their system prompt.
 */
export const agentVersions = pgTable(
  'agent_versions',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull(),
    agentName: text('agent_name').notNull(),
    versionNumber: integer('version_number').notNull(),
    name: text('name').notNull(),
    systemPrompt: text('system_prompt'),
    releaseNotes: text('release_notes'),
    isActive: integer('is_active').notNull(),
    knowledgeFiles: text('knowledge_files').notNull(),
    createdAt: text('created_at').notNull(),
    updatedAt: text('updated_at').notNull(),
  },
  (t) => [uniqueIndex('agent_versions_tenant_agent_number').on(t.tenantId, t.agentName, t.versionNumber)],
);

/**
 * Objects of the Managed Agents API (`/v1`) that Ash has no table for, as JSON documents:
 * `environment` (version 0), `agent` (one row per config version, from 1; the agent itself
 * is an agent folder), `session` (version 0: environment id, title, metadata of an Ash session).
 */
export const managedObjects = pgTable(
  'managed_objects',
  {
    tenantId: text('tenant_id').notNull(),
    kind: text('kind').notNull(),
    id: text('id').notNull(),
    version: integer('version').notNull(),
    data: text('data').notNull(),
    createdAt: text('created_at').notNull(),
    updatedAt: text('updated_at').notNull(),
    archivedAt: text('archived_at'),
  },
  (t) => [uniqueIndex('managed_objects_key').on(t.tenantId, t.kind, t.id, t.version)],
);
