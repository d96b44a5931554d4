import { execFileSync } from 'node:child_process';
import { lookup } from 'node:dns/promises';
import { once } from 'node:events';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join, normalize } from 'node:path';
import {
  type AshProcess,
  ScriptedModel,
  removeDir,
  serverEnv,
  startAshProcess,
  tempDir,
} from '@ash-ai/testing';
import type { EgressData, StreamEvent } from '@ash-ai/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  createSession,
  deployAgent,
  eventually,
  expectOutcome,
  sendTurn,
  startTestServer,
  type TestServer,
} from './harness.js';

/** Output of every tool call of a turn, joined. */
function toolOutput(turn: { events: StreamEvent[] }): string {
  return turn.events
    .filter((e) => e.event === 'tool_result')
    .map((e) => (e.data as { content: string }).content)
    .join('\n---\n');
}

function egressEvents(turn: { events: StreamEvent[] }): EgressData[] {
  return turn.events.filter((e) => e.event === 'egress').map((e) => e.data as EgressData);
}

const bash = (command: string) => ({ toolUse: { name: 'Bash', input: { command } } });

/**
 * Test hosts on 127.0.0.1: a plain HTTP server (which also serves a bare git repository over
 * git's "dumb" HTTP protocol) and an HTTPS server with a self-signed certificate. Every request
 * they receive is recorded, so a test can prove that nothing reached them.
 */
class TestHosts {
  readonly hits: string[] = [];
  http!: Server;
  https!: HttpsServer;
  httpPort = 0;
  httpsPort = 0;
  readonly dir = tempDir('ash-egress-hosts-');
  hasGit = false;

