import { randomBytes, randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type {
  ContentBlock,
  CustomTool,
  MessageContent,
  ToolAnswer,
  ToolAnswerBody,
  ToolAnswerData,
} from '@ash-ai/shared';
import type {
  AgentRecord,
  EventRecord,
  ManagedObjectRecord,
  Repos,
  SessionRecord,
} from '../db/repos/index.js';
import { AppError, notFound } from '../errors.js';
import type { AgentService } from '../services/agents/agent-service.js';
import type { SessionRuntime } from '../services/sessions/session-runtime.js';
import type { SessionService } from '../services/sessions/session-service.js';
import { resumePrompt, type ToolRequestService } from './tool-requests.js';
import {
  answerEcho,
  type EngineEvent,
  EventTranslator,
  type ManagedEvent,
  TOOL_ANSWER_ACTION,
  USER_INTERRUPT_ACTION,
  USER_MESSAGE_ACTION,
} from './translate.js';

/** What the model receives for a denied tool call when the client gave no message. */
const DEFAULT_DENY_MESSAGE = 'The user denied this tool call.';

type Rec = Record<string, unknown>;
const isRec = (v: unknown): v is Rec => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Dependencies of {@link ManagedAgentsService}. */
export interface ManagedAgentsDeps {
  repos: Repos;
  agents: AgentService;
  sessions: SessionService;
  runtime: SessionRuntime;
  /** Tool calls waiting for the client (approvals, custom tools). */
  toolRequests: ToolRequestService;
  log: Logger;
}

/** A config-defined agent as stored per version (the request's fields, normalised). */
interface AgentDefinition {
  name: string;
  description: string | null;
  system: string | null;
  model: { id: string } & Rec;
  tools: Rec[];
  mcp_servers: Rec[];
  metadata: Record<string, string>;
}

/** What `/v1` keeps of an Ash session that Ash itself has no column for. */
interface SessionExtra {
  environment_id: string | null;
  title: string | null;
  metadata: Record<string, string>;
  deleted?: boolean;
}

/** A `PageCursor` page: `{data, next_page}`. */
export interface Page<T> {
  data: T[];
  next_page: string | null;
}

/** The Managed Agents toolset's tool names and the Claude Code tools they stand for. */
const TOOLSET: Readonly<Record<string, string>> = Object.freeze({
  bash: 'Bash',
  edit: 'Edit',
  read: 'Read',
  write: 'Write',
  glob: 'Glob',
  grep: 'Grep',
  web_fetch: 'WebFetch',
  web_search: 'WebSearch',
});

const notYet = (what: string) =>
  new AppError(
    'not_yet_supported',
    `${what} is not supported by this server yet (see docs/managed-agents.md)`,
  );
const bad = (path: string, message: string) =>
  new AppError('validation_failed', `${path}: ${message}`, { errors: [{ path, message }] });

const now = () => new Date().toISOString();
const newId = (prefix: string) => `${prefix}_${randomBytes(12).toString('hex')}`;

/** `limit` of a list: 1..max, default 20. */
function pageLimit(v: unknown, max = 1000): number {
  if (v === undefined) return 20;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > max)
    throw bad('/query/limit', `must be an integer from 1 to ${max}`);
  return n;
}

/** A page cursor made by this service: a non-negative integer as text. */
function pageCursor(v: unknown): number {
  if (v === undefined || v === '') return 0;
  if (typeof v !== 'string' || !/^\d{1,12}$/.test(v))
    throw bad('/query/page', 'is not a page cursor of this server');
  return Number(v);
}

function metadataOf(v: unknown, path: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (!isRec(v)) throw bad(path, 'must be an object');
  const out: Record<string, string> = {};
  const entries = Object.entries(v);
  if (entries.length > 16) throw bad(path, 'has more than 16 keys');
  for (const [k, val] of entries) {
    if (k.length > 64) throw bad(`${path}/${k}`, 'key is longer than 64 characters');
    if (typeof val !== 'string' || val.length > 512)
      throw bad(`${path}/${k}`, 'must be a string of at most 512 characters');
    out[k] = val;
  }
  return out;
}

/** A metadata patch: null deletes a key. */
function patchMetadata(
  current: Record<string, string>,
  patch: unknown,
  path: string,
): Record<string, string> {
  if (patch === undefined) return current;
  if (patch === null) return {};
  if (!isRec(patch)) throw bad(path, 'must be an object');
  const out = { ...current };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = metadataOf({ [k]: v }, path)[k]!;
  }
  return metadataOf(out, path);
}

function optionalString(v: unknown, path: string, max: number): string | null {
  if (v === undefined || v === null || v === '') return null;
  if (typeof v !== 'string' || v.length > max)
    throw bad(path, `must be a string of at most ${max} characters`);
  return v;
}

function modelOf(v: unknown): { id: string } & Rec {
  if (typeof v === 'string' && v.length > 0 && v.length <= 100) return { id: v };
  if (isRec(v) && typeof v.id === 'string' && v.id.length > 0 && v.id.length <= 100) {
    const out: { id: string } & Rec = { id: v.id };
    if (v.speed !== undefined) out.speed = v.speed;
    if (v.effort !== undefined) out.effort = typeof v.effort === 'string' ? { type: v.effort } : v.effort;
    return out;
  }
  throw bad('/body/model', 'must be a model id or {id}');
}

/** The permission policy of a toolset config (`auto` runs like `always_allow`). */
function policyOf(v: unknown, path: string): { type: string } {
  if (v === undefined || v === null) return { type: 'always_allow' };
  if (!isRec(v) || typeof v.type !== 'string') throw bad(path, 'must be {type}');
  if (v.type === 'always_allow' || v.type === 'auto' || v.type === 'always_ask') return { type: v.type };
  throw bad(path, "type must be one of 'always_allow', 'always_ask', 'auto'");
}

const isAsk = (p: unknown) => isRec(p) && p.type === 'always_ask';

