import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer as createHttpsServer, type Server } from 'node:https';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  EgressCa,
  EgressProxy,
  parseCidrList,
  silentLogger,
  type EgressConnection,
  type EgressDecision,
} from '../src/index.js';

const SECRET = 'tls-test-secret-7d1c0e';

/** Opens a CONNECT tunnel through the proxy's socket; rejects with the status line unless 200. */
async function tunnel(socketPath: string, target: string): Promise<Socket> {
  const s = connect(socketPath);
  s.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`);
  // Read the answer's head without consuming the stream (a `for await` break would destroy it).
  const head = await new Promise<string>((resolve, reject) => {
    let text = '';
    const onData = (d: Buffer) => {
      text += d.toString('latin1');
      if (!text.includes('\r\n\r\n')) return;
      s.off('data', onData);
      s.pause();
      resolve(text);
    };
    s.on('data', onData);
    s.once('error', reject);
    s.once('end', () => resolve(text));
  });
  if (!head.startsWith('HTTP/1.1 200')) {
    s.destroy();
    throw new Error(head.split('\r\n')[0]);
  }
  return s;
}

/** One HTTPS GET over a tunnel, trusting `ca`; resolves with the whole response text. */
async function getOver(socket: Socket, host: string, ca: string, path: string): Promise<string> {
  const t = tlsConnect({ socket, servername: host, ca });
  await once(t, 'secureConnect');
  t.write(
    `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer placeholder\r\nConnection: close\r\n\r\n`,
  );
  let text = '';
  for await (const chunk of t) text += (chunk as Buffer).toString();
  return text;
}

describe('egress TLS termination for hosts with a bound credential', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ash-egress-tls-'));
  let upstream: Server;
  let port = 0;
  let upstreamCert = '';
  let ca: EgressCa;

  beforeAll(async () => {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-subj',
        '/CN=bound.test',
        '-addext',
        'subjectAltName=DNS:bound.test,DNS:other.test',
        '-days',
        '1',
        '-keyout',
        join(dir, 'up.key'),
        '-out',
        join(dir, 'up.pem'),
      ],
      { stdio: 'pipe' },
    );
    upstreamCert = readFileSync(join(dir, 'up.pem'), 'utf8');
    upstream = createHttpsServer(
      { key: readFileSync(join(dir, 'up.key')), cert: upstreamCert },
      (req, res) => {
        if (req.url === '/stream') {
          // A slow stream (SSE-like): a first chunk, then silence longer than the proxy's timeout.
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          res.write('data: first\n\n');
          setTimeout(() => res.end('data: last\n\n'), 1200);
          return;
        }
        const auth = req.headers.authorization;
        res.end(`upstream saw ${auth === `Bearer ${SECRET}` ? 'the real header' : (auth ?? 'none')}`);
      },
    );
    upstream.listen(0, '127.0.0.1');
    await once(upstream, 'listening');
    port = (upstream.address() as AddressInfo).port;
    ca = await EgressCa.open(join(dir, 'ca'));
  });
  afterAll(() => {
    upstream?.closeAllConnections();
    upstream?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const proxy = async (opts: { upstreamCa?: string[]; withCa?: boolean; connectTimeoutMs?: number }) => {
    const seen: EgressConnection[] = [];
    const decide = (host: string): EgressDecision =>
      host === 'bound.test'
        ? {
            allowed: true,
            reason: 'allowed by the network policy',
            inject: [{ header: 'authorization', value: `Bearer ${SECRET}` }],
          }
        : { allowed: true, reason: 'allowed by the network policy' };
    const p = await EgressProxy.listen({
      socketPath: join(dir, `p${Math.random().toString(36).slice(2, 8)}.sock`),
      decide,
      allowCidrs: parseCidrList('127.0.0.1/32'),
      limits: { maxConnections: 0, maxBytesPerTurn: 0 },
      lookup: async () => ['127.0.0.1'],
      onConnection: (c) => seen.push(c),
      ...(opts.connectTimeoutMs ? { connectTimeoutMs: opts.connectTimeoutMs } : {}),
      ...(opts.withCa === false ? {} : { tls: { ca, upstreamCa: opts.upstreamCa } }),
      log: silentLogger,
    });
    return { p, seen, socketPath: (p as unknown as { opts: { socketPath: string } }).opts.socketPath };
  };

  it('keeps the CA on disk (key 0600) and reuses it', async () => {
    expect(statSync(join(dir, 'ca', 'ca.key')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'ca')).mode & 0o777).toBe(0o700);
    const again = await EgressCa.open(join(dir, 'ca'));
    expect(again.certPem).toBe(ca.certPem);
    expect(ca.bundlePem()).toContain(ca.certPem.trim());
    expect(ca.bundlePem().split('BEGIN CERTIFICATE').length).toBeGreaterThan(10);
  });

  it('terminates TLS for a bound host with a leaf of its CA and sets the header (replacing the placeholder)', async () => {
    const { p, seen, socketPath } = await proxy({ upstreamCa: [upstreamCert] });
    try {
      const s = await tunnel(socketPath, `bound.test:${port}`);
      const res = await getOver(s, 'bound.test', ca.certPem, '/x');
      expect(res).toMatch(/^HTTP\/1.1 200/);
      expect(res).toContain('upstream saw the real header');
      await expect.poll(() => seen.length).toBe(1);
      expect(seen[0]).toMatchObject({ host: 'bound.test', allowed: true, method: 'CONNECT' });
      expect(seen[0]!.reason).toContain('TLS terminated');
      expect(seen[0]!.bytesUp).toBeGreaterThan(0);
      expect(seen[0]!.bytesDown).toBeGreaterThan(0);
      expect(JSON.stringify(seen)).not.toContain(SECRET);
    } finally {
      await p.close();
    }
  });

  it('an intercepted stream may stay silent longer than the connect timeout', async () => {
    const { p, socketPath } = await proxy({ upstreamCa: [upstreamCert], connectTimeoutMs: 300 });
    try {
      const s = await tunnel(socketPath, `bound.test:${port}`);
      const res = await getOver(s, 'bound.test', ca.certPem, '/stream');
      expect(res).toContain('data: first');
      expect(res).toContain('data: last');
    } finally {
      await p.close();
    }
  });

  it('a host without a binding is a plain tunnel: the client sees the upstream certificate', async () => {
    const { p, seen, socketPath } = await proxy({ upstreamCa: [upstreamCert] });
    try {
      const s = await tunnel(socketPath, `other.test:${port}`);
      const res = await getOver(s, 'other.test', upstreamCert, '/y');
      expect(res).toContain('upstream saw Bearer placeholder');
      // The egress CA is not accepted for it: nothing presents one of its leaves.
      const s2 = await tunnel(socketPath, `other.test:${port}`);
      await expect(getOver(s2, 'other.test', ca.certPem, '/z')).rejects.toThrow(/self.signed|certificate/i);
      await expect.poll(() => seen.length).toBe(2);
      expect(seen.every((c) => !c.reason.includes('TLS terminated'))).toBe(true);
    } finally {
      await p.close();
    }
  });

  it('verifies the upstream: an untrusted upstream certificate gets a 502, never the header', async () => {
    const { p, socketPath } = await proxy({}); // Node's roots only: the self-signed upstream fails
    try {
      const s = await tunnel(socketPath, `bound.test:${port}`);
      const res = await getOver(s, 'bound.test', ca.certPem, '/v');
      expect(res).toMatch(/^HTTP\/1.1 502/);
      expect(res).toMatch(/Ash egress: bound.test:\d+ failed \((DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED)/);
      expect(res).not.toContain('upstream saw');
    } finally {
      await p.close();
    }
  });

  it('without a CA, HTTPS to a bound host is refused with a clear message', async () => {
    const { p, seen, socketPath } = await proxy({ withCa: false });
    try {
      await expect(tunnel(socketPath, `bound.test:${port}`)).rejects.toThrow(
        /502 Ash egress: a credential is bound to this host but the server has no egress CA/,
      );
      expect(seen[0]).toMatchObject({ allowed: false });
    } finally {
      await p.close();
    }
  });
});
