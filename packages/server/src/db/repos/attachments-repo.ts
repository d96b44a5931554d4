import { and, asc, eq } from 'drizzle-orm';
import type { AshDatabase } from '../client.js';

/** An attachment row. `filename` is the name as uploaded; `storedName` the sanitised one on disk. */
export interface AttachmentRecord {
  id: string;
  tenantId: string;
  sessionId: string;
  messageId: string | null;
  filename: string;
  storedName: string;
  mimeType: string;
  size: number;
  sha256: string;
  storageKey: string;
  createdAt: string;
}

/** Attachments of sessions. Every read is scoped by tenant. */
export class AttachmentsRepo {
  constructor(private readonly d: AshDatabase) {}

  async insert(a: AttachmentRecord): Promise<AttachmentRecord> {
    const rows = await this.d.db.insert(this.d.t.attachments).values(a).returning();
    return rows[0]!;
  }

  async get(tenantId: string, id: string): Promise<AttachmentRecord | undefined> {
    const t = this.d.t.attachments;
    const rows = await this.d.db
      .select()
      .from(t)
      .where(and(eq(t.tenantId, tenantId), eq(t.id, id)))
      .limit(1);
    return rows[0];
  }

  /** A session's attachments, oldest first. */
  async listBySession(tenantId: string, sessionId: string): Promise<AttachmentRecord[]> {
    const t = this.d.t.attachments;
    return this.d.db
      .select()
      .from(t)
      .where(and(eq(t.tenantId, tenantId), eq(t.sessionId, sessionId)))
      .orderBy(asc(t.createdAt), asc(t.id));
  }

  async delete(tenantId: string, id: string): Promise<boolean> {
    const t = this.d.t.attachments;
    const rows = await this.d.db
      .delete(t)
      .where(and(eq(t.tenantId, tenantId), eq(t.id, id)))
      .returning({ id: t.id });
    return rows.length > 0;
  }
}
