import {
  DoneDataSchema,
  EgressDataSchema,
  ErrorDataSchema,
  MessageDataSchema,
  SandboxReadyDataSchema,
  SandboxStartingDataSchema,
  SessionStartDataSchema,
  TextDeltaDataSchema,
  ThinkingDeltaDataSchema,
  ToolAnswerDataSchema,
  ToolRequestDataSchema,
  ToolResultDataSchema,
  ToolUseDataSchema,
  TurnCompleteDataSchema,
} from '@ash-ai/shared';

/**
 * The `operationId` of every operation, by `METHOD path` (OpenAPI path syntax). Stable: clients
 * generated from the document name their methods after these (the upstream SDK's names where it
 * has the operation). Routes may also set `schema.operationId` themselves. A route named in
 * neither place fails the OpenAPI test.
 */
export const OPERATION_IDS: Readonly<Record<string, string>> = Object.freeze({
  'GET /health': 'getHealth',
  'GET /metrics': 'getMetrics',
  'POST /api/api-keys': 'createApiKey',
  'GET /api/api-keys': 'listApiKeys',
  'DELETE /api/api-keys/{id}': 'revokeApiKey',
  'POST /api/credentials': 'storeCredential',
  'GET /api/credentials': 'listCredentials',
  'GET /api/credentials/{id}': 'getCredential',
  'PATCH /api/credentials/{id}': 'updateCredential',
  'DELETE /api/credentials/{id}': 'deleteCredential',
  'POST /api/internal/api-keys': 'createTenantApiKey',
  'POST /api/internal/runners/register': 'registerRunner',
  'POST /api/internal/runners/heartbeat': 'runnerHeartbeat',
  'POST /api/internal/runners/{runnerId}/evicted': 'runnerEvicted',
  'POST /api/internal/runners/{runnerId}/drain': 'drainRunner',
  'POST /api/internal/agents/files': 'runnerAgentFiles',
  'POST /api/internal/sessions/{id}/checkout': 'runnerCheckout',
  'POST /api/internal/sessions/{id}/checkpoint': 'runnerCheckpoint',
  'POST /api/internal/sessions/{id}/egress': 'runnerEgressReport',
  'POST /api/internal/runners/deregister': 'deregisterRunner',
  'GET /api/internal/runners': 'listRunners',
  'POST /api/agents': 'deployAgent',
  'GET /api/agents': 'listAgents',
  'GET /api/agents/{name}': 'getAgent',
  'PATCH /api/agents/{name}': 'updateAgent',
  'DELETE /api/agents/{name}': 'deleteAgent',
  'GET /api/agents/{name}/files': 'listAgentFiles',
  'POST /api/agents/{name}/files': 'uploadAgentFiles',
  'GET /api/agents/{name}/files/{path}': 'getAgentFile',
  'DELETE /api/agents/{name}/files/{path}': 'deleteAgentFile',
  'POST /api/sessions': 'createSession',
  'GET /api/sessions': 'listSessions',
  'GET /api/sessions/{id}': 'getSession',
  'DELETE /api/sessions/{id}': 'endSession',
  'POST /api/sessions/{id}/pause': 'pauseSession',
  'POST /api/sessions/{id}/stop': 'stopSession',
  'POST /api/sessions/{id}/resume': 'resumeSession',
  'POST /api/sessions/{id}/fork': 'forkSession',
  'POST /api/sessions/{id}/messages': 'sendMessage',
  'GET /api/sessions/{id}/messages': 'listMessages',
  'GET /api/sessions/{id}/stream': 'streamSession',
  'POST /api/sessions/{id}/tool-answers': 'answerToolRequest',
  'POST /api/sessions/{id}/interrupt': 'interruptSession',
  'GET /api/sessions/{id}/events': 'listSessionEvents',
  'PATCH /api/sessions/{id}/config': 'updateSessionConfig',
  'GET /api/sessions/{id}/files': 'listSessionFiles',
  'POST /api/sessions/{id}/files': 'uploadSessionFiles',
  'GET /api/sessions/{id}/files/{path}': 'getSessionFile',
  'DELETE /api/sessions/{id}/files/{path}': 'deleteSessionFile',
  'GET /api/sessions/{id}/workspace': 'downloadWorkspace',
  'POST /api/sessions/{id}/workspace': 'uploadWorkspace',
  'POST /api/sessions/{id}/workspace/snapshot': 'snapshotWorkspace',
  'POST /api/sessions/{id}/attachments': 'uploadAttachment',
  'GET /api/sessions/{id}/attachments': 'listAttachments',
  'GET /api/attachments/{id}': 'downloadAttachment',
  'DELETE /api/attachments/{id}': 'deleteAttachment',
  'GET /api/usage': 'listUsageEvents',
  'GET /api/usage/stats': 'getUsageStats',
  'GET /api/usage/budget': 'getBudget',
  'PUT /api/usage/budget': 'setBudget',
  'POST /api/queue': 'enqueue',
  'GET /api/queue': 'listQueueItems',
  'GET /api/queue/stats': 'getQueueStats',
  'GET /api/queue/{id}': 'getQueueItem',
  'DELETE /api/queue/{id}': 'cancelQueueItem',
});

