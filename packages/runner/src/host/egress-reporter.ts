import { EgressRules, type EgressConnection, type SandboxEgressSpec } from '@ash-ai/sandbox';
import type { RunnerEgress, RunnerEgressReportBody } from '@ash-ai/shared';
import type { Logger } from 'pino';

type Connection = RunnerEgressReportBody['connections'][number];

/** Most connections in one report (the contract's `maxItems`). */
const MAX_BATCH = 1000;

/**
 * The network of one session's sandbox on a runner: the rules the coordinator sent (plain data,
 * `RunnerEgress`) decide each connection here, and the connections are reported back to the
 * coordinator in batches (every `flushMs`, or at once when a batch is full), in order.
 */
export class EgressReporter {
  private pending: Connection[] = [];
  private timer: NodeJS.Timeout | undefined;
  private sending: Promise<void> = Promise.resolve();
  readonly spec: SandboxEgressSpec;

  /**
   * @param send posts one batch (the caller adds the session's generation); failures are logged
   *   and the batch dropped (egress events are telemetry, not state).
   * @throws Error when a pattern of `egress` is invalid.
   */
  constructor(
    egress: RunnerEgress,
    private readonly send: (body: RunnerEgressReportBody) => Promise<void>,
    private readonly log: Logger,
    private readonly flushMs = 500,
  ) {
    const rules = new EgressRules(egress.layers, egress.implicit);
    this.spec = {
      enabled: egress.enabled && rules.allowsAnything,
      decide: (host, port) => rules.decide(host, port),
      onConnection: (c) => this.push(c),
    };
  }

  private push(c: EgressConnection): void {
    this.pending.push({
      host: c.host,
      port: c.port,
      method: c.method,
      allowed: c.allowed,
      reason: c.reason,
      ...(c.address ? { address: c.address } : {}),
      bytesUp: Math.max(0, Math.round(c.bytesUp)),
      bytesDown: Math.max(0, Math.round(c.bytesDown)),
      durationMs: Math.max(0, c.durationMs),
    });
    if (this.pending.length >= MAX_BATCH) void this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), this.flushMs);
      this.timer.unref();
    }
  }

  /** Sends what is pending; resolves once every batch so far was sent (or failed). */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending.splice(0, this.pending.length);
    if (batch.length > 0) {
      this.sending = this.sending.then(async () => {
        for (let i = 0; i < batch.length; i += MAX_BATCH) {
          try {
            await this.send({ connections: batch.slice(i, i + MAX_BATCH) });
          } catch (err) {
            this.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'egress report failed');
          }
        }
      });
    }
    return this.sending;
  }
}
