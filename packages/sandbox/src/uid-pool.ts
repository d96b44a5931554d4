import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** Default host uid range for sandboxes (`ASH_SANDBOX_UID_RANGE`): 65536 ids above the usual users. */
export const DEFAULT_SANDBOX_UID_RANGE = { first: 200_000, last: 265_535 } as const;

/** Where servers record which uids they hand out: one file per uid, holding the owner's pid. */
export const DEFAULT_UID_LOCK_DIR = '/run/ash-sandbox-uids';

/**
 * Hands out one host uid (gid = uid) per live sandbox from a range, so the files and processes of
 * one sandbox are foreign to every other, even outside the namespaces. Several servers on one
 * host share the range: a uid is taken by creating `<lockDir>/<uid>` exclusively (holding the
 * server's pid); a file whose pid is no longer alive is taken over (its server crashed).
 */
export class UidPool {
  private readonly held = new Set<number>();
  private next: number;

  constructor(
    private readonly range: { first: number; last: number },
    private readonly lockDir: string = DEFAULT_UID_LOCK_DIR,
  ) {
    if (!(range.first > 0 && range.last >= range.first)) throw new Error('invalid sandbox uid range');
    mkdirSync(lockDir, { recursive: true, mode: 0o700 });
    // Start at a random place: servers starting together do not all race for the same first uids.
    this.next = range.first + Math.floor(Math.random() * (range.last - range.first + 1));
  }

  /**
   * Takes a free uid.
   * @throws Error when every uid of the range is in use.
   */
  acquire(): number {
    const size = this.range.last - this.range.first + 1;
    for (let i = 0; i < size; i++) {
      const uid = this.next;
      this.next = uid >= this.range.last ? this.range.first : uid + 1;
      if (this.held.has(uid)) continue;
      if (this.tryLock(uid)) {
        this.held.add(uid);
        return uid;
      }
    }
    throw new Error(`no free sandbox uid in ${this.range.first}-${this.range.last}`);
  }

  /** Gives a uid back (its sandbox stopped). */
  release(uid: number): void {
    if (!this.held.delete(uid)) return;
    try {
      unlinkSync(join(this.lockDir, String(uid)));
    } catch {
      // already gone
    }
  }

  /** Releases every uid this pool holds (server shutdown). */
  releaseAll(): void {
    for (const uid of [...this.held]) this.release(uid);
  }

  private tryLock(uid: number): boolean {
    const file = join(this.lockDir, String(uid));
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(file, 'wx', 0o600);
        writeSync(fd, String(process.pid));
        closeSync(fd);
        return true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      let pid = 0;
      try {
        pid = Number.parseInt(readFileSync(file, 'utf8'), 10);
      } catch {
        continue; // released meanwhile
      }
      if (pid > 0 && alive(pid)) return false;
      try {
        unlinkSync(file); // its server is gone
      } catch {
        // another server took it over first
      }
    }
    return false;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
