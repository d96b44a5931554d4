import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

/** Buckets for latencies from milliseconds to minutes, seconds. */
const LATENCY = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

/**
 * The server's Prometheus metrics (prom-client), one registry per server: Node process metrics
 * and the histograms and counters of turns, model calls, tools, queue and sandboxes. Every
 * metric is listed in docs/observability.md. Durations are in seconds.
 */
export class ServerMetrics {
  readonly registry = new Registry();
  /** From a turn's start to the first event of its sandbox. */
  readonly timeToFirstEvent: Histogram;
  /** From forwarding a model request to the first streamed content delta, by model. */
  readonly timeToFirstToken: Histogram<'model'>;
  readonly turnDuration: Histogram<'outcome'>;
  readonly modelRequestDuration: Histogram<'model' | 'status'>;
  readonly toolDuration: Histogram<'tool' | 'status'>;
  /** From a queue item being due (`runAt`, or its creation) to its run starting. */
  readonly queueWait: Histogram;
  /** Starting a sandbox (its process tree and model proxy), by kind: `session` or `spare` (pre-warm). */
  readonly sandboxStart: Histogram<'kind' | 'outcome'>;
  readonly turns: Counter<'outcome'>;
  /** Problem responses (`source=http`) and turn `error` events (`source=turn`), by code. */
  readonly errors: Counter<'code' | 'source'>;
  readonly tokens: Counter<'model' | 'type'>;
  readonly costUsd: Counter<'model'>;
  /** Sandbox egress connections, by outcome (`allowed`, `denied`). */
  readonly egressConnections: Counter<'outcome'>;
  /** Sandbox egress bytes, by direction (`up` = to the destination, `down`). */
  readonly egressBytes: Counter<'direction'>;

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    const histogram = <L extends string>(name: string, help: string, labelNames: L[] = []) =>
      new Histogram<L>({ name, help, labelNames, buckets: LATENCY, registers });
    this.timeToFirstEvent = histogram(
      'ash_turn_time_to_first_event_seconds',
      'From a turn start to the first event of its sandbox',
    );
    this.timeToFirstToken = histogram(
      'ash_model_time_to_first_token_seconds',
      'From forwarding a model request to its first streamed content delta',
      ['model'],
    );
    this.turnDuration = histogram('ash_turn_duration_seconds', 'Turn duration, start to done', ['outcome']);
    this.modelRequestDuration = histogram(
      'ash_model_request_duration_seconds',
      'Model (Messages API) request duration through the model proxy',
      ['model', 'status'],
    );
    this.toolDuration = histogram(
      'ash_tool_duration_seconds',
      'Tool call duration, from the tool_use to its tool_result',
      ['tool', 'status'],
    );
    this.queueWait = histogram(
      'ash_queue_wait_seconds',
      'Time a queue item waited from being due to its run starting',
    );
    this.sandboxStart = histogram('ash_sandbox_start_seconds', 'Sandbox start duration', ['kind', 'outcome']);
    this.turns = new Counter({
      name: 'ash_turns_total',
      help: 'Turns by outcome',
      labelNames: ['outcome'],
      registers,
    });
    this.errors = new Counter({
      name: 'ash_errors_total',
      help: 'Errors by code: problem responses (source=http) and turn error events (source=turn)',
      labelNames: ['code', 'source'],
      registers,
    });
    this.tokens = new Counter({
      name: 'ash_model_tokens_total',
      help: 'Model tokens by model and type (input, output, cache_write, cache_read)',
      labelNames: ['model', 'type'],
      registers,
    });
    this.costUsd = new Counter({
      name: 'ash_model_cost_usd_total',
      help: 'Model cost in USD by model (the usage ledger price table)',
      labelNames: ['model'],
      registers,
    });
    this.egressConnections = new Counter({
      name: 'ash_egress_connections_total',
      help: 'Sandbox network connections through the egress proxy, by outcome (allowed, denied)',
      labelNames: ['outcome'],
      registers,
    });
    this.egressBytes = new Counter({
      name: 'ash_egress_bytes_total',
      help: 'Bytes through the sandbox egress proxy, by direction (up = to the destination, down)',
      labelNames: ['direction'],
      registers,
    });
  }
}

/** Milliseconds → seconds. */
export const seconds = (ms: number): number => ms / 1000;
