/** Counters the pool keeps for /health and /metrics (in memory, per server process). */
export class PoolCounters {
  preWarmHits = 0;
  preWarmMisses = 0;
  resumeWarmHits = 0;
  resumeColdHits = 0;
  evictions = 0;
  idleSweeps = 0;
  sandboxStarts = 0;
  sandboxStartFailures = 0;
  limitHits = 0;
}
