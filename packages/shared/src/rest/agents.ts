import { type Static, type TOptional, type TSchema, Type } from '@sinclair/typebox';
import type { BridgeSdkOptions } from '../bridge.js';
import { AgentName, EnvMap, Timestamp, Uuid } from './common.js';
import { TurnOptionsSchema } from './messages.js';
import { SessionConfigSchema } from './sessions.js';
import { RunnerLabelsSchema } from '../runner-link.js';

/** One uploaded file: a relative path inside the agent folder and its bytes in base64. */
export const UploadFileSchema = Type.Object({
  path: Type.String({ minLength: 1, maxLength: 4096, description: 'Relative path, `/`-separated' }),
  content: Type.String({ description: 'File bytes, base64 (RFC 4648 §4)' }),
});
export type UploadFile = Static<typeof UploadFileSchema>;

/**
 * Agent configuration: defaults for the agent's sessions. The SDK options (every session config
 * option and every turn option: `model`, `systemPrompt`, `permissionMode`, `allowedTools`,
 * `maxTurns`, `effort`...) are validated like on a session or turn; other keys are kept as given
 * (free-form settings of other features). Precedence: turn > session > agent config > agent folder.
 */
export const AgentConfigSchema = Type.Object(
  Object.fromEntries(
    Object.entries({
      ...SessionConfigSchema.properties,
      ...TurnOptionsSchema.properties,
      // Placement: the agent's sessions run only on runners carrying all these labels.
      runnerLabels: RunnerLabelsSchema,
    }).map(([k, v]) => [
      k,
      // `null` is accepted in PATCH bodies, where it removes the key.
      Type.Optional(Type.Union([v as TSchema, Type.Null()])),
    ]),
  ) as Record<string, TOptional<TSchema>>,
  {
    additionalProperties: true,
    description: 'Agent-level defaults; see docs/api.md for recognised keys',
  },
);
/** Agent configuration: the SDK option defaults, plus other features' keys. */
export type AgentConfig = Partial<BridgeSdkOptions> & Record<string, unknown>;

/**
 * `POST /api/agents`: deploy (or redeploy) an agent. Either `path` (a folder on the server's
 * machine) or `files` (uploaded) must be given. The folder must contain `CLAUDE.md` (or
 * `systemPrompt` is given, which becomes `CLAUDE.md` of an uploaded agent).
 */
export const DeployAgentBodySchema = Type.Object(
  {
    name: AgentName,
    path: Type.Optional(
      Type.String({ minLength: 1, maxLength: 4096, description: 'Folder on the server machine' }),
    ),
    files: Type.Optional(Type.Array(UploadFileSchema, { maxItems: 10000 })),
    systemPrompt: Type.Optional(Type.String({ maxLength: 1_000_000 })),
    description: Type.Optional(Type.String({ maxLength: 4096 })),
    env: Type.Optional(EnvMap),
    config: Type.Optional(AgentConfigSchema),
  },
  { additionalProperties: false },
);
export type DeployAgentBody = Static<typeof DeployAgentBodySchema>;

/** An agent as the API returns it. `env` values are always redacted to `***`. */
export const AgentSchema = Type.Object(
  {
    id: Uuid,
    name: Type.String(),
    tenantId: Type.String(),
    /** Bumped by one on every redeploy. */
    version: Type.Integer(),
    /**
     * Where the deployed folder lives, relative to the server's data dir
     * (`agents/<name>/v<version>`): never a host path. Upstream clients read it on every agent.
     */
    path: Type.String(),
    description: Type.Union([Type.String(), Type.Null()]),
    /** Variable names with redacted values (write-only). */
    env: Type.Record(Type.String(), Type.String()),
    config: AgentConfigSchema,
    /** Number of files in the deployed folder. */
    fileCount: Type.Integer(),
    /** Total bytes of the deployed folder. */
    sizeBytes: Type.Integer(),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  },
  { $id: 'Agent' },
);
export type Agent = Static<typeof AgentSchema>;

export const AgentResponseSchema = Type.Object({ agent: AgentSchema });
/** `POST /api/agents`: the agent; `unchanged: true` when the redeploy matched the current version (nothing published). */
export const DeployAgentResponseSchema = Type.Object({
  agent: AgentSchema,
  unchanged: Type.Optional(Type.Boolean()),
});
export const AgentListResponseSchema = Type.Object({ agents: Type.Array(AgentSchema) });
export const AgentNameParamsSchema = Type.Object({ name: Type.String({ minLength: 1, maxLength: 255 }) });

/** `PATCH /api/agents/:name`: replace `env` and/or shallow-merge `config`. */
export const UpdateAgentBodySchema = Type.Object(
  {
    description: Type.Optional(Type.String({ maxLength: 4096 })),
    env: Type.Optional(EnvMap),
    config: Type.Optional(AgentConfigSchema),
  },
  { additionalProperties: false },
);
export type UpdateAgentBody = Static<typeof UpdateAgentBodySchema>;
