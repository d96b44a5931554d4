import { type Static, Type } from '@sinclair/typebox';
import { AgentName, ENV_NAME_PATTERN, EnvMap, Nullable, Timestamp, Uuid } from './common.js';
import { RunnerLabelsSchema } from '../runner-link.js';

/**
 * Session lifecycle states.
 * - `starting`: created, its sandbox is being prepared;
 * - `active`: usable (its process may be alive or will start on the next message);
 * - `paused`: no process; workspace and transcript kept; resumable (eviction also lands here);
 * - `stopped`: the same as `paused`, reached by `POST …/stop` (the upstream Ash's name); resumable;
 * - `ended`: terminal; history readable, no more turns (410);
 * - `error`: the sandbox failed; resumable.
 */
export const SessionStatusSchema = Type.Union([
  Type.Literal('starting'),
  Type.Literal('active'),
  Type.Literal('paused'),
  Type.Literal('stopped'),
  Type.Literal('ended'),
  Type.Literal('error'),
]);
export type SessionStatus = Static<typeof SessionStatusSchema>;

/**
 * SDK permission modes (Claude Agent SDK `PermissionMode`), plus the upstream Ash's
 * `permissionsByAgent`: the agent folder's own `.claude/settings.json` decides (its
 * `permissions.defaultMode`, else `default` with its allow/deny rules) instead of Ash's unattended
 * `bypassPermissions` default.
 */
export const PermissionModeSchema = Type.Union([
  Type.Literal('permissionsByAgent'),
  Type.Literal('default'),
  Type.Literal('acceptEdits'),
  Type.Literal('bypassPermissions'),
  Type.Literal('plan'),
  Type.Literal('dontAsk'),
]);
export type PermissionMode = Static<typeof PermissionModeSchema>;

const StringList = Type.Array(Type.String({ minLength: 1, maxLength: 256 }), { maxItems: 256 });

/** An MCP server for the session (Claude Agent SDK `McpServerConfig`, process transports only). */
export const McpServerSchema = Type.Union([
  Type.Object(
    {
      type: Type.Optional(Type.Literal('stdio')),
      command: Type.String({ minLength: 1, maxLength: 4096 }),
      args: Type.Optional(Type.Array(Type.String({ maxLength: 4096 }), { maxItems: 256 })),
      env: Type.Optional(EnvMap),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      type: Type.Union([Type.Literal('sse'), Type.Literal('http')]),
      url: Type.String({ minLength: 1, maxLength: 4096 }),
      headers: Type.Optional(Type.Record(Type.String(), Type.String({ maxLength: 8192 }))),
    },
    { additionalProperties: false },
  ),
]);
export const McpServersSchema = Type.Record(
  Type.String({ pattern: '^[a-zA-Z0-9_.-]+$', maxLength: 128 }),
  McpServerSchema,
  { maxProperties: 64, additionalProperties: false },
);

/** A programmatic subagent (Claude Agent SDK `AgentDefinition`). */
export const SubagentSchema = Type.Object(
  {
    description: Type.String({ minLength: 1, maxLength: 8192 }),
    prompt: Type.String({ minLength: 1, maxLength: 1_000_000 }),
    tools: Type.Optional(StringList),
    disallowedTools: Type.Optional(StringList),
    model: Type.Optional(Type.String({ maxLength: 100 })),
  },
  { additionalProperties: false },
);
export const SubagentsSchema = Type.Record(
  Type.String({ pattern: '^[a-zA-Z0-9_.-]+$', maxLength: 128 }),
  SubagentSchema,
  { maxProperties: 64, additionalProperties: false },
);

/**
 * A custom tool: defined here, executed by the client. A call waits, with a
 * `custom_tool_use` event, until the client answers it (`/v1` `user.custom_tool_result`).
 */
export const CustomToolSchema = Type.Object(
  {
    name: Type.String({ pattern: '^[A-Za-z0-9_-]{1,128}$' }),
    description: Type.String({ maxLength: 10_000 }),
    /** JSON Schema of the input (`{type: "object", properties, required}`). */
    inputSchema: Type.Record(Type.String(), Type.Unknown()),
  },
  { additionalProperties: false },
);
export type CustomTool = Static<typeof CustomToolSchema>;

const ModelName = Type.String({ minLength: 1, maxLength: 100 });
const SystemPrompt = Type.String({ maxLength: 1_000_000 });
const InitialAgent = Type.String({ minLength: 1, maxLength: 128 });

