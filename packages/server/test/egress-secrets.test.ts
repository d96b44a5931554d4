import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { once } from 'node:events';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { removeDir, serverEnv, tempDir } from '@ash-ai/testing';
import type { EgressData, StreamEvent } from '@ash-ai/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';
import { environsOf } from './inspect.js';
import {
  api,
  bearer,
  createSession,
  deployAgent,
  expectOutcome,
  sendTurn,
  startTestServer,
  type TestServer,
} from './harness.js';

// The credential value, kept apart in two halves so that no tool call's input (and so no event)
// holds it whole: the sandbox's checks join the halves inside a pipe.
const HALF_A = 'vault-secret-';
const HALF_B = randomBytes(12).toString('hex');
const SECRET = `${HALF_A}${HALF_B}`;
const MASTER = 'vault-credential-master-key-0123456789';
const INTERNAL = 'vault-test-internal-secret-0123456';

/** What the in-sandbox file search skips: kernel views and the read-only system folders. */
const EXCLUDE = '--exclude-dir=proc --exclude-dir=sys --exclude-dir=dev --exclude-dir=usr 2>/dev/null';

const bash = (command: string) => ({ toolUse: { name: 'Bash', input: { command } } });

function toolOutput(turn: { events: StreamEvent[] }): string {
  return turn.events
    .filter((e) => e.event === 'tool_result')
    .map((e) => (e.data as { content: string }).content)
    .join('\n---\n');
}

/** A self-signed certificate for `vm` (the test host name), with `cn` as subject and issuer. */
function selfSigned(dir: string, cn: string): { key: Buffer; cert: Buffer; certPath: string } {
  const key = join(dir, `${cn}.key`);
  const certPath = join(dir, `${cn}.pem`);
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
      `/CN=${cn}`,
      '-addext',
      'subjectAltName=DNS:vm',
      '-days',
      '1',
      '-keyout',
      key,
      '-out',
      certPath,
    ],
    { stdio: 'pipe' },
  );
  return { key: readFileSync(key), cert: readFileSync(certPath), certPath };
}

/**
 * What a test host saw in a request's credential headers, without ever echoing the value (the
 * answer reaches the sandbox, the events and the model).
 */
function sawHeaders(req: IncomingMessage): string {
  const auth = req.headers.authorization;
  const apiKey = req.headers['x-api-key'];
  return [
    `authorization=${auth === undefined ? 'none' : auth === `Bearer ${SECRET}` ? 'real' : 'other'}`,
    `x-api-key=${apiKey === undefined ? 'none' : apiKey === SECRET ? 'real' : 'other'}`,
  ].join(' ');
}

/**
 * A minimal streamable-HTTP MCP server with one tool, `whoami`, answering which credential
 * headers its request carried (never their value).
 */
function answerMcp(req: IncomingMessage, res: ServerResponse): void {
  let body = '';
  req.on('data', (d: Buffer) => {
    body += d.toString();
  });
  req.on('end', () => {
    const msg = JSON.parse(body || '{}') as {
      id?: unknown;
      method?: string;
      params?: { protocolVersion?: string };
    };
    if (req.method !== 'POST' || msg.id === undefined) return void res.writeHead(202).end();
    const result =
      msg.method === 'initialize'
        ? {
            protocolVersion: msg.params?.protocolVersion ?? '2025-03-26',
            capabilities: { tools: {} },
            serverInfo: { name: 'vault-test', version: '1.0.0' },
          }
        : msg.method === 'tools/list'
          ? {
              tools: [
                {
                  name: 'whoami',
                  description: 'Which credential headers came',
                  inputSchema: { type: 'object' },
                },
              ],
            }
          : msg.method === 'tools/call'
            ? { content: [{ type: 'text', text: `mcp whoami: ${sawHeaders(req)}` }] }
            : {};
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ jsonrpc: '2.0', id: msg.id, result }));
  });
}

