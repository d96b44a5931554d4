import type { TurnOutcome } from '@ash-ai/shared';
import type { ModelCallObserver } from '@ash-ai/sandbox';
import type { Telemetry } from '../../telemetry/telemetry.js';
import { NOOP_SPAN, type TraceSpan } from '../../telemetry/tracing.js';
import type { TurnLog } from './turn-log.js';

/** What the turn telemetry keeps of a running turn. */
export interface TracedTurn {
  /** The turn's span (a no-op without tracing). */
  span: TraceSpan;
  /** Tool calls under way, by tool-use id. */
  tools: Map<string, { name: string; startedAt: number; span: TraceSpan }>;
  log: TurnLog;
}

/** A tool call's start or end, as the turn's events carry them. */
export type ToolEvent =
  | { event: 'tool_use'; data: { id: string; name: string } }
  | { event: 'tool_result'; data: { tool_use_id: string; is_error: boolean } };

/**
 * The traces and metrics of sessions' turns (issue 16): the turn's span, its tool calls, model
 * calls, sandbox starts and persistence. Every method is a no-op without telemetry.
 */
export class TurnTelemetry {
  constructor(private readonly telemetry: Telemetry | undefined) {}

  /**
   * A turn's span: a child of the request that started it (joining the client's trace), or a
   * trace of its own.
   */
  turnSpan(session: { id: string; tenantId: string; agentName: string }, turnId: string): TraceSpan {
    const telemetry = this.telemetry;
    if (!telemetry) return NOOP_SPAN;
    const parent = telemetry.current()?.span;
    return telemetry.tracing.start('ash.turn', {
      ...(parent ? { parent } : {}),
      attributes: {
        'ash.session_id': session.id,
        'ash.turn_id': turnId,
        'ash.tenant_id': session.tenantId,
        'ash.agent': session.agentName,
      },
    });
  }

  /** Runs `fn` with the turn's log ids and span as the current context. */
  run<T>(scope: { sessionId: string; turnId: string; tenantId: string }, span: TraceSpan, fn: () => T): T {
    return this.telemetry ? this.telemetry.run({ ...scope, span }, fn) : fn();
  }

  /** A sandbox start of a session begins: call `end` with its error (or undefined) when it is over. */
  sandboxStart(sessionId: string): { end(err: unknown): void } {
    const telemetry = this.telemetry;
    const at = Date.now();
    const parent = telemetry?.current()?.span;
    const span = telemetry?.tracing.start('ash.sandbox.start', {
      ...(parent ? { parent } : {}),
      attributes: { 'ash.session_id': sessionId },
    });
    return {
      end: (err) => {
        const outcome = err === undefined ? 'ok' : 'error';
        telemetry?.metrics.sandboxStart.observe({ kind: 'session', outcome }, (Date.now() - at) / 1000);
        if (err !== undefined) span?.fail(err instanceof Error ? err.message : String(err));
        span?.end();
      },
    };
  }

  /** The first event of a turn arrived `seconds` after it started. */
  firstEvent(seconds: number): void {
    this.telemetry?.metrics.timeToFirstEvent.observe(seconds);
  }

  /** The span of storing a turn's end. */
  persistSpan(turn: TracedTurn): TraceSpan | undefined {
    return this.telemetry?.tracing.start('ash.persist', {
      parent: turn.span,
      attributes: { 'ash.events': turn.log.events.length },
    });
  }

  /**
   * Watches one model call of a session's proxy: a client span under the running turn (its W3C
   * `traceparent` goes upstream with the request) and the model request metrics.
   */
  modelCall(sessionId: string, running: TracedTurn | undefined): ModelCallObserver | undefined {
    const telemetry = this.telemetry;
    if (!telemetry) return undefined;
    const span = telemetry.tracing.start('ash.model.request', {
      kind: 'client',
      ...(running ? { parent: running.span } : {}),
      attributes: {
        'gen_ai.operation.name': 'chat',
        'gen_ai.system': 'anthropic',
        'ash.session_id': sessionId,
        'ash.turn_id': running?.log.turnId,
      },
    });
    const traceparent = span.traceparent();
    return {
      ...(traceparent ? { headers: { traceparent } } : {}),
      end: (o) => {
        const model = o.model ?? 'unknown';
        const { metrics } = telemetry;
        metrics.modelRequestDuration.observe({ model, status: String(o.status) }, o.durationMs / 1000);
        if (o.timeToFirstTokenMs !== undefined)
          metrics.timeToFirstToken.observe({ model }, o.timeToFirstTokenMs / 1000);
        span.set({
          'gen_ai.request.model': o.model,
          'gen_ai.response.id': o.usage?.messageId,
          'gen_ai.usage.input_tokens': o.usage?.inputTokens,
          'gen_ai.usage.output_tokens': o.usage?.outputTokens,
          'gen_ai.usage.cache_creation_input_tokens': o.usage?.cacheCreationInputTokens,
          'gen_ai.usage.cache_read_input_tokens': o.usage?.cacheReadInputTokens,
          'ash.model.time_to_first_token_ms': o.timeToFirstTokenMs,
          'http.response.status_code': o.status,
        });
        if (o.status === 0 || o.status >= 400) span.fail(`model API status ${o.status}`);
        span.end();
      },
    };
  }

  /** A tool call's span and duration: from its `tool_use` to its `tool_result`. */
  tool(running: TracedTurn, se: ToolEvent): void {
    const telemetry = this.telemetry;
    if (!telemetry) return;
    if (se.event === 'tool_use') {
      const span = telemetry.tracing.start('ash.tool', {
        parent: running.span,
        attributes: { 'gen_ai.tool.name': se.data.name, 'gen_ai.tool.call.id': se.data.id },
      });
      running.tools.set(se.data.id, { name: se.data.name, startedAt: Date.now(), span });
      return;
    }
    const tool = running.tools.get(se.data.tool_use_id);
    if (!tool) return;
    running.tools.delete(se.data.tool_use_id);
    const status = se.data.is_error ? 'error' : 'ok';
    telemetry.metrics.toolDuration.observe({ tool: tool.name, status }, (Date.now() - tool.startedAt) / 1000);
    tool.span.set({ 'ash.tool.status': status, 'ash.tool.duration_ms': Date.now() - tool.startedAt });
    if (se.data.is_error) tool.span.fail('the tool returned an error');
    tool.span.end();
  }

  /** Ends the turn's span (and its unfinished tool spans) and records the turn metrics. */
  endTurn(running: TracedTurn, outcome: TurnOutcome, durationMs: number): void {
    const telemetry = this.telemetry;
    if (!telemetry) return;
    for (const tool of running.tools.values()) {
      tool.span.set({ 'ash.tool.status': 'unfinished' });
      tool.span.end();
    }
    running.tools.clear();
    const { metrics } = telemetry;
    metrics.turns.inc({ outcome });
    metrics.turnDuration.observe({ outcome }, durationMs / 1000);
    for (const ev of running.log.events)
      if (ev.event === 'error') metrics.errors.inc({ code: ev.data.code ?? 'unknown', source: 'turn' });
    running.span.set({ 'ash.outcome': outcome, 'ash.events': running.log.events.length });
    if (outcome === 'error') running.span.fail('the turn ended with an error');
    running.span.end();
  }
}
