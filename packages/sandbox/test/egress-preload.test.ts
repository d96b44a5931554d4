import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { removeDir, tempDir } from '@ash-ai/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { egressPreloadSource, undiciPackageDir } from '../src/egress-preload.js';

const run = promisify(execFile);

/**
 * The fetch preload in real node processes (the host's node, as in a sandbox), against a real
 * origin server and a real HTTP proxy on loopback: a plain-HTTP request in absolute form is
 * answered by the proxy itself; every CONNECT is refused with a reason in the body.
 */
describe('egress fetch preload', () => {
  const dir = tempDir('ash-preload-');
  const proxied: string[] = [];
  let origin: Server;
  let proxy: Server;
  let originUrl = '';
  let proxyUrl = '';
  const preload = join(dir, 'preload.cjs');
  const preloadWithoutUndici = join(dir, 'preload-missing.cjs');

  beforeAll(async () => {
    const undici = undiciPackageDir();
    expect(undici).toBeTruthy();
    writeFileSync(preload, egressPreloadSource(undici));
    writeFileSync(preloadWithoutUndici, egressPreloadSource(join(dir, 'no-such-undici')));
    origin = createServer((req, res) => res.end(`origin ${req.url}`));
    origin.listen(0, '127.0.0.1');
    await once(origin, 'listening');
    originUrl = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
    proxy = createServer((req, res) => {
      proxied.push(`${req.method} ${req.url}`);
      res.end(`proxy answered ${req.url}`);
    });
    proxy.on('connect', (req, socket) => {
      proxied.push(`CONNECT ${req.url}`);
      const body = `Ash egress refused: ${req.url} is not in the allow list`;
      socket.end(
        `HTTP/1.1 403 Refused\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    });
    proxy.listen(0, '127.0.0.1');
    await once(proxy, 'listening');
    proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    origin?.closeAllConnections();
    origin?.close();
    proxy?.closeAllConnections();
    proxy?.close();
    removeDir(dir);
  });

  /** Runs `node -r <preload> -e <code>` with only the given variables; its stdout. */
  async function node(code: string, env: Record<string, string>, pre = preload): Promise<string> {
    const r = await run(process.execPath, ['-r', pre, '-e', code], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
      timeout: 30_000,
    });
    return r.stdout.trim();
  }

  const fetchCode = (url: string) =>
    `fetch(${JSON.stringify(url)}).then(async (r) => console.log(r.status, await r.text()), (e) => console.log('failed', e.cause?.message ?? e.message))`;
  const proxyEnv = () => ({ HTTP_PROXY: proxyUrl, HTTPS_PROXY: proxyUrl, NO_PROXY: 'localhost' });

  it('sends fetch through the proxy: http in absolute form, https as CONNECT whose refusal is the cause', async () => {
    expect(await node(fetchCode('http://example.test/a'), proxyEnv())).toBe(
      '200 proxy answered http://example.test/a',
    );
    expect(proxied).toContain('GET http://example.test/a');
    expect(await node(fetchCode('https://example.test/b'), proxyEnv())).toBe(
      'failed Ash egress refused: example.test:443 is not in the allow list',
    );
    expect(proxied).toContain('CONNECT example.test:443');
  }, 60_000);

  it('honours NO_PROXY', async () => {
    const env = { ...proxyEnv(), NO_PROXY: 'localhost,127.0.0.1' };
    expect(await node(fetchCode(`${originUrl}/direct`), env)).toBe('200 origin /direct');
    expect(proxied.some((p) => p.includes('/direct'))).toBe(false);
  }, 60_000);

  it('never gets in the way: no proxy set, undici missing, a dispatcher of the program, no fetch at all', async () => {
    // No proxy variables: nothing installed, fetch is Node's own.
    expect(
      await node(`console.log(globalThis[Symbol.for('undici.globalDispatcher.1')] === undefined)`, {}),
    ).toBe('true');
    expect(await node(fetchCode(`${originUrl}/plain`), {})).toBe('200 origin /plain');
    // undici missing: the program runs as without the preload.
    expect(await node(fetchCode(`${originUrl}/no-undici`), proxyEnv(), preloadWithoutUndici)).toBe(
      '200 origin /no-undici',
    );
    // The program's own dispatcher wins.
    const own = `const u = require(${JSON.stringify(undiciPackageDir())}); u.setGlobalDispatcher(new u.Agent()); ${fetchCode(`${originUrl}/own`)}`;
    expect(await node(own, proxyEnv())).toBe('200 origin /own');
    // A program that never fetches does not load undici.
    expect(
      await node(`console.log(Object.keys(require.cache).some((k) => k.includes('undici')))`, proxyEnv()),
    ).toBe('false');
  }, 60_000);
});