  async start(): Promise<void> {
    const gitRoot = join(this.dir, 'git');
    try {
      const src = join(this.dir, 'src');
      mkdirSync(src);
      const git = (cwd: string, ...args: string[]) =>
        execFileSync('git', args, {
          cwd,
          stdio: 'pipe',
          env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', HOME: this.dir },
        });
      git(src, 'init', '-q', '-b', 'main');
      writeFileSync(join(src, 'README'), 'egress-git-ok\n');
      git(src, 'add', 'README');
      git(src, '-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-q', '-m', 'init');
      mkdirSync(gitRoot);
      git(this.dir, 'clone', '-q', '--bare', src, join(gitRoot, 'repo.git'));
      git(join(gitRoot, 'repo.git'), 'update-server-info');
      this.hasGit = true;
    } catch {
      this.hasGit = false;
    }
    this.http = createServer((req, res) => {
      this.hits.push(`http ${req.method} ${req.url}`);
      const url = new URL(req.url ?? '/', 'http://x');
      if (this.handleMcp(req, res, url.pathname)) return;
      if (url.pathname === '/big') {
        // 6 MiB in 64 KiB chunks, as fast as the client reads.
        const chunk = Buffer.alloc(64 * 1024, 'z');
        let left = 96;
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        const pump = () => {
          while (left > 0) {
            left--;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
          res.end();
        };
        pump();
        return;
      }
      if (url.pathname === '/slow') {
        const t = setTimeout(() => res.end('slow-done\n'), 8000);
        res.on('close', () => clearTimeout(t));
        return;
      }
      if (url.pathname.startsWith('/git/')) {
        const file = normalize(join(gitRoot, url.pathname.slice(5)));
        try {
          if (!file.startsWith(gitRoot) || !statSync(file).isFile()) throw new Error('no');
          res.end(readFileSync(file));
        } catch {
          res.writeHead(404).end();
        }
        return;
      }
      res.end(`hello from the test host ${url.pathname}\n`);
    });
    this.http.listen(0, '127.0.0.1');
    await once(this.http, 'listening');
    this.httpPort = (this.http.address() as AddressInfo).port;
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-subj',
        '/CN=localhost',
        '-days',
        '1',
        '-keyout',
        join(this.dir, 'key.pem'),
        '-out',
        join(this.dir, 'cert.pem'),
      ],
      { stdio: 'pipe' },
    );
    this.https = createHttpsServer(
      { key: readFileSync(join(this.dir, 'key.pem')), cert: readFileSync(join(this.dir, 'cert.pem')) },
      (req, res) => {
        this.hits.push(`https ${req.method} ${req.url}`);
        res.end(`secure hello ${req.url}\n`);
      },
    );
    this.https.listen(0, '127.0.0.1');
    await once(this.https, 'listening');
    this.httpsPort = (this.https.address() as AddressInfo).port;
  }

  /** A minimal MCP server (JSON-RPC): streamable HTTP at /mcp, the older SSE transport at /sse. */
  private mcp(method: string, params: Record<string, unknown> | undefined, kind: string): unknown {
    if (method === 'initialize')
      return {
        protocolVersion: params?.protocolVersion ?? '2025-03-26',
        capabilities: { tools: {} },
        serverInfo: { name: `test-${kind}`, version: '1.0.0' },
      };
    if (method === 'tools/list')
      return {
        tools: [
          {
            name: 'echo',
            description: 'Echoes its text',
            inputSchema: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] },
          },
        ],
      };
    if (method === 'tools/call') {
      const text = String((params?.arguments as { text?: unknown } | undefined)?.text ?? '');
      return { content: [{ type: 'text', text: `echo from the ${kind} MCP server: ${text}` }] };
    }
    return {};
  }

  private readonly sseStreams = new Map<string, import('node:http').ServerResponse>();

  /** Handles MCP requests; false when the path is not an MCP one. */
  handleMcp(
    req: import('node:http').IncomingMessage,
    res: import('node:http').ServerResponse,
    path: string,
  ): boolean {
    const readBody = (
      then: (msg: { id?: unknown; method: string; params?: Record<string, unknown> }) => void,
    ) => {
      let body = '';
      req.on('data', (d: Buffer) => {
        body += d.toString();
      });
      req.on('end', () => then(JSON.parse(body)));
    };
    if (path === '/mcp') {
      if (req.method !== 'POST') {
        res.writeHead(405).end();
        return true;
      }
      readBody((msg) => {
        if (msg.id === undefined) return void res.writeHead(202).end();
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({ jsonrpc: '2.0', id: msg.id, result: this.mcp(msg.method, msg.params, 'http') }),
        );
      });
      return true;
    }
    if (path === '/sse' && req.method === 'GET') {
      const sid = String(this.sseStreams.size + 1);
      this.sseStreams.set(sid, res);
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.write(`event: endpoint\ndata: /messages?sid=${sid}\n\n`);
      return true;
    }
    if (path === '/messages' && req.method === 'POST') {
      const sid = new URL(req.url ?? '/', 'http://x').searchParams.get('sid') ?? '';
      readBody((msg) => {
        res.writeHead(202).end('Accepted');
        const stream = this.sseStreams.get(sid);
        if (msg.id !== undefined && stream)
          stream.write(
            `event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', id: msg.id, result: this.mcp(msg.method, msg.params, 'sse') })}\n\n`,
          );
      });
      return true;
    }
    return false;
  }

  async close(): Promise<void> {
    this.http?.closeAllConnections();
    this.https?.closeAllConnections();
    this.http?.close();
    this.https?.close();
    removeDir(this.dir);
  }
}

