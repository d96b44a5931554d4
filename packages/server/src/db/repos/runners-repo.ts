import { and, asc, eq, inArray } from 'drizzle-orm';
import type { RunnerReport } from '@ash-ai/shared';
import type { AshDatabase } from '../client.js';
import { parseJsonColumn } from './json.js';

/** A registered runner node. */
export interface RunnerRecord {
  id: string;
  host: string;
  port: number;
  maxSandboxes: number;
  activeCount: number;
  lastHeartbeatAt: string;
  registeredAt: string;
  /** Base URL coordinators call it at (null: a runner that gave none; never placed on). */
  url: string | null;
  labels: Record<string, string>;
  /** Its last report (null before the first heartbeat carrying one). */
  report: RunnerReport | null;
  /** An operator asked it to drain. */
  draining: boolean;
}

type Row = AshDatabase['t']['runners']['$inferSelect'];

function fromRow(r: Row): RunnerRecord {
  return {
    ...r,
    labels: parseJsonColumn<Record<string, string>>(r.labels, {}),
    report: parseJsonColumn<RunnerReport | null>(r.report, null),
    draining: Number(r.draining) === 1,
  };
}

/** The runner registry (internal routes only; runners are not tenant-owned). */
export class RunnersRepo {
  constructor(private readonly d: AshDatabase) {}

  /** Registers a runner, or refreshes an existing registration (same id; a drain request stays). */
  async upsert(r: {
    id: string;
    host: string;
    port: number;
    maxSandboxes: number;
    url?: string | null;
    labels?: Record<string, string>;
    now: string;
  }): Promise<void> {
    const t = this.d.t.runners;
    const labels = JSON.stringify(r.labels ?? {});
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
        url: r.url ?? null,
        labels,
      })
      .onConflictDoUpdate({
        target: t.id,
        set: {
          host: r.host,
          port: r.port,
          maxSandboxes: r.maxSandboxes,
          lastHeartbeatAt: r.now,
          url: r.url ?? null,
          labels,
        },
      });
  }

  /**
   * Records a heartbeat (and the runner's report, when it sent one). Returns whether it is
   * draining, or undefined when the runner is not registered (it should register again).
   */
  async heartbeat(
    id: string,
    activeCount: number,
    now: string,
    report?: RunnerReport,
  ): Promise<{ draining: boolean } | undefined> {
    const t = this.d.t.runners;
    const rows = await this.d.db
      .update(t)
      .set({
        activeCount,
        lastHeartbeatAt: now,
        ...(report ? { report: JSON.stringify(report), maxSandboxes: report.maxSandboxes } : {}),
      })
      .where(eq(t.id, id))
      .returning({ draining: t.draining });
    return rows[0] ? { draining: Number(rows[0].draining) === 1 } : undefined;
  }

  /** Marks the runner draining. False when it is not registered. */
  async setDraining(id: string): Promise<boolean> {
    const t = this.d.t.runners;
    const rows = await this.d.db.update(t).set({ draining: 1 }).where(eq(t.id, id)).returning({ id: t.id });
    return rows.length > 0;
  }

  async get(id: string): Promise<RunnerRecord | undefined> {
    const t = this.d.t.runners;
    const rows = await this.d.db.select().from(t).where(eq(t.id, id)).limit(1);
    return rows[0] ? fromRow(rows[0]) : undefined;
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
    return (await this.d.db.select().from(t).orderBy(asc(t.id))).map(fromRow);
  }
}
