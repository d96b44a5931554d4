/** What write-only values are replaced with in responses. */
export const REDACTED = '***';

/**
 * A copy of an agent or session config whose MCP server `env` and `headers` values are replaced
 * by `***` (they typically hold tokens). Like agent `env`, they are write-only over the API; the
 * stored config keeps the real values. Anything that is not an MCP server map is returned as is.
 */
export function redactConfigSecrets<T>(config: T): T {
  if (typeof config !== 'object' || config === null) return config;
  const servers = (config as { mcpServers?: unknown }).mcpServers;
  if (typeof servers !== 'object' || servers === null || Array.isArray(servers)) return config;
  const redacted: Record<string, unknown> = {};
  for (const [name, server] of Object.entries(servers)) {
    if (typeof server !== 'object' || server === null || Array.isArray(server)) {
      redacted[name] = server;
      continue;
    }
    const copy: Record<string, unknown> = { ...server };
    for (const field of ['env', 'headers']) {
      const values = copy[field];
      if (typeof values === 'object' && values !== null && !Array.isArray(values))
        copy[field] = Object.fromEntries(Object.keys(values).map((k) => [k, REDACTED]));
    }
    redacted[name] = copy;
  }
  return { ...config, mcpServers: redacted };
}