describe('sandbox network egress', () => {
  const hosts = new TestHosts();
  let t: TestServer;

  beforeAll(async () => {
    // The test host names: this machine's /etc/hosts maps `vm` and `runsc` to 127.0.0.1 (the
    // egress proxy resolves names on the host). `localhost` itself bypasses the proxy (NO_PROXY).
    for (const name of ['vm', 'runsc'])
      expect((await lookup(name)).address, `${name} must resolve to 127.0.0.1 on the test host`).toBe(
        '127.0.0.1',
      );
    await hosts.start();
    t = await startTestServer({
      env: {
        ASH_EGRESS_ALLOW_CIDRS: '127.0.0.1/32',
        ASH_EGRESS_MAX_MB_PER_TURN: '2',
        ASH_EGRESS_MAX_CONNECTIONS: '4',
      },
    });
    await deployAgent(t.url, 'offline', { 'CLAUDE.md': '# Offline\n' });
    await deployAgent(
      t.url,
      'online',
      { 'CLAUDE.md': '# Online\n' },
      {
        config: {
          network: {
            // `vm` and `runsc` resolve to 127.0.0.1 on the host (its /etc/hosts); `localhost`
            // would bypass the proxy (NO_PROXY), as it should.
            allow: [`vm:${hosts.httpPort}`, `vm:${hosts.httpsPort}`, `runsc:${hosts.httpPort}`],
            deny: [`runsc:${hosts.httpPort}`],
          },
        },
      },
    );
  }, 120_000);
  afterAll(async () => {
    await t?.close();
    await hosts.close();
  });

  it('default policy: curl, DNS and a raw TCP connect all fail, and nothing reaches the test host', async () => {
    const s = await createSession(t.url, 'offline');
    const before = hosts.hits.length;
    const p = hosts.httpPort;
    t.model
      .forSession(s)
      .enqueue(
        bash(`curl -sS -m 5 http://127.0.0.1:${p}/direct 2>&1; echo curl-exit=$?`),
        bash(`curl -sS -m 5 http://localhost:${p}/byname 2>&1; echo curl-name-exit=$?`),
        bash('getent ahosts registry.npmjs.org; echo dns-exit=$?'),
        bash(`(exec 3<>/dev/tcp/127.0.0.1/${p}) 2>&1; echo tcp-exit=$?`),
        bash('env | grep -i _proxy; echo proxy-vars=$?'),
        { text: 'offline checked' },
      );
    const turn = await sendTurn(t.url, s, { content: 'try the network' });
    expectOutcome(turn, 'completed');
    const out = toolOutput(turn);
    expect(out).toMatch(/curl-exit=[1-9]/);
    expect(out).toMatch(/curl-name-exit=[1-9]/);
    expect(out).toMatch(/dns-exit=[1-9]/);
    expect(out).toMatch(/tcp-exit=[1-9]/);
    expect(out).toContain('proxy-vars=1'); // no proxy variables: there is no proxy
    expect(egressEvents(turn)).toEqual([]);
    expect(hosts.hits.length).toBe(before);
  }, 180_000);

  it('allow-list: allowed hosts answer through curl, HTTPS CONNECT (curl -k, python) and git; others are refused; every attempt is an egress event', async () => {
    const s = await createSession(t.url, 'online');
    const p = hosts.httpPort;
    const tp = hosts.httpsPort;
    const py = [
      'import ssl, urllib.request',
      'ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE',
      `print(urllib.request.urlopen("https://vm:${tp}/pip-style", context=ctx, timeout=10).read().decode().strip())`,
    ].join('\n');
    t.model
      .forSession(s)
      .enqueue(
        bash(`curl -sS -m 10 http://vm:${p}/allowed 2>&1`),
        bash(`curl -sS -k -m 10 https://vm:${tp}/tls 2>&1`),
        bash(`python3 -c '${py}' 2>&1`),
        bash(
          hosts.hasGit
            ? `cd /tmp && git clone -q http://vm:${p}/git/repo.git cloned 2>&1 && cat cloned/README`
            : 'echo egress-git-ok',
        ),
        bash(`curl -sS -m 10 http://unlisted.example:${p}/unlisted 2>&1; echo unlisted-exit=$?`),
        bash(
          `curl -sS -m 10 -o /dev/null -w '%{http_code}\\n' https://unlisted.example:${tp}/unlisted-tls 2>&1; echo`,
        ),
        bash(`curl -sS -m 10 http://runsc:${p}/denied 2>&1`),
        bash(`(exec 3<>/dev/tcp/127.0.0.1/${p}) 2>&1; echo tcp-exit=$?`),
        { text: 'online checked' },
      );
    const turn = await sendTurn(t.url, s, { content: 'use the network' });
    expectOutcome(turn, 'completed');
    const out = toolOutput(turn);
    expect(out).toContain('hello from the test host /allowed');
    expect(out).toContain('secure hello /tls');
    expect(out).toContain('secure hello /pip-style');
    expect(out).toContain('egress-git-ok');
    expect(out).toMatch(
      /Ash egress refused: unlisted.example:\d+ is not in the allow list of the agent network policy/,
    );
    expect(out).toMatch(/CONNECT tunnel failed, response 403|403/);
    expect(out).toMatch(
      /Ash egress refused: runsc:\d+ matches deny entry "runsc:\d+" of the agent network policy/,
    );
    expect(out).toMatch(/tcp-exit=[1-9]/); // no route of its own, even with a policy
    expect(hosts.hits).not.toContain('http GET /unlisted');
    expect(hosts.hits).not.toContain('http GET /denied');
    const ev = egressEvents(turn);
    const allowed = ev.filter((e) => e.allowed);
    expect(allowed.find((e) => e.method === 'GET' && e.port === p)).toMatchObject({ host: 'vm' });
    expect(allowed.filter((e) => e.method === 'CONNECT' && e.port === tp).length).toBeGreaterThanOrEqual(2);
    for (const e of allowed) {
      expect(e.bytesUp).toBeGreaterThan(0);
      expect(e.bytesDown).toBeGreaterThan(0);
    }
    const denied = ev.filter((e) => !e.allowed);
    expect(denied.map((e) => e.host).sort()).toEqual(['runsc', 'unlisted.example', 'unlisted.example']);
    expect(denied.every((e) => e.bytesUp === 0 && e.bytesDown === 0)).toBe(true);
    // The events are part of the persisted event log too.
    const log = await api(t.url, 'GET', `/api/sessions/${s}/events?limit=1000`);
    expect(log.status).toBe(200);
    expect(JSON.stringify(log.body)).toContain('"egress"');
    // And counted in /metrics.
    const metrics = await api(t.url, 'GET', '/metrics');
    expect(metrics.text).toMatch(/ash_egress_connections_total\{outcome="denied"\} [3-9]/);
    expect(metrics.text).toMatch(/ash_egress_bytes_total\{direction="down"\} [1-9]/);
  }, 240_000);

  it("node's built-in fetch (Node 20) goes through the proxy: allowed hosts answer, refusals name the policy, NO_PROXY is honoured", async () => {
    const s = await createSession(t.url, 'online');
    const p = hosts.httpPort;
    const tp = hosts.httpsPort;
    /** A `node -e` program printing `<label> <status> <body>` or `<label> failed <cause>`. */
    const nodeFetch = (label: string, url: string) =>
      bash(
        `NODE_TLS_REJECT_UNAUTHORIZED=0 node -e 'fetch("${url}").then(async (r) => console.log("${label}", r.status, (await r.text()).trim()), (e) => console.log("${label} failed", e.cause?.message ?? e.cause?.code ?? e.message))' 2>/dev/null`,
      );
    t.model.forSession(s).enqueue(
      bash('echo "node-options=$NODE_OPTIONS"'),
      nodeFetch('http-allowed', `http://vm:${p}/node-fetch`),
      nodeFetch('https-allowed', `https://vm:${tp}/node-fetch-tls`),
      nodeFetch('http-denied', `http://runsc:${p}/node-denied`),
      nodeFetch('https-unlisted', `https://unlisted.example:${tp}/node-unlisted`),
      // NO_PROXY: localhost is the sandbox's own loopback (nothing listens there), not the proxy.
      nodeFetch('no-proxy', `http://localhost:${p}/node-local`),
      // Without the proxy variables the preload does nothing: plain fetch, and no network.
      bash(
        `env -u HTTP_PROXY -u http_proxy -u HTTPS_PROXY -u https_proxy node -e 'fetch("http://vm:${p}/node-unproxied").then((r) => console.log("unproxied", r.status), (e) => console.log("unproxied failed", e.cause?.code))'`,
      ),
      { text: 'node fetch checked' },
    );
    const turn = await sendTurn(t.url, s, { content: 'fetch from node' });
    expectOutcome(turn, 'completed');
    const out = toolOutput(turn);
    expect(out).toContain('node-options=--require /run/ash/egress-preload.cjs');
    expect(out).toContain('http-allowed 200 hello from the test host /node-fetch');
    expect(out).toContain('https-allowed 200 secure hello /node-fetch-tls');
    expect(out).toMatch(
      /http-denied 403 Ash egress refused: runsc:\d+ matches deny entry "runsc:\d+" of the agent network policy/,
    );
    expect(out).toMatch(
      /https-unlisted failed Ash egress refused: unlisted.example:\d+ is not in the allow list of the agent network policy/,
    );
    expect(out).toMatch(/no-proxy failed (ECONNREFUSED|connect ECONNREFUSED)/);
    expect(out).toMatch(/unproxied failed (ENOTFOUND|EAI_AGAIN)/);
    expect(hosts.hits).toContain('http GET /node-fetch');
    expect(hosts.hits).toContain('https GET /node-fetch-tls');
    expect(hosts.hits).not.toContain('http GET /node-denied');
    expect(hosts.hits).not.toContain('http GET /node-unproxied');
    const ev = egressEvents(turn);
    expect(ev.find((e) => e.allowed && e.method === 'GET' && e.port === p)).toMatchObject({ host: 'vm' });
    expect(ev.find((e) => e.allowed && e.method === 'CONNECT' && e.port === tp)).toMatchObject({
      host: 'vm',
    });
    expect(ev.filter((e) => !e.allowed).map((e) => e.host)).toEqual(['runsc', 'unlisted.example']);
    expect(ev.some((e) => e.host === 'localhost')).toBe(false);
  }, 240_000);

  it('default policy: node fetch fails, and the sandbox has no preload', async () => {
    const s = await createSession(t.url, 'offline');
    const before = hosts.hits.length;
    t.model
      .forSession(s)
      .enqueue(
        bash(
          `echo "node-options=[$NODE_OPTIONS]"; node -e 'fetch("http://vm:${hosts.httpPort}/offline-node").then((r) => console.log("offline", r.status), (e) => console.log("offline failed", e.cause?.code))'`,
        ),
        { text: 'ok' },
      );
    const turn = await sendTurn(t.url, s, { content: 'fetch offline' });
    expectOutcome(turn, 'completed');
    const out = toolOutput(turn);
    expect(out).toContain('node-options=[]');
    expect(out).toMatch(/offline failed (ENOTFOUND|EAI_AGAIN)/);
    expect(egressEvents(turn)).toEqual([]);
    expect(hosts.hits.length).toBe(before);
  }, 180_000);

  it('a session narrows the agent policy, and PATCH /config changes it for later turns', async () => {
    const s = await createSession(t.url, 'online', {
      network: { allow: [`vm:${hosts.httpsPort}`] },
    });
    t.model
      .forSession(s)
      .enqueue(bash(`curl -sS -m 10 http://vm:${hosts.httpPort}/narrowed 2>&1`), { text: 'ok' });
    const turn = await sendTurn(t.url, s, { content: 'narrowed' });
    expectOutcome(turn, 'completed');
    expect(toolOutput(turn)).toMatch(/not in the allow list of the session network policy/);
    expect(hosts.hits).not.toContain('http GET /narrowed');
    // PATCH /config changes the policy for later turns of the live sandbox.
    const patched = await api(t.url, 'PATCH', `/api/sessions/${s}/config`, {
      network: { allow: [`vm:${hosts.httpPort}`] },
    });
    expect(patched.status).toBe(200);
    t.model
      .forSession(s)
      .enqueue(bash(`curl -sS -m 10 http://vm:${hosts.httpPort}/patched 2>&1`), { text: 'ok' });
    const after = await sendTurn(t.url, s, { content: 'patched' });
    expectOutcome(after, 'completed');
    expect(toolOutput(after)).toContain('hello from the test host /patched');
  }, 180_000);

  it('bad policies are refused with 400 validation_failed', async () => {
    for (const network of [
      { allow: ['http://x.com'] },
      { allow: ['*.com'] },
      { allow: ['a.com:99999'] },
      { deny: [] },
    ]) {
      const r = await api(t.url, 'POST', '/api/sessions', { agent: 'online', network });
      expect(r.status, JSON.stringify(network)).toBe(400);
      expect(r.body.code).toBe('validation_failed');
      // The detail names the refused value, not the schema's regular expression.
      if (network.allow)
        expect(r.body.detail).toBe(
          `/body/network/allow/0 "${network.allow[0]}" is not in the accepted form (see the API documentation of this field)`,
        );
      const d = await api(t.url, 'POST', '/api/agents', {
        name: 'bad-net',
        files: [{ path: 'CLAUDE.md', content: Buffer.from('# x').toString('base64') }],
        config: { network },
      });
      expect(d.status).toBe(400);
    }
  });

  it('HTTP and SSE MCP servers of the session are reachable (their host only) without a network policy', async () => {
    const base = `http://vm:${hosts.httpPort}`;
    const s = await createSession(t.url, 'offline', {
      mcpServers: { h: { type: 'http', url: `${base}/mcp` }, s: { type: 'sse', url: `${base}/sse` } },
    });
    t.model
      .forSession(s)
      .enqueue(
        { toolUse: { name: 'mcp__h__echo', input: { text: 'over http' } } },
        { toolUse: { name: 'mcp__s__echo', input: { text: 'over sse' } } },
        bash(
          `curl -sS -m 10 http://vm:${hosts.httpPort}/not-mcp 2>&1; curl -sS -m 10 http://runsc:${hosts.httpPort}/other 2>&1`,
        ),
        { text: 'mcp done' },
      );
    const turn = await sendTurn(t.url, s, { content: 'use the MCP servers' });
    expectOutcome(turn, 'completed');
    const init = turn.events.find(
      (e) => e.event === 'message' && (e.data as { type?: string; subtype?: string }).subtype === 'init',
    )?.data as { mcp_servers?: Array<{ name: string; status: string }> } | undefined;
    expect(init?.mcp_servers).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'h', status: 'connected' }),
        expect.objectContaining({ name: 's', status: 'connected' }),
      ]),
    );
    const out = toolOutput(turn);
    expect(out).toContain('echo from the http MCP server: over http');
    expect(out).toContain('echo from the sse MCP server: over sse');
    // The MCP server's host and port only: the same host is reachable from a tool (same
    // host:port), another host is not.
    expect(out).toContain('hello from the test host /not-mcp');
    expect(out).toMatch(/runsc:\d+ is not in the allow list|no network policy/);
    expect(
      egressEvents(turn).some((e) => e.allowed && e.reason === 'allowed as the host of MCP server "h"'),
    ).toBe(true);
  }, 240_000);

  it('limits: a download flood ends the turn naming the bandwidth limit; the session stays usable', async () => {
    const s = await createSession(t.url, 'online');
    t.model
      .forSession(s)
      // Nothing after the tool call: the turn is ended while it runs.
      .enqueue(bash(`curl -sS -m 30 -o /dev/null http://vm:${hosts.httpPort}/big 2>&1; echo big-exit=$?`));
    const flood = await sendTurn(t.url, s, { content: 'download a lot' });
    expectOutcome(flood, 'error');
    const err = flood.events.find((e) => e.event === 'error')?.data as {
      code: string;
      limit?: string;
      error: string;
    };
    expect(err).toMatchObject({ code: 'limit_exceeded', limit: 'egress_bytes' });
    expect(err.error).toMatch(/egress bandwidth limit/);
    // Next turn: fresh budget, the network works again.
    t.model
      .forSession(s)
      .enqueue(bash(`curl -sS -m 10 http://vm:${hosts.httpPort}/after-flood 2>&1`), { text: 'fine' });
    const next = await sendTurn(t.url, s, { content: 'small request' });
    expectOutcome(next, 'completed');
    expect(toolOutput(next)).toContain('hello from the test host /after-flood');
  }, 240_000);

  it('limits: too many connections at once end the turn naming the connection limit', async () => {
    const s = await createSession(t.url, 'online');
    const url = `http://vm:${hosts.httpPort}/slow`;
    t.model
      .forSession(s)
      .enqueue(bash(`for i in 1 2 3 4 5 6 7 8; do curl -s -m 20 ${url} & done; wait; echo flood-done`));
    const flood = await sendTurn(t.url, s, { content: 'open many connections' });
    expectOutcome(flood, 'error');
    const err = flood.events.find((e) => e.event === 'error')?.data as { code: string; limit?: string };
    expect(err).toMatchObject({ code: 'limit_exceeded', limit: 'egress_connections' });
    t.model.forSession(s).enqueue(bash('echo still-here'), { text: 'fine' });
    const next = await sendTurn(t.url, s, { content: 'still usable?' });
    expectOutcome(next, 'completed');
    expect(toolOutput(next)).toContain('still-here');
  }, 240_000);
});

