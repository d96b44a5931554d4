import type {
  RegisterRunnerBody,
  RunnerEvictedBody,
  RunnerHeartbeatAnswer,
  RunnerHeartbeatBody,
  RunnerListResponse,
} from '@ash-ai/shared';
import type { Logger } from 'pino';
import type { Repos } from '../../db/repos/index.js';
import { AppError, notFound } from '../../errors.js';
import type { RunnerFleet } from './runner-fleet.js';

export interface RunnerServiceDeps {
  repos: Repos;
  /** The runners this server places on (none: a server that only keeps the registry). */
  fleet?: RunnerFleet;
  /** Whether this server hosts sandboxes itself (ASH_LOCAL_RUNNER). */
  hasLocal: boolean;
  log: Logger;
}

/** Session statuses in which a session may have a sandbox on a runner. */
const RUNNING = new Set(['active', 'starting']);

/**
 * The runner registry behind the internal runner routes: runners register (with the URL
 * coordinators call them at and their labels), heartbeat with their report, tell what they
 * evicted, deregister; operators list and drain them.
 */
export class RunnerService {
  private readonly repos: Repos;
  private readonly fleet: RunnerFleet | undefined;
  constructor(private readonly deps: RunnerServiceDeps) {
    this.repos = deps.repos;
    this.fleet = deps.fleet;
  }

  async register(body: RegisterRunnerBody): Promise<void> {
    const now = new Date().toISOString();
    await this.repos.runners.upsert({
      id: body.runnerId,
      host: body.host,
      port: body.port,
      maxSandboxes: body.maxSandboxes ?? 100,
      url: body.url ?? null,
      labels: body.labels ?? {},
      now,
    });
    const row = await this.repos.runners.get(body.runnerId);
    if (row) this.fleet?.observe(row);
  }

  /**
   * Records the heartbeat and the report; answers which reported sessions are no longer the
   * runner's (their lease moved on, they ended or were paused: it stops them without a
   * checkpoint) and whether it must drain.
   * @throws AppError 404 `resource_not_found` when the runner is not registered (it should register again).
   */
  async heartbeat(body: RunnerHeartbeatBody): Promise<RunnerHeartbeatAnswer> {
    const report = body.report;
    const beat = await this.repos.runners.heartbeat(
      body.runnerId,
      report?.live ?? body.activeCount,
      new Date().toISOString(),
      report,
    );
    if (!beat) throw notFound('resource_not_found', 'Runner', body.runnerId);
    const row = await this.repos.runners.get(body.runnerId);
    if (row) this.fleet?.observe(row);
    const reported = report?.sessions ?? [];
    const leases = new Map(
      (await this.repos.sessions.leases(reported.map((s) => s.id))).map((l) => [l.id, l]),
    );
    const foreign = reported
      .filter((s) => {
        const l = leases.get(s.id);
        return !l || l.runnerId !== body.runnerId || l.generation !== s.generation || !RUNNING.has(l.status);
      })
      .map((s) => s.id);
    return { ok: true, foreign, drain: beat.draining };
  }

  /**
   * The runner stopped a session's sandbox on its own (idle, capacity, drain) after storing its
   * checkpoint: the session is released (paused) — through the session engine when this server
   * placed it, else in the database.
   * @throws AppError 409 `lease_lost` when the session's lease is not the runner's any more.
   */
  async evicted(runnerId: string, body: RunnerEvictedBody): Promise<void> {
    const [lease] = await this.repos.sessions.leases([body.sessionId]);
    if (!lease || lease.runnerId !== runnerId || lease.generation !== body.generation)
      throw new AppError(
        'lease_lost',
        `the lease of session '${body.sessionId}' is not this runner's any more`,
      );
    const client = this.fleet?.client(runnerId);
    if (client?.hosts(body.sessionId)) {
      const listener = client.eventListener;
      client.forget(body.sessionId);
      await this.repos.sessions.leaveRunner(body.sessionId, body.generation);
      await listener?.evicted(body.sessionId, body.reason === 'idle' ? 'idle' : 'capacity');
      return;
    }
    await this.repos.sessions.leaveRunner(body.sessionId, body.generation);
  }

  /**
   * Asks a runner to drain: it takes no new session (at once, on every server), checkpoints and
   * releases its sessions and exits when empty (told by its next heartbeat answer, and directly
   * when this server reaches it).
   * @throws AppError 404 `resource_not_found`.
   */
  async drain(runnerId: string): Promise<void> {
    if (!(await this.repos.runners.setDraining(runnerId)))
      throw notFound('resource_not_found', 'Runner', runnerId);
    const row = await this.repos.runners.get(runnerId);
    if (row) this.fleet?.observe(row);
    await this.fleet
      ?.client(runnerId)
      ?.drain()
      .catch((err: unknown) =>
        this.deps.log.warn(
          { err, runner: runnerId },
          'could not reach the runner to drain it; its next heartbeat tells it',
        ),
      );
  }

  /** Removes the runner; its running sessions become `paused`. @throws AppError 404 `resource_not_found`. */
  async deregister(runnerId: string): Promise<void> {
    this.fleet?.lose(runnerId, 'it deregistered');
    if (!(await this.repos.runners.remove(runnerId, new Date().toISOString())))
      throw notFound('resource_not_found', 'Runner', runnerId);
  }

  async list(): Promise<RunnerListResponse> {
    const rows = await this.repos.runners.list();
    return {
      runners: rows.map((r) => ({
        runnerId: r.id,
        host: r.host,
        port: r.port,
        active: r.activeCount,
        max: r.maxSandboxes,
        lastHeartbeat: r.lastHeartbeatAt,
        registeredAt: r.registeredAt,
      })),
      count: rows.length,
      hasLocal: this.deps.hasLocal,
    };
  }
}
