import { and, asc, desc, eq, sql } from 'drizzle-orm';
import type { AshDatabase } from '../client.js';
import { parseJsonColumn } from './json.js';

/** A prompt version of an agent, JSON columns parsed. */
export interface AgentVersionRecord {
  id: string;
  tenantId: string;
  agentName: string;
  versionNumber: number;
  name: string;
  systemPrompt: string | null;
  releaseNotes: string | null;
  isActive: boolean;
  knowledgeFiles: string[];
  createdAt: string;
  updatedAt: string;
}

type Row = AshDatabase['t']['agentVersions']['$inferSelect'];

function fromRow(r: Row): AgentVersionRecord {
  return {
    ...r,
    isActive: r.isActive === 1,
    knowledgeFiles: parseJsonColumn<string[]>(r.knowledgeFiles, []),
  };
}

/** Prompt versions, unique by (tenant, agent, number). */
export class AgentVersionsRepo {
  constructor(private readonly d: AshDatabase) {}

  async list(tenantId: string, agentName: string): Promise<AgentVersionRecord[]> {
    const t = this.d.t.agentVersions;
    const rows = await this.d.db
      .select()
      .from(t)
      .where(and(eq(t.tenantId, tenantId), eq(t.agentName, agentName)))
      .orderBy(asc(t.versionNumber));
    return rows.map(fromRow);
  }

  /** By number, or by id when `ref` is not an integer. */
  async get(tenantId: string, agentName: string, ref: string): Promise<AgentVersionRecord | undefined> {
    const t = this.d.t.agentVersions;
    const key = /^\d{1,9}$/.test(ref) ? eq(t.versionNumber, Number(ref)) : eq(t.id, ref);
    const rows = await this.d.db
      .select()
      .from(t)
      .where(and(eq(t.tenantId, tenantId), eq(t.agentName, agentName), key))
      .limit(1);
    return rows[0] ? fromRow(rows[0]) : undefined;
  }

  async active(tenantId: string, agentName: string): Promise<AgentVersionRecord | undefined> {
    const t = this.d.t.agentVersions;
    const rows = await this.d.db
      .select()
      .from(t)
      .where(and(eq(t.tenantId, tenantId), eq(t.agentName, agentName), eq(t.isActive, 1)))
      .orderBy(desc(t.versionNumber))
      .limit(1);
    return rows[0] ? fromRow(rows[0]) : undefined;
  }

  /**
   * Inserts a version with the next number. Two concurrent inserts may pick the same number: the
   * unique index refuses the second, which retries.
   */
  async insert(
    v: Omit<AgentVersionRecord, 'versionNumber' | 'name'> & { name: string | undefined },
  ): Promise<AgentVersionRecord> {
    const t = this.d.t.agentVersions;
    for (let attempt = 0; ; attempt++) {
      const max = await this.d.db
        .select({ n: sql<number>`coalesce(max(${t.versionNumber}), 0)` })
        .from(t)
        .where(and(eq(t.tenantId, v.tenantId), eq(t.agentName, v.agentName)));
      const versionNumber = Number(max[0]?.n ?? 0) + 1;
      try {
        const rows = await this.d.db
          .insert(t)
          .values({
            ...v,
            versionNumber,
            name: v.name ?? `v${versionNumber}`,
            isActive: v.isActive ? 1 : 0,
            knowledgeFiles: JSON.stringify(v.knowledgeFiles),
          })
          .returning();
        return fromRow(rows[0]!);
      } catch (err) {
        if (attempt >= 3) throw err;
      }
    }
  }

  async update(
    tenantId: string,
    id: string,
    patch: Partial<Pick<AgentVersionRecord, 'name' | 'systemPrompt' | 'releaseNotes' | 'knowledgeFiles'>> & {
      updatedAt: string;
    },
  ): Promise<AgentVersionRecord | undefined> {
    const t = this.d.t.agentVersions;
    const { knowledgeFiles, ...rest } = patch;
    const rows = await this.d.db
      .update(t)
      .set({ ...rest, ...(knowledgeFiles ? { knowledgeFiles: JSON.stringify(knowledgeFiles) } : {}) })
      .where(and(eq(t.tenantId, tenantId), eq(t.id, id)))
      .returning();
    return rows[0] ? fromRow(rows[0]) : undefined;
  }

  async delete(tenantId: string, id: string): Promise<boolean> {
    const t = this.d.t.agentVersions;
    const rows = await this.d.db
      .delete(t)
      .where(and(eq(t.tenantId, tenantId), eq(t.id, id)))
      .returning({ id: t.id });
    return rows.length > 0;
  }

  /** Makes `id` the only active version of its agent. */
  async activate(tenantId: string, agentName: string, id: string, now: string): Promise<void> {
    const t = this.d.t.agentVersions;
    await this.d.db
      .update(t)
      .set({ isActive: 0, updatedAt: now })
      .where(and(eq(t.tenantId, tenantId), eq(t.agentName, agentName), eq(t.isActive, 1)));
    await this.d.db
      .update(t)
      .set({ isActive: 1, updatedAt: now })
      .where(and(eq(t.tenantId, tenantId), eq(t.id, id)));
  }

  /** Removes every version of an agent (the agent is deleted). */
  async deleteAgent(tenantId: string, agentName: string): Promise<void> {
    const t = this.d.t.agentVersions;
    await this.d.db.delete(t).where(and(eq(t.tenantId, tenantId), eq(t.agentName, agentName)));
  }
}