describe('sandbox network egress without allowed private ranges', () => {
  const hosts = new TestHosts();
  let t: TestServer;
  beforeAll(async () => {
    await hosts.start();
    t = await startTestServer(); // ASH_EGRESS_ALLOW_CIDRS unset
    await deployAgent(
      t.url,
      'online',
      { 'CLAUDE.md': '# Online\n' },
      { config: { network: { allow: [`vm:${hosts.httpPort}`, `127.0.0.2:${hosts.httpPort}`] } } },
    );
  }, 120_000);
  afterAll(async () => {
    await t?.close();
    await hosts.close();
  });

  it('an allowed name that resolves to a loopback address is refused after resolution', async () => {
    const s = await createSession(t.url, 'online');
    t.model
      .forSession(s)
      .enqueue(
        bash(`curl -sS -m 10 http://vm:${hosts.httpPort}/rebound 2>&1`),
        bash(`curl -sS -m 10 http://127.0.0.2:${hosts.httpPort}/literal 2>&1`),
        { text: 'ok' },
      );
    const turn = await sendTurn(t.url, s, { content: 'reach loopback' });
    expectOutcome(turn, 'completed');
    const out = toolOutput(turn);
    expect(out).toMatch(/Ash egress refused: vm resolves to 127.0.0.1: private, loopback/);
    expect(out).toMatch(/Ash egress refused: 127.0.0.2 resolves to 127.0.0.2: private, loopback/);
    expect(hosts.hits).toEqual([]);
    expect(egressEvents(turn).map((e) => [e.host, e.allowed])).toEqual([
      ['vm', false],
      ['127.0.0.2', false],
    ]);
  }, 180_000);
});

