import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** The runner's Prometheus metrics (`GET /metrics`), on a registry of its own. */
export class RunnerMetrics {
  readonly registry = new Registry();
  readonly sandboxes: Gauge;
  readonly capacity: Gauge;
  readonly sessions: Gauge;
  readonly turns: Counter;
  readonly checkpoints: Counter;
  readonly checkpointSeconds: Histogram;
  readonly checkouts: Counter;
  readonly heartbeats: Counter;
  readonly evictions: Counter;
  readonly warm: Gauge;
  readonly sessionStarts: Counter;
  readonly spareClaims: Counter;

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'ash_runner_process_' });
    this.sandboxes = new Gauge({
      name: 'ash_runner_sandboxes',
      help: 'Sandboxes alive on this runner (sessions and warm spares)',
      registers: [this.registry],
    });
    this.capacity = new Gauge({
      name: 'ash_runner_capacity',
      help: 'Most sandboxes this runner hosts at once (ASH_MAX_SANDBOXES)',
      registers: [this.registry],
    });
    this.sessions = new Gauge({
      name: 'ash_runner_sessions',
      help: 'Sessions hosted on this runner',
      registers: [this.registry],
    });
    this.turns = new Counter({
      name: 'ash_runner_turns_total',
      help: 'Turns run, by outcome of the turn_end (or aborted when the stream ended without one)',
      labelNames: ['outcome'],
      registers: [this.registry],
    });
    this.checkpoints = new Counter({
      name: 'ash_runner_checkpoints_total',
      help: 'Checkpoints sent to a coordinator, by result (stored, failed, fenced)',
      labelNames: ['result'],
      registers: [this.registry],
    });
    this.checkpointSeconds = new Histogram({
      name: 'ash_runner_checkpoint_seconds',
      help: 'Time to scan, pack and store one checkpoint',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [this.registry],
    });
    this.checkouts = new Counter({
      name: 'ash_runner_checkouts_total',
      help: 'Workspace checkouts from a coordinator, by result (ok, failed, fenced)',
      labelNames: ['result'],
      registers: [this.registry],
    });
    this.heartbeats = new Counter({
      name: 'ash_runner_heartbeats_total',
      help: 'Heartbeats to coordinators, by result (ok, register, failed)',
      labelNames: ['result'],
      registers: [this.registry],
    });
    this.evictions = new Counter({
      name: 'ash_runner_evictions_total',
      help: 'Sessions this runner released on its own, by reason (idle, capacity, drain, foreign, fenced)',
      labelNames: ['reason'],
      registers: [this.registry],
    });
    this.warm = new Gauge({
      name: 'ash_runner_warm_sandboxes',
      help: 'Ready warm spares on this runner (all agents; they count in ash_runner_sandboxes)',
      registers: [this.registry],
    });
    this.sessionStarts = new Counter({
      name: 'ash_runner_session_starts_total',
      help: 'Session sandboxes started, by kind (cold: a new sandbox; spare: a claimed warm spare, no boot)',
      labelNames: ['kind'],
      registers: [this.registry],
    });
    this.spareClaims = new Counter({
      name: 'ash_runner_spare_claims_total',
      help: 'Claims of a warm spare by a coordinator, by result (claimed, none, lapsed: no start used it)',
      labelNames: ['result'],
      registers: [this.registry],
    });
  }
}
