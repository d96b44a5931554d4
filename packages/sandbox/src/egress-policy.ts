import { BlockList, isIP } from 'node:net';

/**
 * A network policy: host patterns a sandbox may reach (`allow`) and may never reach (`deny`).
 * Pattern forms: `api.github.com`, `*.pypi.org` (any subdomain, not the apex), an IPv4 literal,
 * each with an optional `:port`. Without a port a pattern covers ports 80 and 443 only.
 */
export interface NetworkPolicy {
  allow?: string[] | undefined;
  deny?: string[] | undefined;
}

/** One parsed host pattern. */
export interface HostRule {
  /** Lower-case host (for a wildcard: the suffix after `*.`). */
  host: string;
  wildcard: boolean;
  /** Undefined: ports 80 and 443. */
  port: number | undefined;
  /** The pattern as written. */
  source: string;
}

/** Why an egress connection was allowed or refused. */
export interface EgressDecision {
  allowed: boolean;
  /** Human-readable reason, naming the policy entry (or its absence). */
  reason: string;
  /**
   * Headers the egress proxy sets on every request to this destination (credentials bound to the
   * host): plain HTTP gets them directly, HTTPS is terminated with the egress CA to add them.
   */
  inject?: EgressInjection[] | undefined;
}

/** One header the egress proxy adds on the way out; `value` is a secret (never logged). */
export interface EgressInjection {
  /** Lower-case header name, e.g. `authorization`. */
  header: string;
  value: string;
}

const LABEL = '[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?';
const HOST_RE = new RegExp(`^(\\*\\.)?(${LABEL}(?:\\.${LABEL})*)\\.?$`);

/**
 * Parses one host pattern. @throws Error naming the pattern when it is not valid.
 */
export function parseHostPattern(pattern: string): HostRule {
  const fail = (why: string): never => {
    throw new Error(`invalid host pattern "${pattern}": ${why}`);
  };
  if (typeof pattern !== 'string' || pattern.length === 0 || pattern.length > 260) fail('empty or too long');
  let host = pattern.trim().toLowerCase();
  let port: number | undefined;
  const colon = host.lastIndexOf(':');
  if (colon >= 0) {
    const p = host.slice(colon + 1);
    if (!/^\d{1,5}$/.test(p)) fail('the port must be a number');
    port = Number(p);
    if (port < 1 || port > 65535) fail('the port must be 1-65535');
    host = host.slice(0, colon);
  }
  if (host.includes(':') || host.includes('[')) fail('IPv6 literals are not supported');
  if (isIP(host) === 4) return { host, wildcard: false, port, source: pattern };
  const m = HOST_RE.exec(host);
  if (!m) fail('expected a host name, `*.` followed by a domain, or an IPv4 address, with an optional :port');
  const name = m![2]!;
  if (m![1] && !name.includes('.')) fail('a wildcard needs at least two labels after `*.`');
  return { host: name, wildcard: Boolean(m![1]), port, source: pattern };
}

/** Checks every pattern of a policy. @returns the first problem, or undefined when valid. */
export function validateNetworkPolicy(policy: NetworkPolicy | null | undefined): string | undefined {
  if (!policy) return undefined;
  for (const p of [...(policy.allow ?? []), ...(policy.deny ?? [])]) {
    try {
      parseHostPattern(p);
    } catch (err) {
      return (err as Error).message;
    }
  }
  return undefined;
}

/** Whether a parsed pattern covers `host:port` (host lower-case, no trailing dot). */
export function ruleMatches(rule: HostRule, host: string, port: number): boolean {
  if (rule.port === undefined ? port !== 80 && port !== 443 : rule.port !== port) return false;
  return rule.wildcard ? host.endsWith(`.${rule.host}`) : host === rule.host;
}

/**
 * The effective policy of a sandbox: the agent's policy narrowed by the session's. A host is
 * allowed when every layer allows it and no layer denies it (deny wins; a session can only
 * remove hosts). No layer, or a layer without `allow`, means no network.
 */
export class EgressRules {
  private readonly layers: Array<{ name: string; allow: HostRule[]; deny: HostRule[] }>;
  private readonly implicit: HostRule[];

  /**
   * @param layers the policies from widest (agent) to narrowest (session); undefined entries are skipped.
   * @param implicit `host:port` patterns allowed whatever the layers' allow lists say (the
   *   agent's and session's HTTP/SSE MCP servers), each with a name for the reason; a deny entry still wins.
   * @throws Error when a pattern is invalid.
   */
  constructor(
    layers: Array<{ name: string; policy: NetworkPolicy | null | undefined }>,
    implicit: Array<{ pattern: string; name: string }> = [],
  ) {
    this.implicit = implicit.map((i) => ({ ...parseHostPattern(i.pattern), source: i.name }));
    this.layers = layers
      .filter((l) => l.policy)
      .map((l) => ({
        name: l.name,
        allow: (l.policy!.allow ?? []).map(parseHostPattern),
        deny: (l.policy!.deny ?? []).map(parseHostPattern),
      }));
    // The agent's policy is the outer bound: without it nothing is allowed, whatever a session says.
    if (layers[0] && !layers[0].policy) this.layers.unshift({ name: layers[0].name, allow: [], deny: [] });
  }

