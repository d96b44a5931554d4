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
 * `cacheMs` (it is cheap, but routes may ask on every request). A request's check
 * ({@link assertRoom}) also takes a reading up to `ampleMs` old when it showed at least twice the
 * threshold free, refreshing it in the background: a statfs (a thread-pool round trip) is then not
 * on the way of every turn. `/health` ({@link status}) always measures once the cache expired.
 */
export class DiskGuard {
  private last: { at: number; status: DiskStatus } | undefined;
  private refreshing: Promise<DiskStatus> | undefined;

  constructor(
    private readonly dir: string,
    private readonly minFreeMb: number,
    private readonly cacheMs = 500,
    private readonly ampleMs = 5000,
  ) {}

  /** The data dir's free space (a statfs failure counts as unknown: never low). */
  async status(): Promise<DiskStatus> {
    const now = Date.now();
    if (this.last && now - this.last.at < this.cacheMs) return this.last.status;
    return this.measure();
  }

  private async measure(): Promise<DiskStatus> {
    const at = Date.now();
    let freeMb = Number.POSITIVE_INFINITY;
    try {
      const st = await statfs(this.dir);
      freeMb = Math.floor((Number(st.bavail) * Number(st.bsize)) / (1024 * 1024));
    } catch {
      // unknown: do not refuse work on a measuring failure
    }
    const status = { freeMb, minFreeMb: this.minFreeMb, low: this.minFreeMb > 0 && freeMb < this.minFreeMb };
    if (!this.last || this.last.at <= at) this.last = { at, status };
    return status;
  }

  /** The last reading when it may stand for now (see the class doc), else undefined. */
  private ample(): DiskStatus | undefined {
    const last = this.last;
    if (!last) return undefined;
    const age = Date.now() - last.at;
    if (age < this.cacheMs) return last.status;
    if (age >= this.ampleMs || last.status.freeMb < 2 * this.minFreeMb) return undefined;
    this.refreshing ??= this.measure().finally(() => {
      this.refreshing = undefined;
    });
    return last.status;
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
    if (this.minFreeMb <= 0) return; // the guard is off
    const s = this.ample() ?? (await this.status());
    if (!s.low) return;
    throw new AppError(
      'insufficient_storage',
      `the server's data disk is almost full (${s.freeMb} MB free, ${s.minFreeMb} MB required); ${what} is refused until space is freed`,
      { headers: { 'Retry-After': '30' } },
    );
  }
}
