import { eq } from 'drizzle-orm';
import type { AshDatabase } from '../client.js';

/** A server sharing the database: where the others reach it. */
export interface ServerRecord {
  id: string;
  /** Base URL other servers forward requests to (ASH_ADVERTISE_URL). */
  url: string;
  /** Last time it said it is alive (ISO). */
  heartbeatAt: string;
}

/** The directory of servers sharing one database (internal; not tenant-owned). */
export class ServersRepo {
  constructor(private readonly d: AshDatabase) {}

  /** Records (or refreshes) a server's URL and heartbeat. */
  async upsert(r: { id: string; url: string; now: string }): Promise<void> {
    const t = this.d.t.servers;
    await this.d.db
      .insert(t)
      .values({ id: r.id, url: r.url, heartbeatAt: r.now })
      .onConflictDoUpdate({ target: t.id, set: { url: r.url, heartbeatAt: r.now } });
  }

  async get(id: string): Promise<ServerRecord | undefined> {
    const t = this.d.t.servers;
    const rows = await this.d.db.select().from(t).where(eq(t.id, id)).limit(1);
    return rows[0];
  }
}
