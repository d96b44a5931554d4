import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { buildLazySerializerFactory, buildValidatorFactory, fastifySerializerFactory } from './validation.js';

/** Response headers of the inner app not copied to the outer reply (the outer server sets its own). */
const NOT_COPIED = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'date']);

/** Request headers not passed to the inner app (the forwarded request has no body). */
const NOT_FORWARDED = new Set(['content-length', 'transfer-encoding', 'connection', 'content-type']);

/**
 * The server's validators and serializers (compiled on a route's first use) for the apps built
 * on first use too: Fastify's default would load Ajv for them at once.
 */
export const LAZY_SCHEMAS = {
  compilersFactory: {
    buildValidator: buildValidatorFactory,
    buildSerializer: buildLazySerializerFactory(fastifySerializerFactory),
  },
};

/**
 * A Fastify app built on first use and kept (one build, however many requests arrive meanwhile;
 * a failed build is retried by the next request), closed with `outer`. For plugins the server's
 * start does not need (the docs UI, the console's static files): their modules are imported
 * by `build`, so they load when first asked for, not at start.
 */
export class InnerApp {
  private built: Promise<FastifyInstance> | undefined;
  /** Inner requests whose route was not found, and errors of inner requests, by inner raw request. */
  private readonly notFound = new WeakSet<object>();
  private readonly errors = new WeakMap<object, Error>();

  /** `build` registers the plugins on the fresh app it is given (not yet ready). */
  constructor(
    outer: FastifyInstance,
    private readonly build: (inner: FastifyInstance) => Promise<void>,
  ) {
    outer.addHook('onClose', async () => {
      const built = this.built;
      this.built = undefined;
      if (built) await (await built.catch(() => undefined))?.close();
    });
  }

  private app(): Promise<FastifyInstance> {
    this.built ??= this.create().catch((err: unknown) => {
      this.built = undefined;
      throw err;
    });
    return this.built;
  }

  private async create(): Promise<FastifyInstance> {
    const inner = Fastify({ routerOptions: { maxParamLength: 1024 }, schemaController: LAZY_SCHEMAS });
    // What the inner app cannot answer, the outer one answers (its 404, its error handler).
    inner.setNotFoundHandler((req, reply) => {
      this.notFound.add(req.raw);
      return reply.code(404).send();
    });
    inner.setErrorHandler((err, req, reply) => {
      this.errors.set(req.raw, err instanceof Error ? err : new Error(String(err)));
      return reply.code(500).send();
    });
    await this.build(inner);
    await inner.ready();
    return inner;
  }

  /**
   * Answers `req` with what the inner app answers to the same GET (a HEAD is asked as a GET: the
   * outer HEAD route drops the body and keeps its length), status, headers and body. When the
   * inner app has no route for it, or its handler fails, the outer 404 handler or error handler
   * answers instead, with the inner response's headers (e.g. its CSP) kept.
   */
  async forward(req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const inner = await this.app();
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(req.headers))
      if (value !== undefined && !NOT_FORWARDED.has(name)) headers[name] = value;
    const res = await inner.inject({ method: 'GET', url: req.url, headers });
    for (const [name, value] of Object.entries(res.headers))
      if (value !== undefined && !NOT_COPIED.has(name)) reply.header(name, value);
    const raw = res.raw.req;
    const err = this.errors.get(raw);
    if (err) throw err;
    if (this.notFound.has(raw)) {
      reply.callNotFound();
      return reply;
    }
    reply.code(res.statusCode);
    return reply.send(res.headers['content-type'] || res.rawPayload.length > 0 ? res.rawPayload : undefined);
  }
}