/** A `{type:"custom"}` tool: checked, kept as given (`tools[]`) and as an Ash custom tool. */
function customToolOf(t: Rec, path: string): { tool: Rec; custom: CustomTool } {
  if (typeof t.name !== 'string' || !/^[A-Za-z0-9_-]{1,128}$/.test(t.name))
    throw bad(`${path}/name`, 'must be 1–128 characters of A-Z a-z 0-9 _ -');
  if (typeof t.description !== 'string' || t.description.length > 10_000)
    throw bad(`${path}/description`, 'must be a string of at most 10000 characters');
  if (!isRec(t.input_schema) || t.input_schema.type !== 'object')
    throw bad(`${path}/input_schema`, "must be a JSON Schema with type 'object'");
  return {
    tool: { type: 'custom', name: t.name, description: t.description, input_schema: t.input_schema },
    custom: { name: t.name, description: t.description, inputSchema: t.input_schema },
  };
}

/**
 * Normalises the `tools` and `mcp_servers` of an agent request and derives the Ash agent config
 * (`allowedTools` / `disallowedTools`) and `.mcp.json`.
 */
function toolsOf(
  toolsIn: unknown,
  serversIn: unknown,
): {
  tools: Rec[];
  servers: Rec[];
  disallowed: string[];
  mcpJson: Rec | undefined;
  askTools: string[];
  customTools: CustomTool[];
} {
  const tools: Rec[] = [];
  const disallowed: string[] = [];
  const askTools: string[] = [];
  const customTools: CustomTool[] = [];
  if (toolsIn !== undefined && toolsIn !== null && !Array.isArray(toolsIn))
    throw bad('/body/tools', 'must be an array');
  const servers: Rec[] = [];
  if (serversIn !== undefined && serversIn !== null) {
    if (!Array.isArray(serversIn) || serversIn.length > 20)
      throw bad('/body/mcp_servers', 'must be an array of at most 20');
    for (const [i, s] of serversIn.entries()) {
      if (
        !isRec(s) ||
        s.type !== 'url' ||
        typeof s.name !== 'string' ||
        typeof s.url !== 'string' ||
        !/^https?:\/\//.test(s.url)
      )
        throw bad(`/body/mcp_servers/${i}`, "must be {type:'url', name, url} with an http(s) URL");
      servers.push({ type: 'url', name: s.name, url: s.url });
    }
  }
  for (const [i, t] of ((toolsIn as unknown[] | undefined) ?? []).entries()) {
    const path = `/body/tools/${i}`;
    if (!isRec(t) || typeof t.type !== 'string') throw bad(path, 'must be a tool object with a type');
    if (t.type === 'custom') {
      const { tool, custom } = customToolOf(t, path);
      if (customTools.some((c) => c.name === custom.name)) throw bad(`${path}/name`, 'is used twice');
      tools.push(tool);
      customTools.push(custom);
      continue;
    }
    const def = isRec(t.default_config) ? t.default_config : {};
    const defaultConfig = {
      enabled: def.enabled !== false,
      permission_policy: policyOf(def.permission_policy, `${path}/default_config/permission_policy`),
    };
    const configs: Rec[] = [];
    for (const [j, c] of (Array.isArray(t.configs) ? t.configs : []).entries()) {
      if (!isRec(c) || typeof c.name !== 'string') throw bad(`${path}/configs/${j}`, 'must be {name, …}');
      configs.push({
        name: c.name,
        enabled: c.enabled === undefined ? defaultConfig.enabled : c.enabled !== false,
        permission_policy:
          c.permission_policy === undefined
            ? defaultConfig.permission_policy
            : policyOf(c.permission_policy, `${path}/configs/${j}/permission_policy`),
      });
    }
    if (t.type === 'agent_toolset_20260401') {
      for (const c of configs)
        if (!(String(c.name) in TOOLSET)) throw bad(`${path}/configs`, `unknown tool '${String(c.name)}'`);
      for (const [name, claude] of Object.entries(TOOLSET)) {
        const c = configs.find((x) => x.name === name);
        if (!(c ? c.enabled : defaultConfig.enabled)) disallowed.push(claude);
        else if (isAsk(c ? c.permission_policy : defaultConfig.permission_policy)) askTools.push(claude);
      }
    } else if (t.type === 'mcp_toolset') {
      if (typeof t.mcp_server_name !== 'string' || !servers.some((s) => s.name === t.mcp_server_name))
        throw bad(`${path}/mcp_server_name`, 'must name one of mcp_servers');
      const prefix = `mcp__${t.mcp_server_name}`;
      if (!defaultConfig.enabled) disallowed.push(prefix);
      else if (isAsk(defaultConfig.permission_policy)) {
        // `mcp__<server>` asks for every tool of the server.
        if (configs.some((c) => c.enabled && !isAsk(c.permission_policy)))
          throw notYet('a tool that does not ask in an mcp_toolset whose default is always_ask');
        askTools.push(prefix);
      }
      for (const c of configs)
        if (!c.enabled) disallowed.push(`${prefix}__${String(c.name)}`);
        else if (isAsk(c.permission_policy) && !isAsk(defaultConfig.permission_policy))
          askTools.push(`${prefix}__${String(c.name)}`);
    } else throw bad(`${path}/type`, "must be 'agent_toolset_20260401', 'mcp_toolset' or 'custom'");
    tools.push({
      type: t.type,
      ...(t.type === 'mcp_toolset' ? { mcp_server_name: t.mcp_server_name } : {}),
      default_config: defaultConfig,
      configs,
    });
  }
  const mcpJson =
    servers.length > 0
      ? { mcpServers: Object.fromEntries(servers.map((s) => [String(s.name), { type: 'http', url: s.url }])) }
      : undefined;
  return { tools, servers, disallowed, mcpJson, askTools, customTools };
}

/** An Ash session's status as a Managed Agents one (`waiting`: its turn waits for the client). */
export function managedStatus(s: Pick<SessionRecord, 'status' | 'activeTurnId'>, waiting = false): string {
  if (s.status === 'ended') return 'terminated';
  // A turn whose tool call waits for the client reads idle (it said `requires_action`).
  if (s.activeTurnId && !waiting) return 'running';
  return 'idle';
}

const b64 = (n: number) => String(n);

/**
 * The Managed Agents API (`/v1`) over Ash's own engine: config-defined agents are deployed as
 * agent folders, sessions are Ash sessions (visible on `/api` too), and events are translated
 * from the engine's persisted events ({@link EventTranslator}).
 */
export class ManagedAgentsService {
  constructor(private readonly deps: ManagedAgentsDeps) {}

