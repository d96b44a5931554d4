import Fastify, { type FastifyInstance, type RouteOptions } from 'fastify';
import type { FastifyDynamicSwaggerOptions } from '@fastify/swagger';
import type { FastifySwaggerUiOptions } from '@fastify/swagger-ui';
import { InnerApp, LAZY_SCHEMAS } from './inner-app.js';

/** The OpenAPI document, as `@fastify/swagger`'s `swagger()` gives it. */
export interface OpenApiDocument {
  /** The document (the same object on every call). Builds it on the first call (tens of ms). */
  object(): Promise<Record<string, unknown>>;
}

/**
 * The OpenAPI document of the routes `app` registers from now on, made by `@fastify/swagger`
 * with `options` when first asked for instead of at start: the routes are recorded as they are
 * added (as the plugin's own `onRoute` hook does), and on first use replayed, without handlers,
 * into a throwaway Fastify app with the plugin registered. The plugin (and the `yaml` package it
 * loads) is imported then. Call where the plugin would have been registered. Needs `app` ready.
 */
export function recordOpenApi(app: FastifyInstance, options: FastifyDynamicSwaggerOptions): OpenApiDocument {
  const routes: RouteOptions[] = [];
  app.addHook('onRoute', (route) => {
    // The plugin leaves out HEAD routes and routes marked hidden: so may the replay.
    if (route.method !== 'HEAD' && !(route.schema as { hide?: boolean } | undefined)?.hide)
      routes.push(route);
  });
  let built: Promise<Record<string, unknown>> | undefined;
  const build = async (): Promise<Record<string, unknown>> => {
    const { default: swagger } = await import('@fastify/swagger');
    const replay = Fastify({
      exposeHeadRoutes: false,
      // It answers no request: its routes' schemas are never compiled.
      schemaController: LAZY_SCHEMAS,
    });
    for (const schema of Object.values(app.getSchemas())) replay.addSchema(schema as { $id: string });
    await replay.register(swagger, { ...options });
    const noHandler = async () => undefined;
    for (const r of routes)
      replay.route({
        method: r.method,
        url: r.url,
        handler: noHandler,
        ...(r.schema ? { schema: r.schema } : {}),
        ...(r.config ? { config: r.config } : {}),
      });
    await replay.ready();
    const document = replay.swagger() as unknown as Record<string, unknown>;
    await replay.close();
    return document;
  };
  return {
    object() {
      built ??= build().catch((err: unknown) => {
        built = undefined;
        throw err;
      });
      return built;
    },
  };
}

/**
 * The routes `@fastify/swagger-ui` registers under `/docs` (with no theme and no `baseDir`): the
 * outer app has the same ones, so the traced route, the 404s and the public `/docs*` routes stay
 * what they were.
 */
export const DOCS_ROUTES = [
  '/docs',
  '/docs/',
  '/docs/static/index.html',
  '/docs/static/swagger-initializer.js',
  '/docs/json',
  '/docs/yaml',
  '/docs/static/*',
] as const;

/**
 * The API docs UI (swagger-ui, `@fastify/swagger-ui` with `options`) at `/docs`, public, over
 * `document`. The plugin is registered on an inner app built on the first request to `/docs*`
 * (its modules are imported then, not at start); the outer routes in {@link DOCS_ROUTES} forward
 * to it. Unknown assets get the server's 404, failures its error handler, both with the UI's CSP.
 */
export function registerDocsUi(
  app: FastifyInstance,
  document: OpenApiDocument,
  options: Omit<FastifySwaggerUiOptions, 'routePrefix'>,
): void {
  const ui = new InnerApp(app, async (inner) => {
    const [{ default: swagger }, { default: swaggerUi }] = await Promise.all([
      import('@fastify/swagger'),
      import('@fastify/swagger-ui'),
    ]);
    // The document as made, served by the plugin's static mode (same object; same YAML).
    await inner.register(swagger, {
      mode: 'static',
      specification: { document: (await document.object()) as never },
    });
    await inner.register(swaggerUi, { ...options, routePrefix: '/docs' });
  });
  for (const url of DOCS_ROUTES)
    app.get(url, { schema: { hide: true } }, (req, reply) => ui.forward(req, reply));
}
