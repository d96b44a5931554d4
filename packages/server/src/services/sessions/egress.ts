import {
  EgressRules,
  parseHostPattern,
  type EgressConnection,
  type NetworkPolicy,
  type SandboxEgressSpec,
} from '@ash-ai/sandbox';
import type { EgressData } from '@ash-ai/shared';
import type { ServerMetrics } from '../../telemetry/metrics.js';

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
  try {
    return new EgressRules(
      [
        { name: 'agent', policy: networkOf(agentConfig) },
        ...(sessionConfig !== undefined ? [{ name: 'session', policy: networkOf(sessionConfig) }] : []),
      ],
      [...mcpHosts(agentConfig), ...mcpHosts(sessionConfig)],
    );
  } catch {
    return new EgressRules([{ name: 'agent', policy: undefined }]);
  }
}

/**
 * The `host:port` of each HTTP/SSE MCP server of a config: reachable automatically (that host and
 * port only), so such servers connect without a network policy of their own.
 */
export function mcpHosts(
  config: Record<string, unknown> | undefined | null,
): Array<{ pattern: string; name: string }> {
  const servers = config?.mcpServers;
  if (!servers || typeof servers !== 'object') return [];
  const out: Array<{ pattern: string; name: string }> = [];
  for (const [name, s] of Object.entries(servers as Record<string, unknown>)) {
    const server = s as { type?: unknown; url?: unknown } | null;
    if (!server || (server.type !== 'http' && server.type !== 'sse') || typeof server.url !== 'string')
      continue;
    try {
      const url = new URL(server.url);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') continue;
      const pattern = `${url.hostname}:${url.port || (url.protocol === 'https:' ? '443' : '80')}`;
      parseHostPattern(pattern); // an IPv6 literal has no pattern form: that server stays unreachable
      out.push({ pattern, name: `MCP server "${name}"` });
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
): SandboxEgressSpec {
  return {
    enabled: rules().allowsAnything,
    decide: (host, port) => rules().decide(host, port),
    onConnection: (c) => {
      metrics?.egressConnections.inc({ outcome: c.allowed ? 'allowed' : 'denied' });
      if (c.bytesUp > 0) metrics?.egressBytes.inc({ direction: 'up' }, c.bytesUp);
      if (c.bytesDown > 0) metrics?.egressBytes.inc({ direction: 'down' }, c.bytesDown);
      emit(egressEventData(c));
    },
  };
}