describe('sandbox network egress on a pre-warmed sandbox', () => {
  const hosts = new TestHosts();
  let t: TestServer;
  const health = async () => (await api(t.url, 'GET', '/health')).body;
  beforeAll(async () => {
    await hosts.start();
    t = await startTestServer({ env: { ASH_PREWARM_COUNT: '1', ASH_EGRESS_ALLOW_CIDRS: '127.0.0.1/32' } });
    await deployAgent(
      t.url,
      'warm-online',
      { 'CLAUDE.md': '# Warm\n' },
      { config: { network: { allow: [`vm:${hosts.httpPort}`] } } },
    );
    await eventually(async () => (await health()).pool.warm === 1, 30_000, 'a warm sandbox');
  }, 120_000);
  afterAll(async () => {
    await t?.close();
    await hosts.close();
  });

  it("a session adopting a spare gets the agent's network and its egress events", async () => {
    const before = (await health()).pool.preWarmHits;
    const s = await createSession(t.url, 'warm-online');
    expect((await health()).pool.preWarmHits).toBe(before + 1);
    t.model
      .forSession(s)
      .enqueue(
        bash(`curl -sS -m 10 http://vm:${hosts.httpPort}/warm 2>&1`),
        bash(`curl -sS -m 10 http://runsc:${hosts.httpPort}/warm-other 2>&1`),
        { text: 'ok' },
      );
    const turn = await sendTurn(t.url, s, { content: 'warm network' });
    expectOutcome(turn, 'completed');
    const out = toolOutput(turn);
    expect(out).toContain('hello from the test host /warm');
    expect(out).toMatch(/runsc:\d+ is not in the allow list of the agent network policy/);
    expect(egressEvents(turn).map((e) => [e.host, e.allowed])).toEqual([
      ['vm', true],
      ['runsc', false],
    ]);
  }, 180_000);
});