const HOST_LABEL = '[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?';
const HOST_PORT = '(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})';
/**
 * A host pattern of a network policy: `api.github.com`, `*.pypi.org` (any subdomain, not the apex)
 * or an IPv4 address, with an optional `:port`; without a port it covers ports 80 and 443.
 */
export const HostPatternSchema = Type.String({
  minLength: 1,
  maxLength: 260,
  pattern: `^(?:\\*\\.${HOST_LABEL}\\.${HOST_LABEL}(?:\\.${HOST_LABEL})*|${HOST_LABEL}(?:\\.${HOST_LABEL})*)\\.?(?::${HOST_PORT})?$`,
  description: 'host, `*.domain` or IPv4 address, optional `:port` (default ports 80 and 443)',
});
/**
 * A stored credential bound to a host pattern (or to the host:port of an `http`/`sse` MCP server
 * of the agent or session, by name): the egress proxy sets header `header` to `format` (its
 * `{value}` replaced by the credential's value) on every request to a matching host, outside the
 * sandbox; HTTPS to that host is terminated by the proxy with the server's egress CA. The sandbox
 * never sees the value; with `env` it gets that variable set to a placeholder. Exactly one of
 * `host` and `mcpServer`.
 */
export const CredentialBindingSchema = Type.Object(
  {
    host: Type.Optional(HostPatternSchema),
    mcpServer: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 255,
        description:
          'name of an http/sse MCP server in the agent’s or session’s mcpServers (instead of host)',
      }),
    ),
    credentialId: Uuid,
    header: Type.String({
      pattern: "^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}$",
      description: 'HTTP header name, e.g. `authorization` or `x-api-key`',
    }),
    format: Type.Optional(
      Type.String({
        maxLength: 1024,
        pattern: '^[^\\x00-\\x1f\\x7f]*\\{value\\}[^\\x00-\\x1f\\x7f]*$',
        description:
          'header value with `{value}` where the credential goes (default `{value}`), e.g. `Bearer {value}`',
      }),
    ),
    env: Type.Optional(
      Type.String({
        pattern: ENV_NAME_PATTERN,
        maxLength: 255,
        description: 'a sandbox variable set to a placeholder (for tools that insist on a token being set)',
      }),
    ),
  },
  { additionalProperties: false },
);
export type CredentialBinding = Static<typeof CredentialBindingSchema>;

/**
 * Network egress of a sandbox: hosts it may reach through the host-side egress proxy. Absent =
 * no network. On a session it narrows the agent's: allowed = allowed by both, `deny` of either wins.
 * `inject` binds stored credentials to hosts (the agent's and the session's bindings both apply;
 * the session's first).
 */
export const NetworkPolicySchema = Type.Object(
  {
    allow: Type.Array(HostPatternSchema, { maxItems: 256 }),
    deny: Type.Optional(Type.Array(HostPatternSchema, { maxItems: 256 })),
    inject: Type.Optional(Type.Array(CredentialBindingSchema, { maxItems: 32 })),
  },
  { additionalProperties: false },
);
export type NetworkPolicyConfig = Static<typeof NetworkPolicySchema>;

/**
 * Session-level SDK options, persisted as the session's config and applied to every turn.
 * Precedence for each option: turn > session > agent config > agent folder settings.
 */
export const SessionConfigSchema = Type.Object(
  {
    model: Type.Optional(ModelName),
    systemPrompt: Type.Optional(SystemPrompt),
    permissionMode: Type.Optional(PermissionModeSchema),
    mcpServers: Type.Optional(McpServersSchema),
    allowedTools: Type.Optional(StringList),
    disallowedTools: Type.Optional(StringList),
    betas: Type.Optional(StringList),
    subagents: Type.Optional(SubagentsSchema),
    initialAgent: Type.Optional(InitialAgent),
    network: Type.Optional(NetworkPolicySchema),
    /** Tools the client executes (see {@link CustomToolSchema}). */
    customTools: Type.Optional(Type.Array(CustomToolSchema, { maxItems: 128 })),
    /**
     * Tools (Claude Code names: `Bash`, `Write`, `mcp__<server>__<tool>`…) whose every call waits
     * for the client's approval (`permission_request` event), with no timeout.
     */
    askTools: Type.Optional(StringList),
  },
  { additionalProperties: false },
);
export type SessionConfig = Static<typeof SessionConfigSchema>;