  // ---------------------------------------------------------------- agents

  /** The Agent object of an Ash agent: its config-defined version, or a view of a folder agent. */
  private agentObject(
    a: AgentRecord,
    def: ManagedObjectRecord<AgentDefinition> | undefined,
    archivedAt: string | null,
  ): Rec {
    const cfg = a.config as Rec;
    const d = def?.data;
    return {
      type: 'agent',
      id: a.name,
      name: d?.name ?? a.name,
      description: d ? d.description : a.description,
      system: d ? d.system : typeof cfg.systemPrompt === 'string' ? cfg.systemPrompt : null,
      model: d?.model ?? { id: typeof cfg.model === 'string' ? cfg.model : 'default' },
      tools: d?.tools ?? [],
      mcp_servers: d?.mcp_servers ?? [],
      skills: [],
      metadata: d?.metadata ?? {},
      multiagent: null,
      execution_identity: { type: 'service_account' },
      version: def?.version ?? a.version,
      created_at: a.createdAt,
      updated_at: def?.updatedAt ?? a.updatedAt,
      archived_at: archivedAt,
    };
  }

  private async agentRecord(tenantId: string, id: string): Promise<AgentRecord> {
    const a = await this.deps.repos.agents.get(tenantId, id);
    if (!a) throw notFound('agent_not_found', 'Agent', id);
    return a;
  }

  /** Archive state is kept on the agent's version-1 row (config agents) or on a version-0 row (folder agents). */
  private async agentArchivedAt(tenantId: string, id: string): Promise<string | null> {
    const marks = await this.deps.repos.managed.versions<AgentDefinition>(tenantId, 'agent', id);
    return marks.find((m) => m.archivedAt)?.archivedAt ?? null;
  }

  /** @throws AppError 404 `agent_not_found`. */
  async getAgent(tenantId: string, id: string, version?: number): Promise<Rec> {
    const a = await this.agentRecord(tenantId, id);
    const def = await this.deps.repos.managed.get<AgentDefinition>(tenantId, 'agent', id, version);
    if (version !== undefined && !def && version !== a.version)
      throw new AppError('agent_not_found', `Agent '${id}' has no version ${version}`);
    return this.agentObject(a, def?.version ? def : undefined, await this.agentArchivedAt(tenantId, id));
  }

  /** Creates a config-defined agent: deployed as an agent folder, version 1. */
  async createAgent(tenantId: string, body: Rec): Promise<Rec> {
    if (typeof body.name !== 'string' || body.name.length < 1 || body.name.length > 256)
      throw bad('/body/name', 'is required (1–256 characters)');
    if (body.model === undefined) throw bad('/body/model', 'is required');
    return this.publishAgent(tenantId, newId('agent'), body, undefined);
  }

  /**
   * Updates a config-defined agent (omitted fields kept, arrays replaced); a change is a new
   * version. `version`, when given, must be the current one (409 `conflict` otherwise).
   */
  async updateAgent(tenantId: string, id: string, body: Rec): Promise<Rec> {
    const a = await this.agentRecord(tenantId, id);
    const current = await this.deps.repos.managed.get<AgentDefinition>(tenantId, 'agent', id);
    if (!current || current.version === 0)
      throw notYet('updating a folder-deployed agent through /v1 (redeploy its folder)');
    if (body.version !== undefined && body.version !== a.version)
      throw new AppError('conflict', `the agent is at version ${a.version}, not ${String(body.version)}`);
    return this.publishAgent(tenantId, id, { ...body }, current.data);
  }

  private async publishAgent(
    tenantId: string,
    id: string,
    body: Rec,
    prev: AgentDefinition | undefined,
  ): Promise<Rec> {
    for (const k of ['skills', 'multiagent', 'execution_identity'] as const) {
      const v = body[k];
      if (
        v !== undefined &&
        v !== null &&
        !(Array.isArray(v) && v.length === 0) &&
        !(k === 'execution_identity' && isRec(v) && v.type === 'service_account')
      )
        throw notYet(`\`${k}\` on an agent`);
    }
    const pick = <T>(k: string, fallback: T): unknown => (body[k] === undefined ? fallback : body[k]);
    const { tools, servers, disallowed, mcpJson, askTools, customTools } = toolsOf(
      pick('tools', prev?.tools),
      pick('mcp_servers', prev?.mcp_servers),
    );
    const def: AgentDefinition = {
      name: body.name === undefined ? prev!.name : String(body.name),
      description: optionalString(pick('description', prev?.description), '/body/description', 2048),
      system: optionalString(pick('system', prev?.system), '/body/system', 100_000),
      model: modelOf(pick('model', prev?.model)),
      tools,
      mcp_servers: servers,
      metadata: prev
        ? patchMetadata(prev.metadata, body.metadata, '/body/metadata')
        : metadataOf(body.metadata, '/body/metadata'),
    };
    const files = [
      { path: 'CLAUDE.md', content: Buffer.from(def.system ? `${def.system}\n` : '').toString('base64') },
    ];
    if (mcpJson)
      files.push({
        path: '.mcp.json',
        content: Buffer.from(JSON.stringify(mcpJson, null, 2)).toString('base64'),
      });
    const config: Rec = { model: def.model.id, permissionMode: 'bypassPermissions' };
    if (disallowed.length > 0) config.disallowedTools = disallowed;
    if (askTools.length > 0) config.askTools = askTools;
    if (customTools.length > 0) config.customTools = customTools;
    const { agent } = await this.deps.agents.deploy(tenantId, {
      name: id,
      files,
      ...(def.description ? { description: def.description } : {}),
      config,
    });
    const existing = await this.deps.repos.managed.get<AgentDefinition>(tenantId, 'agent', id, agent.version);
    const at = now();
    if (existing)
      await this.deps.repos.managed.update(tenantId, 'agent', id, agent.version, {
        data: def,
        updatedAt: at,
      });
    else
      await this.deps.repos.managed.insert({
        tenantId,
        kind: 'agent',
        id,
        version: agent.version,
        data: def,
        createdAt: at,
        updatedAt: at,
        archivedAt: null,
      });
    return this.getAgent(tenantId, id);
  }

