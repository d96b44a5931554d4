/**
 * The link between the coordinator tier (servers: API, database, routing, model gateway) and
 * runner processes (`ash runner`: they host sandboxes). One contract, used by the runner's HTTP
 * API (`@ash-ai/runner`) and the server's `HttpRunnerClient`.
 *
 * Authentication: every call in both directions carries `Authorization: Bearer
 * <ASH_INTERNAL_SECRET>` (the runner's `/health` and `/metrics` excepted). URLs may be `https`.
 * Every call has a timeout (turn streams excepted: they end with the turn).
 *
 * Runner → coordinator (paths on a server):
 * - `POST /api/internal/runners/register` {@link RegisterRunnerBody} (with `url`, `labels`):
 *   registers (again after a coordinator restart: a heartbeat answered 404 means "register").
 * - `POST /api/internal/runners/heartbeat` {@link RunnerHeartbeatBody} with `report`
 *   ({@link RunnerReport}) every `heartbeatMs` → {@link RunnerHeartbeatAnswer}.
 * - `POST /api/internal/runners/deregister` when it exits.
 * - `POST /api/internal/runners/:runnerId/evicted` {@link RunnerEvictedBody}: the runner stopped a
 *   session's sandbox on its own (idle, capacity); answered once the coordinator released it.
 * - `POST /api/internal/agents/files` {@link AgentFilesBody} → the files of an agent version as a
 *   workspace delta (`workspace/<rel>` entries): what a warm spare's workspace starts with.
 * - `POST /api/internal/sessions/:id/checkout` {@link CheckoutBody} → a workspace delta
 *   (`application/x-tar`, see {@link WORKSPACE_DELTA_INDEX}) bringing the runner's copy up to the
 *   coordinator's.
 * - `POST /api/internal/sessions/:id/checkpoint` (header {@link GENERATION_HEADER}; body a
 *   workspace delta) → 204; 409 `lease_lost` when the generation is not the session's current one
 *   (fencing: nothing from a stale runner is stored).
 * - `POST /api/internal/sessions/:id/egress` {@link RunnerEgressReportBody}: connections made by
 *   the session's sandbox (header {@link GENERATION_HEADER}).
 * - `* {@link GATEWAY_PATH}/…`: the model gateway. A runner's sandboxes call the Messages API
 *   through it with the session's gateway token as `x-api-key`; the gateway adds the provider key,
 *   meters, enforces budgets and traces exactly as the embedded model proxy does.
 *
 * Coordinator → runner (paths on the runner's `--port`, under {@link RUNNER_API_PREFIX}):
 * - `GET /health` (no auth) → {@link RunnerHealth}; `GET /metrics` (no auth) → Prometheus text.
 * - `GET  …/state` → {@link RunnerReport}.
 * - `POST …/reservations` → 201 {@link ReservationAnswer}; 503 `capacity_reached` + Retry-After.
 * - `DELETE …/reservations/:reservationId` → 204 (idempotent).
 * - `POST …/spares` {@link RunnerSparesBody} → 202: keep `count` warm spares of an agent version
 *   (files pulled from `coordinatorUrl`; no key: a spare's model calls carry the gateway token of
 *   the session that claims it). `DELETE …/spares?tenantId=&agent=` → 204: drop them.
 * - `POST …/spares/claim` {@link RunnerSpareClaimBody} → {@link RunnerSpareClaimAnswer}: takes a
 *   ready spare for a new session (its id becomes the session's id); a claim no start uses
 *   within the reservation TTL is discarded.
 * - `POST …/sessions/:id/sandbox` {@link RunnerStartBody} → 200 {@link RunnerStartAnswer} once
 *   the sandbox is up (the runner first checks the workspace out from `coordinatorUrl`; with
 *   `spare`, the claimed spare of that id becomes the session's sandbox, no start, no checkout);
 *   503 `capacity_reached` / `sandbox_unavailable`.
 * - `POST …/sessions/:id/turns` {@link RunnerTurnBody} → `application/x-ndjson`: one line per
 *   bridge `TurnEvent` (`message`, `tool_request`, `turn_end`), then one {@link TurnTrailer} line
 *   written after the runner stored the turn's checkpoint. The event lines are numbered from 0 in
 *   order (the trailer apart). Closing the request before the trailer (the coordinator died;
 *   deliberate aborts use `…/abort`) does not stop the turn: it runs on *detached*, its lines
 *   kept (up to ASH_RUNNER_TURN_BUFFER_MB) and its sandbox's model calls held, until a coordinator
 *   attaches or ASH_RUNNER_TURN_HOLD_MS passes (then it is aborted, `turn_interrupted`); its
 *   checkpoint waits for the attach, so it carries the new generation.
 * - `POST …/sessions/:id/turns/:turnId/attach` {@link RunnerAttachBody} → the same NDJSON stream
 *   from event line `from` on (then live, then the trailer): the coordinator that took the session
 *   over (owner lease expired; generation bumped) continues the turn from the first event it has
 *   not stored; the checkpoint after the turn is relative to the body's `manifest` (the new
 *   coordinator's copy). 404 `session_not_found` when the turn is not held here (the caller then closes it
 *   with an error), 409 `lease_lost` for an older generation. The previous stream, if still
 *   open, is closed.
 * - `POST …/sessions/:id/tool-answers` {@link RunnerToolAnswerBody} → 204.
 * - `POST …/sessions/:id/interrupt` {@link RunnerInterruptBody} → 204.
 * - `POST …/sessions/:id/abort` {@link RunnerAbortBody} → 204.
 * - `POST …/sessions/:id/exec` {@link RunnerExecBody} → `ExecResult` (checkpoint stored after).
 * - `GET  …/sessions/:id/logs?after=n` → `{ logs: LogEntry[] }`.
 * - `POST …/sessions/:id/pin`, `POST …/sessions/:id/unpin` → 204.
 * - `POST …/sessions/:id/checkpoint` → 204 once a checkpoint of the current files is stored.
 * - `DELETE …/sessions/:id?checkpoint=1|0` → 204: (checkpoint, then) stop the sandbox and forget it.
 * - `POST …/sweep` → `{ stopped: number }` (idle sweep now).
 * - `POST …/drain` → 202: take no new session, checkpoint and release every session, exit 0 when
 *   empty.
 * Errors in both directions are problem details (`application/problem+json`) with a stable `code`.
 */
