import type { FastifyPluginAsync } from 'fastify';
import type { RunnerStatus } from '@ash-ai/shared';
import { Counter, Gauge } from 'prom-client';
import type { SessionRuntime } from '../services/sessions/session-runtime.js';
import type { ServerMetrics } from '../telemetry/metrics.js';

/**
 * `GET /metrics`: Prometheus text exposition (prom-client): the server's {@link ServerMetrics}
 * (process metrics, turn/model/tool/queue/sandbox histograms, counters) plus pool figures read
 * from the runtime at scrape time; nothing queries the database. See docs/observability.md.
 */
export function metricsRoutes(
  runtime: SessionRuntime,
  version: string,
  metrics: ServerMetrics,
  /** The runners this server places on (as `/health` lists them). */
  runners: () => RunnerStatus[] = () => [],
): FastifyPluginAsync {
  return async (app) => {
    const { registry } = metrics;
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({
        name,
        help,
        registers: [registry],
        collect() {
          this.set(read());
        },
      });
    new Gauge({
      name: 'ash_info',
      help: 'Server version',
      labelNames: ['version'],
      registers: [registry],
    }).set({ version }, 1);
    gauge('ash_uptime_seconds', 'Seconds since the server started', () => process.uptime());
    gauge('ash_pool_max_capacity', 'Most live sandboxes', () => runtime.stats().maxCapacity);
    const byState = new Gauge({
      name: 'ash_pool_sandboxes',
      help: 'Live sandboxes by state',
      labelNames: ['state'],
      registers: [registry],
      collect() {
        const s = runtime.stats();
        for (const state of ['running', 'idle', 'warm', 'starting'] as const) this.set({ state }, s[state]);
      },
    });
    void byState;
    // One series per runner (names and labels are the operator's, not tenant data).
    const perRunner = (name: string, help: string, read: (r: RunnerStatus, now: number) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['runner'],
        registers: [registry],
        collect() {
          this.reset();
          const now = Date.now();
          for (const r of runners()) this.set({ runner: r.name }, read(r, now));
        },
      });
    perRunner('ash_runner_up', 'Runner state: 1 ok, 0.5 draining, 0 lost', (r) =>
      r.state === 'ok' ? 1 : r.state === 'draining' ? 0.5 : 0,
    );
    perRunner('ash_runner_capacity', 'Most sandboxes the runner hosts', (r) => r.capacity.max);
    perRunner('ash_runner_live_sandboxes', 'Sandboxes live on the runner', (r) => r.capacity.active);
    perRunner('ash_runner_live_sessions', 'Sessions with a sandbox on the runner', (r) => r.liveSessions);
    perRunner('ash_runner_warm_sandboxes', 'Ready warm spares on the runner (all agents)', (r) => r.warm);
    perRunner(
      'ash_runner_heartbeat_age_seconds',
      'Seconds since the runner last heartbeat (0: local)',
      (r, now) => (r.lastHeartbeat ? Math.max(0, (now - Date.parse(r.lastHeartbeat)) / 1000) : 0),
    );
    gauge('ash_running_turns', 'Turns running now', () => runtime.runningTurnCount);
    // Aggregates only: labels with session ids would show every tenant's sessions to any key.
    gauge('ash_sandbox_memory_bytes_total', 'Memory used by all live sandboxes (cgroup accounting)', () =>
      runtime.memoryBySandbox().reduce((n, m) => n + m.bytes, 0),
    );
    gauge('ash_sandbox_memory_bytes_max', 'Memory used by the largest live sandbox (cgroup accounting)', () =>
      Math.max(0, ...runtime.memoryBySandbox().map((m) => m.bytes)),
    );
    const counter = (name: string, help: string, read: () => number) => {
      const c = new Counter({
        name,
        help,
        registers: [registry],
        collect() {
          const delta = read() - last;
          if (delta > 0) this.inc(delta);
          last = read();
        },
      });
      let last = 0;
      return c;
    };
    counter(
      'ash_prewarm_hits_total',
      'Sessions created on a pre-warmed sandbox',
      () => runtime.counters.preWarmHits,
    );
    counter(
      'ash_prewarm_misses_total',
      'Plain session creations that found no warm sandbox',
      () => runtime.counters.preWarmMisses,
    );
    counter(
      'ash_resume_warm_total',
      'Resumes that found the process alive',
      () => runtime.counters.resumeWarmHits,
    );
    counter(
      'ash_resume_cold_total',
      'Resumes that started a new sandbox',
      () => runtime.counters.resumeColdHits,
    );
    counter(
      'ash_evictions_total',
      'Sandboxes stopped to make room or because they were idle',
      () => runtime.counters.evictions,
    );
    counter('ash_sandbox_starts_total', 'Sandboxes started', () => runtime.counters.sandboxStarts);
    counter(
      'ash_sandbox_start_failures_total',
      'Sandboxes that failed to start',
      () => runtime.counters.sandboxStartFailures,
    );

    app.get(
      '/metrics',
      {
        schema: {
          tags: ['health'],
          summary:
            'Prometheus metrics: process, turns, model calls, tools, queue, sandboxes, pool, errors, tokens and cost (docs/observability.md)',
          response: {
            200: {
              description: 'Prometheus text exposition format',
              content: { 'text/plain': { schema: { type: 'string' } } },
            },
          },
        },
      },
      async (_req, reply) => reply.type(registry.contentType).send(await registry.metrics()),
    );
  };
}