describe('credentials bound to hosts: injected by the egress proxy, never in the sandbox', () => {
  const dir = tempDir('ash-vault-hosts-');
  const servers: Server[] = [];
  const seen: string[] = [];
  let bound = 0; // HTTPS, credential bound (Authorization: Bearer)
  let unbound = 0; // HTTPS, no credential: must stay a plain tunnel
  let plain = 0; // HTTP, credential bound (x-api-key)
  let t: TestServer;
  let credentialId = '';

  const listen = async (server: Server): Promise<number> => {
    servers.push(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return (server.address() as AddressInfo).port;
  };

  beforeAll(async () => {
    expect((await lookup('vm')).address, 'vm must resolve to 127.0.0.1 on the test host').toBe('127.0.0.1');
    const boundCert = selfSigned(dir, 'ash-bound-test-host');
    const unboundCert = selfSigned(dir, 'ash-unbound-test-host');
    bound = await listen(
      createHttpsServer({ key: boundCert.key, cert: boundCert.cert }, (req, res) => {
        if (req.url === '/mcp') return void answerMcp(req, res);
        const s = `bound-https ${req.url} ${sawHeaders(req)}`;
        seen.push(s);
        res.end(`${s}\n`);
      }),
    );
    unbound = await listen(
      createHttpsServer({ key: unboundCert.key, cert: unboundCert.cert }, (req, res) => {
        const s = `unbound-https ${req.url} ${sawHeaders(req)}`;
        seen.push(s);
        res.end(`${s}\n`);
      }),
    );
    plain = await listen(
      createServer((req, res) => {
        if (req.url === '/mcp') return void answerMcp(req, res);
        const s = `plain-http ${req.url} ${sawHeaders(req)}`;
        seen.push(s);
        res.end(`${s}\n`);
      }),
    );
    // The operator trusts the bound host's certificate for the proxy's upstream verification.
    const caFile = join(dir, 'upstream-ca.pem');
    writeFileSync(caFile, boundCert.cert);
    t = await startTestServer({
      env: {
        ASH_EGRESS_ALLOW_CIDRS: '127.0.0.1/32',
        ASH_EGRESS_CA_FILE: caFile,
        ASH_CREDENTIAL_KEY: MASTER,
        ASH_INTERNAL_SECRET: INTERNAL,
      },
    });
    const cred = await api(t.url, 'POST', '/api/credentials', {
      type: 'custom',
      key: SECRET,
      label: 'test host token',
    });
    expect(cred.status).toBe(201);
    credentialId = cred.body.credential?.id ?? cred.body.id;
    expect(credentialId).toMatch(/^[0-9a-f-]{36}$/);
    await deployAgent(
      t.url,
      'tools',
      { 'CLAUDE.md': '# Tools\n' },
      { config: { network: { allow: [`vm:${bound}`, `vm:${unbound}`, `vm:${plain}`] } } },
    );
  }, 120_000);

  afterAll(async () => {
    await t?.close();
    for (const s of servers) {
      s.closeAllConnections();
      s.close();
    }
    removeDir(dir);
  });

  it('the bound host gets the real header (HTTPS through the egress CA, and plain HTTP); others do not; the sandbox holds only a placeholder', async () => {
    const network = {
      allow: [`vm:${bound}`, `vm:${unbound}`, `vm:${plain}`],
      inject: [
        {
          host: `vm:${bound}`,
          credentialId,
          header: 'Authorization',
          format: 'Bearer {value}',
          env: 'TEST_HOST_TOKEN',
        },
        { host: `vm:${plain}`, credentialId, header: 'x-api-key' },
      ],
    };
    const s = await createSession(t.url, 'tools', { network });
    const pattern = `<(printf '%s%s\\n' '${HALF_A}' '${HALF_B}')`;
    t.model.forSession(s).enqueue(
      // No -k: curl verifies the proxy's leaf certificate against the bundle in the sandbox.
      bash(`curl -sS -m 20 https://vm:${bound}/bound 2>&1; echo curl-bound-exit=$?`),
      bash(`curl -sS -m 20 http://vm:${plain}/plain 2>&1`),
      // Node's fetch (through the sandbox's proxy preload) verifies through NODE_EXTRA_CA_CERTS.
      bash(
        `node -e 'fetch("https://vm:${bound}/node").then(async (r) => console.log((await r.text()).trim()), (e) => console.log("node fetch failed", e.cause?.code ?? e.message))' 2>&1`,
      ),
      // Python verifies through SSL_CERT_FILE (the bundle), with its default context.
      bash(
        `python3 -c 'import urllib.request; print(urllib.request.urlopen("https://vm:${bound}/python", timeout=20).read().decode())' 2>&1`,
      ),
      // A host without a binding: its own certificate (not the egress CA's), no header.
      bash(
        `curl -sS -v -k -m 20 https://vm:${unbound}/unbound 2>&1 | grep -iE 'issuer:|unbound-https'; curl -sS -m 20 https://vm:${unbound}/verify >/dev/null 2>&1; echo curl-unbound-verify-exit=$?`,
      ),
      bash(
        [
          'echo "token=$TEST_HOST_TOKEN"',
          'echo "bundle=$SSL_CERT_FILE node-ca=$NODE_EXTRA_CA_CERTS"',
          `echo env-hits=$(env | grep -cF -f ${pattern})`,
          // grep exits 2 on unreadable files: count the files listed instead. The placeholder
          // and the agent's CLAUDE.md are found the same way (the searches do read).
          `echo proc-hits=$(cat /proc/[0-9]*/environ 2>/dev/null | tr '\\0' '\\n' | grep -cF -f ${pattern})`,
          "echo proc-placeholder-hits=$(cat /proc/[0-9]*/environ 2>/dev/null | tr '\\0' '\\n' | grep -cF ash-placeholder-credential-)",
          `echo file-hits=$(grep -rlsF -f ${pattern} / ${EXCLUDE} | wc -l)`,
          `echo file-control-hits=$(grep -rlsF '# Tools' / ${EXCLUDE} | wc -l)`,
        ].join('; '),
      ),
      { text: 'checked the network' },
    );
    const turn = await sendTurn(t.url, s, { content: 'call the APIs' });
    expectOutcome(turn, 'completed');
    const out = toolOutput(turn);
    expect(out).toContain('bound-https /bound authorization=real x-api-key=none');
    expect(out).toContain('curl-bound-exit=0');
    expect(out).toContain('bound-https /python authorization=real x-api-key=none');
    expect(out).toContain('bound-https /node authorization=real x-api-key=none');
    expect(out).toContain('plain-http /plain authorization=none x-api-key=real');
    expect(out).toMatch(/issuer: CN ?= ?ash-unbound-test-host/);
    expect(out).not.toMatch(/issuer: CN ?= ?Ash egress CA/);
    expect(out).toContain('unbound-https /unbound authorization=none x-api-key=none');
    // The sandbox does not trust the unbound host's own certificate: the tunnel was not intercepted.
    expect(out).toMatch(/curl-unbound-verify-exit=[1-9]/);
    expect(out).toContain(`token=ash-placeholder-credential-${credentialId.slice(0, 8)}`);
    expect(out).toContain('bundle=/run/ash/ca-bundle.pem node-ca=/run/ash/egress-ca.pem');
    expect(out).toContain('env-hits=0');
    expect(out).toContain('proc-hits=0');
    expect(out).toMatch(/proc-placeholder-hits=[1-9]/);
    expect(out).toContain('file-hits=0');
    expect(out).toMatch(/file-control-hits=[1-9]/);
    expect(seen).toEqual(
      expect.arrayContaining([
        'bound-https /bound authorization=real x-api-key=none',
        'plain-http /plain authorization=none x-api-key=real',
        'unbound-https /unbound authorization=none x-api-key=none',
      ]),
    );
    const egress = turn.events.filter((e) => e.event === 'egress').map((e) => e.data as EgressData);
    expect(egress.find((e) => e.port === bound)).toMatchObject({
      allowed: true,
      method: 'CONNECT',
      reason: expect.stringContaining('TLS terminated by the egress proxy'),
    });
    expect(egress.find((e) => e.port === unbound)?.reason).not.toContain('TLS terminated');

    // The value appears nowhere the API, the event log or the server log shows.
    const everything = [
      JSON.stringify(turn.events),
      (await api(t.url, 'GET', `/api/sessions/${s}`)).text,
      (await api(t.url, 'GET', `/api/sessions/${s}/events?limit=1000`)).text,
      (await api(t.url, 'GET', `/api/sessions/${s}/messages`)).text,
      (await api(t.url, 'GET', `/api/sessions/${s}/logs`)).text,
      (await api(t.url, 'GET', '/api/credentials')).text,
      (await api(t.url, 'GET', '/api/agents/tools')).text,
      t.logs(),
    ];
    for (const text of everything) expect(text).not.toContain(SECRET);
    // And no host process of the session carries it in its environment.
    for (const env of environsOf(s)) expect(env).not.toContain(SECRET);
    // The CA's key stays private on the host.
    expect(statSync(join(t.dataDir, 'egress-ca', 'ca.key')).mode & 0o777).toBe(0o600);
  }, 300_000);

  it('refuses bindings to unknown or other tenants’ credentials and reserved headers, with clear 4xx problems', async () => {
    const binding = (over: Record<string, unknown> = {}) => ({
      allow: [`vm:${bound}`],
      inject: [{ host: `vm:${bound}`, credentialId, header: 'authorization', ...over }],
    });
    const unknown = await api(t.url, 'POST', '/api/sessions', {
      agent: 'tools',
      network: binding({ credentialId: '00000000-0000-4000-8000-000000000000' }),
    });
    expect(unknown.status).toBe(400);
    expect(unknown.body.code).toBe('invalid_credential');
    expect(unknown.body.detail).toMatch(/network\/inject\/0\/credentialId: credential .* does not exist/);

    // Another tenant cannot bind this tenant's credential (it answers as if it did not exist).
    const keyB = await api(
      t.url,
      'POST',
      '/api/internal/api-keys',
      { tenantId: 'tenant-vault-b' },
      { authorization: bearer(INTERNAL) },
    );
    expect(keyB.status).toBe(201);
    await deployAgent(t.url, 'tools-b', { 'CLAUDE.md': '# B\n' }, {}, keyB.body.key);
    const other = await api(
      t.url,
      'POST',
      '/api/sessions',
      { agent: 'tools-b', network: binding() },
      { authorization: bearer(keyB.body.key) },
    );
    expect(other.status).toBe(400);
    expect(other.body.code).toBe('invalid_credential');

    const reserved = await api(t.url, 'POST', '/api/sessions', {
      agent: 'tools',
      network: binding({ header: 'Host' }),
    });
    expect(reserved.status).toBe(400);
    expect(reserved.body.code).toBe('validation_failed');
    // Any proxy-* header, and a placeholder variable the sandbox sets itself, are refused too.
    for (const over of [
      { header: 'Proxy-Foo' },
      { env: 'PATH' },
      { env: 'LD_PRELOAD' },
      { env: 'https_proxy' },
    ]) {
      const r = await api(t.url, 'POST', '/api/sessions', { agent: 'tools', network: binding(over) });
      expect(r.status, JSON.stringify(over)).toBe(400);
      expect(r.body.code).toBe('validation_failed');
      expect(r.body.detail).toMatch(
        over.header ? /cannot be set by a credential binding/ : /set by the sandbox itself/,
      );
    }

    const noValue = await api(t.url, 'POST', '/api/sessions', {
      agent: 'tools',
      network: binding({ format: 'Bearer token' }),
    });
    expect(noValue.status).toBe(400);
    expect(noValue.body.code).toBe('validation_failed');

    // PATCH /config and an agent deploy are checked the same way.
    const s = await createSession(t.url, 'tools');
    const patched = await api(t.url, 'PATCH', `/api/sessions/${s}/config`, {
      network: binding({ credentialId: '00000000-0000-4000-8000-000000000000' }),
    });
    expect(patched.status).toBe(400);
    expect(patched.body.code).toBe('invalid_credential');
    const deploy = await api(t.url, 'POST', '/api/agents', {
      name: 'bad-binding',
      files: [{ path: 'CLAUDE.md', content: Buffer.from('# x').toString('base64') }],
      config: { network: binding({ credentialId: '00000000-0000-4000-8000-000000000000' }) },
    });
    expect(deploy.status).toBe(400);
    expect(deploy.body.code).toBe('invalid_credential');
    for (const r of [unknown, other, reserved, noValue, patched, deploy])
      expect(r.headers.get('content-type')).toMatch(/application\/problem\+json/);
  }, 120_000);

  it('a bound credential deleted later is no longer injected: the next turn fails with invalid_credential', async () => {
    const cred = await api(t.url, 'POST', '/api/credentials', { type: 'custom', key: `${SECRET}-2` });
    expect(cred.status).toBe(201);
    const id = cred.body.credential.id as string;
    const s = await createSession(t.url, 'tools', {
      network: {
        allow: [`vm:${plain}`],
        inject: [{ host: `vm:${plain}`, credentialId: id, header: 'x-api-key' }],
      },
    });
    t.model.forSession(s).enqueue(bash(`curl -sS -m 20 http://vm:${plain}/before 2>&1`), { text: 'ok' });
    const first = await sendTurn(t.url, s, { content: 'before' });
    expectOutcome(first, 'completed');
    // The test host compares with the first credential's value: a different value reads `other`.
    expect(toolOutput(first)).toContain('plain-http /before authorization=none x-api-key=other');
    expect((await api(t.url, 'DELETE', `/api/credentials/${id}`)).status).toBe(200);
    const before = seen.length;
    t.model.forSession(s).enqueue(bash(`curl -sS -m 20 http://vm:${plain}/after 2>&1`), { text: 'ok' });
    const next = await sendTurn(t.url, s, { content: 'after' });
    // The turn ends before the model runs: an `error` event naming the binding.
    expectOutcome(next, 'error');
    const err = next.events.find((e) => e.event === 'error')?.data as { code: string; error: string };
    expect(err, next.raw).toMatchObject({ code: 'invalid_credential' });
    expect(err.error).toMatch(/network.inject\/0\/credentialId: credential .* does not exist/);
    expect(seen.length).toBe(before);
  }, 180_000);

  it('a credential bound to an HTTP MCP server by name reaches that server, outside the sandbox', async () => {
    const s = await createSession(t.url, 'tools', {
      mcpServers: { api: { type: 'http', url: `http://vm:${plain}/mcp` } },
      network: {
        allow: [`vm:${plain}`],
        inject: [{ mcpServer: 'api', credentialId, header: 'x-api-key' }],
      },
    });
    t.model.forSession(s).enqueue({ toolUse: { name: 'mcp__api__whoami', input: {} } }, { text: 'done' });
    const turn = await sendTurn(t.url, s, { content: 'who am I' });
    expectOutcome(turn, 'completed');
    expect(toolOutput(turn)).toContain('mcp whoami: authorization=none x-api-key=real');
    expect(JSON.stringify(turn.events)).not.toContain(SECRET);
    // A name that is not an http/sse MCP server of the session or agent is refused.
    const bad = await api(t.url, 'POST', '/api/sessions', {
      agent: 'tools',
      network: { allow: [`vm:${plain}`], inject: [{ mcpServer: 'nope', credentialId, header: 'x-api-key' }] },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('validation_failed');
    expect(bad.body.detail ?? JSON.stringify(bad.body)).toMatch(/nope/);
  }, 180_000);

  it('an HTTPS MCP server with a bound credential connects: the Claude process trusts the egress CA', async () => {
    const s = await createSession(t.url, 'tools', {
      mcpServers: { secure: { type: 'http', url: `https://vm:${bound}/mcp` } },
      network: {
        allow: [`vm:${bound}`],
        inject: [{ mcpServer: 'secure', credentialId, header: 'authorization', format: 'Bearer {value}' }],
      },
    });
    t.model.forSession(s).enqueue({ toolUse: { name: 'mcp__secure__whoami', input: {} } }, { text: 'done' });
    const turn = await sendTurn(t.url, s, { content: 'who am I, securely' });
    expectOutcome(turn, 'completed');
    const init = turn.events.find(
      (e) => e.event === 'message' && (e.data as { subtype?: string }).subtype === 'init',
    )?.data as { mcp_servers?: Array<{ name: string; status: string }> } | undefined;
    expect(init?.mcp_servers).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: 'secure', status: 'connected' })]),
    );
    expect(toolOutput(turn)).toContain('mcp whoami: authorization=real x-api-key=none');
    expect(JSON.stringify(turn.events)).not.toContain(SECRET);
  }, 180_000);
});

describe('ASH_EGRESS_CA_FILE', () => {
  it('adds the file to the roots that verify intercepted upstreams; a bad file stops the server at start', () => {
    const dir = tempDir('ash-vault-config-');
    try {
      const base = serverEnv({ dataDir: dir, modelUrl: 'http://127.0.0.1:1' });
      expect(loadConfig(base).egress.upstreamCa).toBeUndefined();
      const { cert, certPath } = selfSigned(dir, 'config-ca');
      const ca = loadConfig({ ...base, ASH_EGRESS_CA_FILE: certPath }).egress.upstreamCa;
      expect(ca).toContain(cert.toString());
      expect(ca!.length).toBeGreaterThan(10); // Node's roots too
      expect(() => loadConfig({ ...base, ASH_EGRESS_CA_FILE: join(dir, 'missing.pem') })).toThrow(
        /ASH_EGRESS_CA_FILE: cannot read .*missing.pem \(ENOENT\)/,
      );
      writeFileSync(join(dir, 'empty.pem'), 'not a certificate\n');
      expect(() => loadConfig({ ...base, ASH_EGRESS_CA_FILE: join(dir, 'empty.pem') })).toThrow(ConfigError);
    } finally {
      removeDir(dir);
    }
  });
});
