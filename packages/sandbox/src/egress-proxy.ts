import { chmodSync, chownSync, rmSync } from 'node:fs';
import { lookup as dnsLookup } from 'node:dns/promises';
import { request as httpsRequest } from 'node:https';
import { TLSSocket } from 'node:tls';
import {
  type ClientRequest,
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { type BlockList, connect, isIP, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { addressAllowed, type EgressDecision, type EgressInjection } from './egress-policy.js';
import type { EgressCa } from './egress-tls.js';
import type { Logger } from './logger.js';

/** One connection the egress proxy handled (allowed or refused). */
export interface EgressConnection {
  /** Host as the client asked for it (name or IP literal). */
  host: string;
  port: number;
  /** `CONNECT` (a tunnel, e.g. HTTPS) or the HTTP method of a forwarded plain-HTTP request. */
  method: string;
  allowed: boolean;
  /** Why it was refused, or the rule that allowed it (`allowed by the network policy`, `allowed as the host of MCP server "x"`). */
  reason: string;
  /** The address dialled, when one was. */
  address?: string | undefined;
  /** Bytes sent to the destination. */
  bytesUp: number;
  /** Bytes received from the destination. */
  bytesDown: number;
  durationMs: number;
}

/** Per-sandbox egress limits. `0` disables a limit. */
export interface EgressLimits {
  /** Connections open at the same time. */
  maxConnections: number;
  /** Bytes (up + down) per turn, counted from {@link EgressProxy.resetTurn}. */
  maxBytesPerTurn: number;
}

/** Which egress limit was hit. */
export type EgressLimitName = 'egress_connections' | 'egress_bytes';

export interface EgressProxyOptions {
  /** Unix socket to listen on (bound into the sandbox). */
  socketPath: string;
  /** Give the socket to this uid/gid (the sandbox's host uid). */
  socketOwner?: { uid: number; gid: number } | undefined;
  /** Decides each connection by host and port (called per connection: a policy may change). */
  decide: (host: string, port: number) => EgressDecision;
  /** Private ranges the operator allows (`ASH_EGRESS_ALLOW_CIDRS`). */
  allowCidrs: BlockList;
  limits: EgressLimits;
  /** Called once per connection when it ended (or was refused). */
  onConnection?: (c: EgressConnection) => void;
  /** Called when a limit is hit (once per turn per limit). */
  onLimit?: (limit: EgressLimitName, message: string) => void;
  /** Resolver (default: the system's); returns every address of a name. */
  lookup?: (host: string) => Promise<string[]>;
  /** How long dialling a destination may take, ms (default 10000). */
  connectTimeoutMs?: number;
  /**
   * TLS termination for destinations with injected headers ({@link EgressDecision.inject}): the
   * CA that signs their leaf certificates, and the CA certificates (PEM) that verify the real
   * upstream (undefined: Node's default roots, including `NODE_EXTRA_CA_CERTS`). Without it, HTTPS
   * to such a destination is refused.
   */
  tls?: { ca: EgressCa; upstreamCa?: string[] | undefined } | undefined;
  log: Logger;
}

// Hop-by-hop headers (RFC 9110 §7.6.1) and the proxy's own; never forwarded.
const HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authorization',
  'proxy-authenticate',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/**
 * The host-side egress proxy of one sandbox: an HTTP proxy (absolute-URI requests and `CONNECT`
 * tunnels) on a Unix socket that a forwarder inside the sandbox exposes as 127.0.0.1:3128. Each
 * connection is checked against the policy by name, then the name is resolved here once and the
 * first address outside the blocked private ranges is dialled (no second lookup, so no DNS
 * rebinding). Refusals answer `403` with the reason as status text and body.
 */
export class EgressProxy {
  private readonly active = new Set<{ destroy: () => void }>();
  private turnBytes = 0;
  private tripped: EgressLimitName | undefined;
  private readonly reported = new Set<EgressLimitName>();

  private constructor(
    private readonly server: Server,
    private readonly opts: EgressProxyOptions,
  ) {}

  /** Starts listening. @throws when the socket cannot be bound. */
  static async listen(opts: EgressProxyOptions): Promise<EgressProxy> {
    rmSync(opts.socketPath, { force: true });
    let proxy: EgressProxy | undefined;
    const server = createServer((req, res) => {
      void proxy?.forward(req, res);
    });
    server.on('connect', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      void proxy?.tunnel(req, socket as Socket, head);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.socketPath, () => resolve());
    });
    chmodSync(opts.socketPath, 0o600);
    if (opts.socketOwner) chownSync(opts.socketPath, opts.socketOwner.uid, opts.socketOwner.gid);
    proxy = new EgressProxy(server, opts);
    return proxy;
  }

  /** Connections open now. */
  get openConnections(): number {
    return this.active.size;
  }

  /** Starts a new turn's byte budget and lifts a limit hit in the previous turn. */
  resetTurn(): void {
    this.turnBytes = 0;
    this.tripped = undefined;
    this.reported.clear();
  }

  async close(): Promise<void> {
    for (const c of [...this.active]) c.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    rmSync(this.opts.socketPath, { force: true });
  }

  private limitMessage(limit: EgressLimitName): string {
    const l = this.opts.limits;
    return limit === 'egress_connections'
      ? `the sandbox exceeded its egress connection limit (${l.maxConnections} open connections)`
      : `the sandbox exceeded its egress bandwidth limit (${l.maxBytesPerTurn} bytes per turn)`;
  }

  private trip(limit: EgressLimitName): void {
    this.tripped ??= limit;
    if (limit === 'egress_bytes') for (const c of [...this.active]) c.destroy();
    if (this.reported.has(limit)) return;
    this.reported.add(limit);
    this.opts.log.warn({ limit }, 'sandbox hit an egress limit');
    this.opts.onLimit?.(limit, this.limitMessage(limit));
  }

  /** Counts bytes against the turn's budget; trips the limit past it. */
  private count(n: number): void {
    this.turnBytes += n;
    const max = this.opts.limits.maxBytesPerTurn;
    if (max > 0 && this.turnBytes > max) this.trip('egress_bytes');
  }

  /** Policy, limits and DNS for one connection: the address to dial, or why not. */
  private async admit(
    host: string,
    port: number,
  ): Promise<
    | { address: string; why: string; inject?: EgressInjection[] | undefined; slot: { destroy: () => void } }
    | { reason: string }
  > {
    if (this.tripped) return { reason: this.limitMessage(this.tripped) };
    const max = this.opts.limits.maxConnections;
    if (max > 0 && this.active.size >= max) {
      this.trip('egress_connections');
      return { reason: this.limitMessage('egress_connections') };
    }
    const decision = this.opts.decide(host, port);
    if (!decision.allowed) return { reason: decision.reason };
    // Counted from now on: connections arriving together must not all pass the check above while
    // their names resolve. The caller swaps the slot for its connection (or it goes on refusal).
    const slot = { destroy: () => undefined };
    this.active.add(slot);
    let addresses: string[];
    try {
      addresses = isIP(host) ? [host] : await (this.opts.lookup ?? systemLookup)(host);
    } catch (err) {
      this.active.delete(slot);
      return { reason: `${host} could not be resolved (${(err as NodeJS.ErrnoException).code ?? 'error'})` };
    }
    const address = addresses.find((a) => addressAllowed(a, this.opts.allowCidrs));
    if (!address) {
      this.active.delete(slot);
      return {
        reason: `${host} resolves to ${addresses.join(', ') || 'no address'}: private, loopback, link-local and metadata addresses are refused (ASH_EGRESS_ALLOW_CIDRS)`,
      };
    }
    return { address, why: decision.reason, inject: decision.inject, slot };
  }

  private record(c: Omit<EgressConnection, 'durationMs'>, startedAt: number): void {
    const ev = { ...c, durationMs: Date.now() - startedAt };
    this.opts.log.debug({ egress: ev }, 'egress connection');
    try {
      this.opts.onConnection?.(ev);
    } catch (err) {
      this.opts.log.warn({ err: String(err) }, 'egress observer failed');
    }
  }

  /** `CONNECT host:port`: a byte tunnel (HTTPS, git, pip, npm...). */
  private async tunnel(req: IncomingMessage, client: Socket, head: Buffer): Promise<void> {
    const startedAt = Date.now();
    client.on('error', () => undefined);
    const target = parseAuthority(req.url ?? '');
    if (!target) {
      client.end('HTTP/1.1 400 Bad CONNECT target\r\nConnection: close\r\n\r\n');
      return;
    }
    const { host, port } = target;
    const base = { host, port, method: 'CONNECT', bytesUp: 0, bytesDown: 0 };
    const admitted = await this.admit(host, port);
    if ('reason' in admitted) {
      const reason = `Ash egress refused: ${admitted.reason}`;
      const body = `${reason}\n`;
      client.end(
        `HTTP/1.1 403 ${statusText(reason)}\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
      this.record({ ...base, allowed: false, reason: admitted.reason }, startedAt);
      return;
    }
    if (admitted.inject?.length) {
      // Its TLS leaf is made before it counts as open (a short window the limit does not see).
      this.active.delete(admitted.slot);
      await this.intercept(
        client,
        head,
        host,
        port,
        admitted.address,
        admitted.why,
        admitted.inject,
        startedAt,
      );
      return;
    }
    const upstream = connect({ host: admitted.address, port });
    const entry = {
      destroy: () => {
        upstream.destroy();
        client.destroy();
      },
    };
    this.active.add(entry);
    this.active.delete(admitted.slot);
    let connected = false;
    let bytesUp = 0;
    let bytesDown = 0;
    const timer = setTimeout(() => {
      if (!connected) upstream.destroy(new Error('connect timeout'));
    }, this.opts.connectTimeoutMs ?? 10_000);
    let done = false;
    const finish = (reason: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      this.active.delete(entry);
      upstream.destroy();
      client.destroy();
      this.record(
        { ...base, allowed: true, reason, address: admitted.address, bytesUp, bytesDown },
        startedAt,
      );
    };
    upstream.once('connect', () => {
      connected = true;
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) {
        bytesUp += head.length;
        this.count(head.length);
        upstream.write(head);
      }
      client.on('data', (d: Buffer) => {
        bytesUp += d.length;
        this.count(d.length);
      });
      upstream.on('data', (d: Buffer) => {
        bytesDown += d.length;
        this.count(d.length);
      });
      client.pipe(upstream);
      upstream.pipe(client);
    });
    upstream.on('error', (err) => {
      if (!connected) {
        const reason = `Ash egress: ${host}:${port} unreachable (${(err as NodeJS.ErrnoException).code ?? err.message})`;
        client.end(`HTTP/1.1 502 ${statusText(reason)}\r\nConnection: close\r\n\r\n`);
      }
      finish(connected ? admitted.why : `connect failed: ${err.message}`);
    });
    upstream.on('close', () => finish(admitted.why));
    client.on('close', () => finish(admitted.why));
  }

  /**
   * `CONNECT` to a destination with injected headers: the tunnel is answered here with a leaf
   * certificate of the egress CA, each HTTP/1.1 request inside gets the headers and goes upstream
   * over a new TLS connection verified against the real roots. Recorded as one connection.
   */
  private async intercept(
    client: Socket,
    head: Buffer,
    host: string,
    port: number,
    address: string,
    why: string,
    inject: EgressInjection[],
    startedAt: number,
  ): Promise<void> {
    const base = { host, port, method: 'CONNECT', bytesUp: 0, bytesDown: 0 };
    const reason = `${why}; TLS terminated by the egress proxy to add a bound credential`;
    const tls = this.opts.tls;
    let context: import('node:tls').SecureContext | undefined;
    let failure: string | undefined;
    if (!tls) failure = 'a credential is bound to this host but the server has no egress CA';
    else
      try {
        context = await tls.ca.leafContext(host);
      } catch (err) {
        failure = `no certificate for ${host} (${(err as Error).message.split('\n')[0]})`;
      }
    if (!context || !tls) {
      const text = `Ash egress: ${failure}`;
      client.end(`HTTP/1.1 502 ${statusText(text)}\r\nConnection: close\r\n\r\n`);
      this.record({ ...base, allowed: false, reason: failure ?? 'no TLS context' }, startedAt);
      return;
    }
    let bytesUp = 0;
    let bytesDown = 0;
    const upstreams = new Set<{ destroy: () => void }>();
    const entry = {
      destroy: () => {
        for (const u of [...upstreams]) u.destroy();
        client.destroy();
      },
    };
    this.active.add(entry);
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      this.active.delete(entry);
      for (const u of [...upstreams]) u.destroy();
      this.record({ ...base, allowed: true, reason, address, bytesUp, bytesDown }, startedAt);
    };
    client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    if (head.length > 0) client.unshift(head);
    const secure = new TLSSocket(client, {
      isServer: true,
      secureContext: context,
      ALPNProtocols: ['http/1.1'],
    });
    secure.on('error', () => secure.destroy());
    secure.on('close', finish);
    client.on('close', finish);
    const inner = createServer((req, res) => {
      const headers: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !HOP.has(k)) headers[k] = v;
      headers.host = port === 443 ? host : `${host}:${port}`;
      for (const h of inject) headers[h.header] = h.value;
      const up = httpsRequest({
        host: address,
        port,
        ...(isIP(host) ? {} : { servername: host }),
        ...(tls.upstreamCa ? { ca: tls.upstreamCa } : {}),
        method: req.method,
        path: req.url ?? '/',
        headers,
        agent: false,
        setHost: false,
        timeout: this.opts.connectTimeoutMs ?? 10_000,
      });
      upstreams.add(up);
      up.on('close', () => upstreams.delete(up));
      relayAnswer(up, res, (sent, n) => {
        if (sent) bytesUp += n;
        else bytesDown += n;
        this.count(n);
      });
      up.on('error', (err) => {
        if (!res.headersSent)
          refuse(
            res,
            502,
            `Ash egress: ${host}:${port} failed (${(err as NodeJS.ErrnoException).code ?? err.message})`,
          );
        else res.destroy();
      });
      res.on('close', () => up.destroy());
      req.pipe(up);
    });
    inner.on('clientError', (_err, s) => s.destroy());
    inner.emit('connection', secure);
  }

  /** A plain-HTTP request with an absolute URI (`GET http://host/path`). */
  private async forward(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const startedAt = Date.now();
    let url: URL;
    try {
      url = new URL(req.url ?? '');
      if (url.protocol !== 'http:') throw new Error('not http');
    } catch {
      req.resume();
      refuse(res, 400, 'Ash egress: only absolute http:// URLs and CONNECT are proxied');
      return;
    }
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const port = url.port ? Number(url.port) : 80;
    const base = { host, port, method: req.method ?? 'GET', bytesUp: 0, bytesDown: 0 };
    const admitted = await this.admit(host, port);
    if ('reason' in admitted) {
      req.resume();
      refuse(res, 403, `Ash egress refused: ${admitted.reason}`);
      this.record({ ...base, allowed: false, reason: admitted.reason }, startedAt);
      return;
    }
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !HOP.has(k)) headers[k] = v;
    headers.host = url.host;
    for (const h of admitted.inject ?? []) headers[h.header] = h.value;
    let bytesUp = 0;
    let bytesDown = 0;
    let done = false;
    let up: ReturnType<typeof httpRequest>;
    try {
      up = httpRequest({
        host: admitted.address,
        port,
        method: req.method,
        path: `${url.pathname}${url.search}`,
        headers,
        agent: false,
        setHost: false,
        timeout: this.opts.connectTimeoutMs ?? 10_000,
      });
    } catch (err) {
      this.active.delete(admitted.slot); // e.g. a header value Node refuses
      throw err;
    }
    const entry = {
      destroy: () => {
        up.destroy();
        res.destroy();
      },
    };
    this.active.add(entry);
    this.active.delete(admitted.slot);
    const finish = (reason: string) => {
      if (done) return;
      done = true;
      this.active.delete(entry);
      this.record(
        { ...base, allowed: true, reason, address: admitted.address, bytesUp, bytesDown },
        startedAt,
      );
    };
    relayAnswer(up, res, (sent, n) => {
      if (sent) bytesUp += n;
      else bytesDown += n;
      this.count(n);
    });
    up.on('response', (r) => {
      r.on('end', () => finish(admitted.why));
      r.on('error', () => finish('the response broke off'));
    });
    up.on('error', (err) => {
      if (!res.headersSent) refuse(res, 502, `Ash egress: ${host}:${port} unreachable (${err.message})`);
      else res.destroy();
      finish(`request failed: ${err.message}`);
    });
    res.on('close', () => {
      if (!done) up.destroy();
      finish('the client closed the connection');
    });
    req.pipe(up);
  }
}

/**
 * Relays an upstream request's answer to the client: bytes metered through `onBytes`, the
 * request's timeout guarding the connect and the wait for an answer (not a long stream such as
 * SSE), the answer's status and end-to-end headers copied, its body piped.
 */
function relayAnswer(
  up: ClientRequest,
  res: ServerResponse,
  onBytes: (sent: boolean, n: number) => void,
): void {
  up.on('socket', (s: Socket) => meterSocket(s, onBytes));
  up.on('timeout', () => up.destroy(new Error('timeout')));
  up.on('response', (r) => {
    up.setTimeout(0);
    const out: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(r.headers)) if (v !== undefined && !HOP.has(k)) out[k] = v;
    res.writeHead(r.statusCode ?? 502, r.statusMessage, out);
    r.pipe(res);
  });
}

/**
 * Counts the bytes of an upstream socket as they pass: `onBytes(true, n)` for bytes written
 * (request, up), `onBytes(false, n)` for bytes read (answer, down). Headers included.
 */
function meterSocket(s: Socket, onBytes: (sent: boolean, n: number) => void): void {
  s.on('data', (d: Buffer) => onBytes(false, d.length));
  const write = s.write.bind(s) as (chunk: unknown, ...rest: unknown[]) => boolean;
  s.write = ((chunk: unknown, ...rest: unknown[]) => {
    onBytes(true, typeof chunk === 'string' ? Buffer.byteLength(chunk) : (chunk as Buffer).length);
    return write(chunk, ...rest);
  }) as typeof s.write;
}

async function systemLookup(host: string): Promise<string[]> {
  const r = await dnsLookup(host, { all: true, verbatim: true });
  return r.map((a) => a.address);
}

/** `host:port` of a CONNECT request (`[v6]:port` too). */
function parseAuthority(target: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(target);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return undefined;
  return { host: (m[1] ?? m[2]!).toLowerCase(), port };
}

/** A reason usable as an HTTP reason phrase (visible text, one line). */
function statusText(reason: string): string {
  return reason.replace(/[^\x20-\x7e]/g, ' ').slice(0, 300);
}

function refuse(res: ServerResponse, status: number, reason: string): void {
  const body = `${reason}\n`;
  res.writeHead(status, statusText(reason), {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    connection: 'close',
  });
  res.end(body);
}
