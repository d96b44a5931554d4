import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { InnerApp } from './inner-app.js';

/**
 * The console's Content-Security-Policy: its own scripts and styles only (no inline code, no
 * eval), API calls to this origin only, images from itself or from blobs it made (workspace
 * previews), no frames, no plugins, no forms posted anywhere.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "font-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join('; ');

/** The built console (`@ash-ai/console`'s `dist/`), or undefined when it is not installed or not built. */
export function findConsoleDir(): string | undefined {
  try {
    const pkg = createRequire(import.meta.url).resolve('@ash-ai/console/package.json');
    const dir = join(dirname(pkg), 'dist');
    return existsSync(join(dir, 'index.html')) ? dir : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Serves the web console's static files at `/console/` (public: the page holds no data; it signs
 * in with an API key kept in the browser's session storage) with {@link CONSOLE_CSP}. `/console`
 * redirects to `/console/`. Does nothing when `dir` is undefined (console not built).
 * `@fastify/static` is registered on an inner app built on the first request to `/console/*`
 * (its modules are imported then, not at start); files it does not have get the server's 404.
 */
export async function registerConsole(app: FastifyInstance, dir: string | undefined): Promise<void> {
  if (!dir) return;
  await app.register(async (scope) => {
    scope.addHook('onRoute', (route) => {
      route.config = { ...(route.config as object), public: true } as typeof route.config;
    });
    scope.addHook('onSend', async (_req, reply, payload) => {
      reply.header('content-security-policy', CONSOLE_CSP);
      reply.header('cross-origin-embedder-policy', 'require-corp');
      return payload;
    });
    scope.get('/console', { schema: { hide: true } }, async (_req, reply) => reply.redirect('/console/'));
    const files = new InnerApp(scope, async (inner) => {
      const { default: fastifyStatic } = await import('@fastify/static');
      await inner.register(fastifyStatic, {
        root: dir,
        prefix: '/console/',
        decorateReply: false,
        index: ['index.html'],
        cacheControl: true,
        maxAge: 0,
      });
    });
    // The route @fastify/static registers for the prefix.
    scope.get('/console/*', { schema: { hide: true } }, (req, reply) => files.forward(req, reply));
  });
}
