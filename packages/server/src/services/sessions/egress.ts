import {
  EgressRules,
  parseHostPattern,
  ruleMatches,
  type EgressConnection,
  type EgressInjection,
  type HostRule,
  type NetworkPolicy,
  type SandboxEgressSpec,
} from '@ash-ai/sandbox';
import type { CredentialBinding, EgressData, RunnerEgress } from '@ash-ai/shared';
import { AppError, invalidField } from '../../errors.js';
import type { ServerMetrics } from '../../telemetry/metrics.js';
import type { CredentialResolver } from '../auth/credential-service.js';

/** The `network` key of an agent or session config, when it is a policy object. */
function networkOf(config: Record<string, unknown> | undefined | null): NetworkPolicy | undefined {
  const n = config?.network;
  return n && typeof n === 'object' && !Array.isArray(n) ? (n as NetworkPolicy) : undefined;
}

/**
 * The effective egress rules of a session: the agent's `config.network` narrowed by the session's
 * `network` option (a session can only remove hosts). No agent policy = no network.
 * Patterns were validated by the request schemas; one that still fails to parse yields no network.
 */
export function sessionEgressRules(
  agentConfig: Record<string, unknown> | undefined | null,
  sessionConfig?: Record<string, unknown> | undefined | null,
): EgressRules {
  const layers = [
    { name: 'agent', policy: networkOf(agentConfig) },
    ...(sessionConfig !== undefined ? [{ name: 'session', policy: networkOf(sessionConfig) }] : []),
  ];
  const implicit = [...mcpHosts(agentConfig), ...mcpHosts(sessionConfig)].map((h) => ({
    pattern: h.pattern,
    name: h.name,
  }));
  let rules: EgressRules;
  try {
    rules = new EgressRules(layers, implicit);
  } catch {
    const none = [{ name: 'agent', policy: undefined }];
    rules = new EgressRules(none);
    RULES_DATA.set(rules, { layers: none.map(layerData), implicit: [] });
    return rules;
  }
  RULES_DATA.set(rules, { layers: layers.map(layerData), implicit });
  return rules;
}

/** What each {@link sessionEgressRules} result was built from (plain data for a remote runner). */
const RULES_DATA = new WeakMap<EgressRules, Omit<RunnerEgress, 'enabled'>>();

function layerData(l: {
  name: string;
  policy: NetworkPolicy | null | undefined;
}): RunnerEgress['layers'][number] {
  const p = l.policy;
  return {
    name: l.name,
    policy: p ? { allow: [...(p.allow ?? [])], ...(p.deny ? { deny: [...p.deny] } : {}) } : null,
  };
}

/**
 * The rules as plain data a remote runner rebuilds its `EgressRules` from (no layers: no network).
 */
export function egressRulesData(rules: EgressRules): RunnerEgress {
  const data = RULES_DATA.get(rules) ?? { layers: [{ name: 'agent', policy: null }], implicit: [] };
  return { enabled: rules.allowsAnything, ...data };
}

/** A session's egress spec that can also travel to a remote runner ({@link egressSpec}). */
export interface LinkableEgressSpec extends SandboxEgressSpec {
  /** The rules as data, and how many credential bindings apply (> 0: only a local runner may host it). */
  linkData(): { egress: RunnerEgress; bindings: number };
}

/** True when the spec came from {@link egressSpec}. */
export function isLinkableEgress(spec: SandboxEgressSpec | undefined): spec is LinkableEgressSpec {
  return typeof (spec as Partial<LinkableEgressSpec> | undefined)?.linkData === 'function';
}

/** The `host:port` of an HTTP/SSE MCP server, with its name (`server`) and a label (`name`). */
export interface McpHost {
  pattern: string;
  name: string;
  server: string;
}

/**
 * The `host:port` of each HTTP/SSE MCP server of a config: reachable automatically (that host and
 * port only), so such servers connect without a network policy of their own.
 */