/** The names of the session config options. */
export const SESSION_CONFIG_KEYS = Object.keys(SessionConfigSchema.properties) as Array<keyof SessionConfig>;

/**
 * A session's spending limit in USD, enforced by the host over every model call of the session
 * (the usage ledger's cost); reaching it ends the turn with `budget_exceeded`.
 */
export const SessionBudgetUsd = Type.Number({ exclusiveMinimum: 0, maximum: 1_000_000 });

/** `POST /api/sessions`. */
export const CreateSessionBodySchema = Type.Object(
  {
    agent: AgentName,
    credentialId: Type.Optional(Uuid),
    extraEnv: Type.Optional(EnvMap),
    budgetUsd: Type.Optional(SessionBudgetUsd),
    /** `k=v` labels the runner hosting the session must all carry (besides the agent's `runnerLabels`). */
    runnerLabels: Type.Optional(RunnerLabelsSchema),
    ...SessionConfigSchema.properties,
  },
  { additionalProperties: false },
);
export type CreateSessionBody = Static<typeof CreateSessionBodySchema>;

/**
 * `PATCH /api/sessions/:id/config`: a JSON merge patch (RFC 7396) of the session config: a value
 * replaces the option, `null` removes it (the agent's default applies again). `budgetUsd` sets or
 * (with `null`) removes the session's budget. Applies to later turns only.
 */
export const UpdateSessionConfigBodySchema = Type.Object(
  {
    model: Type.Optional(Nullable(ModelName)),
    systemPrompt: Type.Optional(Nullable(SystemPrompt)),
    permissionMode: Type.Optional(Nullable(PermissionModeSchema)),
    mcpServers: Type.Optional(Nullable(McpServersSchema)),
    allowedTools: Type.Optional(Nullable(StringList)),
    disallowedTools: Type.Optional(Nullable(StringList)),
    betas: Type.Optional(Nullable(StringList)),
    subagents: Type.Optional(Nullable(SubagentsSchema)),
    initialAgent: Type.Optional(Nullable(InitialAgent)),
    network: Type.Optional(Nullable(NetworkPolicySchema)),
    customTools: Type.Optional(Nullable(Type.Array(CustomToolSchema, { maxItems: 128 }))),
    askTools: Type.Optional(Nullable(StringList)),
    budgetUsd: Type.Optional(Nullable(SessionBudgetUsd)),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateSessionConfigBody = Static<typeof UpdateSessionConfigBodySchema>;

/** A session as the API returns it. */
export const SessionSchema = Type.Object(
  {
    id: Uuid,
    tenantId: Type.String(),
    agentName: Type.String(),
    /** The agent version the session's workspace was created from. */
    agentVersion: Type.Integer(),
    status: SessionStatusSchema,
    /** Same as `id`: every session has its own sandbox. */
    sandboxId: Type.String(),
    runnerId: Nullable(Type.String()),
    parentSessionId: Nullable(Uuid),
    model: Nullable(Type.String()),
    config: SessionConfigSchema,
    /** The session's spending limit in USD (host-enforced), or null. */
    budgetUsd: Nullable(Type.Number()),
    /** The id of the turn running now, if any. */
    activeTurnId: Nullable(Type.String()),
    createdAt: Timestamp,
    lastActiveAt: Timestamp,
    endedAt: Nullable(Timestamp),
  },
  { $id: 'Session' },
);
export type Session = Static<typeof SessionSchema>;

export const SessionResponseSchema = Type.Object({ session: SessionSchema });
export const SessionIdParamsSchema = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });

/** `GET /api/sessions` query: newest first. */
export const ListSessionsQuerySchema = Type.Object({
  agent: Type.Optional(Type.String({ maxLength: 255 })),
  status: Type.Optional(SessionStatusSchema),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
  offset: Type.Optional(Type.Integer({ minimum: 0, default: 0 })),
});
export type ListSessionsQuery = Static<typeof ListSessionsQuerySchema>;

export const SessionListResponseSchema = Type.Object({
  sessions: Type.Array(SessionSchema),
  /** Total rows matching the filter. */
  total: Type.Integer(),
  /** True when more rows follow `offset + sessions.length`. */
  hasMore: Type.Boolean(),
});
