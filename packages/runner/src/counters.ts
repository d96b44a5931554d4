/** Counters a runner's pool keeps for /health and /metrics (in memory, per process). */
export interface PoolCounters {
  /** Sessions created on a warm spare / that found none. */
  preWarmHits: number;
  preWarmMisses: number;
  /** Sandboxes stopped to make room or because they were idle (spares included). */
  evictions: number;
  /** Of those, session sandboxes stopped for being idle. */
  idleSweeps: number;
  sandboxStarts: number;
  sandboxStartFailures: number;
  limitHits: number;
}

/** All counters at zero. */
export function emptyPoolCounters(): PoolCounters {
  return {
    preWarmHits: 0,
    preWarmMisses: 0,
    evictions: 0,
    idleSweeps: 0,
    sandboxStarts: 0,
    sandboxStartFailures: 0,
    limitHits: 0,
  };
}