export function mcpHosts(config: Record<string, unknown> | undefined | null): McpHost[] {
  const servers = config?.mcpServers;
  if (!servers || typeof servers !== 'object') return [];
  const out: McpHost[] = [];
  for (const [name, s] of Object.entries(servers as Record<string, unknown>)) {
    const server = s as { type?: unknown; url?: unknown } | null;
    if (!server || (server.type !== 'http' && server.type !== 'sse') || typeof server.url !== 'string')
      continue;
    try {
      const url = new URL(server.url);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') continue;
      const pattern = `${url.hostname}:${url.port || (url.protocol === 'https:' ? '443' : '80')}`;
      parseHostPattern(pattern); // an IPv6 literal has no pattern form: that server stays unreachable
      out.push({ pattern, name: `MCP server "${name}"`, server: name });
    } catch {
      // not a URL: the SDK reports that server as failed
    }
  }
  return out;
}

/** The `egress` event data of one connection. */
export function egressEventData(c: EgressConnection): EgressData {
  return {
    host: c.host,
    port: c.port,
    method: c.method,
    allowed: c.allowed,
    reason: c.reason,
    bytesUp: c.bytesUp,
    bytesDown: c.bytesDown,
    durationMs: c.durationMs,
  };
}

/**
 * The sandbox egress spec of a session: the rules are read through `rules()` on every connection
 * (so a policy change applies to the next connection), every connection is counted in the
 * metrics and handed to `emit` (the running turn's event stream, if any).
 */
export function egressSpec(
  rules: () => EgressRules,
  emit: (data: EgressData) => void,
  metrics: ServerMetrics | undefined,
  bindings: () => readonly ResolvedBinding[] = () => [],
): LinkableEgressSpec {
  return {
    linkData: () => ({ egress: egressRulesData(rules()), bindings: bindings().length }),
    enabled: rules().allowsAnything,
    decide: (host, port) => {
      const d = rules().decide(host, port);
      if (!d.allowed) return d;
      const inject = injectionsFor(bindings(), host, port);
      return inject.length > 0 ? { ...d, inject } : d;
    },
    onConnection: (c) => {
      metrics?.egressConnections.inc({ outcome: c.allowed ? 'allowed' : 'denied' });
      if (c.bytesUp > 0) metrics?.egressBytes.inc({ direction: 'up' }, c.bytesUp);
      if (c.bytesDown > 0) metrics?.egressBytes.inc({ direction: 'down' }, c.bytesDown);
      emit(egressEventData(c));
    },
  };
}

/** A credential binding with its credential decrypted (server memory only, never in the sandbox). */
export interface ResolvedBinding {
  rule: HostRule;
  header: string;
  /** The header value: `format` with the credential's value in it. A secret. */
  value: string;
  credentialId: string;
}

/** Headers never set by a binding: they frame the request or belong to the proxy. */
const RESERVED_HEADERS = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
  'te',
  'trailer',
  'proxy-authorization',
  'proxy-authenticate',
  'proxy-connection',
]);

/**
 * Sandbox variables a binding's placeholder may not take: the ones the sandbox itself sets or
 * that change how programs start (the placeholder would break the sandbox or be ignored).
 */
const RESERVED_ENV = new Set([
  'PATH',
  'HOME',
  'USER',
  'SHELL',
  'PWD',
  'TMPDIR',
  'BASH_ENV',
  'ENV',
  'NODE_OPTIONS',
  'NODE_EXTRA_CA_CERTS',
  'NODE_USE_ENV_PROXY',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
  'REQUESTS_CA_BUNDLE',
  'CURL_CA_BUNDLE',
  'GIT_SSL_CAINFO',
  'PIP_CERT',
  'NPM_CONFIG_CAFILE',
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'ALL_PROXY',
]);
const RESERVED_ENV_PREFIX = /^(LD_|ANTHROPIC_|CLAUDE_|ASH_)/i;

/**
 * The credential bindings (`network.inject`) of a session: the session's first, then the agent's
 * (for one host and header the first wins).
 */
export function bindingsOf(
  agentConfig: Record<string, unknown> | undefined | null,
  sessionConfig?: Record<string, unknown> | undefined | null,
): CredentialBinding[] {
  const of = (c: Record<string, unknown> | undefined | null) =>
    ((networkOf(c) as { inject?: CredentialBinding[] } | undefined)?.inject ?? []).filter(
      (b) => b && typeof b === 'object',
    );
  return [...of(sessionConfig), ...of(agentConfig)];
}

