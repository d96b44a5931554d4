import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { connect, createServer as createTcpServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addressAllowed,
  EgressProxy,
  EgressRules,
  parseCidrList,
  parseHostPattern,
  silentLogger,
  validateNetworkPolicy,
  type EgressConnection,
} from '../src/index.js';

describe('host patterns', () => {
  it('parses names, wildcards, IPv4 literals and ports', () => {
    expect(parseHostPattern('API.github.com')).toMatchObject({ host: 'api.github.com', wildcard: false });
    expect(parseHostPattern('*.pypi.org')).toMatchObject({ host: 'pypi.org', wildcard: true });
    expect(parseHostPattern('example.com:8443')).toMatchObject({ host: 'example.com', port: 8443 });
    expect(parseHostPattern('10.1.2.3:80')).toMatchObject({ host: '10.1.2.3', port: 80 });
  });

  it.each([
    '',
    '*',
    '*.com',
    'a..b',
    'exa mple.com',
    'example.com:0',
    'example.com:70000',
    'example.com:http',
    'http://example.com',
    '[::1]:80',
    'foo.*.com',
    '-bad.com',
  ])('refuses %j', (p) => {
    expect(() => parseHostPattern(p)).toThrow(/invalid host pattern/);
    expect(validateNetworkPolicy({ allow: ['ok.com'], deny: [p] })).toMatch(/invalid host pattern/);
  });
});

describe('EgressRules', () => {
  const agent = {
    allow: ['api.github.com', '*.pypi.org', 'example.com:8443', 'a.test', 'b.test'],
    deny: ['bad.pypi.org'],
  };

  it('allows listed hosts on 80/443, or on the given port only', () => {
    const r = new EgressRules([{ name: 'agent', policy: agent }]);
    expect(r.decide('api.github.com', 443).allowed).toBe(true);
    expect(r.decide('API.GITHUB.COM.', 80).allowed).toBe(true);
    expect(r.decide('api.github.com', 22).allowed).toBe(false);
    expect(r.decide('example.com', 8443).allowed).toBe(true);
    expect(r.decide('example.com', 443).allowed).toBe(false);
    expect(r.decide('files.pypi.org', 443).allowed).toBe(true);
    expect(r.decide('a.b.pypi.org', 443).allowed).toBe(true);
    expect(r.decide('pypi.org', 443).allowed).toBe(false);
    expect(r.decide('evilpypi.org', 443).allowed).toBe(false);
    expect(r.decide('github.com', 443)).toEqual({
      allowed: false,
      reason: 'github.com:443 is not in the allow list of the agent network policy',
    });
  });

  it('deny wins over allow and names the entry', () => {
    const r = new EgressRules([{ name: 'agent', policy: agent }]);
    expect(r.decide('bad.pypi.org', 443)).toEqual({
      allowed: false,
      reason: 'bad.pypi.org:443 matches deny entry "bad.pypi.org" of the agent network policy',
    });
  });

  it('a session narrows the agent: allow = both, deny = either', () => {
    const r = new EgressRules([
      { name: 'agent', policy: agent },
      { name: 'session', policy: { allow: ['a.test', 'github.com', 'b.test'], deny: ['b.test'] } },
    ]);
    expect(r.decide('a.test', 443).allowed).toBe(true);
    // the session cannot add a host the agent does not allow
    expect(r.decide('github.com', 443).reason).toMatch(/agent network policy/);
    expect(r.decide('b.test', 443).reason).toMatch(/deny entry "b.test" of the session/);
    expect(r.decide('api.github.com', 443).reason).toMatch(/allow list of the session/);
  });

  it('no agent policy means no network, whatever the session says', () => {
    const r = new EgressRules([
      { name: 'agent', policy: undefined },
      { name: 'session', policy: { allow: ['a.test'] } },
    ]);
    expect(r.allowsAnything).toBe(false);
    expect(r.decide('a.test', 443).allowed).toBe(false);
    expect(new EgressRules([{ name: 'agent', policy: undefined }]).allowsAnything).toBe(false);
    expect(new EgressRules([{ name: 'agent', policy: { allow: [] } }]).allowsAnything).toBe(false);
    expect(new EgressRules([{ name: 'agent', policy: agent }]).allowsAnything).toBe(true);
  });
});