import { type Static, Type } from '@sinclair/typebox';

/** Prefix of the runner's API for coordinators. */
export const RUNNER_API_PREFIX = '/runner/v1';
/** Path prefix of the coordinator's model gateway (the runner's sandboxes' model upstream). */
export const GATEWAY_PATH = '/api/internal/gateway';
/** Header carrying a session's lease generation on runner writes (decimal integer). */
export const GENERATION_HEADER = 'x-ash-lease-generation';
/** Header naming the runner that sends a request (its runner id). */
export const RUNNER_HEADER = 'x-ash-runner';
/**
 * A workspace delta is a tar stream whose first entry is this JSON file: `{ deleted: string[],
 * entries: Record<path, { size, mtimeMs, mode }> }`. Paths are `workspace/<rel>` (the session's
 * workspace) or `claude/<rel>` (its CLAUDE_CONFIG_DIR: SDK transcripts), POSIX, relative, never
 * `..`; the receiver refuses anything else and never follows symlinks.
 */
export const WORKSPACE_DELTA_INDEX = '.ash-delta.json';

/** Runner labels: `k=v` pairs placement may require (`runnerLabels` of an agent or session). */
export const RunnerLabelsSchema = Type.Record(
  Type.String({ pattern: '^[a-zA-Z0-9._/-]{1,63}$' }),
  Type.String({ maxLength: 63 }),
  { maxProperties: 32, additionalProperties: false },
);
export type RunnerLabels = Static<typeof RunnerLabelsSchema>;

/** One session on a runner as reported. */
export const RunnerSessionStateSchema = Type.Object({
  id: Type.String(),
  /** `starting`: start under way; `ready`: sandbox up; `busy`: a turn runs. */
  state: Type.Union([Type.Literal('starting'), Type.Literal('ready'), Type.Literal('busy')]),
  /** The lease generation it was started with. */
  generation: Type.Integer({ minimum: 0 }),
  /** Resident memory of its processes, bytes (0 when unknown). */
  memoryBytes: Type.Integer({ minimum: 0 }),
});
export type RunnerSessionState = Static<typeof RunnerSessionStateSchema>;

