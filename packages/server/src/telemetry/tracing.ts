import type { Span, Tracer } from '@opentelemetry/api';

/** Attribute values a span carries. */
export type SpanAttributes = Record<string, string | number | boolean | undefined>;

/** One span, or a no-op stand-in when tracing is off. */
export interface TraceSpan {
  /** The trace id (32 hex digits); undefined when tracing is off. */
  readonly traceId: string | undefined;
  set(attributes: SpanAttributes): void;
  /** Marks the span failed with this message. */
  fail(message: string): void;
  /** Ends the span (at `endTimeMs`, epoch ms, when given). Later calls do nothing. */
  end(endTimeMs?: number): void;
  /** The W3C `traceparent` header naming this span; undefined when tracing is off. */
  traceparent(): string | undefined;
}

export interface StartSpanOptions {
  /** Parent span; else `traceparent` (a client's W3C header); else the span starts a trace. */
  parent?: TraceSpan;
  traceparent?: string;
  kind?: 'server' | 'client' | 'internal';
  attributes?: SpanAttributes;
  /** Start time, epoch ms (default now). */
  startTimeMs?: number;
}

/** Creates spans; {@link NO_TRACING} when `OTEL_EXPORTER_OTLP_ENDPOINT` is unset. */
export interface Tracing {
  readonly enabled: boolean;
  start(name: string, opts?: StartSpanOptions): TraceSpan;
  /** Exports what is pending, then stops. */
  shutdown(): Promise<void>;
}

/** A span that records nothing. */
export const NOOP_SPAN: TraceSpan = {
  traceId: undefined,
  set() {},
  fail() {},
  end() {},
  traceparent: () => undefined,
};

/** Tracing off: every span is a no-op; nothing is loaded or exported. */
export const NO_TRACING: Tracing = {
  enabled: false,
  start: () => NOOP_SPAN,
  shutdown: async () => {},
};

export interface TracingOptions {
  /** The OTLP/HTTP traces URL (from `OTEL_EXPORTER_OTLP_ENDPOINT` or `…_TRACES_ENDPOINT`); tracing is off without one. */
  tracesUrl: string | undefined;
  serviceName: string;
  version: string;
}

/**
 * Tracing with the OpenTelemetry SDK, exporting spans over OTLP/HTTP (JSON) to `tracesUrl` (the
 * exporter also reads the standard `OTEL_EXPORTER_OTLP_HEADERS`/`…_TIMEOUT` variables;
 * `OTEL_BSP_*` tune the batching). The SDK is imported only when an endpoint is set, so a server
 * without tracing never loads it. No global provider or context manager is registered: parents
 * are passed explicitly.
 */
export async function createTracing(opts: TracingOptions): Promise<Tracing> {
  if (!opts.tracesUrl) return NO_TRACING;
  const [api, core, resources, sdk, otlp] = await Promise.all([
    import('@opentelemetry/api'),
    import('@opentelemetry/core'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/exporter-trace-otlp-http'),
  ]);
  const provider = new sdk.BasicTracerProvider({
    resource: resources.resourceFromAttributes({
      'service.name': opts.serviceName,
      'service.version': opts.version,
    }),
    spanProcessors: [new sdk.BatchSpanProcessor(new otlp.OTLPTraceExporter({ url: opts.tracesUrl }))],
  });
  const tracer: Tracer = provider.getTracer('ash-server', opts.version);
  const propagator = new core.W3CTraceContextPropagator();
  const KIND = { server: api.SpanKind.SERVER, client: api.SpanKind.CLIENT, internal: api.SpanKind.INTERNAL };
  const spans = new WeakMap<TraceSpan, Span>();

  const clean = (a: SpanAttributes | undefined) => {
    const out: Record<string, string | number | boolean> = {};
    for (const [k, v] of Object.entries(a ?? {})) if (v !== undefined) out[k] = v;
    return out;
  };
  const wrap = (span: Span): TraceSpan => {
    let ended = false;
    const handle: TraceSpan = {
      traceId: span.spanContext().traceId,
      set: (a) => void span.setAttributes(clean(a)),
      fail: (message) => void span.setStatus({ code: api.SpanStatusCode.ERROR, message }),
      end: (endTimeMs) => {
        if (ended) return;
        ended = true;
        span.end(endTimeMs);
      },
      traceparent: () => {
        const carrier: Record<string, string> = {};
        propagator.inject(api.trace.setSpan(api.ROOT_CONTEXT, span), carrier, api.defaultTextMapSetter);
        return carrier.traceparent;
      },
    };
    spans.set(handle, span);
    return handle;
  };

  return {
    enabled: true,
    start(name, o = {}) {
      const parentSpan = o.parent && spans.get(o.parent);
      const ctx = parentSpan
        ? api.trace.setSpan(api.ROOT_CONTEXT, parentSpan)
        : o.traceparent
          ? propagator.extract(api.ROOT_CONTEXT, { traceparent: o.traceparent }, api.defaultTextMapGetter)
          : api.ROOT_CONTEXT;
      const span = tracer.startSpan(
        name,
        {
          kind: KIND[o.kind ?? 'internal'],
          attributes: clean(o.attributes),
          ...(o.startTimeMs !== undefined ? { startTime: o.startTimeMs } : {}),
        },
        ctx,
      );
      return wrap(span);
    },
    async shutdown() {
      await provider.shutdown();
    },
  };
}
