import { availableParallelism } from 'node:os';
import { type Static, Type } from '@sinclair/typebox';
import { DEFAULT_SANDBOX_LIMITS, parseCidrList } from '@ash-ai/sandbox';
import type { SandboxHostSettings } from './sandbox-host.js';

const Int = (def: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
  Type.Integer({ default: def, minimum: min, maximum: max });

/**
 * The environment variables a sandbox host reads, with their defaults — the same in the server's
 * and `ash runner`'s configuration (both spread these properties into their own schema).
 */
export const SandboxHostEnvProperties = {
  /** Sandbox isolation: `bwrap` (default; needs bubblewrap and cgroups) or `unsafe-process` (explicit opt-out). */
  ASH_SANDBOX: Type.Union([Type.Literal('bwrap'), Type.Literal('unsafe-process')], { default: 'bwrap' }),
  /** Path of the bubblewrap binary when it is not in /usr/bin, /bin or /usr/local/bin. */
  ASH_BWRAP_PATH: Type.Optional(Type.String({ minLength: 1 })),
  /**
   * One fixed host uid/gid every sandbox runs as when the host runs as root. Unset (default): each
   * live sandbox gets its own uid from ASH_SANDBOX_UID_RANGE.
   */
  ASH_SANDBOX_UID: Type.Optional(Type.Integer({ minimum: 1, maximum: 2 ** 31 })),
  /** Host uids given one per live sandbox when the host runs as root, `first-last`. */
  ASH_SANDBOX_UID_RANGE: Type.String({ default: '200000-265535', pattern: '^[0-9]{1,10}-[0-9]{1,10}$' }),
  ASH_SANDBOX_GID: Type.Optional(Type.Integer({ minimum: 1, maximum: 2 ** 31 })),
  ASH_SANDBOX_MEMORY_MB: Int(DEFAULT_SANDBOX_LIMITS.memoryMb),
  ASH_SANDBOX_MAX_PROCESSES: Int(DEFAULT_SANDBOX_LIMITS.maxProcesses),
  ASH_SANDBOX_CPU_PERCENT: Int(DEFAULT_SANDBOX_LIMITS.cpuPercent),
  ASH_SANDBOX_MAX_OPEN_FILES: Int(DEFAULT_SANDBOX_LIMITS.maxOpenFiles),
  ASH_SANDBOX_MAX_FILE_SIZE_MB: Int(DEFAULT_SANDBOX_LIMITS.maxFileSizeMb),
  ASH_SANDBOX_DISK_MB: Int(DEFAULT_SANDBOX_LIMITS.diskMb),
  /** Private CIDRs sandboxes may reach through the egress proxy (comma-separated; default none). */
  ASH_EGRESS_ALLOW_CIDRS: Type.Optional(Type.String()),
  /** Egress connections a sandbox may hold open at once (0 = no limit). */
  ASH_EGRESS_MAX_CONNECTIONS: Int(64),
  /** Egress bytes (up + down) per turn, MiB (0 = no limit). */
  ASH_EGRESS_MAX_MB_PER_TURN: Int(1024),
  /** Most live sandbox processes at once. */
  ASH_MAX_SANDBOXES: Int(64, 1),
  /** Sandboxes starting (Claude process booting) at once; default the number of CPUs. */
  ASH_MAX_CONCURRENT_STARTS: Type.Optional(Type.Integer({ minimum: 1, maximum: 1024 })),
  /** Sandbox starts that may wait for one of those; more are refused with 503 `capacity_reached`. */
  ASH_START_QUEUE_MAX: Int(256, 0, 100_000),
  /** Longest wait in the start queue before the turn ends with `capacity_reached`, ms. */
  ASH_START_QUEUE_TIMEOUT_MS: Int(300_000, 100),
  /** Bridge processes kept started ahead of time, given to the next sandbox that starts (saves ~200 ms). */
  ASH_SPARE_BRIDGES: Int(1, 0, 16),
  /**
   * Delay before a taken spare (bridge or pre-warmed sandbox) is replaced, ms: the replacement's
   * start would otherwise compete for CPU with the first turn of the session that took it.
   */
  ASH_POOL_REFILL_DELAY_MS: Int(2000, 0, 600_000),
  /** Idle sessions' processes are stopped (session paused) after this long, ms. */
  ASH_IDLE_TIMEOUT_MS: Int(30 * 60_000, 1000),
  /** Retries the Claude process makes on model API errors (CLAUDE_CODE_MAX_RETRIES); unset = SDK default. */
  ASH_MODEL_MAX_RETRIES: Type.Optional(Int(10, 0, 100)),
  /** Path to the Claude executable (default: the SDK's platform package). */
  CLAUDE_CODE_EXECUTABLE: Type.Optional(Type.String({ minLength: 1 })),
};

const SandboxHostEnvSchema = Type.Object(SandboxHostEnvProperties);
/** The parsed (converted, defaulted) values of {@link SandboxHostEnvProperties}. */
export type SandboxHostEnv = Static<typeof SandboxHostEnvSchema>;

/**
 * Turns checked sandbox variables into a host's settings. Problems the schema cannot express (an
 * empty uid range, a bad CIDR) are pushed onto `problems` as `NAME: why`; the returned settings
 * are only meaningful when none was added.
 */
export function sandboxHostSettingsFromEnv(
  e: SandboxHostEnv,
  dataDir: string,
  problems: string[],
): SandboxHostSettings {
  const [first, last] = e.ASH_SANDBOX_UID_RANGE.split('-').map(Number) as [number, number];
  if (!(first >= 1 && last >= first && last < 2 ** 31))
    problems.push(
      `ASH_SANDBOX_UID_RANGE must be first-last with 1 <= first <= last < 2^31 (it is ${e.ASH_SANDBOX_UID_RANGE})`,
    );
  let allowCidrs = parseCidrList(undefined);
  try {
    allowCidrs = parseCidrList(e.ASH_EGRESS_ALLOW_CIDRS);
  } catch (err) {
    problems.push(`ASH_EGRESS_ALLOW_CIDRS: ${err instanceof Error ? err.message : String(err)}`);
  }
  return {
    dataDir,
    sandboxMode: e.ASH_SANDBOX,
    bwrapPath: e.ASH_BWRAP_PATH,
    sandboxUid: e.ASH_SANDBOX_UID,
    sandboxGid: e.ASH_SANDBOX_GID,
    sandboxUidRange: { first, last },
    sandboxLimits: {
      memoryMb: e.ASH_SANDBOX_MEMORY_MB,
      maxProcesses: e.ASH_SANDBOX_MAX_PROCESSES,
      cpuPercent: e.ASH_SANDBOX_CPU_PERCENT,
      maxOpenFiles: e.ASH_SANDBOX_MAX_OPEN_FILES,
      maxFileSizeMb: e.ASH_SANDBOX_MAX_FILE_SIZE_MB,
      diskMb: e.ASH_SANDBOX_DISK_MB,
    },
    egress: {
      allowCidrs,
      maxConnections: e.ASH_EGRESS_MAX_CONNECTIONS,
      maxBytesPerTurn: e.ASH_EGRESS_MAX_MB_PER_TURN * 1024 * 1024,
    },
    maxSandboxes: e.ASH_MAX_SANDBOXES,
    maxConcurrentStarts: e.ASH_MAX_CONCURRENT_STARTS ?? Math.max(1, availableParallelism()),
    startQueueMax: e.ASH_START_QUEUE_MAX,
    startQueueTimeoutMs: e.ASH_START_QUEUE_TIMEOUT_MS,
    spareBridges: e.ASH_SPARE_BRIDGES,
    poolRefillDelayMs: e.ASH_POOL_REFILL_DELAY_MS,
    idleTimeoutMs: e.ASH_IDLE_TIMEOUT_MS,
    modelMaxRetries: e.ASH_MODEL_MAX_RETRIES,
    claudeExecutable: e.CLAUDE_CODE_EXECUTABLE,
  };
}
