import { AsyncLocalStorage } from 'node:async_hooks';
import type { FastifyInstance } from 'fastify';
import { ServerMetrics } from './metrics.js';
import { createTracing, NO_TRACING, type TraceSpan, type Tracing, type TracingOptions } from './tracing.js';

/** What the current request or turn is about: its span and the ids its log lines carry. */
export interface TelemetryScope {
  span?: TraceSpan;
  sessionId?: string;
  turnId?: string;
  tenantId?: string;
}

/** The ids a log line carries (pino `mixin`), where they apply. */
export interface LogIds {
  sessionId?: string;
  turnId?: string;
  tenantId?: string;
  traceId?: string;
}

/**
 * Traces, metrics and the log ids of the current request or turn, for one server. The scope
 * follows async work (AsyncLocalStorage): an HTTP request's, then a turn's.
 */
export class Telemetry {
  private readonly scopes = new AsyncLocalStorage<TelemetryScope>();

  constructor(
    readonly tracing: Tracing = NO_TRACING,
    readonly metrics: ServerMetrics = new ServerMetrics(),
  ) {}

  /** The scope of the running request or turn, if any. */
  current(): TelemetryScope | undefined {
    return this.scopes.getStore();
  }

  /** Runs `fn` (and the async work it starts) in `scope`. */
  run<T>(scope: TelemetryScope, fn: () => T): T {
    return this.scopes.run(scope, fn);
  }

  /** Ids for the log line being written (the pino `mixin`). */
  logIds(): LogIds {
    const s = this.scopes.getStore();
    if (!s) return {};
    const out: LogIds = {};
    if (s.sessionId) out.sessionId = s.sessionId;
    if (s.turnId) out.turnId = s.turnId;
    if (s.tenantId) out.tenantId = s.tenantId;
    if (s.span?.traceId) out.traceId = s.span.traceId;
    return out;
  }

  /**
   * HTTP hooks: one server span per request (joining the client's W3C `traceparent`), the
   * request's scope (tenant, session id from the path), and `ash_errors_total{source="http"}`
   * for every problem response.
   */
  register(app: FastifyInstance): void {
    app.addHook('onRequest', (req, reply, done) => {
      const route = req.routeOptions.url ?? 'unmatched';
      const header = req.headers.traceparent;
      const span = this.tracing.start(`${req.method} ${route}`, {
        kind: 'server',
        ...(typeof header === 'string' ? { traceparent: header } : {}),
        attributes: { 'http.request.method': req.method, 'http.route': route, 'ash.request_id': req.id },
      });
      const scope: TelemetryScope = { span };
      const params = req.params as Record<string, unknown> | undefined;
      if (route.startsWith('/api/sessions/:id') && typeof params?.id === 'string')
        scope.sessionId = params.id;
      // SSE streams are written to the raw response: end the span when it closes, however it ends.
      reply.raw.once('close', () => {
        span.set({ 'http.response.status_code': reply.raw.statusCode });
        if (reply.raw.statusCode >= 500) span.fail(`HTTP ${reply.raw.statusCode}`);
        span.end();
      });
      this.scopes.run(scope, done);
    });
    app.addHook('preHandler', (req, _reply, done) => {
      const scope = this.scopes.getStore();
      if (scope && req.tenantId) scope.tenantId = req.tenantId;
      done();
    });
    app.addHook('onSend', (_req, reply, payload, done) => {
      const type = String(reply.getHeader('content-type') ?? '');
      if (
        reply.statusCode >= 400 &&
        type.startsWith('application/problem+json') &&
        typeof payload === 'string'
      ) {
        let code = 'unknown';
        try {
          code = String((JSON.parse(payload) as { code?: unknown }).code ?? 'unknown');
        } catch {
          // not JSON after all
        }
        this.metrics.errors.inc({ code, source: 'http' });
      }
      done(null, payload);
    });
  }

  /** Exports pending spans and stops tracing. */
  async shutdown(): Promise<void> {
    await this.tracing.shutdown();
  }
}

/**
 * The server's telemetry. Tracing is on only with `OTEL_EXPORTER_OTLP_ENDPOINT` (or the
 * traces-specific variable); its SDK is loaded only then.
 */
export async function createTelemetry(opts: TracingOptions): Promise<Telemetry> {
  return new Telemetry(await createTracing(opts));
}
