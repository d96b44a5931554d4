import { and, asc, desc, eq, isNull, sql } from 'drizzle-orm';
import type { AshDatabase } from '../client.js';
import { parseJsonColumn } from './json.js';

/** Kinds of {@link ManagedObjectRecord}. */
export type ManagedKind = 'environment' | 'agent' | 'session' | 'tool_request';

/** One stored Managed Agents (`/v1`) object version, `data` parsed. */
export interface ManagedObjectRecord<T = Record<string, unknown>> {
  tenantId: string;
  kind: ManagedKind;
  id: string;
  /** 0 for unversioned kinds; agent config versions count from 1. */
  version: number;
  data: T;
  createdAt: string;
  updatedAt: string;
  archivedAt: string | null;
}

type Row = AshDatabase['t']['managedObjects']['$inferSelect'];

function fromRow<T>(r: Row): ManagedObjectRecord<T> {
  return { ...r, kind: r.kind as ManagedKind, data: parseJsonColumn<T>(r.data, {} as T) };
}

/** The `managed_objects` table: JSON documents keyed by (tenant, kind, id, version). */
export class ManagedObjectsRepo {
  constructor(private readonly d: AshDatabase) {}

  /** The given version, or the latest one when `version` is omitted. */
  async get<T>(
    tenantId: string,
    kind: ManagedKind,
    id: string,
    version?: number,
  ): Promise<ManagedObjectRecord<T> | undefined> {
    const t = this.d.t.managedObjects;
    const conds = [eq(t.tenantId, tenantId), eq(t.kind, kind), eq(t.id, id)];
    if (version !== undefined) conds.push(eq(t.version, version));
    const rows = await this.d.db
      .select()
      .from(t)
      .where(and(...conds))
      .orderBy(desc(t.version))
      .limit(1);
    return rows[0] ? fromRow<T>(rows[0]) : undefined;
  }

  /** Every version of one object, oldest first. */
  async versions<T>(tenantId: string, kind: ManagedKind, id: string): Promise<ManagedObjectRecord<T>[]> {
    const t = this.d.t.managedObjects;
    const rows = await this.d.db
      .select()
      .from(t)
      .where(and(eq(t.tenantId, tenantId), eq(t.kind, kind), eq(t.id, id)))
      .orderBy(asc(t.version));
    return rows.map((r) => fromRow<T>(r));
  }

  /**
   * The latest version of each object of a kind, newest created first, `offset`/`limit` paged.
   * Archived ones only with `includeArchived`.
   */
  async list<T>(
    tenantId: string,
    kind: ManagedKind,
    q: { offset: number; limit: number; includeArchived: boolean },
  ): Promise<ManagedObjectRecord<T>[]> {
    const t = this.d.t.managedObjects;
    const latest = sql`${t.version} = (select max(m2.version) from managed_objects m2 where m2.tenant_id = ${t.tenantId} and m2.kind = ${t.kind} and m2.id = ${t.id})`;
    const conds = [eq(t.tenantId, tenantId), eq(t.kind, kind), latest];
    if (!q.includeArchived) conds.push(isNull(t.archivedAt));
    const rows = await this.d.db
      .select()
      .from(t)
      .where(and(...conds))
      .orderBy(desc(t.createdAt), desc(t.id))
      .limit(q.limit)
      .offset(q.offset);
    return rows.map((r) => fromRow<T>(r));
  }

  /** Inserts a version. @throws when (tenant, kind, id, version) exists (unique index). */
  async insert<T>(r: ManagedObjectRecord<T>): Promise<void> {
    await this.d.db.insert(this.d.t.managedObjects).values({ ...r, data: JSON.stringify(r.data) });
  }

  /** Replaces data / archivedAt of one version. */
  async update<T>(
    tenantId: string,
    kind: ManagedKind,
    id: string,
    version: number,
    patch: { data?: T; archivedAt?: string | null; updatedAt: string },
  ): Promise<void> {
    const t = this.d.t.managedObjects;
    const set: Partial<Row> = { updatedAt: patch.updatedAt };
    if (patch.data !== undefined) set.data = JSON.stringify(patch.data);
    if (patch.archivedAt !== undefined) set.archivedAt = patch.archivedAt;
    await this.d.db
      .update(t)
      .set(set)
      .where(and(eq(t.tenantId, tenantId), eq(t.kind, kind), eq(t.id, id), eq(t.version, version)));
  }

  /** Deletes every version of one object. */
  async delete(tenantId: string, kind: ManagedKind, id: string): Promise<void> {
    const t = this.d.t.managedObjects;
    await this.d.db.delete(t).where(and(eq(t.tenantId, tenantId), eq(t.kind, kind), eq(t.id, id)));
  }
}