  /** Every agent of the tenant, config-defined and folder-deployed, newest first. */
  async listAgents(tenantId: string, q: Rec): Promise<Page<Rec>> {
    const limit = pageLimit(q.limit, 100);
    const offset = pageCursor(q.page);
    const includeArchived = q.include_archived === 'true' || q.include_archived === true;
    const all = (await this.deps.repos.agents.list(tenantId)).sort((x, y) =>
      x.createdAt < y.createdAt ? 1 : -1,
    );
    const out: Rec[] = [];
    for (const a of all) {
      const def = await this.deps.repos.managed.get<AgentDefinition>(tenantId, 'agent', a.name);
      const archivedAt = await this.agentArchivedAt(tenantId, a.name);
      if (archivedAt && !includeArchived) continue;
      out.push(this.agentObject(a, def?.version ? def : undefined, archivedAt));
    }
    const data = out.slice(offset, offset + limit);
    return { data, next_page: offset + limit < out.length ? b64(offset + limit) : null };
  }

  /** One Agent per stored config version, oldest first (a folder agent: its current version only). */
  async listAgentVersions(tenantId: string, id: string, q: Rec): Promise<Page<Rec>> {
    const a = await this.agentRecord(tenantId, id);
    const limit = pageLimit(q.limit, 100);
    const offset = pageCursor(q.page);
    const archivedAt = await this.agentArchivedAt(tenantId, id);
    const defs = (await this.deps.repos.managed.versions<AgentDefinition>(tenantId, 'agent', id)).filter(
      (d) => d.version > 0,
    );
    const all =
      defs.length > 0
        ? defs.map((d) => this.agentObject(a, d, archivedAt))
        : [this.agentObject(a, undefined, archivedAt)];
    return {
      data: all.slice(offset, offset + limit),
      next_page: offset + limit < all.length ? b64(offset + limit) : null,
    };
  }

  /** Archives an agent (it stays readable; new sessions cannot use it). */
  async archiveAgent(tenantId: string, id: string): Promise<Rec> {
    const a = await this.agentRecord(tenantId, id);
    const at = now();
    const first = (await this.deps.repos.managed.versions<AgentDefinition>(tenantId, 'agent', id))[0];
    if (first)
      await this.deps.repos.managed.update(tenantId, 'agent', id, first.version, {
        archivedAt: first.archivedAt ?? at,
        updatedAt: at,
      });
    else
      await this.deps.repos.managed.insert({
        tenantId,
        kind: 'agent',
        id: a.name,
        version: 0,
        data: {},
        createdAt: at,
        updatedAt: at,
        archivedAt: at,
      });
    return this.getAgent(tenantId, id);
  }

  // ---------------------------------------------------------------- environments

  private environmentObject(r: ManagedObjectRecord): Rec {
    return {
      type: 'environment',
      id: r.id,
      ...r.data,
      created_at: r.createdAt,
      updated_at: r.updatedAt,
      archived_at: r.archivedAt,
    };
  }

  private async environmentRecord(tenantId: string, id: string): Promise<ManagedObjectRecord> {
    const r = await this.deps.repos.managed.get<Rec>(tenantId, 'environment', id);
    if (!r) throw notFound('environment_not_found', 'Environment', id);
    return r;
  }

  /**
   * The resolved `config` of an environment. Stored as given: networking and packages are not
   * enforced yet (sessions run with the server's sandbox settings).
   */
  private environmentConfig(v: unknown, prevType?: string): Rec {
    if (v === undefined || v === null)
      return {
        type: prevType ?? 'cloud',
        networking: { type: 'unrestricted' },
        packages: { type: 'packages', apt: [], cargo: [], gem: [], go: [], npm: [], pip: [] },
      };
    if (!isRec(v) || (v.type !== 'cloud' && v.type !== 'self_hosted'))
      throw bad('/body/config/type', "must be 'cloud' or 'self_hosted'");
    if (prevType && v.type !== prevType)
      throw new AppError(
        'validation_failed',
        `config.type cannot change from '${prevType}' to '${String(v.type)}'`,
      );
    if (v.type === 'self_hosted') return { type: 'self_hosted' };
    const net = isRec(v.networking) ? v.networking : { type: 'unrestricted' };
    if (net.type !== 'unrestricted' && net.type !== 'limited')
      throw bad('/body/config/networking/type', "must be 'unrestricted' or 'limited'");
    const p = isRec(v.packages) ? v.packages : {};
    const list = (k: string) => (Array.isArray(p[k]) ? (p[k] as unknown[]).map(String) : []);
    return {
      type: 'cloud',
      networking:
        net.type === 'limited'
          ? {
              type: 'limited',
              allowed_hosts: Array.isArray(net.allowed_hosts) ? net.allowed_hosts.map(String) : [],
              allow_mcp_servers: net.allow_mcp_servers === true,
              allow_package_managers: net.allow_package_managers === true,
            }
          : { type: 'unrestricted' },
      packages: {
        type: 'packages',
        apt: list('apt'),
        cargo: list('cargo'),
        gem: list('gem'),
        go: list('go'),
        npm: list('npm'),
        pip: list('pip'),
      },
    };
  }

  async createEnvironment(tenantId: string, body: Rec): Promise<Rec> {
    if (typeof body.name !== 'string' || body.name.length < 1 || body.name.length > 256)
      throw bad('/body/name', 'is required (1–256 characters)');
    const at = now();
    const r: ManagedObjectRecord = {
      tenantId,
      kind: 'environment',
      id: newId('env'),
      version: 0,
      data: {
        name: body.name,
        description: optionalString(body.description, '/body/description', 2048),
        config: this.environmentConfig(body.config),
        metadata: metadataOf(body.metadata, '/body/metadata'),
        scope: body.scope === 'account' ? 'account' : 'organization',
      },
      createdAt: at,
      updatedAt: at,
      archivedAt: null,
    };
    await this.deps.repos.managed.insert(r);
    return this.environmentObject(r);
  }

  async getEnvironment(tenantId: string, id: string): Promise<Rec> {
    return this.environmentObject(await this.environmentRecord(tenantId, id));
  }

