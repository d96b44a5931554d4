import { type Static, Type } from '@sinclair/typebox';
import { Nullable, Timestamp } from './common.js';
import { UsageTotalsSchema } from './usage.js';

/**
 * Routes the upstream Ash has and Ash serves with the upstream shapes: agent prompt versions,
 * agent config, command execution and logs of a session's sandbox, and analytics.
 */

/** A prompt version of an agent. The active one gives new sessions their system prompt. */
export const AgentVersionSchema = Type.Object(
  {
    id: Type.String(),
    agentName: Type.String(),
    versionNumber: Type.Integer(),
    name: Type.String(),
    systemPrompt: Nullable(Type.String()),
    releaseNotes: Nullable(Type.String()),
    isActive: Type.Boolean(),
    knowledgeFiles: Type.Array(Type.String()),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  },
  { $id: 'AgentVersion' },
);
export type AgentVersion = Static<typeof AgentVersionSchema>;

const KnowledgeFiles = Type.Array(Type.String({ minLength: 1, maxLength: 4096 }), { maxItems: 1000 });

/** `POST /api/agents/:name/versions`: the next number is assigned; `cloneFrom` copies unset fields. */
export const CreateAgentVersionBodySchema = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
    systemPrompt: Type.Optional(Type.String({ maxLength: 1_000_000 })),
    releaseNotes: Type.Optional(Type.String({ maxLength: 10_000 })),
    knowledgeFiles: Type.Optional(KnowledgeFiles),
    /** A version number or id to copy `systemPrompt` and `knowledgeFiles` from. */
    cloneFrom: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.String({ maxLength: 64 })])),
  },
  { additionalProperties: false },
);
export type CreateAgentVersionBody = Static<typeof CreateAgentVersionBodySchema>;

/** `PATCH /api/agents/:name/versions/:version`. */
export const UpdateAgentVersionBodySchema = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
    systemPrompt: Type.Optional(Type.String({ maxLength: 1_000_000 })),
    releaseNotes: Type.Optional(Type.String({ maxLength: 10_000 })),
    knowledgeFiles: Type.Optional(KnowledgeFiles),
  },
  { additionalProperties: false },
);
export type UpdateAgentVersionBody = Static<typeof UpdateAgentVersionBodySchema>;

export const AgentVersionParamsSchema = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 255 }),
  /** A version number or a version id. */
  version: Type.String({ minLength: 1, maxLength: 64 }),
});
export const AgentVersionResponseSchema = Type.Object({ version: AgentVersionSchema });
export const AgentVersionListResponseSchema = Type.Object({ versions: Type.Array(AgentVersionSchema) });
export const ActivatedVersionResponseSchema = Type.Object({
  activated: Type.Literal(true),
  versionNumber: Type.Integer(),
});

/** `GET/PUT/PATCH /api/agents/:name/config` answer: the agent's config (secrets redacted). */
export const AgentConfigResponseSchema = Type.Object({
  config: Type.Record(Type.String(), Type.Unknown()),
});

/** `POST /api/sessions/:id/exec`: a shell command in the session's sandbox. */
export const ExecBodySchema = Type.Object(
  {
    command: Type.String({ minLength: 1, maxLength: 100_000 }),
    /** Milliseconds before the command is killed (1..300000, default 30000). */
    timeout: Type.Optional(Type.Integer({ minimum: 1, maximum: 300_000 })),
  },
  { additionalProperties: false },
);
export type ExecBody = Static<typeof ExecBodySchema>;

/** What a command did. Output beyond the limit is cut (`truncated`); a timeout kills it (`timedOut`). */
export const ExecResultSchema = Type.Object(
  {
    /** Exit status; 124 after a timeout, 128+n after signal n. */
    exitCode: Type.Integer(),
    stdout: Type.String(),
    stderr: Type.String(),
    timedOut: Type.Boolean(),
    truncated: Type.Boolean(),
    durationMs: Type.Integer(),
  },
  { $id: 'ExecResult' },
);
export type ExecResult = Static<typeof ExecResultSchema>;

/** One line of a sandbox's output ring. */
export const LogEntrySchema = Type.Object({
  /** Position in the ring since the sandbox started (increasing). */
  index: Type.Integer(),
  level: Type.Union([Type.Literal('stdout'), Type.Literal('stderr'), Type.Literal('system')]),
  text: Type.String(),
  ts: Timestamp,
});
export type LogEntry = Static<typeof LogEntrySchema>;

export const LogsQuerySchema = Type.Object(
  {
    after: Type.Optional(
      Type.Integer({ minimum: -1, default: -1, description: 'Entries with index > after' }),
    ),
  },
  { additionalProperties: false },
);
export const LogsResponseSchema = Type.Object({
  logs: Type.Array(LogEntrySchema),
  source: Type.Literal('sandbox'),
});
export type LogsResponse = Static<typeof LogsResponseSchema>;

/** `GET /api/analytics`: the tenant's figures in a time range. */
export const AnalyticsQuerySchema = Type.Object(
  { after: Type.Optional(Timestamp), before: Type.Optional(Timestamp) },
  { additionalProperties: false },
);
export const AnalyticsSchema = Type.Object({
  agents: Type.Object({ total: Type.Integer() }),
  sessions: Type.Object({
    total: Type.Integer(),
    byStatus: Type.Record(Type.String(), Type.Integer()),
  }),
  usage: UsageTotalsSchema,
  /** Ash has no evals: always zero (kept for upstream clients). */
  evals: Type.Object({ totalRuns: Type.Integer(), byStatus: Type.Record(Type.String(), Type.Integer()) }),
});
export type Analytics = Static<typeof AnalyticsSchema>;
