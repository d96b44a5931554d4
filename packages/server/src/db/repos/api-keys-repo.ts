import { and, asc, eq, isNull, lt, or } from 'drizzle-orm';
import type { AshDatabase } from '../client.js';

/** An API key row. `keyHash` is HMAC-SHA256(key, server secret), hex; the key itself is never stored. */
export interface ApiKeyRecord {
  id: string;
  tenantId: string;
  keyHash: string;
  prefix: string;
  label: string | null;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

/** API keys. Revoked keys stay as rows (`revokedAt` set) but are invisible to every read. */
export class ApiKeysRepo {
  constructor(private readonly d: AshDatabase) {}

  async insert(k: Omit<ApiKeyRecord, 'lastUsedAt' | 'revokedAt'>): Promise<ApiKeyRecord> {
    const rows = await this.d.db
      .insert(this.d.t.apiKeys)
      .values({ ...k, lastUsedAt: null, revokedAt: null })
      .returning();
    return rows[0]!;
  }

  /** The unrevoked key with this hash (any tenant): the one lookup authentication makes. */
  async findActiveByHash(keyHash: string): Promise<ApiKeyRecord | undefined> {
    const t = this.d.t.apiKeys;
    const rows = await this.d.db
      .select()
      .from(t)
      .where(and(eq(t.keyHash, keyHash), isNull(t.revokedAt)))
      .limit(1);
    return rows[0];
  }

  /** The key with this hash, revoked or not (any tenant). */
  async findAnyByHash(keyHash: string): Promise<ApiKeyRecord | undefined> {
    const t = this.d.t.apiKeys;
    const rows = await this.d.db.select().from(t).where(eq(t.keyHash, keyHash)).limit(1);
    return rows[0];
  }

  /** The tenant's unrevoked keys, oldest first. */
  async list(tenantId: string): Promise<ApiKeyRecord[]> {
    const t = this.d.t.apiKeys;
    return this.d.db
      .select()
      .from(t)
      .where(and(eq(t.tenantId, tenantId), isNull(t.revokedAt)))
      .orderBy(asc(t.createdAt), asc(t.id));
  }

  /** True when the tenant has at least one unrevoked key. */
  async hasActive(tenantId: string): Promise<boolean> {
    const t = this.d.t.apiKeys;
    const rows = await this.d.db
      .select({ id: t.id })
      .from(t)
      .where(and(eq(t.tenantId, tenantId), isNull(t.revokedAt)))
      .limit(1);
    return rows.length > 0;
  }

  /** Revokes the tenant's key. False when there is no such unrevoked key of this tenant. */
  async revoke(tenantId: string, id: string, now: string): Promise<boolean> {
    const t = this.d.t.apiKeys;
    const rows = await this.d.db
      .update(t)
      .set({ revokedAt: now })
      .where(and(eq(t.tenantId, tenantId), eq(t.id, id), isNull(t.revokedAt)))
      .returning({ id: t.id });
    return rows.length > 0;
  }

  /**
   * Records a use, unless one was recorded after `notAfter` already (so several servers sharing
   * the database write at most once per interval per key).
   */
  async touch(id: string, now: string, notAfter: string): Promise<void> {
    const t = this.d.t.apiKeys;
    await this.d.db
      .update(t)
      .set({ lastUsedAt: now })
      .where(and(eq(t.id, id), or(isNull(t.lastUsedAt), lt(t.lastUsedAt, notAfter))));
  }
}
