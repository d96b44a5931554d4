/**
 * Per-sandbox resource limits. Units are in the names. `0` disables a limit.
 */
export interface SandboxLimits {
  /** Memory (RSS + page cache, swap included where the kernel allows), MiB. cgroup. */
  memoryMb: number;
  /** Processes and threads, cgroup `pids.max`. The Claude process alone needs about 16. */
  maxProcesses: number;
  /**
   * CPU share in percent of one core (100 = one core), the cgroup CPU quota. The default is two
   * cores: the Claude process starts on several threads, and a one-core quota throttled that
   * start (measured: +10-15% to a cold first turn).
   */
  cpuPercent: number;
  /** Open files per process (RLIMIT_NOFILE). */
  maxOpenFiles: number;
  /** Largest file a process may write, MiB (RLIMIT_FSIZE). */
  maxFileSizeMb: number;
  /** Disk usage of the workspace (allocated blocks), MiB: checked while a turn runs, and for writes through the API. */
  diskMb: number;
}

/** Defaults: generous for coding agents, tight enough to stop runaway tools. */
export const DEFAULT_SANDBOX_LIMITS: SandboxLimits = {
  memoryMb: 2048,
  maxProcesses: 256,
  cpuPercent: 200,
  maxOpenFiles: 4096,
  maxFileSizeMb: 1024,
  diskMb: 4096,
};

/** Which limit a sandbox hit (reported in the `error` event as `limit`). */
export type LimitName =
  | 'memory'
  | 'pids'
  | 'disk'
  | 'fsize'
  | 'nofile'
  | 'egress_connections'
  | 'egress_bytes';

/** Merges overrides (e.g. an agent's config) over defaults, ignoring invalid values. */
export function resolveLimits(
  base: SandboxLimits,
  override: Partial<Record<keyof SandboxLimits, unknown>> | undefined,
): SandboxLimits {
  const out = { ...base };
  if (!override) return out;
  for (const key of Object.keys(base) as Array<keyof SandboxLimits>) {
    const v = override[key];
    if (typeof v === 'number' && Number.isFinite(v) && v >= 0) out[key] = Math.floor(v);
  }
  return out;
}
