import { and, asc, eq, sql, type Placeholder } from 'drizzle-orm';
import type { AshDatabase } from '../client.js';
import { parseJsonColumn } from './json.js';

/** An agent row, JSON columns parsed. */
export interface AgentRecord {
  id: string;
  tenantId: string;
  name: string;
  version: number;
  description: string | null;
  env: Record<string, string>;
  config: Record<string, unknown>;
  fileCount: number;
  sizeBytes: number;
  storageKey: string | null;
  createdAt: string;
  updatedAt: string;
}

type Row = AshDatabase['t']['agents']['$inferSelect'];

function fromRow(r: Row): AgentRecord {
  return {
    ...r,
    env: parseJsonColumn<Record<string, string>>(r.env, {}),
    config: parseJsonColumn<Record<string, unknown>>(r.config, {}),
  };
}

/** Agents, unique by (tenant, name). */
export class AgentsRepo {
  /** SQLite only: {@link get}, prepared once. */
  private getOnce: { all(p: { tenantId: string; name: string }): Row[] } | undefined;

  constructor(private readonly d: AshDatabase) {}

  async get(tenantId: string, name: string): Promise<AgentRecord | undefined> {
    // Every turn reads its agent (its options may have changed): on SQLite the statement is
    // prepared once (see SessionsRepo); Postgres keeps the builder.
    if (this.d.dialect === 'sqlite') {
      this.getOnce ??= this.getQuery(sql.placeholder('tenantId'), sql.placeholder('name')).prepare();
      const row = this.getOnce.all({ tenantId, name })[0];
      return row ? fromRow(row) : undefined;
    }
    const rows = await this.getQuery(tenantId, name);
    return rows[0] ? fromRow(rows[0]) : undefined;
  }

  private getQuery(tenantId: string | Placeholder, name: string | Placeholder) {
    const t = this.d.t.agents;
    return this.d.db
      .select()
      .from(t)
      .where(and(eq(t.tenantId, tenantId), eq(t.name, name)))
      .limit(1);
  }

  async list(tenantId: string): Promise<AgentRecord[]> {
    const t = this.d.t.agents;
    const rows = await this.d.db.select().from(t).where(eq(t.tenantId, tenantId)).orderBy(asc(t.name));
    return rows.map(fromRow);
  }

  /** Every agent of every tenant (server start: warm pools). */
  async listAllInternal(): Promise<AgentRecord[]> {
    const rows = await this.d.db.select().from(this.d.t.agents);
    return rows.map(fromRow);
  }

  /**
   * Creates the agent at version 1, or bumps an existing one's version and replaces its fields,
   * atomically. Returns the stored record (with the version it got).
   */
  async upsert(
    input: Omit<AgentRecord, 'version' | 'createdAt' | 'updatedAt' | 'id' | 'storageKey'> & {
      id: string;
      now: string;
      /** Object storage key of this version's archive (null: not stored). */
      storageKey?: string | null;
    },
  ): Promise<AgentRecord> {
    const t = this.d.t.agents;
    const rows = await this.d.db
      .insert(t)
      .values({
        id: input.id,
        tenantId: input.tenantId,
        name: input.name,
        version: 1,
        description: input.description,
        env: JSON.stringify(input.env),
        config: JSON.stringify(input.config),
        fileCount: input.fileCount,
        sizeBytes: input.sizeBytes,
        storageKey: input.storageKey ?? null,
        createdAt: input.now,
        updatedAt: input.now,
      })
      .onConflictDoUpdate({
        target: [t.tenantId, t.name],
        set: {
          version: sql`${t.version} + 1`,
          description: input.description,
          env: JSON.stringify(input.env),
          config: JSON.stringify(input.config),
          fileCount: input.fileCount,
          sizeBytes: input.sizeBytes,
          storageKey: input.storageKey ?? null,
          updatedAt: input.now,
        },
      })
      .returning();
    return fromRow(rows[0]!);
  }

  /**
   * Publishes a new version of an agent's files if it is still at `expectedVersion` (a single
   * conditional UPDATE: two concurrent edits cannot both win). Returns the updated record, or
   * undefined when the agent is gone or was changed meanwhile.
   */
  async bumpVersion(
    tenantId: string,
    name: string,
    expectedVersion: number,
    set: { fileCount: number; sizeBytes: number; storageKey: string | null; now: string },
  ): Promise<AgentRecord | undefined> {
    const t = this.d.t.agents;
    const rows = await this.d.db
      .update(t)
      .set({
        version: sql`${t.version} + 1`,
        fileCount: set.fileCount,
        sizeBytes: set.sizeBytes,
        storageKey: set.storageKey,
        updatedAt: set.now,
      })
      .where(and(eq(t.tenantId, tenantId), eq(t.name, name), eq(t.version, expectedVersion)))
      .returning();
    return rows[0] ? fromRow(rows[0]) : undefined;
  }

  /** Updates description/env/config. Returns undefined when the agent does not exist. */
  async update(
    tenantId: string,
    name: string,
    patch: {
      description?: string | null;
      env?: Record<string, string>;
      config?: Record<string, unknown>;
      storageKey?: string | null;
      now: string;
    },
  ): Promise<AgentRecord | undefined> {
    const t = this.d.t.agents;
    const set: Partial<Row> = { updatedAt: patch.now };
    if (patch.description !== undefined) set.description = patch.description;
    if (patch.env !== undefined) set.env = JSON.stringify(patch.env);
    if (patch.config !== undefined) set.config = JSON.stringify(patch.config);
    if (patch.storageKey !== undefined) set.storageKey = patch.storageKey;
    const rows = await this.d.db
      .update(t)
      .set(set)
      .where(and(eq(t.tenantId, tenantId), eq(t.name, name)))
      .returning();
    return rows[0] ? fromRow(rows[0]) : undefined;
  }

  async delete(tenantId: string, name: string): Promise<boolean> {
    const t = this.d.t.agents;
    const rows = await this.d.db
      .delete(t)
      .where(and(eq(t.tenantId, tenantId), eq(t.name, name)))
      .returning({ id: t.id });
    return rows.length > 0;
  }
}
