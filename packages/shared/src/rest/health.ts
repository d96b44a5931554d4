import { type Static, Type } from '@sinclair/typebox';
import { RunnerLabelsSchema } from '../runner-link.js';

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
  /** Sandbox starts admitted and booting (at most ASH_MAX_CONCURRENT_STARTS). */
  startsRunning: Type.Integer(),
  /** Sandbox starts waiting for admission, in order. */
  startsQueued: Type.Integer(),
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
  /** Upstream names (its generated clients require them): `total` = live, `warming` = starting, `waiting` = idle, `cold` = 0 (no such state here). */
  total: Type.Integer(),
  cold: Type.Integer(),
  warming: Type.Integer(),
  waiting: Type.Integer(),
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

/**
 * The largest uploads this server accepts, bytes, so a client can refuse an oversized upload
 * before sending anything (the server refuses it with 413 `payload_too_large` anyway).
 */
export const UploadLimitsSchema = Type.Object({
  /** Total size of an agent folder (`POST /api/agents`, agent files). */
  agentBytes: Type.Integer(),
  /** One message's content (`POST /api/sessions/:id/messages`). */
  messageBytes: Type.Integer(),
  /** One workspace file (`POST /api/sessions/:id/files`). */
  fileBytes: Type.Integer(),
  /** All files of one upload request together. */
  fileBatchBytes: Type.Integer(),
  /** One attachment. */
  attachmentBytes: Type.Integer(),
  /** A workspace bundle (`POST /api/sessions/:id/workspace`). */
  bundleBytes: Type.Integer(),
});
export type UploadLimits = Static<typeof UploadLimitsSchema>;

/** A runner as `/health` lists it: this server's own (`local`) or a registered `ash runner`. */
export const RunnerStatusSchema = Type.Object({
  /** The runner's name (`local`: this server's own sandboxes). */
  name: Type.String(),
  local: Type.Boolean(),
  /** Base URL coordinators reach it at (null for the local one). */
  url: Type.Union([Type.String(), Type.Null()]),
  labels: RunnerLabelsSchema,
  /** `ok`, `draining` (takes no new session), or `lost` (no heartbeat within ASH_RUNNER_TIMEOUT_MS). */
  state: Type.Union([Type.Literal('ok'), Type.Literal('draining'), Type.Literal('lost')]),
  capacity: Type.Object({ max: Type.Integer(), active: Type.Integer(), available: Type.Integer() }),
  /** Sessions with a sandbox on it (its last report; this server's placements for the local one). */
  liveSessions: Type.Integer(),
  /** Ready warm spares on it (all agents; counted in `capacity.active`). */
  warm: Type.Integer(),
  /** Its last heartbeat, ISO time (null for the local one). */
  lastHeartbeat: Type.Union([Type.String(), Type.Null()]),
});
export type RunnerStatus = Static<typeof RunnerStatusSchema>;

/** `GET /health`: liveness and a few figures. Public (no auth). */
export const HealthSchema = Type.Object({
  /**
   * `ok`, or `degraded` when the server runs but refuses some new work (`reasons` says why, e.g.
   * the data disk is under ASH_MIN_FREE_DISK_MB). Either way the answer is HTTP 200.
   */
  status: Type.Union([Type.Literal('ok'), Type.Literal('degraded')]),
  /** Why the server is degraded (empty when `ok`). */
  reasons: Type.Array(Type.String()),
  /** Server package version. */
  version: Type.String(),
  /** Whole seconds since the process started (an integer, as upstream clients parse it). */
  uptime: Type.Integer(),
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
  uploadLimits: UploadLimitsSchema,
  /** Where this server places sessions: its own runner (unless ASH_LOCAL_RUNNER=off) and registered runners. */
  runners: Type.Array(RunnerStatusSchema),
});
export type Health = Static<typeof HealthSchema>;