/** The servers the document names (a local default; clients pass their own base URL). */
export const OPENAPI_SERVERS = [
  { url: 'http://localhost:4100', description: 'A local Ash server (ash start)' },
];

const STREAM_EVENTS: Record<string, unknown> = {
  session_start: SessionStartDataSchema,
  sandbox_starting: SandboxStartingDataSchema,
  sandbox_ready: SandboxReadyDataSchema,
  text_delta: TextDeltaDataSchema,
  thinking_delta: ThinkingDeltaDataSchema,
  tool_use: ToolUseDataSchema,
  tool_result: ToolResultDataSchema,
  permission_request: ToolRequestDataSchema,
  custom_tool_use: ToolRequestDataSchema,
  tool_answer: ToolAnswerDataSchema,
  message: MessageDataSchema,
  turn_complete: TurnCompleteDataSchema,
  egress: EgressDataSchema,
  error: ErrorDataSchema,
  done: DoneDataSchema,
};

/** `StreamEvent`: one SSE frame (`id:`, `event:`, `data:` JSON), a union by event name. */
function streamEventSchemas(): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const variants: unknown[] = [];
  for (const [name, data] of Object.entries(STREAM_EVENTS)) {
    const component = `${pascal(name)}Event`;
    out[component] = {
      type: 'object',
      description: `SSE frame \`event: ${name}\`; \`data:\` is the JSON of \`data\`.`,
      required: ['id', 'event', 'data'],
      properties: {
        id: { type: 'integer', description: 'The SSE `id:`: the per-session event sequence' },
        event: { type: 'string', const: name },
        data: plain(data),
      },
    };
    variants.push({ $ref: `#/components/schemas/${component}` });
  }
  out.StreamEvent = {
    description:
      'One frame of a turn stream (`text/event-stream`): `id: <sequence>`, `event: <name>`, `data: <JSON>`. A turn streams `session_start`, then `sandbox_starting` / `sandbox_ready` when the session had no live sandbox, then `text_delta`, `thinking_delta`, `tool_use`, `tool_result`, `permission_request` / `custom_tool_use` / `tool_answer` (calls waiting for the client) and `message` frames, `egress` for each network connection of a tool, `turn_complete`, `error` on failure, and always `done` last. Comment lines (`: heartbeat`) keep the connection open.',
    oneOf: variants,
    discriminator: { propertyName: 'event' },
  };
  return out;
}

type Json = Record<string, unknown>;

/** A TypeBox schema as plain JSON Schema (TypeBox's symbol keys dropped). */
function plain(schema: unknown): Json {
  return JSON.parse(JSON.stringify(schema)) as Json;
}

function pascal(s: string): string {
  return s
    .split(/[^a-zA-Z0-9]+/)
    .filter(Boolean)
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join('');
}