  async updateEnvironment(tenantId: string, id: string, body: Rec): Promise<Rec> {
    const r = await this.environmentRecord(tenantId, id);
    if (r.archivedAt) throw new AppError('environment_archived', `environment '${id}' is archived`);
    const d = r.data;
    const data = {
      ...d,
      ...(body.name !== undefined ? { name: optionalString(body.name, '/body/name', 256) ?? d.name } : {}),
      ...(body.description !== undefined
        ? { description: optionalString(body.description, '/body/description', 2048) }
        : {}),
      ...(body.config !== undefined
        ? { config: this.environmentConfig(body.config, String((d.config as Rec).type)) }
        : {}),
      metadata: patchMetadata(d.metadata as Record<string, string>, body.metadata, '/body/metadata'),
    };
    const at = now();
    await this.deps.repos.managed.update(tenantId, 'environment', id, 0, { data, updatedAt: at });
    return this.getEnvironment(tenantId, id);
  }

  async listEnvironments(tenantId: string, q: Rec): Promise<Page<Rec>> {
    const limit = pageLimit(q.limit, 100);
    const offset = pageCursor(q.page);
    const rows = await this.deps.repos.managed.list<Rec>(tenantId, 'environment', {
      offset,
      limit: limit + 1,
      includeArchived: q.include_archived === 'true',
    });
    return {
      data: rows.slice(0, limit).map((r) => this.environmentObject(r)),
      next_page: rows.length > limit ? b64(offset + limit) : null,
    };
  }

  async archiveEnvironment(tenantId: string, id: string): Promise<Rec> {
    const r = await this.environmentRecord(tenantId, id);
    const at = now();
    await this.deps.repos.managed.update(tenantId, 'environment', id, 0, {
      archivedAt: r.archivedAt ?? at,
      updatedAt: at,
    });
    return this.getEnvironment(tenantId, id);
  }

  async deleteEnvironment(tenantId: string, id: string): Promise<Rec> {
    await this.environmentRecord(tenantId, id);
    await this.deps.repos.managed.delete(tenantId, 'environment', id);
    return { id, type: 'environment_deleted' };
  }

  // ---------------------------------------------------------------- sessions

  private async sessionExtra(
    tenantId: string,
    id: string,
  ): Promise<ManagedObjectRecord<SessionExtra> | undefined> {
    return this.deps.repos.managed.get<SessionExtra>(tenantId, 'session', id, 0);
  }

  /** The Ash session behind a `/v1` id; a session deleted through `/v1` is gone there. */
  private async sessionRecord(
    tenantId: string,
    id: string,
  ): Promise<{ s: SessionRecord; extra: ManagedObjectRecord<SessionExtra> | undefined }> {
    const s = await this.deps.sessions.record(tenantId, id);
    const extra = await this.sessionExtra(tenantId, id);
    if (extra?.data.deleted) throw notFound('session_not_found', 'Session', id);
    return { s, extra };
  }

  private async sessionObject(
    s: SessionRecord,
    extra: ManagedObjectRecord<SessionExtra> | undefined,
  ): Promise<Rec> {
    let agent: Rec;
    try {
      agent = await this.getAgent(s.tenantId, s.agentName, s.agentVersion);
    } catch {
      agent = { type: 'agent', id: s.agentName, version: s.agentVersion, name: s.agentName };
    }
    const { type: _t, created_at: _c, updated_at: _u, archived_at: _a, metadata: _m, ...snapshot } = agent;
    return {
      type: 'session',
      id: s.id,
      status: managedStatus(s, this.deps.toolRequests.waitsIn(s.id, s.activeTurnId)),
      title: extra?.data.title ?? null,
      environment_id: extra?.data.environment_id ?? null,
      agent: { type: 'agent', ...snapshot, version: s.agentVersion },
      resources: [],
      vault_ids: [],
      metadata: extra?.data.metadata ?? {},
      budget: null,
      outcome_evaluations: [],
      stats: {},
      usage: {},
      created_at: s.createdAt,
      updated_at: extra?.updatedAt ?? s.lastActiveAt ?? s.createdAt,
      archived_at: extra?.archivedAt ?? null,
    };
  }

  /** Creates an Ash session on the agent's current version, in an environment. */
  async createSession(tenantId: string, body: Rec): Promise<Rec> {
    let agentId: string;
    let version: number | undefined;
    if (typeof body.agent === 'string') agentId = body.agent;
    else if (isRec(body.agent) && body.agent.type === 'agent' && typeof body.agent.id === 'string') {
      agentId = body.agent.id;
      if (body.agent.version !== undefined) version = Number(body.agent.version);
    } else if (isRec(body.agent) && body.agent.type === 'agent_with_overrides')
      throw notYet('`agent_with_overrides`');
    else throw bad('/body/agent', 'must be an agent id or {type:"agent", id, version?}');
    if (typeof body.environment_id !== 'string') throw bad('/body/environment_id', 'is required');
    for (const k of ['resources', 'vault_ids', 'initial_events'] as const)
      if (Array.isArray(body[k]) && (body[k] as unknown[]).length > 0) throw notYet(`\`${k}\` on a session`);
    if (body.budget !== undefined && body.budget !== null) throw notYet('`budget` on a session');
    const env = await this.environmentRecord(tenantId, body.environment_id);
    if (env.archivedAt) throw new AppError('environment_archived', `environment '${env.id}' is archived`);
    const a = await this.agentRecord(tenantId, agentId);
    if (await this.agentArchivedAt(tenantId, agentId))
      throw bad('/body/agent', `agent '${agentId}' is archived`);
    if (version !== undefined && version !== a.version)
      throw notYet('a session on an agent version other than the latest');
    const title = optionalString(body.title, '/body/title', 512);
    const metadata = metadataOf(body.metadata, '/body/metadata');
    const session = await this.deps.sessions.create(tenantId, { agent: agentId });
    const at = now();
    await this.deps.repos.managed.insert<SessionExtra>({
      tenantId,
      kind: 'session',
      id: session.id,
      version: 0,
      data: { environment_id: env.id, title, metadata },
      createdAt: at,
      updatedAt: at,
      archivedAt: null,
    });
    return this.getSession(tenantId, session.id);
  }

  async getSession(tenantId: string, id: string): Promise<Rec> {
    const { s, extra } = await this.sessionRecord(tenantId, id);
    return this.sessionObject(s, extra);
  }