  /** True when some host could be allowed (the sandbox then gets proxy settings). */
  get allowsAnything(): boolean {
    return (
      this.implicit.length > 0 || (this.layers.length > 0 && this.layers.every((l) => l.allow.length > 0))
    );
  }

  /** Decides one connection. `host` is the name (or IP literal) the client asked for. */
  decide(host: string, port: number): EgressDecision {
    const h = host.toLowerCase().replace(/\.$/, '');
    for (const l of this.layers) {
      const d = l.deny.find((r) => ruleMatches(r, h, port));
      if (d)
        return {
          allowed: false,
          reason: `${h}:${port} matches deny entry "${d.source}" of the ${l.name} network policy`,
        };
    }
    const mcp = this.implicit.find((r) => ruleMatches(r, h, port));
    if (mcp) return { allowed: true, reason: `allowed as the host of ${mcp.source}` };
    if (this.layers.length === 0)
      return { allowed: false, reason: 'no network policy: the sandbox has no network' };
    for (const l of this.layers) {
      const a = l.allow.find((r) => ruleMatches(r, h, port));
      if (!a)
        return {
          allowed: false,
          reason: `${h}:${port} is not in the allow list of the ${l.name} network policy`,
        };
    }
    return { allowed: true, reason: 'allowed by the network policy' };
  }
}

/** Address ranges never reached unless an operator allows them (`ASH_EGRESS_ALLOW_CIDRS`). */
const BLOCKED_RANGES: Array<[string, number, 'ipv4' | 'ipv6']> = [
  ['0.0.0.0', 8, 'ipv4'],
  ['10.0.0.0', 8, 'ipv4'],
  ['100.64.0.0', 10, 'ipv4'], // carrier-grade NAT (also Alibaba's metadata 100.100.100.200)
  ['127.0.0.0', 8, 'ipv4'],
  ['169.254.0.0', 16, 'ipv4'], // link-local, cloud metadata 169.254.169.254
  ['172.16.0.0', 12, 'ipv4'],
  ['192.0.0.0', 24, 'ipv4'],
  ['192.168.0.0', 16, 'ipv4'],
  ['198.18.0.0', 15, 'ipv4'],
  ['168.63.129.16', 32, 'ipv4'], // Azure host agent
  ['224.0.0.0', 4, 'ipv4'], // multicast
  ['240.0.0.0', 4, 'ipv4'], // reserved, broadcast
  ['::', 128, 'ipv6'],
  ['::1', 128, 'ipv6'],
  ['fc00::', 7, 'ipv6'], // unique local (also AWS IMDS fd00:ec2::254)
  ['fe80::', 10, 'ipv6'],
  ['ff00::', 8, 'ipv6'],
  ['64:ff9b::', 96, 'ipv6'], // NAT64 can embed any IPv4 address
];

const BLOCKED = new BlockList();
for (const [net, prefix, family] of BLOCKED_RANGES) BLOCKED.addSubnet(net, prefix, family);

/**
 * The IPv4 address an IPv6 address carries, for IPv4-mapped (`::ffff:a.b.c.d`, `::ffff:7f00:1`)
 * and IPv4-compatible forms; undefined otherwise.
 */
export function embeddedIPv4(address: string): string | undefined {
  const a = address.toLowerCase();
  const dotted = /^::(?:ffff:)?(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  if (dotted && isIP(dotted[1]!) === 4) return dotted[1];
  const hex = /^::(?:ffff:)?([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(a);
  if (hex) {
    const hi = Number.parseInt(hex[1]!, 16);
    const lo = Number.parseInt(hex[2]!, 16);
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return undefined;
}

/**
 * Parses `ASH_EGRESS_ALLOW_CIDRS` (comma-separated CIDRs, e.g. `127.0.0.1/32,10.1.0.0/16`).
 * @throws Error naming the first invalid entry.
 */
export function parseCidrList(text: string | undefined): BlockList {
  const list = new BlockList();
  for (const raw of (text ?? '').split(',')) {
    const entry = raw.trim();
    if (!entry) continue;
    const [net, bits, extra] = entry.split('/');
    const family = isIP(net ?? '');
    const prefix = bits === undefined ? (family === 6 ? 128 : 32) : Number(bits);
    if (
      extra !== undefined ||
      family === 0 ||
      !Number.isInteger(prefix) ||
      prefix < 0 ||
      prefix > (family === 6 ? 128 : 32)
    )
      throw new Error(`invalid CIDR "${entry}"`);
    list.addSubnet(net!, prefix, family === 6 ? 'ipv6' : 'ipv4');
  }
  return list;
}

/**
 * Whether a resolved address may be dialled: public addresses yes; private, loopback, link-local,
 * metadata, ULA and their IPv4-mapped forms only when inside `allowed`.
 */
export function addressAllowed(address: string, allowed: BlockList): boolean {
  const v4 = isIP(address) === 6 ? embeddedIPv4(address) : undefined;
  const addr = v4 ?? address;
  const family = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
  if (allowed.check(addr, family)) return true;
  return !BLOCKED.check(addr, family);
}
