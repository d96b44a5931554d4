import { and, asc, eq, inArray } from 'drizzle-orm';
import type { AshDatabase } from '../client.js';

/** A registered runner node. */
export interface RunnerRecord {
  id: string;
  host: string;
  port: number;
  maxSandboxes: number;
  activeCount: number;
  lastHeartbeatAt: string;
  registeredAt: string;
}

/** The runner registry (internal routes only; runners are not tenant-owned). */
export class RunnersRepo {
  constructor(private readonly d: AshDatabase) {}

  /** Registers a runner, or refreshes an existing registration (same id). */
  async upsert(r: {
    id: string;
    host: string;
    port: number;
    maxSandboxes: number;
    now: string;
  }): Promise<void> {
    const t = this.d.t.runners;
    await this.d.db
      .insert(t)
      .values({
        id: r.id,
        host: r.host,
        port: r.port,
        maxSandboxes: r.maxSandboxes,
        activeCount: 0,
        lastHeartbeatAt: r.now,
        registeredAt: r.now,
      })
      .onConflictDoUpdate({
        target: t.id,
        set: { host: r.host, port: r.port, maxSandboxes: r.maxSandboxes, lastHeartbeatAt: r.now },
      });
  }

  /** Records a heartbeat. False when the runner is not registered (it should register again). */
  async heartbeat(id: string, activeCount: number, now: string): Promise<boolean> {
    const t = this.d.t.runners;
    const rows = await this.d.db
      .update(t)
      .set({ activeCount, lastHeartbeatAt: now })
      .where(eq(t.id, id))
      .returning({ id: t.id });
    return rows.length > 0;
  }

  /**
   * Removes the runner; its sessions that were running lose their process and become `paused`
   * (resumable elsewhere). Returns false when it was not registered.
   */
  async remove(id: string, now: string): Promise<boolean> {
    const s = this.d.t.sessions;
    await this.d.db
      .update(s)
      .set({ status: 'paused', pausedAt: now, runnerId: null })
      .where(and(eq(s.runnerId, id), inArray(s.status, ['active', 'starting'])));
    const t = this.d.t.runners;
    const rows = await this.d.db.delete(t).where(eq(t.id, id)).returning({ id: t.id });
    return rows.length > 0;
  }

  async list(): Promise<RunnerRecord[]> {
    const t = this.d.t.runners;
    return this.d.db.select().from(t).orderBy(asc(t.id));
  }
}