  /** Title and metadata; other fields are not supported yet. */
  async updateSession(tenantId: string, id: string, body: Rec): Promise<Rec> {
    const { extra } = await this.sessionRecord(tenantId, id);
    for (const k of ['agent', 'budget', 'vault_ids'] as const)
      if (body[k] !== undefined) throw notYet(`updating \`${k}\` of a session`);
    const prev: SessionExtra = extra?.data ?? { environment_id: null, title: null, metadata: {} };
    const data: SessionExtra = {
      ...prev,
      ...(body.title !== undefined ? { title: optionalString(body.title, '/body/title', 512) } : {}),
      metadata: patchMetadata(prev.metadata, body.metadata, '/body/metadata'),
    };
    await this.saveExtra(tenantId, id, extra, { data });
    return this.getSession(tenantId, id);
  }

  private async saveExtra(
    tenantId: string,
    id: string,
    extra: ManagedObjectRecord<SessionExtra> | undefined,
    patch: { data?: SessionExtra; archivedAt?: string },
  ): Promise<void> {
    const at = now();
    if (extra) await this.deps.repos.managed.update(tenantId, 'session', id, 0, { ...patch, updatedAt: at });
    else
      await this.deps.repos.managed.insert<SessionExtra>({
        tenantId,
        kind: 'session',
        id,
        version: 0,
        data: patch.data ?? { environment_id: null, title: null, metadata: {} },
        createdAt: at,
        updatedAt: at,
        archivedAt: patch.archivedAt ?? null,
      });
  }

  /** Sessions of the tenant (also those created through `/api`), newest first by default. */
  async listSessions(tenantId: string, q: Rec): Promise<Page<Rec> & { prev_page: string | null }> {
    const limit = pageLimit(q.limit, 100);
    const offset = pageCursor(q.page);
    if (q.order === 'asc') throw notYet('`order=asc` on sessions');
    const includeArchived = q.include_archived === 'true';
    const { rows, total } = await this.deps.repos.sessions.list(tenantId, {
      ...(typeof q.agent_id === 'string' ? { agent: q.agent_id } : {}),
      limit,
      offset,
    });
    const data: Rec[] = [];
    for (const s of rows) {
      const extra = await this.sessionExtra(tenantId, s.id);
      if (extra?.data.deleted || (extra?.archivedAt && !includeArchived)) continue;
      data.push(await this.sessionObject(s, extra));
    }
    return {
      data,
      next_page: offset + rows.length < total ? b64(offset + rows.length) : null,
      prev_page: offset > 0 ? b64(Math.max(0, offset - limit)) : null,
    };
  }

  /** Archives a session: it ends (terminated) and stays readable. */
  async archiveSession(tenantId: string, id: string): Promise<Rec> {
    const { extra } = await this.sessionRecord(tenantId, id);
    await this.deps.sessions.end(tenantId, id);
    await this.saveExtra(tenantId, id, extra, { archivedAt: extra?.archivedAt ?? now() });
    return this.getSession(tenantId, id);
  }

  /** Deletes a session from `/v1`: it ends, and `/v1` answers 404 for it from then on (`/api` keeps its history). */
  async deleteSession(tenantId: string, id: string): Promise<Rec> {
    const { extra } = await this.sessionRecord(tenantId, id);
    await this.deps.sessions.end(tenantId, id);
    const data: SessionExtra = {
      ...(extra?.data ?? { environment_id: null, title: null, metadata: {} }),
      deleted: true,
    };
    await this.saveExtra(tenantId, id, extra, { data });
    return { id, type: 'session_deleted' };
  }

  // ---------------------------------------------------------------- events

  /**
   * Records a client event in the session's event log (a `lifecycle` row the translation reads).
   * Returns the row, or undefined when a turn holds the sequence (the event then is not listed).
   */
  private async recordClientEvent(
    s: SessionRecord,
    action: string,
    data: Rec,
  ): Promise<EventRecord | undefined> {
    const { repos } = this.deps;
    const seq = await repos.sessions.reserveEventSeq(s.id, 1);
    if (seq === undefined) return undefined;
    const row: EventRecord = {
      id: randomUUID(),
      tenantId: s.tenantId,
      sessionId: s.id,
      type: 'lifecycle',
      data: JSON.stringify({ action, ...data }),
      sequence: seq,
      turnId: null,
      createdAt: now(),
    };
    await repos.history.insertEvents([row]);
    return row;
  }

  /**
   * `POST /v1/sessions/{id}/events`: `user.message` starts a turn (queued behind a running one)
   * and `user.interrupt` interrupts the running turn; both return at once. Other client events are
   * not supported yet.
   * @throws AppError 400 (bad or unsupported events), 404, 410 `session_ended`.
   */
  async sendEvents(tenantId: string, id: string, body: Rec): Promise<{ data: ManagedEvent[] }> {
    const { s } = await this.sessionRecord(tenantId, id);
    if (!Array.isArray(body.events) || body.events.length < 1 || body.events.length > 50)
      throw bad('/body/events', 'must be an array of 1 to 50 events');
    const events = body.events.map((e, i) => this.clientEvent(e, i));
    if (s.status === 'ended')
      throw new AppError('session_ended', 'the session is terminated; create a new session');
    const out: ManagedEvent[] = [];
    for (const e of events) {
      if (e.type === 'user.interrupt') {
        const row = await this.recordClientEvent(s, USER_INTERRUPT_ACTION, {});
        out.push({
          type: 'user.interrupt',
          id: row ? `sevt_${row.sequence}` : newId('sevt'),
          processed_at: row?.createdAt ?? now(),
        });
        void this.interruptSoon(tenantId, id).catch((err) =>
          this.deps.log.warn({ err, sessionId: id }, 'interrupt failed'),
        );
        continue;
      }
      if (e.type === 'tool_answer') {
        const r = await this.deliverToolAnswer(s, e.answer, e.data);
        out.push(answerEcho(e.data, { id: r.eventId, processed_at: r.processedAt }));
        continue;
      }
      const row = await this.recordClientEvent(s, USER_MESSAGE_ACTION, { content: e.content });
      out.push({
        type: 'user.message',
        id: row ? `sevt_${row.sequence}` : newId('sevt'),
        processed_at: row?.createdAt ?? now(),
        content: e.content,
      });
      await this.runTurn(tenantId, id, e.prompt);
    }
    return { data: out };
  }

