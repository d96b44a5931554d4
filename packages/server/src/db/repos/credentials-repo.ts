import { and, asc, eq } from 'drizzle-orm';
import type { CredentialType } from '@ash-ai/shared';
import type { AshDatabase } from '../client.js';

/**
 * A credential row: the value is only ever stored encrypted (`ciphertext`, `iv`, `authTag`,
 * base64), under a key derived from the master key with `salt` and the KDF named in `kdf`.
 */
export interface CredentialRecord {
  id: string;
  tenantId: string;
  type: CredentialType;
  label: string | null;
  ciphertext: string;
  iv: string;
  authTag: string;
  salt: string;
  kdf: string;
  active: boolean;
  createdAt: string;
  updatedAt: string;
  lastUsedAt: string | null;
}

/** The encrypted part of a credential. */
export type SealedValue = Pick<CredentialRecord, 'ciphertext' | 'iv' | 'authTag' | 'salt' | 'kdf'>;

type Row = AshDatabase['t']['credentials']['$inferSelect'];

function fromRow(r: Row): CredentialRecord {
  return { ...r, type: r.type as CredentialType, active: r.active === 1 };
}

/** Credentials, every read and write scoped by tenant (except the key rotation's full scan). */
export class CredentialsRepo {
  constructor(private readonly d: AshDatabase) {}

  async insert(c: Omit<CredentialRecord, 'lastUsedAt'>): Promise<CredentialRecord> {
    const rows = await this.d.db
      .insert(this.d.t.credentials)
      .values({ ...c, active: c.active ? 1 : 0, lastUsedAt: null })
      .returning();
    return fromRow(rows[0]!);
  }

  async get(tenantId: string, id: string): Promise<CredentialRecord | undefined> {
    const t = this.d.t.credentials;
    const rows = await this.d.db
      .select()
      .from(t)
      .where(and(eq(t.tenantId, tenantId), eq(t.id, id)))
      .limit(1);
    return rows[0] ? fromRow(rows[0]) : undefined;
  }

  async list(tenantId: string): Promise<CredentialRecord[]> {
    const t = this.d.t.credentials;
    const rows = await this.d.db
      .select()
      .from(t)
      .where(eq(t.tenantId, tenantId))
      .orderBy(asc(t.createdAt), asc(t.id));
    return rows.map(fromRow);
  }

  /** Every credential of every tenant (key rotation, master-key self-check). */
  async listAll(): Promise<CredentialRecord[]> {
    const t = this.d.t.credentials;
    const rows = await this.d.db.select().from(t).orderBy(asc(t.createdAt), asc(t.id));
    return rows.map(fromRow);
  }

  async update(
    tenantId: string,
    id: string,
    patch: { label?: string | null; active?: boolean; now: string },
  ): Promise<CredentialRecord | undefined> {
    const t = this.d.t.credentials;
    const set: Partial<Row> = { updatedAt: patch.now };
    if (patch.label !== undefined) set.label = patch.label;
    if (patch.active !== undefined) set.active = patch.active ? 1 : 0;
    const rows = await this.d.db
      .update(t)
      .set(set)
      .where(and(eq(t.tenantId, tenantId), eq(t.id, id)))
      .returning();
    return rows[0] ? fromRow(rows[0]) : undefined;
  }

  async delete(tenantId: string, id: string): Promise<boolean> {
    const t = this.d.t.credentials;
    const rows = await this.d.db
      .delete(t)
      .where(and(eq(t.tenantId, tenantId), eq(t.id, id)))
      .returning({ id: t.id });
    return rows.length > 0;
  }

  /**
   * Replaces the sealed value, but only if it is still `expected` (compare-and-swap on the
   * ciphertext, so a concurrent change is never overwritten). True when the row was updated.
   */
  async reseal(id: string, expected: SealedValue, next: SealedValue, now: string): Promise<boolean> {
    const t = this.d.t.credentials;
    const rows = await this.d.db
      .update(t)
      .set({ ...next, updatedAt: now })
      .where(and(eq(t.id, id), eq(t.ciphertext, expected.ciphertext), eq(t.iv, expected.iv)))
      .returning({ id: t.id });
    return rows.length > 0;
  }

  /** Records that a session started with the credential. */
  async touch(tenantId: string, id: string, now: string): Promise<void> {
    const t = this.d.t.credentials;
    await this.d.db
      .update(t)
      .set({ lastUsedAt: now })
      .where(and(eq(t.tenantId, tenantId), eq(t.id, id)));
  }
}
