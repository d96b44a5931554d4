import { type Static, Type } from '@sinclair/typebox';
import { Nullable, Timestamp } from './common.js';
import { RunnerLabelsSchema, RunnerReportSchema } from '../runner-link.js';

/**
 * API keys look like `ash_` followed by 32 base64url characters (24 random bytes, RFC 4648 §5).
 * Keys given to the server through `ASH_API_KEY` may have any shape allowed by
 * {@link BEARER_TOKEN_PATTERN}.
 */
export const API_KEY_PATTERN = '^ash_[A-Za-z0-9_-]{32}$';

/**
 * What the server accepts after `Bearer ` in an `Authorization` header: an RFC 6750 §2.1
 * `b64token` (letters, digits, `-._~+/`, then optional `=` padding), at most 512 characters.
 */
export const BEARER_TOKEN_PATTERN = '^[A-Za-z0-9\\-._~+/]+=*$';

/** Tenant ids: letters, digits, `_` and `-`, 1..64 characters. */
export const TENANT_ID_PATTERN = '^[a-zA-Z0-9_-]{1,64}$';
export const TenantId = Type.String({ pattern: TENANT_ID_PATTERN, minLength: 1, maxLength: 64 });

const Label = Type.String({ minLength: 1, maxLength: 255 });

/**
 * An API key as the API lists it. The key itself is never returned after creation; `keyPrefix`
 * (the first 8 characters, e.g. `ash_AbCd`) helps tell keys apart.
 */
export const ApiKeySchema = Type.Object(
  {
    /** The key's id (a UUID), or `env` for the key configured with `ASH_API_KEY`. */
    id: Type.String(),
    tenantId: Type.String(),
    keyPrefix: Type.String(),
    label: Nullable(Type.String()),
    createdAt: Nullable(Timestamp),
    /** When the key last authenticated a request (updated at most once a minute). */
    lastUsedAt: Nullable(Timestamp),
  },
  { $id: 'ApiKey' },
);
export type ApiKey = Static<typeof ApiKeySchema>;

/** `POST /api/api-keys`: a new key for the caller's tenant. */
export const CreateApiKeyBodySchema = Type.Object(
  { label: Type.Optional(Label) },
  { additionalProperties: false },
);
export type CreateApiKeyBody = Static<typeof CreateApiKeyBodySchema>;

/** `POST /api/internal/api-keys`: a new key for any tenant (provisions the tenant). */
export const CreateTenantApiKeyBodySchema = Type.Object(
  { tenantId: TenantId, label: Type.Optional(Label) },
  { additionalProperties: false },
);
export type CreateTenantApiKeyBody = Static<typeof CreateTenantApiKeyBodySchema>;

/**
 * A newly created key: `key` is the plaintext, shown this once. `id` and `tenantId` repeat
 * `apiKey.id` / `apiKey.tenantId` (upstream Ash clients read them at the top level).
 */
export const CreatedApiKeyResponseSchema = Type.Object({
  id: Type.String(),
  tenantId: Type.String(),
  key: Type.String(),
  apiKey: ApiKeySchema,
});
export type CreatedApiKeyResponse = Static<typeof CreatedApiKeyResponseSchema>;

export const ApiKeyListResponseSchema = Type.Object({ keys: Type.Array(ApiKeySchema) });
export const ApiKeyIdParamsSchema = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });

/** Runner ids: letters, digits, `.`, `_` and `-`, 1..128 characters. */
export const RunnerId = Type.String({ pattern: '^[a-zA-Z0-9._-]+$', minLength: 1, maxLength: 128 });

/** `POST /api/internal/runners/register`: a runner announces itself (upsert). */
export const RegisterRunnerBodySchema = Type.Object(
  {
    runnerId: RunnerId,
    host: Type.String({ minLength: 1, maxLength: 255 }),
    port: Type.Integer({ minimum: 1, maximum: 65535 }),
    maxSandboxes: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000, default: 100 })),
    /** Base URL coordinators call the runner at (`http` or `https`); without it nothing is placed on it. */
    url: Type.Optional(Type.String({ minLength: 1, maxLength: 2048, pattern: '^https?://' })),
    /** Its labels (`--label k=v`): sessions with `runnerLabels` go only to runners carrying them all. */
    labels: Type.Optional(RunnerLabelsSchema),
  },
  { additionalProperties: false },
);
export type RegisterRunnerBody = Static<typeof RegisterRunnerBodySchema>;

/** `POST /api/internal/runners/heartbeat`: the runner is alive and runs `activeCount` sandboxes. */
export const RunnerHeartbeatBodySchema = Type.Object(
  {
    runnerId: RunnerId,
    activeCount: Type.Integer({ minimum: 0, maximum: 100_000 }),
    /** The runner's pool figures (accepted for upstream compatibility; not stored). */
    stats: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { maxProperties: 64 })),
    /** What the runner hosts (capacity, sessions with their lease generation); see runner-link.ts. */
    report: Type.Optional(RunnerReportSchema),
  },
  { additionalProperties: false },
);
export type RunnerHeartbeatBody = Static<typeof RunnerHeartbeatBodySchema>;

/** `POST /api/internal/runners/deregister`. */
export const DeregisterRunnerBodySchema = Type.Object(
  { runnerId: RunnerId },
  { additionalProperties: false },
);
export type DeregisterRunnerBody = Static<typeof DeregisterRunnerBodySchema>;

/** A registered runner as `GET /api/internal/runners` lists it. */
export const RunnerSchema = Type.Object({
  runnerId: Type.String(),
  host: Type.String(),
  port: Type.Integer(),
  /** Sandboxes running on it at the last heartbeat. */
  active: Type.Integer(),
  max: Type.Integer(),
  lastHeartbeat: Timestamp,
  registeredAt: Timestamp,
});
export type Runner = Static<typeof RunnerSchema>;

export const RunnerListResponseSchema = Type.Object({
  runners: Type.Array(RunnerSchema),
  count: Type.Integer(),
  /** True: this server also runs sandboxes itself. */
  hasLocal: Type.Boolean(),
});
export type RunnerListResponse = Static<typeof RunnerListResponseSchema>;