/** Warm spares of one agent version on a runner. */
export const RunnerSpareCountSchema = Type.Object({
  tenantId: Type.String(),
  agent: Type.String(),
  version: Type.Integer({ minimum: 0 }),
  ready: Type.Integer({ minimum: 0 }),
  starting: Type.Integer({ minimum: 0 }),
});
export type RunnerSpareCount = Static<typeof RunnerSpareCountSchema>;

/** What a runner reports (heartbeat body's `report`, `GET …/state`). */
export const RunnerReportSchema = Type.Object({
  runnerId: Type.String(),
  /** Base URL coordinators call (http or https). */
  url: Type.String(),
  labels: RunnerLabelsSchema,
  version: Type.String(),
  draining: Type.Boolean(),
  maxSandboxes: Type.Integer({ minimum: 0 }),
  /** Sandboxes alive (sessions and warm spares). */
  live: Type.Integer({ minimum: 0 }),
  reserved: Type.Integer({ minimum: 0 }),
  startsRunning: Type.Integer({ minimum: 0 }),
  startsQueued: Type.Integer({ minimum: 0 }),
  /** False when a new start would be refused by the start queue. */
  canQueueStart: Type.Boolean(),
  sessions: Type.Array(RunnerSessionStateSchema),
  /** Warm spares per agent version (`ready`: claimable now; `starting`: booting). Absent: none. */
  spares: Type.Optional(Type.Array(RunnerSpareCountSchema, { maxItems: 1000 })),
});
export type RunnerReport = Static<typeof RunnerReportSchema>;

/** `GET /health` of a runner. */
export const RunnerHealthSchema = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('draining')]),
  runnerId: Type.String(),
  version: Type.String(),
  labels: RunnerLabelsSchema,
  capacity: Type.Object({ max: Type.Integer(), active: Type.Integer(), available: Type.Integer() }),
  /** Ready warm spares (all agents; they count in `active` and are evicted first). */
  warm: Type.Integer(),
  /** Coordinators it is registered with (by URL) and the last heartbeat answered, ISO time. */
  coordinators: Type.Array(
    Type.Object({ url: Type.String(), lastHeartbeatAt: Type.Union([Type.String(), Type.Null()]) }),
  ),
  uptime: Type.Number(),
});
export type RunnerHealth = Static<typeof RunnerHealthSchema>;

/** Answer to a heartbeat. */
export const RunnerHeartbeatAnswerSchema = Type.Object({
  ok: Type.Literal(true),
  /**
   * Sessions this runner reported that no longer belong to it (their lease moved on or they
   * ended): the runner stops their sandboxes without checkpointing.
   */
  foreign: Type.Array(Type.String()),
  /** True: an operator asked this runner to drain. */
  drain: Type.Boolean(),
});
export type RunnerHeartbeatAnswer = Static<typeof RunnerHeartbeatAnswerSchema>;