describe('MCP server hosts', () => {
  it('are allowed on their port only, without a policy, and a deny entry still wins', () => {
    const r = new EgressRules(
      [{ name: 'agent', policy: undefined }],
      [{ pattern: 'mcp.test:8080', name: 'MCP server "m"' }],
    );
    expect(r.allowsAnything).toBe(true);
    expect(r.decide('mcp.test', 8080)).toEqual({
      allowed: true,
      reason: 'allowed as the host of MCP server "m"',
    });
    expect(r.decide('mcp.test', 443).allowed).toBe(false);
    expect(r.decide('other.test', 8080).allowed).toBe(false);
    const denied = new EgressRules(
      [{ name: 'agent', policy: { allow: ['x.test'], deny: ['mcp.test:8080'] } }],
      [{ pattern: 'mcp.test:8080', name: 'MCP server "m"' }],
    );
    expect(denied.decide('mcp.test', 8080).reason).toMatch(/deny entry/);
  });
});

describe('resolved address checks', () => {
  const none = parseCidrList('');
  it.each([
    '127.0.0.1',
    '127.5.5.5',
    '10.0.0.1',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254',
    '0.0.0.0',
    '::1',
    '::',
    'fc00::1',
    'fd00:ec2::254',
    'fe80::1',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:a9fe:a9fe',
    '::127.0.0.1',
  ])('refuses %s', (a) => {
    expect(addressAllowed(a, none)).toBe(false);
  });

  it.each(['93.184.216.34', '140.82.112.3', '172.32.0.1', '2606:4700::1111'])('allows %s', (a) => {
    expect(addressAllowed(a, none)).toBe(true);
  });

  it('ASH_EGRESS_ALLOW_CIDRS opens exactly the listed ranges', () => {
    const list = parseCidrList('127.0.0.1/32, 10.1.0.0/16');
    expect(addressAllowed('127.0.0.1', list)).toBe(true);
    expect(addressAllowed('::ffff:127.0.0.1', list)).toBe(true);
    expect(addressAllowed('127.0.0.2', list)).toBe(false);
    expect(addressAllowed('10.1.200.3', list)).toBe(true);
    expect(addressAllowed('10.2.0.1', list)).toBe(false);
    expect(() => parseCidrList('10.0.0.0/33')).toThrow(/invalid CIDR/);
    expect(() => parseCidrList('nope')).toThrow(/invalid CIDR/);
  });
});

