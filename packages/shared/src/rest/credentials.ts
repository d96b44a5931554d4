import { type Static, Type } from '@sinclair/typebox';
import { Nullable, Timestamp, Uuid } from './common.js';

/**
 * Credential types and what a session using one gets:
 * - `anthropic`: the model API key, used by the host-side model proxy only (never in the sandbox);
 * - `openai`: `OPENAI_API_KEY` in the agent's environment;
 * - `custom`: `ASH_CUSTOM_API_KEY` in the agent's environment;
 * - `bedrock`: `key` is JSON `{accessKeyId, secretAccessKey, region, sessionToken?}` and becomes
 *   `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_SESSION_TOKEN` and
 *   `CLAUDE_CODE_USE_BEDROCK=1` in the agent's environment.
 */
export const CredentialTypeSchema = Type.Union([
  Type.Literal('anthropic'),
  Type.Literal('openai'),
  Type.Literal('bedrock'),
  Type.Literal('custom'),
]);
export type CredentialType = Static<typeof CredentialTypeSchema>;

/** The JSON a `bedrock` credential's `key` holds. */
export const BedrockKeySchema = Type.Object(
  {
    accessKeyId: Type.String({ minLength: 1, maxLength: 256 }),
    secretAccessKey: Type.String({ minLength: 1, maxLength: 1024 }),
    region: Type.String({ pattern: '^[a-z0-9-]+$', minLength: 1, maxLength: 64 }),
    sessionToken: Type.Optional(Type.String({ minLength: 1, maxLength: 8192 })),
  },
  { additionalProperties: false },
);
export type BedrockKey = Static<typeof BedrockKeySchema>;

/** `POST /api/credentials`. `key` is write-only: no endpoint ever returns it. */
export const CreateCredentialBodySchema = Type.Object(
  {
    type: CredentialTypeSchema,
    key: Type.String({ minLength: 1, maxLength: 16_384 }),
    label: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
  },
  { additionalProperties: false },
);
export type CreateCredentialBody = Static<typeof CreateCredentialBodySchema>;

/** `PATCH /api/credentials/:id`: relabel or (de)activate. An inactive credential cannot be used. */
export const UpdateCredentialBodySchema = Type.Object(
  {
    label: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 255 }))),
    active: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateCredentialBody = Static<typeof UpdateCredentialBodySchema>;

/** A credential as the API returns it: never its value. */
export const CredentialSchema = Type.Object(
  {
    id: Uuid,
    type: CredentialTypeSchema,
    label: Nullable(Type.String()),
    active: Type.Boolean(),
    createdAt: Timestamp,
    updatedAt: Timestamp,
    /** When a session last started with it. */
    lastUsedAt: Nullable(Timestamp),
  },
  { $id: 'Credential' },
);
export type Credential = Static<typeof CredentialSchema>;

export const CredentialResponseSchema = Type.Object({ credential: CredentialSchema });
export const CredentialListResponseSchema = Type.Object({ credentials: Type.Array(CredentialSchema) });
export const CredentialIdParamsSchema = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
