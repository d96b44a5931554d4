import { statfs } from 'node:fs/promises';
import { AppError } from '../../errors.js';

/** Free space of the data dir as last measured. */
export interface DiskStatus {
  /** MiB available to unprivileged writers (statfs `bavail`), rounded down. */
  freeMb: number;
  /** ASH_MIN_FREE_DISK_MB. */
  minFreeMb: number;
  /** True when `freeMb` is under `minFreeMb`: new work is refused, /health says `degraded`. */
  low: boolean;
}

/**
 * Watches the free space of the data dir (database, workspaces, attachments): below
 * ASH_MIN_FREE_DISK_MB new sessions, turns and uploads are refused with 507
 * `insufficient_storage` before they start, rather than failing half-way. statfs is cached for
 * `cacheMs` (it is cheap, but routes may ask on every request).
 */
export class DiskGuard {
  private last: { at: number; status: DiskStatus } | undefined;

  constructor(
    private readonly dir: string,
    private readonly minFreeMb: number,
    private readonly cacheMs = 500,
  ) {}

  /** The data dir's free space (a statfs failure counts as unknown: never low). */
  async status(): Promise<DiskStatus> {
    const now = Date.now();
    if (this.last && now - this.last.at < this.cacheMs) return this.last.status;
    let freeMb = Number.POSITIVE_INFINITY;
    try {
      const st = await statfs(this.dir);
      freeMb = Math.floor((Number(st.bavail) * Number(st.bsize)) / (1024 * 1024));
    } catch {
      // unknown: do not refuse work on a measuring failure
    }
    const status = { freeMb, minFreeMb: this.minFreeMb, low: this.minFreeMb > 0 && freeMb < this.minFreeMb };
    this.last = { at: now, status };
    return status;
  }

  /** Why the server is degraded, or undefined when there is room. */
  async problem(): Promise<string | undefined> {
    const s = await this.status();
    return s.low
      ? `the data dir has ${s.freeMb} MB free, under ASH_MIN_FREE_DISK_MB=${s.minFreeMb}: new sessions, turns and uploads are refused`
      : undefined;
  }

  /**
   * @param what what is refused, for the message ("a new turn").
   * @throws AppError 507 `insufficient_storage` when free space is under the threshold.
   */
  async assertRoom(what: string): Promise<void> {
    const s = await this.status();
    if (!s.low) return;
    throw new AppError(
      'insufficient_storage',
      `the server's data disk is almost full (${s.freeMb} MB free, ${s.minFreeMb} MB required); ${what} is refused until space is freed`,
      { headers: { 'Retry-After': '30' } },
    );
  }
}
