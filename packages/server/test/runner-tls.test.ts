import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer as createHttpsServer, get as httpsGet, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import {
  removeDir,
  runAsh,
  ScriptedModel,
  serverEnv,
  startAshProcess,
  startRunnerProcess,
  tempDir,
  type AshProcess,
  type RunnerProcess,
} from '@ash-ai/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, createSession, deployAgent, eventually, sendTurn } from './harness.js';

const SECRET = 'runner-tls-link-secret-000000000001';
/** The provider key the coordinator holds (serverEnv's); the runner never sees it. */
const PROVIDER_KEY = 'sk-ant-test-0123456789abcdef';

interface Pem {
  certPath: string;
  keyPath: string;
}

const openssl = (args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** A throwaway certificate authority (P-256, valid one day) in `dir`. */
function makeCa(dir: string, name: string): Pem {
  const certPath = join(dir, `${name}.pem`);
  const keyPath = join(dir, `${name}.key`);
  openssl([
    'req',
    '-x509',
    ...EC,
    '-subj',
    `/CN=${name}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
    '-days',
    '1',
    '-keyout',
    keyPath,
    '-out',
    certPath,
  ]);
  return { certPath, keyPath };
}

/** A server certificate for 127.0.0.1 and localhost signed by `ca`. */
function makeServerCert(dir: string, ca: Pem, name: string): Pem {
  const certPath = join(dir, `${name}.pem`);
  const keyPath = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  openssl(['req', '-new', ...EC, '-subj', `/CN=${name}`, '-keyout', keyPath, '-out', csr]);
  writeFileSync(
    ext,
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n',
  );
  openssl([
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    ca.certPath,
    '-CAkey',
    ca.keyPath,
    '-CAcreateserial',
    '-days',
    '1',
    '-extfile',
    ext,
    '-out',
    certPath,
  ]);
  return { certPath, keyPath };
}

/**
 * A TLS-terminating reverse proxy in front of the coordinator's plain http port: every request
 * is streamed both ways (turn NDJSON, workspace deltas, model calls). Records the paths it
 * forwarded and the TLS handshakes clients refused.
 */
async function startTlsProxy(pem: Pem) {
  let targetPort = 0;
  const paths: string[] = [];
  const refused: string[] = [];
  const server: HttpsServer = createHttpsServer(
    { cert: readFileSync(pem.certPath), key: readFileSync(pem.keyPath) },
    (req, res) => {
      paths.push(req.url ?? '');
      const up = httpRequest(
        { host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers: req.headers },
        (upRes) => {
          res.writeHead(upRes.statusCode ?? 502, upRes.headers);
          upRes.pipe(res);
        },
      );
      up.on('error', () => res.destroy());
      res.on('close', () => {
        if (!res.writableFinished) up.destroy();
      });
      req.pipe(up);
    },
  );
  server.on('tlsClientError', (err) => refused.push(err.message));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    paths,
    refused,
    setTarget(url: string) {
      targetPort = Number(new URL(url).port);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** GET over https trusting only `caPath`. @returns status and body text. */
function httpsGetText(url: string, caPath: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    httpsGet(url, { ca: readFileSync(caPath) }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => {
        text += d.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      res.on('error', reject);
    }).on('error', reject);
  });
}

/**
 * The runner ⇄ coordinator link over TLS with real processes: the coordinator (ASH_LOCAL_RUNNER=off)
 * behind a TLS-terminating proxy, a runner serving its API over https (`--tls-cert`/`--tls-key`),
 * both trusting a throwaway CA through NODE_EXTRA_CA_CERTS. A runner that does not trust the
 * coordinator's certificate never registers, and a runner whose certificate the coordinator does
 * not trust gets no session: no plaintext fallback either way.
 */
describe('runner ⇄ coordinator over https', () => {
  let root: string;
  let model: ScriptedModel;
  let proxy: Awaited<ReturnType<typeof startTlsProxy>>;
  let server: AshProcess;
  let ca: Pem;
  let otherCa: Pem;
  let runnerCert: Pem;
  const runners: RunnerProcess[] = [];
  const runnerEnv = (caPath: string) => ({
    ASH_INTERNAL_SECRET: SECRET,
    ASH_RUNNER_HEARTBEAT_MS: '300',
    ASH_SPARE_BRIDGES: '0',
    ASH_MODEL_MAX_RETRIES: '0',
    ASH_LOG_LEVEL: 'info',
    NODE_EXTRA_CA_CERTS: caPath,
  });
  const healthRunners = async () =>
    (await api(server.url, 'GET', '/health')).body.runners as Array<{
      name: string;
      state: string;
      url: string;
    }>;

  beforeAll(async () => {
    root = tempDir('ash-runner-tls-');
    ca = makeCa(root, 'ash-test-ca');
    otherCa = makeCa(root, 'unrelated-ca');
    const proxyCert = makeServerCert(root, ca, 'coordinator');
    runnerCert = makeServerCert(root, ca, 'runner');
    model = await ScriptedModel.start();
    proxy = await startTlsProxy(proxyCert);
    server = await startAshProcess(
      serverEnv({
        dataDir: join(root, 'server'),
        modelUrl: model.url,
        extra: {
          ASH_LOCAL_RUNNER: 'off',
          ASH_INTERNAL_SECRET: SECRET,
          // What runners call back (checkout, checkpoint, model gateway): the https proxy.
          ASH_ADVERTISE_URL: proxy.url,
          ASH_RUNNER_TIMEOUT_MS: '6000',
          ASH_PREWARM_COUNT: '0',
          NODE_EXTRA_CA_CERTS: ca.certPath,
        },
      }),
      60_000,
    );
    proxy.setTarget(server.url);
    await deployAgent(server.url, 'tls', { 'CLAUDE.md': '# TLS\n' });
  }, 120_000);

  afterAll(async () => {
    for (const r of runners) await r.kill().catch(() => undefined);
    await server?.stop().catch(() => undefined);
    await proxy?.close();
    await model?.close();
    if (root) removeDir(root);
  });

  it('a runner with --tls-cert/--tls-key serves https only and registers through the https coordinator URL', async () => {
    const r = await startRunnerProcess({
      name: 'tls-r1',
      coordinators: [proxy.url],
      dataDir: join(root, 'tls-r1'),
      env: runnerEnv(ca.certPath),
      args: ['--tls-cert', runnerCert.certPath, '--tls-key', runnerCert.keyPath],
    });
    runners.push(r);
    // The advertised URL defaults to https.
    expect(r.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const health = await httpsGetText(`${r.url}/health`, ca.certPath);
    expect(health.status).toBe(200);
    expect(JSON.parse(health.text)).toMatchObject({ runnerId: 'tls-r1', status: 'ok' });
    // No plain http next to it.
    await expect(fetch(`${r.url.replace('https:', 'http:')}/health`)).rejects.toThrow();
    await eventually(
      async () => (await healthRunners()).some((x) => x.name === 'tls-r1' && x.state === 'ok'),
      30_000,
      'the runner registered',
    );
    expect((await healthRunners()).find((x) => x.name === 'tls-r1')!.url).toBe(r.url);
    // Registration and heartbeats went through the TLS proxy.
    expect(proxy.paths).toContain('/api/internal/runners/register');
    // The first heartbeat follows the registration by one interval (a slow machine: later).
    await eventually(
      async () => proxy.paths.includes('/api/internal/runners/heartbeat'),
      30_000,
      'a heartbeat through the TLS proxy',
    );
  }, 90_000);

  it('a turn runs on the runner end to end over https: checkout, the model gateway, the checkpoint', async () => {
    const id = await createSession(server.url, 'tls');
    model
      .forSession(id)
      .enqueue(
        { toolUse: { name: 'Bash', input: { command: 'echo plums > fruit.txt && echo stored' } } },
        { text: 'Stored plums.' },
      );
    const turn = await sendTurn(server.url, id, { content: 'store plums' });
    expect(turn.status).toBe(200);
    expect(turn.events.at(-1)).toMatchObject({ event: 'done', data: { outcome: 'completed' } });
    expect(turn.events.find((e) => e.event === 'tool_result')?.data).toMatchObject({ content: 'stored' });
    expect((await api(server.url, 'GET', `/api/sessions/${id}`)).body.session.runnerId).toBe('tls-r1');
    // The files were checkpointed to the coordinator's copy.
    expect(readFileSync(join(root, 'server', 'sessions', id, 'workspace', 'fruit.txt'), 'utf8')).toBe(
      'plums\n',
    );
    // Every model call went through the gateway over https, which added the provider key.
    const calls = model.messageRequests(id);
    expect(calls.length).toBeGreaterThanOrEqual(2);
    for (const c of calls) expect(c.apiKey).toBe(PROVIDER_KEY);
    const through = proxy.paths;
    expect(through.filter((p) => p.startsWith('/api/internal/gateway/')).length).toBeGreaterThanOrEqual(2);
    expect(through).toContain(`/api/internal/sessions/${id}/checkout`);
    expect(through).toContain(`/api/internal/sessions/${id}/checkpoint`);
  }, 180_000);

  it('a runner that does not trust the coordinator certificate never registers and says why', async () => {
    const refusedBefore = proxy.refused.length;
    const r = await startRunnerProcess({
      name: 'untrusting',
      coordinators: [proxy.url],
      dataDir: join(root, 'untrusting'),
      env: runnerEnv(otherCa.certPath),
      args: ['--tls-cert', runnerCert.certPath, '--tls-key', runnerCert.keyPath],
    });
    runners.push(r);
    // Several registration attempts, each refused by the runner at the TLS handshake.
    await eventually(() => proxy.refused.length >= refusedBefore + 3, 30_000, 'three refused handshakes');
    await eventually(() => /registration failed/.test(r.output()), 10_000, 'the runner logs why');
    // The reason is the certificate check, on the https URL (no attempt at plain http).
    expect(r.output()).toMatch(
      /"err":"https:\/\/127\.0\.0\.1:\d+\/api\/internal\/runners\/register: unable to verify the first certificate","msg":"registration failed"/,
    );
    expect(r.output()).not.toMatch(/registered with the coordinator/);
    expect((await healthRunners()).map((x) => x.name)).not.toContain('untrusting');
    // Its own view: no coordinator answered.
    const own = JSON.parse((await httpsGetText(`${r.url}/health`, ca.certPath)).text) as {
      coordinators: Array<{ lastHeartbeatAt: string | null }>;
    };
    expect(own.coordinators).toEqual([{ url: proxy.url, lastHeartbeatAt: null }]);
  }, 90_000);

  it('the coordinator does not call a runner whose certificate it does not trust', async () => {
    // Only the untrusted runner is left to place on.
    await runners.shift()!.stop();
    await eventually(
      async () => !(await healthRunners()).some((x) => x.name === 'tls-r1' && x.state === 'ok'),
      30_000,
      'tls-r1 gone',
    );
    const foreignCert = makeServerCert(root, otherCa, 'foreign-runner');
    const r = await startRunnerProcess({
      name: 'foreign',
      coordinators: [proxy.url],
      dataDir: join(root, 'foreign'),
      env: runnerEnv(ca.certPath),
      args: ['--tls-cert', foreignCert.certPath, '--tls-key', foreignCert.keyPath],
    });
    runners.push(r);
    await eventually(
      async () => (await healthRunners()).some((x) => x.name === 'foreign' && x.state === 'ok'),
      30_000,
      'the runner registered',
    );
    // Its registration is accepted (the runner trusts the coordinator), but the coordinator's calls
    // to it fail the certificate check: no session is placed there, the client gets a clean 503.
    const res = await api(server.url, 'POST', '/api/sessions', { agent: 'tls' });
    expect(res.status).toBe(503);
    expect(res.body.code).toBe('capacity_reached');
    expect(res.headers.get('retry-after')).toBeTruthy();
    // (The log line may reach the pipe after the answer.)
    await eventually(
      () => /runner foreign did not answer: unable to verify the first certificate/.test(server.output()),
      10_000,
      'the coordinator logs the certificate failure',
    );
  }, 90_000);

  it('`ash runner` passes --tls-cert/--tls-key on: one without the other, or an unreadable file, is refused at start', async () => {
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: root, ASH_INTERNAL_SECRET: SECRET };
    const base = [
      'runner',
      '--coordinator',
      proxy.url,
      '--port',
      '0',
      '--data-dir',
      join(root, 'cli-runner'),
    ];
    const half = await runAsh([...base, '--tls-cert', runnerCert.certPath], env);
    expect(half.code).toBe(2);
    expect(half.stderr).toContain(
      '--tls-cert (ASH_RUNNER_TLS_CERT) and --tls-key (ASH_RUNNER_TLS_KEY) go together: give both or neither',
    );
    const missing = await runAsh(
      [...base, '--tls-cert', join(root, 'nope.pem'), '--tls-key', runnerCert.keyPath],
      env,
    );
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/cannot read the TLS certificate .*nope\.pem/);
    // A key that is not the certificate's.
    const mismatched = await runAsh(
      [...base, '--tls-cert', runnerCert.certPath, '--tls-key', ca.keyPath],
      env,
    );
    expect(mismatched.code).toBe(1);
    expect(mismatched.stderr).toMatch(/do not make a valid pair/);
  }, 90_000);
});