describe('EgressProxy', () => {
  let dir: string;
  let target: Server;
  let targetPort: number;
  let raw: ReturnType<typeof createTcpServer>;
  let rawPort: number;
  const hits: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ash-egress-'));
    target = createServer((req, res) => {
      hits.push(`${req.method} ${req.url} host=${req.headers.host}`);
      if (req.url === '/slow') {
        // A stream (SSE-like): a first chunk, then silence longer than the proxy's timeout.
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('first;');
        setTimeout(() => res.end('last'), 1200);
        return;
      }
      let n = 0;
      req.on('data', (d: Buffer) => {
        n += d.length;
      });
      req.on('end', () => res.end(`hello ${req.url} got=${n}`));
    });
    target.listen(0, '127.0.0.1');
    await once(target, 'listening');
    targetPort = (target.address() as AddressInfo).port;
    raw = createTcpServer((s) => s.pipe(s)); // echo
    raw.listen(0, '127.0.0.1');
    await once(raw, 'listening');
    rawPort = (raw.address() as AddressInfo).port;
  });
  afterAll(async () => {
    target.close();
    raw.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function start(opts: {
    cidrs?: string;
    maxConnections?: number;
    maxBytesPerTurn?: number;
    connectTimeoutMs?: number;
    /** How long each name takes to resolve, ms (default at once). */
    lookupDelayMs?: number;
  }) {
    const events: EgressConnection[] = [];
    const limits: string[] = [];
    const rules = new EgressRules([
      {
        name: 'agent',
        policy: {
          allow: [
            `good.test:${targetPort}`,
            `good.test:${rawPort}`,
            `rebind.test:${targetPort}`,
            `denied.test:${targetPort}`,
          ],
          deny: ['denied.test:*'.replace(':*', `:${targetPort}`)],
        },
      },
    ]);
    const socketPath = join(dir, `e${Math.random().toString(36).slice(2, 8)}.sock`);
    const proxy = await EgressProxy.listen({
      socketPath,
      decide: (h, p) => rules.decide(h, p),
      allowCidrs: parseCidrList(opts.cidrs ?? '127.0.0.1/32'),
      limits: { maxConnections: opts.maxConnections ?? 0, maxBytesPerTurn: opts.maxBytesPerTurn ?? 0 },
      onConnection: (c) => events.push(c),
      onLimit: (l) => limits.push(l),
      // A resolver the test controls: good.test → 127.0.0.1, rebind.test → 127.0.0.2 (not allowed).
      lookup: async (h) => {
        if (opts.lookupDelayMs) await new Promise((r) => setTimeout(r, opts.lookupDelayMs));
        return h === 'rebind.test' ? ['127.0.0.2'] : ['127.0.0.1'];
      },
      log: silentLogger,
      ...(opts.connectTimeoutMs ? { connectTimeoutMs: opts.connectTimeoutMs } : {}),
    });
    return { proxy, socketPath, events, limits };
  }

  function viaProxy(socketPath: string, url: string, body?: string) {
    return new Promise<{ status: number; text: string; reason: string }>((resolve, reject) => {
      const req = request(
        { socketPath, path: url, method: body ? 'POST' : 'GET', headers: { host: new URL(url).host } },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => {
            text += d;
          });
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, text, reason: res.statusMessage ?? '' }),
          );
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  function connectVia(socketPath: string, authority: string, payload: string) {
    return new Promise<{ head: string; echoed: string }>((resolve, reject) => {
      const s = connect(socketPath);
      let buf = '';
      let head: string | undefined;
      s.on('error', reject);
      s.on('data', (d: Buffer) => {
        buf += d.toString();
        if (head === undefined && buf.includes('\r\n\r\n')) {
          head = buf.slice(0, buf.indexOf('\r\n\r\n'));
          buf = buf.slice(buf.indexOf('\r\n\r\n') + 4);
          if (head.startsWith('HTTP/1.1 200')) s.write(payload);
        }
        if (head?.startsWith('HTTP/1.1 200') && buf.length >= payload.length) {
          s.end();
          resolve({ head, echoed: buf });
        }
      });
      s.on('end', () => resolve({ head: head ?? buf, echoed: buf }));
      s.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`);
    });
  }

  it('forwards plain HTTP to an allowed host and records the bytes', async () => {
    const { proxy, socketPath, events } = await start({});
    try {
      const r = await viaProxy(socketPath, `http://good.test:${targetPort}/x?y=1`, 'abc');
      expect(r.status).toBe(200);
      expect(r.text).toBe('hello /x?y=1 got=3');
      expect(hits).toContain(`POST /x?y=1 host=good.test:${targetPort}`);
      await expect.poll(() => events.length).toBe(1);
      expect(events[0]).toMatchObject({
        host: 'good.test',
        port: targetPort,
        allowed: true,
        address: '127.0.0.1',
        method: 'POST',
      });
      expect(events[0]!.bytesUp).toBeGreaterThan(3);
      expect(events[0]!.bytesDown).toBeGreaterThan(18);
    } finally {
      await proxy.close();
    }
  });

  it('keeps a plain-HTTP stream open past its connect/answer timeout once the answer started', async () => {
    const { proxy, socketPath } = await start({ connectTimeoutMs: 300 });
    try {
      const r = await viaProxy(socketPath, `http://good.test:${targetPort}/slow`);
      expect(r.status).toBe(200);
      expect(r.text).toBe('first;last');
    } finally {
      await proxy.close();
    }
  });

  it('tunnels CONNECT to an allowed host and counts both directions', async () => {
    const { proxy, socketPath, events } = await start({});
    try {
      const r = await connectVia(socketPath, `good.test:${rawPort}`, 'ping-1234567890');
      expect(r.head).toMatch(/^HTTP\/1.1 200/);
      expect(r.echoed).toBe('ping-1234567890');
      await expect.poll(() => events.length).toBe(1);
      expect(events[0]).toMatchObject({ method: 'CONNECT', allowed: true, bytesUp: 15, bytesDown: 15 });
    } finally {
      await proxy.close();
    }
  });

  it('refuses unlisted, denied and private-after-resolution hosts with a reason', async () => {
    const { proxy, socketPath, events } = await start({});
    try {
      const unlisted = await connectVia(socketPath, `other.test:${rawPort}`, 'x');
      expect(unlisted.head).toMatch(
        /^HTTP\/1.1 403 Ash egress refused: other.test:\d+ is not in the allow list of the agent network policy/,
      );
      const denied = await viaProxy(socketPath, `http://denied.test:${targetPort}/`);
      expect(denied.status).toBe(403);
      expect(denied.text).toMatch(/deny entry "denied.test:\d+"/);
      const rebind = await viaProxy(socketPath, `http://rebind.test:${targetPort}/`);
      expect(rebind.status).toBe(403);
      expect(rebind.text).toMatch(/rebind.test resolves to 127.0.0.2: private, loopback/);
      expect(events.map((e) => [e.host, e.allowed, e.bytesUp])).toEqual([
        ['other.test', false, 0],
        ['denied.test', false, 0],
        ['rebind.test', false, 0],
      ]);
    } finally {
      await proxy.close();
    }
  });

  it('refuses a loopback destination when no CIDR allows it', async () => {
    const { proxy, socketPath } = await start({ cidrs: '' });
    try {
      const r = await viaProxy(socketPath, `http://good.test:${targetPort}/`);
      expect(r.status).toBe(403);
      expect(r.reason).toMatch(/resolves to 127.0.0.1/);
    } finally {
      await proxy.close();
    }
  });

  it('stops a flood past the byte budget and reports the limit once per turn', async () => {
    const { proxy, socketPath, limits } = await start({ maxBytesPerTurn: 1000 });
    try {
      const big = 'x'.repeat(5000);
      await connectVia(socketPath, `good.test:${rawPort}`, big).catch(() => undefined);
      expect(limits).toEqual(['egress_bytes']);
      const after = await connectVia(socketPath, `good.test:${rawPort}`, 'y');
      expect(after.head).toMatch(/403 .*egress bandwidth limit \(1000 bytes per turn\)/);
      proxy.resetTurn();
      const next = await connectVia(socketPath, `good.test:${rawPort}`, 'z');
      expect(next.head).toMatch(/^HTTP\/1.1 200/);
    } finally {
      await proxy.close();
    }
  });

  it('refuses connections past the concurrency limit', async () => {
    const { proxy, socketPath, limits } = await start({ maxConnections: 1 });
    try {
      const s = connect(socketPath);
      s.write(`CONNECT good.test:${rawPort} HTTP/1.1\r\n\r\n`);
      await once(s, 'data');
      expect(proxy.openConnections).toBe(1);
      const second = await connectVia(socketPath, `good.test:${rawPort}`, 'q');
      expect(second.head).toMatch(/403 .*egress connection limit \(1 open connections\)/);
      expect(limits).toEqual(['egress_connections']);
      s.destroy();
    } finally {
      await proxy.close();
    }
  });

  it('counts connections arriving together while their names resolve (none slips past the limit)', async () => {
    const { proxy, socketPath, limits } = await start({ maxConnections: 2, lookupDelayMs: 200 });
    const sockets = Array.from({ length: 5 }, () => connect(socketPath));
    try {
      const heads = await Promise.all(
        sockets.map(
          (s) =>
            new Promise<string>((resolve, reject) => {
              let buf = '';
              s.on('error', reject);
              s.on('data', (d: Buffer) => {
                buf += d.toString();
                if (buf.includes('\r\n\r\n')) resolve(buf.slice(0, buf.indexOf('\r\n')));
              });
              s.write(`CONNECT good.test:${rawPort} HTTP/1.1\r\n\r\n`);
            }),
        ),
      );
      expect(heads.filter((h) => h.startsWith('HTTP/1.1 200')).length).toBe(2);
      expect(heads.filter((h) => /403 .*egress connection limit \(2 open connections\)/.test(h)).length).toBe(
        3,
      );
      expect(limits).toContain('egress_connections');
      expect(proxy.openConnections).toBe(2);
    } finally {
      for (const s of sockets) s.destroy();
      await proxy.close();
    }
  });
});
