import type { RunnerReport } from '@ash-ai/shared';
import type { Logger } from 'pino';
import type { RunnerRecord } from '../../db/repos/runners-repo.js';
import type { Repos } from '../../db/repos/index.js';
import { HttpRunnerClient, type HttpRunnerClientOptions } from './http-runner-client.js';
import type { RunnerRouter } from './runner-router.js';

export interface RunnerFleetOptions {
  repos: Repos;
  router: RunnerRouter;
  /** ASH_RUNNER_TIMEOUT_MS: a runner without a heartbeat for this long is lost. */
  timeoutMs: number;
  /** What every client is built with (per runner: id and URL). */
  client: Omit<HttpRunnerClientOptions, 'runnerId' | 'url' | 'onBroken'>;
  /**
   * Sessions a lost runner hosted (their turns already ended with `runner_lost`): fence them
   * (bump the lease) and release them so the next message places them again.
   */
  onSessionsLost: (runnerId: string, sessionIds: string[]) => Promise<void>;
  log: Logger;
}

interface FleetMember {
  client: HttpRunnerClient;
  url: string;
  labels: Record<string, string>;
  draining: boolean;
  lastHeartbeatAt: number;
}

/**
 * The registered runners this coordinator places on: one {@link HttpRunnerClient} per runner that
 * gave a URL and heartbeats, added to the {@link RunnerRouter}. Kept in step with the `runners`
 * table (so runners registered through another server sharing the database are used too) and
 * with the heartbeats this server receives. A runner silent for longer than the timeout, or whose
 * turn stream broke, is lost: its turns end with `runner_lost` and its sessions are placed again.
 */
export class RunnerFleet {
  private readonly members = new Map<string, FleetMember>();
  private timer: NodeJS.Timeout | undefined;
  private syncing: Promise<void> | undefined;

  constructor(private readonly opts: RunnerFleetOptions) {}

  /** Starts following the `runners` table (every quarter of the timeout, at most every second). */
  start(): void {
    const every = Math.max(100, Math.min(1000, Math.floor(this.opts.timeoutMs / 4)));
    this.timer = setInterval(() => void this.sync(), every);
    this.timer.unref();
    void this.sync();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.syncing;
  }

  /** The client of a runner, when it is a live member. */
  client(runnerId: string): HttpRunnerClient | undefined {
    return this.members.get(runnerId)?.client;
  }

  /** Live members: for /health and /metrics. */
  list(): Array<{
    id: string;
    url: string;
    labels: Record<string, string>;
    draining: boolean;
    lastHeartbeatAt: number;
    report: RunnerReport | undefined;
    client: HttpRunnerClient;
  }> {
    return [...this.members.entries()].map(([id, m]) => ({
      id,
      url: m.url,
      labels: m.labels,
      draining: m.draining || (m.client.lastReport?.draining ?? false),
      lastHeartbeatAt: m.lastHeartbeatAt,
      report: m.client.lastReport,
      client: m.client,
    }));
  }

  /** A runner registered or heartbeated here: add or refresh it at once. */
  observe(row: RunnerRecord): void {
    this.apply(row, Date.now());
  }

  /** Reads the table and applies it (new runners joined, silent ones lost). */
  sync(): Promise<void> {
    this.syncing ??= (async () => {
      try {
        const rows = await this.opts.repos.runners.list();
        const now = Date.now();
        const seen = new Set<string>();
        for (const row of rows) {
          seen.add(row.id);
          this.apply(row, now);
        }
        for (const id of this.members.keys()) if (!seen.has(id)) this.lose(id, 'it deregistered');
      } catch (err) {
        this.opts.log.warn({ err }, 'could not read the runner registry');
      } finally {
        this.syncing = undefined;
      }
    })();
    return this.syncing;
  }

  private apply(row: RunnerRecord, now: number): void {
    const at = Date.parse(row.lastHeartbeatAt);
    const fresh = now - at < this.opts.timeoutMs;
    const member = this.members.get(row.id);
    if (!row.url || !fresh) {
      if (member && !fresh)
        this.lose(row.id, `no heartbeat for ${Math.round((now - at) / 1000)} s (ASH_RUNNER_TIMEOUT_MS)`);
      return;
    }
    if (member && member.url !== row.url) this.lose(row.id, 'it registered again at another URL');
    let m = this.members.get(row.id);
    if (!m) {
      const client = new HttpRunnerClient({
        ...this.opts.client,
        runnerId: row.id,
        url: row.url,
        onBroken: (reason) => this.lose(row.id, reason),
      });
      m = { client, url: row.url, labels: row.labels, draining: row.draining, lastHeartbeatAt: at };
      this.members.set(row.id, m);
      const member = m;
      this.opts.router.add({
        id: row.id,
        local: false,
        client,
        labels: row.labels,
        draining: () => member.draining || (member.client.lastReport?.draining ?? false),
      });
      this.opts.log.info({ runner: row.id, url: row.url, labels: row.labels }, 'runner joined');
    }
    m.labels = row.labels;
    m.client.registeredMax = row.maxSandboxes;
    m.draining = row.draining;
    m.lastHeartbeatAt = Math.max(m.lastHeartbeatAt, at);
    if (row.report) m.client.applyReport(row.report);
  }

  /** The runner is lost (or left): its turns end with `runner_lost`, its sessions go elsewhere. */
  lose(runnerId: string, reason: string): void {
    const m = this.members.get(runnerId);
    if (!m) return;
    this.members.delete(runnerId);
    const sessions = [...new Set([...m.client.lose(reason), ...this.opts.router.remove(runnerId)])];
    this.opts.log.warn({ runner: runnerId, reason, sessions: sessions.length }, 'runner lost');
    void m.client.shutdown();
    if (sessions.length > 0)
      void this.opts
        .onSessionsLost(runnerId, sessions)
        .catch((err: unknown) =>
          this.opts.log.error({ err, runner: runnerId }, 'could not release the sessions of a lost runner'),
        );
  }
}