  /**
   * `POST /api/sessions/:id/tool-answers`: answers a call that waits for the client, on the same
   * path as `/v1`'s `user.tool_confirmation` / `user.custom_tool_result`.
   * @throws AppError 404 `session_not_found`, 410 `session_ended`, 400 `validation_failed` (no
   *   such call of that kind waits in the session, or it was already answered).
   */
  async answerToolRequest(
    tenantId: string,
    id: string,
    body: ToolAnswerBody,
  ): Promise<{ answer: ToolAnswerData; outcome: 'delivered' | 'resumed' }> {
    const s = await this.deps.sessions.record(tenantId, id);
    if (s.status === 'ended') throw new AppError('session_ended', 'the session has ended');
    let answer: ToolAnswer;
    let data: ToolAnswerData;
    if (body.result === 'result') {
      const content = (body.content ?? []) as Rec[];
      const isError = body.isError === true;
      answer = { type: 'result', content, isError };
      data = { id: body.id, kind: 'custom_tool', result: 'result', content, isError };
    } else if (body.result === 'allow') {
      answer = { type: 'allow' };
      data = { id: body.id, kind: 'permission', result: 'allow' };
    } else {
      answer = { type: 'deny', message: body.denyMessage || DEFAULT_DENY_MESSAGE };
      data = {
        id: body.id,
        kind: 'permission',
        result: 'deny',
        ...(body.denyMessage !== undefined ? { denyMessage: body.denyMessage } : {}),
      };
    }
    const r = await this.deliverToolAnswer(s, answer, data, '/body/id');
    return { answer: data, outcome: r.outcome };
  }

  /**
   * Hands an answer to its waiting call: straight to the turn when it still runs here, else
   * (restart, interrupt) records it and starts a turn that tells the model the outcome.
   * @returns the id (`sevt_<sequence>`) and time of the recorded answer, and which way it went.
   */
  private async deliverToolAnswer(
    s: SessionRecord,
    answer: ToolAnswer,
    data: ToolAnswerData,
    path?: string,
  ): Promise<{ eventId: string; processedAt: string; outcome: 'delivered' | 'resumed' }> {
    const r = await this.deps.toolRequests.answer(s.tenantId, s.id, data.id, data.kind, answer, path);
    if (r.outcome === 'delivered')
      // The running turn recorded the answer: the echo carries that event's id.
      return {
        eventId: r.sequence ? `sevt_${r.sequence}` : newId('sevt'),
        processedAt: now(),
        outcome: 'delivered',
      };
    // The call's turn is over (restart, interrupt): a new turn tells the model the outcome.
    const row = await this.recordClientEvent(s, TOOL_ANSWER_ACTION, data);
    await this.runTurn(s.tenantId, s.id, resumePrompt(r.request, answer));
    return {
      eventId: row ? `sevt_${row.sequence}` : newId('sevt'),
      processedAt: row?.createdAt ?? now(),
      outcome: 'resumed',
    };
  }

  /** Starts a turn (queued behind a running one) that runs whether or not anyone streams it. */
  private async runTurn(tenantId: string, id: string, prompt: MessageContent): Promise<void> {
    const turn = await this.deps.sessions.sendMessage(tenantId, id, { content: prompt, onBusy: 'queue' });
    // This drains the turn's live copy.
    void (async () => {
      for await (const _ of turn.subscribe(0));
    })().catch((err) => this.deps.log.warn({ err, sessionId: id }, 'a /v1 turn stream failed'));
  }

