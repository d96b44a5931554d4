import type { RegisterRunnerBody, RunnerHeartbeatBody, RunnerListResponse } from '@ash-ai/shared';
import type { Repos } from '../../db/repos/index.js';
import { notFound } from '../../errors.js';

/**
 * The runner registry behind the internal runner routes: runners register, heartbeat and
 * deregister; operators list them. (Routing sessions to runners is not part of this server yet:
 * every session runs on the server that owns it.)
 */
export class RunnerService {
  constructor(private readonly repos: Repos) {}

  async register(body: RegisterRunnerBody): Promise<void> {
    await this.repos.runners.upsert({
      id: body.runnerId,
      host: body.host,
      port: body.port,
      maxSandboxes: body.maxSandboxes ?? 100,
      now: new Date().toISOString(),
    });
  }

  /** @throws AppError 404 `resource_not_found` when the runner is not registered (it should register again). */
  async heartbeat(body: RunnerHeartbeatBody): Promise<void> {
    if (!(await this.repos.runners.heartbeat(body.runnerId, body.activeCount, new Date().toISOString())))
      throw notFound('resource_not_found', 'Runner', body.runnerId);
  }

  /** Removes the runner; its running sessions become `paused`. @throws AppError 404 `resource_not_found`. */
  async deregister(runnerId: string): Promise<void> {
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
      hasLocal: true,
    };
  }
}
