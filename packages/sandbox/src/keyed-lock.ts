/**
 * One holder at a time per key, in arrival order (a promise chain per key). Used so that the host
 * never reads or writes a session's files while its sandbox disk is being filled or emptied.
 */
export class KeyedLock {
  private readonly tails = new Map<string, Promise<void>>();

  /** Waits for the key, then returns the function that releases it (call it exactly once). */
  async acquire(key: string): Promise<() => void> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => {
      release = r;
    });
    const tail = prev.then(() => mine);
    this.tails.set(key, tail);
    await prev;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    };
  }

  /** Runs `fn` holding the key. */
  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const release = await this.acquire(key);
    try {
      return await fn();
    } finally {
      release();
    }
  }
}