describe("sandbox network egress with the server's node outside /usr (nvm, a tarball)", () => {
  const hosts = new TestHosts();
  const dir = tempDir('ash-egress-node-');
  let model: ScriptedModel;
  let server: AshProcess;

  beforeAll(async () => {
    await hosts.start();
    model = await ScriptedModel.start();
    // The node running this test, copied where the sandbox (which sees /usr) cannot see it.
    const node = join(dir, 'node-bin', 'node');
    mkdirSync(join(dir, 'node-bin'));
    copyFileSync(process.execPath, node);
    expect(node.startsWith('/usr/')).toBe(false);
    chmodSync(node, 0o755);
    server = await startAshProcess(
      serverEnv({
        dataDir: join(dir, 'data'),
        modelUrl: model.url,
        extra: { ASH_PREWARM_COUNT: '0', ASH_EGRESS_ALLOW_CIDRS: '127.0.0.1/32' },
      }),
      120_000,
      node,
    );
    await deployAgent(
      server.url,
      'online-elsewhere',
      { 'CLAUDE.md': '# Online\n' },
      { config: { network: { allow: [`vm:${hosts.httpPort}`] } } },
    );
  }, 180_000);
  afterAll(async () => {
    await server?.stop();
    await model?.close();
    await hosts.close();
    removeDir(dir);
  });

  it('the sandbox gets the network its policy allows (the node binary is bound in for the forwarder)', async () => {
    const s = await createSession(server.url, 'online-elsewhere');
    model
      .forSession(s)
      .enqueue(
        bash(`curl -sS -m 10 http://vm:${hosts.httpPort}/elsewhere 2>&1`),
        bash(`curl -sS -m 10 http://runsc:${hosts.httpPort}/elsewhere-other 2>&1`),
        { text: 'ok' },
      );
    const turn = await sendTurn(server.url, s, { content: 'network with a node elsewhere' });
    expectOutcome(turn, 'completed');
    const out = toolOutput(turn);
    expect(out).toContain('hello from the test host /elsewhere');
    expect(out).toMatch(/runsc:\d+ is not in the allow list of the agent network policy/);
    expect(egressEvents(turn).map((e) => [e.host, e.allowed])).toEqual([
      ['vm', true],
      ['runsc', false],
    ]);
    expect(server.output()).not.toContain('cannot run the egress forwarder');
  }, 180_000);
});