/** The HTTP/SSE MCP servers a binding may name: the session's first, then the agent's. */
export function bindableMcpServers(
  agentConfig: Record<string, unknown> | undefined | null,
  sessionConfig?: Record<string, unknown> | undefined | null,
): McpHost[] {
  return [...mcpHosts(sessionConfig), ...mcpHosts(agentConfig)];
}

/** The sandbox variables of bindings with `env`: a placeholder, never the value. */
export function bindingPlaceholders(bindings: readonly CredentialBinding[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const b of [...bindings].reverse())
    if (b.env) env[b.env] = `ash-placeholder-credential-${b.credentialId.slice(0, 8)}`;
  return env;
}

/**
 * Decrypts the credentials of `bindings` (tenant-scoped).
 * @param path where the bindings are in the request, for error messages (e.g. `/body/network/inject`).
 * @throws AppError 400 `invalid_credential` (unknown, another tenant's, inactive, or a bedrock
 *   credential, whose value is not one header value), 400 `validation_failed` (a reserved header,
 *   a bad host pattern, or a value that cannot go in a header); 503 `feature_unavailable`.
 */
export async function resolveBindings(
  credentials: CredentialResolver,
  tenantId: string,
  bindings: readonly CredentialBinding[],
  mcpServers: readonly McpHost[] = [],
  path = 'network.inject',
): Promise<ResolvedBinding[]> {
  const out: ResolvedBinding[] = [];
  for (const [i, b] of bindings.entries()) {
    const at = `${path}/${i}`;
    const header = b.header.toLowerCase();
    if (RESERVED_HEADERS.has(header) || header.startsWith('proxy-'))
      throw invalidField(`${at}/header`, `header '${b.header}' cannot be set by a credential binding`);
    if (b.env !== undefined && (RESERVED_ENV.has(b.env.toUpperCase()) || RESERVED_ENV_PREFIX.test(b.env)))
      throw invalidField(
        `${at}/env`,
        `'${b.env}' is set by the sandbox itself; give the placeholder another variable name`,
      );
    if ((b.host === undefined) === (b.mcpServer === undefined))
      throw invalidField(at, 'give exactly one of `host` and `mcpServer`');
    let pattern = b.host;
    if (b.mcpServer !== undefined) {
      pattern = mcpServers.find((m) => m.server === b.mcpServer)?.pattern;
      if (pattern === undefined)
        throw invalidField(
          `${at}/mcpServer`,
          `no http or sse MCP server named '${b.mcpServer}' in the agent's or session's mcpServers`,
        );
    }
    let rule: HostRule;
    try {
      rule = parseHostPattern(pattern ?? '');
    } catch (err) {
      throw invalidField(`${at}/host`, (err as Error).message);
    }
    let resolved: Awaited<ReturnType<CredentialResolver['resolve']>>;
    try {
      resolved = await credentials.resolve(tenantId, b.credentialId);
    } catch (err) {
      if (err instanceof AppError && err.code === 'invalid_credential')
        throw new AppError('invalid_credential', `${at}/credentialId: ${err.detail}`);
      throw err;
    }
    const value = resolved.secret;
    if (resolved.type === 'bedrock' || value === undefined)
      throw new AppError(
        'invalid_credential',
        `${at}/credentialId: a ${resolved.type} credential cannot be bound to a host (its value is not a single header value)`,
      );
    if ([...value].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f))
      throw new AppError(
        'invalid_credential',
        `${at}/credentialId: the credential's value contains control characters and cannot go in a header`,
      );
    out.push({
      rule,
      header,
      value: (b.format ?? '{value}').split('{value}').join(value),
      credentialId: b.credentialId,
    });
  }
  return out;
}

/** The headers to inject for one destination (first binding per header wins). */
export function injectionsFor(
  bindings: readonly ResolvedBinding[],
  host: string,
  port: number,
): EgressInjection[] {
  const h = host.toLowerCase().replace(/\.$/, '');
  const out: EgressInjection[] = [];
  for (const b of bindings)
    if (ruleMatches(b.rule, h, port) && !out.some((o) => o.header === b.header))
      out.push({ header: b.header, value: b.value });
  return out;
}
