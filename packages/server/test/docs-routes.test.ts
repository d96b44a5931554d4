import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Fastify from 'fastify';
import fastifyStatic from '@fastify/static';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSOLE_CSP, findConsoleDir } from '../src/plugins/console.js';
import { DOCS_ROUTES } from '../src/plugins/docs.js';
import { api, startTestServer, type TestServer } from './harness.js';

// What the API docs UI (`/docs*`, swagger-ui) and the web console (`/console*`, static files)
// answer: status, bodies, content types, caching headers, their own Content-Security-Policy on
// top of helmet's headers, no key needed, and problem details for what is not there.

const noAuth = { authorization: '' };
/** The headers helmet sets on every response (registerSecurity). */
const HELMET = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'SAMEORIGIN',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};
const API_CSP = "default-src 'none';frame-ancestors 'none';base-uri 'none'";

function expectHelmet(res: Response, what: string) {
  for (const [name, value] of Object.entries(HELMET))
    expect(res.headers.get(name), `${what}: ${name}`).toBe(value);
  expect(res.headers.get('strict-transport-security'), what).toMatch(/^max-age=\d+/);
}

const get = (url: string, init: RequestInit = {}) => fetch(url, { redirect: 'manual', ...init });

describe('docs UI and console routes', () => {
  let t: TestServer;
  let consoleDir: string;

  beforeAll(async () => {
    // `npm run build` builds the console; without it the server serves no /console.
    const dir = findConsoleDir();
    expect(dir, 'build the console first (npm run build)').toBeDefined();
    consoleDir = dir!;
    t = await startTestServer();
  }, 60_000);
  afterAll(async () => {
    await t?.close();
  });

  it('keeps the routes (and so the traced http.route) of /docs, /openapi.json and /console', () => {
    const { app } = t.server;
    for (const url of [
      '/openapi.json',
      '/docs',
      '/docs/',
      '/docs/json',
      '/docs/yaml',
      '/docs/static/index.html',
      '/docs/static/swagger-initializer.js',
      '/docs/static/*',
      '/console',
      '/console/*',
    ]) {
      expect(app.hasRoute({ method: 'GET', url }), url).toBe(true);
      expect(app.hasRoute({ method: 'HEAD', url }), `HEAD ${url}`).toBe(true);
    }
  });

  it('forwards every route the plugins register (so none answers 401 or 404 instead)', async () => {
    // The plugins are registered on inner apps built on first use; the server has their routes.
    const inner = Fastify();
    const urls: string[] = [];
    inner.addHook('onRoute', (r) => {
      if (r.method !== 'HEAD') urls.push(r.url);
    });
    await inner.register(swagger, {
      mode: 'static',
      specification: { document: { openapi: '3.1.0' } as never },
    });
    await inner.register(swaggerUi, { routePrefix: '/docs', staticCSP: true });
    await inner.register(fastifyStatic, { root: consoleDir, prefix: '/console/', decorateReply: false });
    await inner.ready();
    const outer = [...DOCS_ROUTES, '/console/*'];
    for (const url of urls) expect(outer, url).toContain(url);
    for (const url of outer) expect(inner.hasRoute({ method: 'GET', url }), url).toBe(true);
    await inner.close();
  });

  it('serves the swagger-ui page at /docs and /docs/ with its own CSP, without a key', async () => {
    const slash = await get(`${t.url}/docs/`);
    expect(slash.status).toBe(200);
    expect(slash.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const csp = slash.headers.get('content-security-policy')!;
    // swagger-ui's staticCSP, minus upgrade-insecure-requests.
    expect(csp).toMatch(/^default-src 'self'; base-uri 'self';/);
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("object-src 'none'");
    expect(csp).not.toContain('upgrade-insecure-requests');
    expectHelmet(slash, '/docs/');
    const html = await slash.text();
    expect(html).toContain('<div id="swagger-ui"></div>');
    expect(html).toContain('src="./static/swagger-initializer.js"');
    expect(slash.headers.get('content-length')).toBe(String(Buffer.byteLength(html)));

    // Without the slash: the same page, its links absolute.
    const bare = await get(`${t.url}/docs`);
    expect(bare.status).toBe(200);
    expect(bare.headers.get('content-security-policy')).toBe(csp);
    const bareHtml = await bare.text();
    expect(bareHtml).toContain('src="/docs/static/swagger-initializer.js"');
    // A query string counts as no slash.
    expect(await (await get(`${t.url}/docs/?x=1`)).text()).toBe(bareHtml);

    const head = await get(`${t.url}/docs/`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(Buffer.byteLength(html)));
    expect(head.headers.get('content-security-policy')).toBe(csp);
    expect(await head.text()).toBe('');

    // An API key, even a wrong one, changes nothing.
    const wrongKey = await get(`${t.url}/docs/`, { headers: { authorization: 'Bearer wrong' } });
    expect(wrongKey.status).toBe(200);
  });

  it('serves swagger-ui assets from /docs/static/ with caching headers and the docs CSP', async () => {
    const csp = (await get(`${t.url}/docs/`)).headers.get('content-security-policy');
    const init = await get(`${t.url}/docs/static/swagger-initializer.js`);
    expect(init.status).toBe(200);
    expect(init.headers.get('content-type')).toBe('application/javascript; charset=utf-8');
    expect(await init.text()).toContain('SwaggerUIBundle');

    const css = await get(`${t.url}/docs/static/swagger-ui.css`);
    expect(css.status).toBe(200);
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
    expect(css.headers.get('content-security-policy')).toBe(csp);
    expect(css.headers.get('cache-control')).toBe('public, max-age=0');
    expect(css.headers.get('accept-ranges')).toBe('bytes');
    expect(css.headers.get('etag')).toMatch(/^W\/"/);
    expect(css.headers.get('last-modified')).toMatch(/GMT$/);
    expectHelmet(css, 'swagger-ui.css');
    const body = await css.text();
    expect(body).toMatch(/^\.swagger-ui/);
    expect(css.headers.get('content-length')).toBe(String(Buffer.byteLength(body)));

    const head = await get(`${t.url}/docs/static/swagger-ui.css`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(css.headers.get('content-length'));
    expect(head.headers.get('etag')).toBe(css.headers.get('etag'));
    expect(await head.text()).toBe('');

    const range = await get(`${t.url}/docs/static/swagger-ui.css`, { headers: { range: 'bytes=0-9' } });
    expect(range.status).toBe(206);
    expect(range.headers.get('content-range')).toBe(`bytes 0-9/${Buffer.byteLength(body)}`);
    expect(await range.text()).toBe(body.slice(0, 10));
    // A range past the end: the one error shape, with the docs CSP.
    const beyond = await get(`${t.url}/docs/static/swagger-ui.css`, {
      headers: { range: 'bytes=999999999-' },
    });
    expect(beyond.status).toBe(416);
    expect(beyond.headers.get('content-type')).toBe('application/problem+json; charset=utf-8');
    expect(beyond.headers.get('content-security-policy')).toBe(csp);
    expect(await beyond.json()).toMatchObject({ status: 416, code: 'validation_failed' });

    const logo = await get(`${t.url}/docs/static/logo.svg`);
    expect(logo.status).toBe(200);
    expect(logo.headers.get('content-type')).toBe('image/svg+xml');

    const index = await get(`${t.url}/docs/static/index.html`);
    expect(index.status).toBe(302);
    expect(index.headers.get('location')).toBe('/docs/');
    expect(index.headers.get('content-security-policy')).toBe(csp);
  });

  it('answers what /docs does not have with the problem-details 404 (or 401 outside its routes)', async () => {
    const csp = (await get(`${t.url}/docs/`)).headers.get('content-security-policy');
    // Under /docs/static/* (a docs route, so public): the 404 with the docs CSP.
    const asset = await get(`${t.url}/docs/static/nope.js`);
    expect(asset.status).toBe(404);
    expect(asset.headers.get('content-type')).toBe('application/problem+json; charset=utf-8');
    expect(asset.headers.get('content-security-policy')).toBe(csp);
    expectHelmet(asset, '/docs/static/nope.js');
    expect(await asset.json()).toEqual({
      type: 'urn:ash:error:route_not_found',
      title: 'Route not found',
      status: 404,
      detail: 'no route GET /docs/static/nope.js',
      code: 'route_not_found',
      error: 'no route GET /docs/static/nope.js',
      statusCode: 404,
      instance: '/docs/static/nope.js',
    });
    // No docs route: like any unknown path, 401 without a key, 404 with one (the API's CSP).
    const unknown = await api(t.url, 'GET', '/docs/nope', undefined, noAuth);
    expect(unknown.status).toBe(401);
    expect(unknown.body.code).toBe('unauthorized');
    const withKey = await api(t.url, 'GET', '/docs/nope');
    expect(withKey.status).toBe(404);
    expect(withKey.body).toMatchObject({ code: 'route_not_found', instance: '/docs/nope' });
    expect(withKey.headers.get('content-security-policy')).toBe(API_CSP);
    // Only GET (and HEAD) are served.
    expect((await api(t.url, 'POST', '/docs/json', undefined, noAuth)).status).toBe(401);
    expect((await api(t.url, 'POST', '/docs/json', {})).status).toBe(404);
    expect((await api(t.url, 'GET', '/docs/static', undefined, noAuth)).status).toBe(401);
  });

  it('serves the OpenAPI document at /docs/json and /docs/yaml as at /openapi.json', async () => {
    const spec = await get(`${t.url}/openapi.json`);
    expect(spec.status).toBe(200);
    expect(spec.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(spec.headers.get('content-security-policy')).toBe(API_CSP);
    expectHelmet(spec, '/openapi.json');
    const text = await spec.text();
    const head = await get(`${t.url}/openapi.json`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(Buffer.byteLength(text)));

    const json = await get(`${t.url}/docs/json`);
    expect(json.status).toBe(200);
    expect(json.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(json.headers.get('content-security-policy')).toMatch(/^default-src 'self'/);
    expect(await json.text()).toBe(text);

    const yaml = await get(`${t.url}/docs/yaml`);
    expect(yaml.status).toBe(200);
    expect(yaml.headers.get('content-type')).toBe('application/x-yaml');
    const yamlText = await yaml.text();
    expect(yamlText).toMatch(/^openapi: 3\.1\.0\ninfo:\n {2}title: Ash API\n/);
    const doc = JSON.parse(text);
    for (const path of Object.keys(doc.paths)) expect(yamlText).toContain(`\n  ${path}:\n`);
  });

  it('serves the console at /console/ with its CSP and COEP, without a key', async () => {
    const bare = await get(`${t.url}/console`);
    expect(bare.status).toBe(302);
    expect(bare.headers.get('location')).toBe('/console/');
    expect(bare.headers.get('content-security-policy')).toBe(CONSOLE_CSP);
    expect(bare.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
    expectHelmet(bare, '/console');
    expect((await get(`${t.url}/console`, { method: 'HEAD' })).status).toBe(302);

    const index = readFileSync(join(consoleDir, 'index.html'), 'utf8');
    for (const path of ['/console/', '/console/index.html']) {
      const res = await get(t.url + path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(res.headers.get('content-security-policy')).toBe(CONSOLE_CSP);
      expect(res.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
      expect(res.headers.get('cache-control')).toBe('public, max-age=0');
      expect(res.headers.get('etag')).toMatch(/^W\/"/);
      expect(res.headers.get('last-modified')).toMatch(/GMT$/);
      expectHelmet(res, path);
      expect(await res.text()).toBe(index);
    }
    const head = await get(`${t.url}/console/`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(Buffer.byteLength(index)));
    expect(await head.text()).toBe('');
    const wrongKey = await get(`${t.url}/console/`, { headers: { authorization: 'Bearer wrong' } });
    expect(wrongKey.status).toBe(200);

    const script = readdirSync(join(consoleDir, 'assets')).find((f) => f.endsWith('.js'))!;
    const asset = await get(`${t.url}/console/assets/${script}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-type')).toBe('application/javascript; charset=utf-8');
    expect(asset.headers.get('content-security-policy')).toBe(CONSOLE_CSP);
    expect(asset.headers.get('content-length')).toBe(
      String(statSync(join(consoleDir, 'assets', script)).size),
    );
    expect(
      Buffer.from(await asset.arrayBuffer()).equals(readFileSync(join(consoleDir, 'assets', script))),
    ).toBe(true);
  });

  it('answers what /console does not have with the problem-details 404, console headers kept', async () => {
    for (const path of ['/console/nope.js', '/console/assets/', '/console/assets']) {
      const res = await get(t.url + path);
      expect(res.status, path).toBe(404);
      expect(res.headers.get('content-type')).toBe('application/problem+json; charset=utf-8');
      expect(res.headers.get('content-security-policy')).toBe(CONSOLE_CSP);
      expect(res.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
      expectHelmet(res, path);
      expect(await res.json()).toMatchObject({
        code: 'route_not_found',
        status: 404,
        detail: `no route GET ${path}`,
        instance: path,
      });
    }
    // A path the static files refuse (NUL byte, empty segment): 403 `forbidden`, not a 400 code.
    for (const path of ['/console/%00', '/console//', '/docs/static/%00']) {
      const res = await get(t.url + path);
      expect(res.status, path).toBe(403);
      expect(await res.json()).toMatchObject({ code: 'forbidden', status: 403 });
    }
    // Only GET (and HEAD) are served.
    expect((await api(t.url, 'POST', '/console/', undefined, noAuth)).status).toBe(401);
    expect((await api(t.url, 'POST', '/console/', {})).status).toBe(404);
  });
});
