import { type Static, Type } from '@sinclair/typebox';

/** Sandbox pool figures reported by `/health` and `/metrics`. */
export const PoolStatsSchema = Type.Object({
  /** Live sandboxes (processes), any state. */
  live: Type.Integer(),
  /** Live sandboxes running a turn. */
  running: Type.Integer(),
  /** Live sandboxes attached to a session and idle. */
  idle: Type.Integer(),
  /** Pre-warmed sandboxes waiting for a session. */
  warm: Type.Integer(),
  /** Sandboxes being started. */
  starting: Type.Integer(),
  /** Maximum number of live sandboxes. */
  maxCapacity: Type.Integer(),
  /** Sessions created on a pre-warmed sandbox. */
  preWarmHits: Type.Integer(),
  /** Resumes that found the process alive. */
  resumeWarmHits: Type.Integer(),
  /** Resumes that started a new process. */
  resumeColdHits: Type.Integer(),
  /** Sandboxes evicted to make room or because they were idle. */
  evictions: Type.Integer(),
});
export type PoolStats = Static<typeof PoolStatsSchema>;

/** What isolation the server runs sandboxes with. */
export const SandboxInfoSchema = Type.Object({
  /** `bwrap` (namespaces + read-only system) or `unsafe-process` (operator opted out of isolation). */
  mode: Type.Union([Type.Literal('bwrap'), Type.Literal('unsafe-process')]),
  /** Resource-limit mechanism available: `cgroup-v1`, `cgroup-v2` or `none`. */
  limits: Type.Union([Type.Literal('cgroup-v1'), Type.Literal('cgroup-v2'), Type.Literal('none')]),
  /**
   * How the disk limit is enforced: `filesystem` (each sandbox has its own fixed-size file system
   * holding workspace, home, config dir and /tmp: writes past it fail with ENOSPC) or `poll` (the
   * workspace size is checked during turns; the server is not root or has no loop devices).
   */
  disk: Type.Union([Type.Literal('filesystem'), Type.Literal('poll')]),
  /** Human-readable warnings, e.g. why a weaker mode is in use. */
  warnings: Type.Array(Type.String()),
});
export type SandboxInfo = Static<typeof SandboxInfoSchema>;

/** `GET /health`: liveness and a few figures. Public (no auth). */
export const HealthSchema = Type.Object({
  status: Type.Literal('ok'),
  /** Server package version. */
  version: Type.String(),
  /** Seconds since the process started. */
  uptime: Type.Number(),
  /** Sessions in `active` status. */
  activeSessions: Type.Integer(),
  /** Live sandbox processes on this server. */
  activeSandboxes: Type.Integer(),
  /** `hostname-pid` of this server process. */
  coordinatorId: Type.String(),
  pool: PoolStatsSchema,
  sandbox: SandboxInfoSchema,
  /** Configuration problems that do not stop the server (e.g. no model key). */
  warnings: Type.Array(Type.String()),
});
export type Health = Static<typeof HealthSchema>;