  /**
   * Interrupts the session's turn; a turn that is still starting (its log exists, its process
   * has not taken it yet) is interrupted as soon as it runs (tried for up to 10 s).
   */
  private async interruptSoon(tenantId: string, id: string): Promise<void> {
    for (let i = 0; i < 100; i++) {
      if (await this.deps.sessions.interrupt(tenantId, id)) return;
      const turn = this.deps.runtime.turnFor(id);
      if (!turn || turn.finished) return;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Checks one client event; `prompt` is the Ash message content of a `user.message`. */
  private clientEvent(
    e: unknown,
    i: number,
  ):
    | { type: 'user.message'; content: Rec[]; prompt: MessageContent }
    | { type: 'user.interrupt' }
    | { type: 'tool_answer'; answer: ToolAnswer; data: ToolAnswerData } {
    const path = `/body/events/${i}`;
    if (!isRec(e) || typeof e.type !== 'string') throw bad(path, 'must be an event with a type');
    if (e.type === 'user.interrupt') {
      if (e.session_thread_id !== undefined) throw notYet('`session_thread_id` (threads)');
      return { type: 'user.interrupt' };
    }
    if (e.type === 'user.tool_confirmation') {
      if (typeof e.tool_use_id !== 'string' || e.tool_use_id.length < 1 || e.tool_use_id.length > 256)
        throw bad(`${path}/tool_use_id`, 'is required (the agent.tool_use event id)');
      if (e.result !== 'allow' && e.result !== 'deny')
        throw bad(`${path}/result`, "must be 'allow' or 'deny'");
      if (e.deny_message !== undefined && e.deny_message !== null) {
        if (typeof e.deny_message !== 'string' || e.deny_message.length > 100_000)
          throw bad(`${path}/deny_message`, 'must be a string of at most 100000 characters');
        if (e.result !== 'deny') throw bad(`${path}/deny_message`, "is only for result 'deny'");
      }
      const base = { id: e.tool_use_id, kind: 'permission' as const };
      if (e.result === 'allow')
        return { type: 'tool_answer', answer: { type: 'allow' }, data: { ...base, result: 'allow' } };
      const message =
        typeof e.deny_message === 'string' && e.deny_message ? e.deny_message : DEFAULT_DENY_MESSAGE;
      return {
        type: 'tool_answer',
        answer: { type: 'deny', message },
        data: {
          ...base,
          result: 'deny',
          ...(typeof e.deny_message === 'string' ? { denyMessage: e.deny_message } : {}),
        },
      };
    }
    if (e.type === 'user.custom_tool_result') {
      if (
        typeof e.custom_tool_use_id !== 'string' ||
        e.custom_tool_use_id.length < 1 ||
        e.custom_tool_use_id.length > 256
      )
        throw bad(`${path}/custom_tool_use_id`, 'is required (the agent.custom_tool_use event id)');
      const content = e.content === undefined || e.content === null ? [] : e.content;
      if (!Array.isArray(content) || content.length > 100)
        throw bad(`${path}/content`, 'must be an array of at most 100 content blocks');
      for (const [j, b] of content.entries()) {
        const ok =
          (isRec(b) && b.type === 'text' && typeof b.text === 'string' && b.text.length <= 1_000_000) ||
          (isRec(b) &&
            b.type === 'image' &&
            isRec(b.source) &&
            b.source.type === 'base64' &&
            typeof b.source.media_type === 'string' &&
            typeof b.source.data === 'string');
        if (!ok) throw bad(`${path}/content/${j}`, "must be {type:'text', text} or a base64 image");
      }
      if (e.is_error !== undefined && typeof e.is_error !== 'boolean')
        throw bad(`${path}/is_error`, 'must be a boolean');
      const isError = e.is_error === true;
      const blocks = content as Rec[];
      return {
        type: 'tool_answer',
        answer: { type: 'result', content: blocks, isError },
        data: { id: e.custom_tool_use_id, kind: 'custom_tool', result: 'result', content: blocks, isError },
      };
    }
    if (e.type !== 'user.message') throw notYet(`the client event type '${e.type}'`);
    if (!Array.isArray(e.content) || e.content.length < 1 || e.content.length > 20)
      throw bad(`${path}/content`, 'must be an array of 1 to 20 content blocks');
    const prompt: ContentBlock[] = [];
    for (const [j, b] of e.content.entries()) {
      const bp = `${path}/content/${j}`;
      if (
        isRec(b) &&
        b.type === 'text' &&
        typeof b.text === 'string' &&
        b.text.length > 0 &&
        b.text.length <= 500_000
      )
        prompt.push({ type: 'text', text: b.text });
      else if (
        isRec(b) &&
        b.type === 'image' &&
        isRec(b.source) &&
        b.source.type === 'base64' &&
        typeof b.source.media_type === 'string' &&
        typeof b.source.data === 'string'
      )
        prompt.push({
          type: 'image',
          source: { type: 'base64', media_type: b.source.media_type, data: b.source.data },
        } as ContentBlock);
      else if (isRec(b) && (b.type === 'image' || b.type === 'document'))
        throw notYet(`a ${b.type} block other than a base64 image`);
      else throw bad(bp, "must be {type:'text', text} or a base64 image");
    }
    return { type: 'user.message', content: e.content as Rec[], prompt };
  }

  /** Engine events of a session after `after`, in order, `limit` rows at most. */
  private async engineEvents(
    tenantId: string,
    id: string,
    after: number,
    limit: number,
  ): Promise<{ rows: EngineEvent[]; hasMore: boolean }> {
    const { rows, hasMore } = await this.deps.repos.history.listEvents(tenantId, id, { after, limit });
    return {
      rows: rows.map((r) => {
        let data: unknown = {};
        try {
          data = JSON.parse(r.data);
        } catch {}
        return { sequence: r.sequence, type: r.type, data, createdAt: r.createdAt };
      }),
      hasMore,
    };
  }

  /** A translator for a session: it knows which tools ask (session config, else agent config). */
  private async translator(s: SessionRecord): Promise<EventTranslator> {
    let ask = (s.config as Rec).askTools;
    if (!Array.isArray(ask))
      ask = ((await this.deps.repos.agents.get(s.tenantId, s.agentName))?.config as Rec | undefined)
        ?.askTools;
    return new EventTranslator({ askTools: Array.isArray(ask) ? ask.map(String) : [] });
  }

  /** `GET …/events`: the translated events, oldest first, paged by engine sequence. */
  async listEvents(tenantId: string, id: string, q: Rec): Promise<Page<ManagedEvent>> {
    const { s } = await this.sessionRecord(tenantId, id);
    const limit = pageLimit(q.limit, 1000);
    let cursor = pageCursor(q.page);
    if (q.order === 'desc') throw notYet('`order=desc` on events');
    const raw = q['types[]'] ?? q.types;
    const types =
      raw === undefined ? undefined : new Set(Array.isArray(raw) ? raw.map(String) : [String(raw)]);
    const t = await this.translator(s);
    const data: ManagedEvent[] = [];
    for (;;) {
      const { rows, hasMore } = await this.engineEvents(tenantId, id, cursor, 200);
      for (const r of rows) {
        const evs = t.translate(r).filter((e) => !types || types.has(e.type));
        if (data.length > 0 && data.length + evs.length > limit) return { data, next_page: String(cursor) };
        data.push(...evs);
        cursor = r.sequence;
      }
      if (!hasMore) return { data, next_page: null };
    }
  }

  /**
   * The session's live events for `GET …/events/stream`, across turns, until `signal` aborts:
   * when a turn is running, from that turn's start (with the message that started it), else from
   * now. Polls the event log every `pollMs`. Checks the session first (404 before streaming).
   */
  async follow(
    tenantId: string,
    id: string,
    signal: AbortSignal,
    pollMs = 200,
  ): Promise<AsyncGenerator<ManagedEvent>> {
    const { s } = await this.sessionRecord(tenantId, id);
    const turn = this.deps.runtime.turnFor(id);
    let cursor = turn ? Math.max(0, turn.firstSeq - 2) : s.lastEventSeq;
    if (!turn) {
      // From the end of what is stored (a reserved, unwritten number is not skipped past).
      cursor = 0;
      for (;;) {
        const { rows, hasMore } = await this.engineEvents(tenantId, id, cursor, 1000);
        if (rows.length > 0) cursor = rows[rows.length - 1]!.sequence;
        if (!hasMore) break;
      }
    }
    return this.poll(tenantId, id, cursor, signal, pollMs, await this.translator(s));
  }

  private async *poll(
    tenantId: string,
    id: string,
    after: number,
    signal: AbortSignal,
    pollMs: number,
    t: EventTranslator,
  ): AsyncGenerator<ManagedEvent> {
    let cursor = after;
    while (!signal.aborted) {
      const { rows, hasMore } = await this.engineEvents(tenantId, id, cursor, 500);
      for (const r of rows) {
        cursor = r.sequence;
        for (const e of t.translate(r)) yield e;
      }
      if (!hasMore) await new Promise((r) => setTimeout(r, pollMs));
    }
  }
}
