import type { RunnerHealth, RunnerLabels, RunnerReport } from '@ash-ai/shared';
import type { Logger } from 'pino';
import { CoordinatorError, type CoordinatorLink } from './coordinator-link.js';
import type { RunnerMetrics } from './metrics.js';

interface Coordinator {
  url: string;
  registered: boolean;
  lastHeartbeatAt: Date | null;
  /** The last failure logged (a repeated one is not logged again). */
  lastProblem: string | undefined;
  timer: NodeJS.Timeout | undefined;
}

export interface RegistrationOptions {
  runnerId: string;
  coordinators: string[];
  labels: RunnerLabels;
  link: CoordinatorLink;
  heartbeatMs: number;
  /** The runner's report, taken for each heartbeat. */
  report: () => RunnerReport;
  /** A coordinator named sessions that are no longer this runner's (in answer to `reported`). */
  onForeign: (ids: string[], reported: RunnerReport) => Promise<void>;
  /** A coordinator asked the runner to drain. */
  onDrain: () => void;
  metrics: RunnerMetrics;
  log: Logger;
}

/**
 * The runner's membership with each coordinator: registers, then heartbeats every `heartbeatMs`
 * with its report; a heartbeat answered 404 (the coordinator restarted or dropped it) registers
 * again at once. Each coordinator has its own loop, so one that is down delays no other.
 */
export class Registration {
  private readonly coordinators: Coordinator[];
  private stopped = false;

  constructor(private readonly opts: RegistrationOptions) {
    this.coordinators = opts.coordinators.map((url) => ({
      url,
      registered: false,
      lastHeartbeatAt: null,
      lastProblem: undefined,
      timer: undefined,
    }));
  }

  /** Starts every coordinator's loop (the first registration at once). */
  start(): void {
    for (const c of this.coordinators) void this.beat(c);
  }

  /** Coordinators and their last answered heartbeat (for `/health`). */
  health(): RunnerHealth['coordinators'] {
    return this.coordinators.map((c) => ({
      url: c.url,
      lastHeartbeatAt: c.lastHeartbeatAt ? c.lastHeartbeatAt.toISOString() : null,
    }));
  }

  /**
   * The coordinator to send a session's calls to: `preferred` (the one that placed it) unless its
   * last heartbeat failed, then the first coordinator whose last heartbeat was answered (else
   * `preferred` anyway). A URL not in the list counts as answering.
   */
  pick(preferred: string): string {
    const up = (c: Coordinator) => c.lastHeartbeatAt !== null && c.lastProblem === undefined;
    const known = this.coordinators.find((c) => c.url === preferred);
    if (!known || up(known)) return preferred;
    return this.coordinators.find(up)?.url ?? preferred;
  }

  private async beat(c: Coordinator): Promise<void> {
    c.timer = undefined;
    if (this.stopped) return;
    const { link, log, metrics } = this.opts;
    let again = this.opts.heartbeatMs;
    try {
      if (!c.registered) {
        const report = this.opts.report();
        const url = new URL(report.url);
        await link.register(c.url, {
          runnerId: this.opts.runnerId,
          host: url.hostname,
          port: Number(url.port) || (url.protocol === 'https:' ? 443 : 80),
          maxSandboxes: report.maxSandboxes,
          url: report.url,
          labels: this.opts.labels,
        });
        c.registered = true;
        log.info({ coordinator: c.url }, 'registered with the coordinator');
      }
      const report = this.opts.report();
      const answer = await link.heartbeat(c.url, report);
      c.lastHeartbeatAt = new Date();
      metrics.heartbeats.inc({ result: 'ok' });
      if (c.lastProblem) log.info({ coordinator: c.url }, 'the coordinator answers again');
      c.lastProblem = undefined;
      if (answer.foreign.length > 0) await this.opts.onForeign(answer.foreign, report);
      if (answer.drain) this.opts.onDrain();
    } catch (err) {
      if (err instanceof CoordinatorError && err.status === 404 && c.registered) {
        // The coordinator does not know this runner (restarted, or it was dropped): register again.
        c.registered = false;
        metrics.heartbeats.inc({ result: 'register' });
        log.info({ coordinator: c.url }, 'the coordinator lost this runner: registering again');
        again = 0;
      } else if (err instanceof CoordinatorError && (err.status === 401 || err.status === 403)) {
        // Not a passing outage: the two sides hold different secrets. Said loudly, once; the loop
        // goes on (the coordinators may be reconfigured).
        metrics.heartbeats.inc({ result: 'failed' });
        const problem = `the coordinator refused this runner's secret (${err.status}): ASH_INTERNAL_SECRET must be the coordinators' own`;
        if (problem !== c.lastProblem) log.error({ coordinator: c.url }, problem);
        c.lastProblem = problem;
      } else {
        metrics.heartbeats.inc({ result: 'failed' });
        const problem = err instanceof Error ? err.message : String(err);
        if (problem !== c.lastProblem)
          log.warn(
            { coordinator: c.url, err: problem },
            c.registered ? 'heartbeat failed' : 'registration failed',
          );
        c.lastProblem = problem;
      }
    }
    if (this.stopped) return;
    c.timer = setTimeout(() => void this.beat(c), again);
  }

  /** Stops the loops; with `deregister`, tells each coordinator the runner leaves (failures logged). */
  async stop(deregister: boolean): Promise<void> {
    this.stopped = true;
    for (const c of this.coordinators) if (c.timer) clearTimeout(c.timer);
    if (!deregister) return;
    await Promise.all(
      this.coordinators.map(async (c) => {
        try {
          await this.opts.link.deregister(c.url);
          this.opts.log.info({ coordinator: c.url }, 'deregistered');
        } catch (err) {
          this.opts.log.warn(
            { coordinator: c.url, err: err instanceof Error ? err.message : String(err) },
            'deregister failed',
          );
        }
      }),
    );
  }
}