/** JSON with sorted keys, ignoring `$id`, `title` and `description` (structural identity). */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Json;
    return `{${Object.keys(o)
      .filter((k) => k !== '$id' && k !== 'title' && k !== 'description')
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

/**
 * Makes the generated document one that generates good clients:
 * - every operation gets its {@link OPERATION_IDS} id;
 * - inline copies of the named component schemas (Agent, Session, Message...) become `$ref`s;
 * - request and 2xx JSON response bodies become named components (`CreateSessionRequest`,
 *   `SessionResponse`, `ListSessionsResponse`...), identical ones shared;
 * - error responses are `application/problem+json` with the `Problem` schema;
 * - SSE responses reference the `StreamEvent` union;
 * - `servers` is set.
 * An operation without an id (neither in its route schema nor in {@link OPERATION_IDS}) gets a
 * `method_path` one, which the OpenAPI test refuses: a new route must be named.
 */
export function finishOpenApi(doc: Json): Json {
  doc.components ??= {};
  const components = doc.components as Json;
  components.schemas ??= {};
  const schemas = components.schemas as Record<string, Json>;
  const named = Object.entries(schemas).map(([name, s]) => [name, canonical(s)] as const);
  const byCanonical = new Map<string, string>(named.map(([n, c]) => [c, n]));

  // Replace inline copies of named schemas, deepest first.
  const dedupe = (node: unknown, self?: string): unknown => {
    if (Array.isArray(node)) return node.map((n) => dedupe(n));
    if (!node || typeof node !== 'object') return node;
    const o = node as Json;
    for (const k of Object.keys(o)) o[k] = dedupe(o[k]);
    const name = byCanonical.get(canonical(o));
    return name && name !== self ? { $ref: `#/components/schemas/${name}` } : o;
  };
  for (const [name, s] of Object.entries(schemas)) {
    for (const k of Object.keys(s)) s[k] = dedupe(s[k], name);
  }
  Object.assign(schemas, streamEventSchemas());

  const hoist = (schema: Json, fallback: string): Json => {
    if (schema.$ref) return schema;
    const c = canonical(schema);
    const existing = byCanonical.get(c);
    if (existing) return { $ref: `#/components/schemas/${existing}` };
    let name = fallback;
    const props = schema.properties as Record<string, Json> | undefined;
    const keys = props ? Object.keys(props) : [];
    const only = keys.length === 1 ? props![keys[0]!] : undefined;
    const ref = typeof only?.$ref === 'string' ? only.$ref.split('/').pop() : undefined;
    if (ref && schema.type === 'object') name = `${ref}Response`;
    while (schemas[name]) name = `${name}_`;
    schemas[name] = schema;
    byCanonical.set(c, name);
    return { $ref: `#/components/schemas/${name}` };
  };

  const paths = (doc.paths ?? {}) as Record<string, Record<string, Json>>;
  for (const [path, item] of Object.entries(paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (method === 'parameters') continue;
      const key = `${method.toUpperCase()} ${path}`;
      // A route not named yet gets a `method_path` id (the OpenAPI test refuses those).
      const id =
        (op.operationId as string | undefined) ??
        OPERATION_IDS[key] ??
        `${method}_${path.replace(/[^a-zA-Z0-9]+/g, '_').replace(/^_|_$/g, '')}`;
      op.operationId = id;
      const base = pascal(id);
      const body = (op.requestBody as Json | undefined)?.content as Record<string, Json> | undefined;
      const json = body?.['application/json'];
      if (json?.schema) json.schema = hoist(dedupe(json.schema) as Json, `${base}Request`);
      for (const [status, res] of Object.entries((op.responses ?? {}) as Record<string, Json>)) {
        const content = res.content as Record<string, Json> | undefined;
        if (!content) continue;
        const resJson = content['application/json'];
        const isProblem = (resJson?.schema as Json | undefined)?.$ref === '#/components/schemas/Problem';
        if (resJson && isProblem) {
          res.content = { 'application/problem+json': resJson };
          continue;
        }
        if (resJson?.schema && /^2/.test(status))
          resJson.schema = hoist(dedupe(resJson.schema) as Json, `${base}Response`);
        const sse = content['text/event-stream'];
        if (sse) sse.schema = { $ref: '#/components/schemas/StreamEvent' };
      }
    }
  }
  doc.servers = OPENAPI_SERVERS;
  return doc;
}