export const RunnerEvictedBodySchema = Type.Object(
  {
    sessionId: Type.String(),
    reason: Type.Union([Type.Literal('idle'), Type.Literal('capacity'), Type.Literal('drain')]),
    generation: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);
export type RunnerEvictedBody = Static<typeof RunnerEvictedBodySchema>;

/** One file's state in a manifest. */
export const ManifestEntrySchema = Type.Object({
  size: Type.Integer({ minimum: 0 }),
  mtimeMs: Type.Number(),
  mode: Type.Integer({ minimum: 0 }),
  /** Present for symlinks (the link target, never followed). */
  link: Type.Optional(Type.String()),
});
export type ManifestEntry = Static<typeof ManifestEntrySchema>;
/**
 * Entries by path (`workspace/<rel>` or `claude/<rel>`): regular files, folders (`mode` carries
 * the S_IFDIR bit, `size` 0, so empty folders survive) and symlinks (`link`); `mode` is the type
 * and permission bits, `mtimeMs` has microsecond precision (see @ash-ai/runner's workspace-sync).
 */
export const ManifestSchema = Type.Record(Type.String(), ManifestEntrySchema);
export type Manifest = Static<typeof ManifestSchema>;

export const CheckoutBodySchema = Type.Object(
  { generation: Type.Integer({ minimum: 0 }), manifest: ManifestSchema },
  { additionalProperties: false },
);
export type CheckoutBody = Static<typeof CheckoutBodySchema>;

export const ReservationAnswerSchema = Type.Object({
  reservationId: Type.String(),
  /** The reservation lapses after this long unless a start uses it, ms. */
  expiresInMs: Type.Integer(),
});
export type ReservationAnswer = Static<typeof ReservationAnswerSchema>;

/**
 * A session's network as a runner enforces it: the arguments of the sandbox package's
 * `EgressRules` (policy layers from widest to narrowest, implicit MCP hosts), plain data. A
 * session with credential bindings (`network.inject`) is never placed on a runner (the value
 * would have to reach it).
 */
export const RunnerEgressSchema = Type.Object({
  enabled: Type.Boolean(),
  layers: Type.Array(
    Type.Object({
      name: Type.String(),
      policy: Type.Union([
        Type.Object({
          allow: Type.Optional(Type.Array(Type.String())),
          deny: Type.Optional(Type.Array(Type.String())),
        }),
        Type.Null(),
      ]),
    }),
  ),
  implicit: Type.Array(Type.Object({ pattern: Type.String(), name: Type.String() })),
});
export type RunnerEgress = Static<typeof RunnerEgressSchema>;

/** Start a session's sandbox on a runner. */
export const RunnerStartBodySchema = Type.Object(
  {
    reservationId: Type.Optional(Type.String()),
    /** The session's lease generation: every write back carries it. */
    generation: Type.Integer({ minimum: 0 }),
    tenantId: Type.String(),
    /** Base URL of the coordinator that placed it (checkout, checkpoint, gateway, events). */
    coordinatorUrl: Type.String(),
    /** The session's model gateway token (stands in for the provider key). */
    gatewayToken: Type.String(),
    env: Type.Record(Type.String(), Type.String()),
    limits: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    egress: Type.Optional(RunnerEgressSchema),
    /**
     * True: the session's id is a spare this coordinator claimed (`POST …/spares/claim`): it
     * becomes the session's sandbox. When it is gone meanwhile, the start is a plain one.
     */
    spare: Type.Optional(Type.Boolean()),
    /** Start the Claude process ahead of the first turn with these (a prewarm). */
    warm: Type.Optional(Type.Object({ options: Type.Unknown(), conversation: Type.Unknown() })),
  },
  { additionalProperties: false },
);
export type RunnerStartBody = Static<typeof RunnerStartBodySchema>;

/** Keep warm spares of an agent version (plain data: no key, no credential value). */
export const RunnerSparesBodySchema = Type.Object(
  {
    tenantId: Type.String({ minLength: 1 }),
    agent: Type.String({ minLength: 1 }),
    version: Type.Integer({ minimum: 0 }),
    /** How many to keep (0 drops them). */
    count: Type.Integer({ minimum: 0, maximum: 16 }),
    /** Base URL of the coordinator asking: the agent's files come from it. */
    coordinatorUrl: Type.String(),
    /** The agent's environment (what a plain session of it starts with). */
    env: Type.Record(Type.String(), Type.String()),
    limits: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    /** The agent's network (the spare's until a session claims it). */
    egress: Type.Optional(RunnerEgressSchema),
    /** What a spare's Claude process starts with (the agent's SDK options). */
    warmOptions: Type.Unknown(),
  },
  { additionalProperties: false },
);
export type RunnerSparesBody = Static<typeof RunnerSparesBodySchema>;

export const RunnerSpareClaimBodySchema = Type.Object(
  { tenantId: Type.String(), agent: Type.String(), version: Type.Integer({ minimum: 0 }) },
  { additionalProperties: false },
);
export type RunnerSpareClaimBody = Static<typeof RunnerSpareClaimBodySchema>;
/** The claimed spare's id (the new session's id), or null when none is ready. */
export const RunnerSpareClaimAnswerSchema = Type.Object({ id: Type.Union([Type.String(), Type.Null()]) });
export type RunnerSpareClaimAnswer = Static<typeof RunnerSpareClaimAnswerSchema>;

/** `POST /api/internal/agents/files`: which agent version's files a runner pulls. */
export const AgentFilesBodySchema = Type.Object(
  { tenantId: Type.String(), agent: Type.String(), version: Type.Integer({ minimum: 0 }) },
  { additionalProperties: false },
);
export type AgentFilesBody = Static<typeof AgentFilesBodySchema>;

export const RunnerStartAnswerSchema = Type.Object({
  /** Seconds from the request to the sandbox being up (checkout included). */
  seconds: Type.Number(),
});
export type RunnerStartAnswer = Static<typeof RunnerStartAnswerSchema>;

/** A turn (the server's `TurnRequest`). */
export const RunnerTurnBodySchema = Type.Object(
  {
    turnId: Type.String(),
    prompt: Type.Unknown(),
    options: Type.Unknown(),
    conversation: Type.Unknown(),
    /** True: the coordinator's copy changed since the last checkpoint (a file API write): check out first. */
    checkout: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type RunnerTurnBody = Static<typeof RunnerTurnBodySchema>;

/** The last line of a turn's NDJSON stream. */
export const TurnTrailerSchema = Type.Object({
  ev: Type.Literal('trailer'),
  /** CPU seconds the sandbox used during the turn; null when not measurable. */
  cpuSeconds: Type.Union([Type.Number(), Type.Null()]),
  /** Whether the turn's checkpoint was stored. */
  checkpoint: Type.Union([Type.Literal('stored'), Type.Literal('failed'), Type.Literal('fenced')]),
});
export type TurnTrailer = Static<typeof TurnTrailerSchema>;

/**
 * `POST …/sessions/:id/turns/:turnId/attach`: a coordinator that took the session over continues
 * a turn the previous one streamed (see {@link RUNNER_API_PREFIX} docs above).
 */
export const RunnerAttachBodySchema = Type.Object(
  {
    /** The session's new lease generation (the takeover bumped it): every write back carries it. */
    generation: Type.Integer({ minimum: 0 }),
    /** The taking-over coordinator's base URL (checkpoint, gateway, egress from now on). */
    coordinatorUrl: Type.String(),
    /** Its model gateway token for the session (replaces the previous one). */
    gatewayToken: Type.String(),
    /** The number of the first event line wanted (events are numbered from 0 per turn). */
    from: Type.Integer({ minimum: 0 }),
    /**
     * The manifest of the taking-over coordinator's copy of the session's files: the base of the
     * checkpoint after the turn (so it brings that copy exactly up to the runner's, deletions
     * included; `{}` makes it a full checkpoint).
     */
    manifest: ManifestSchema,
  },
  { additionalProperties: false },
);
export type RunnerAttachBody = Static<typeof RunnerAttachBodySchema>;

export const RunnerToolAnswerBodySchema = Type.Object({ requestId: Type.String(), answer: Type.Unknown() });
export type RunnerToolAnswerBody = Static<typeof RunnerToolAnswerBodySchema>;
export const RunnerInterruptBodySchema = Type.Object({ turnId: Type.String() });
export type RunnerInterruptBody = Static<typeof RunnerInterruptBodySchema>;
export const RunnerAbortBodySchema = Type.Object({
  turnId: Type.String(),
  error: Type.Object({ message: Type.String(), code: Type.String() }),
  outcome: Type.Optional(Type.Union([Type.Literal('error'), Type.Literal('interrupted')])),
});
export type RunnerAbortBody = Static<typeof RunnerAbortBodySchema>;
export const RunnerExecBodySchema = Type.Object({
  command: Type.String(),
  timeoutMs: Type.Integer({ minimum: 1 }),
  maxOutputBytes: Type.Integer({ minimum: 1 }),
});
export type RunnerExecBody = Static<typeof RunnerExecBodySchema>;

/** Connections a runner's sandbox made (allowed or refused), for the session's events and usage. */
export const RunnerEgressReportBodySchema = Type.Object({
  /** The sandbox package's `EgressConnection`s, in order. */
  connections: Type.Array(
    Type.Object({
      host: Type.String(),
      port: Type.Integer(),
      method: Type.String(),
      allowed: Type.Boolean(),
      reason: Type.String(),
      address: Type.Optional(Type.String()),
      bytesUp: Type.Integer({ minimum: 0 }),
      bytesDown: Type.Integer({ minimum: 0 }),
      durationMs: Type.Number({ minimum: 0 }),
    }),
    { maxItems: 1000 },
  ),
});
export type RunnerEgressReportBody = Static<typeof RunnerEgressReportBodySchema>;
