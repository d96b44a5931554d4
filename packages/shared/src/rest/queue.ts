import { type Static, Type } from '@sinclair/typebox';
import { AgentName, Nullable, Timestamp, Uuid } from './common.js';
import { TurnOptionsSchema } from './messages.js';

/**
 * Queue item states: `pending` (waiting for `runAt` and a processor), `running` (claimed by one
 * processor), `completed`, `failed` (retries exhausted, or a permanent error such as an unknown
 * agent), `cancelled` (by `DELETE` while pending).
 */
export const QueueStatusSchema = Type.Union([
  Type.Literal('pending'),
  Type.Literal('running'),
  Type.Literal('completed'),
  Type.Literal('failed'),
  Type.Literal('cancelled'),
]);
export type QueueStatus = Static<typeof QueueStatusSchema>;

/** The outcome of the turn a queue item ran. */
export const QueueResultSchema = Type.Object({
  turnId: Type.String(),
  outcome: Type.String(),
  /** The final text of the turn (the SDK result). */
  text: Nullable(Type.String()),
  /** With `options.outputFormat`: the structured result. */
  structuredOutput: Type.Optional(Type.Unknown()),
  numTurns: Type.Optional(Type.Integer()),
  /** The SDK's cost estimate for the turn, USD. */
  totalCostUsd: Type.Optional(Type.Number()),
});
export type QueueResult = Static<typeof QueueResultSchema>;

export const QueueItemSchema = Type.Object(
  {
    id: Uuid,
    agentName: Type.String(),
    /** The session the item runs in: given at enqueue, or created by the first attempt. */
    sessionId: Nullable(Type.String()),
    prompt: Type.String(),
    options: TurnOptionsSchema,
    status: QueueStatusSchema,
    /** Higher runs first; equal priorities run oldest first. */
    priority: Type.Integer(),
    /** Attempts that failed so far. */
    retryCount: Type.Integer(),
    maxRetries: Type.Integer(),
    /** Not run before this time; after a failure, the time of the next attempt. */
    runAt: Timestamp,
    /** The last attempt's error. */
    error: Nullable(Type.String()),
    result: Nullable(QueueResultSchema),
    /** The processor running (or that last ran) the item. */
    claimedBy: Nullable(Type.String()),
    createdAt: Timestamp,
    startedAt: Nullable(Timestamp),
    completedAt: Nullable(Timestamp),
  },
  { $id: 'QueueItem' },
);
export type QueueItem = Static<typeof QueueItemSchema>;

/** `POST /api/queue`. */
export const EnqueueBodySchema = Type.Object(
  {
    agentName: AgentName,
    prompt: Type.String({ minLength: 1, maxLength: 500_000 }),
    /** Run in this session (it must exist and belong to `agentName`); default: a new session. */
    sessionId: Type.Optional(Uuid),
    priority: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000, default: 0 })),
    /** Retries after the first attempt fails (exponential backoff), default 3. */
    maxRetries: Type.Optional(Type.Integer({ minimum: 0, maximum: 20, default: 3 })),
    /** Do not run before this time (default now). */
    runAt: Type.Optional(Timestamp),
    /**
     * Turn options for the run (`model`, `maxTurns`, `maxBudgetUsd`, `outputFormat`...); unknown
     * keys are refused (400 naming `/body/options/<key>`), as they are on `POST …/messages`.
     */
    options: Type.Optional(Type.Object(TurnOptionsSchema.properties, { additionalProperties: false })),
  },
  { additionalProperties: false },
);
export type EnqueueBody = Static<typeof EnqueueBodySchema>;

export const QueueItemResponseSchema = Type.Object({ item: QueueItemSchema });
export const QueueItemParamsSchema = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });

/** `GET /api/queue`: newest first. `status=processing` is the upstream Ash's name of `running`. */
export const ListQueueQuerySchema = Type.Object(
  {
    status: Type.Optional(Type.Union([...QueueStatusSchema.anyOf, Type.Literal('processing')])),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
    offset: Type.Optional(Type.Integer({ minimum: 0, default: 0 })),
  },
  { additionalProperties: false },
);
export type ListQueueQuery = Static<typeof ListQueueQuerySchema>;

export const QueueListResponseSchema = Type.Object({
  items: Type.Array(QueueItemSchema),
  total: Type.Integer(),
  hasMore: Type.Boolean(),
});

/** Items per status (the caller's tenant). */
export const QueueStatsSchema = Type.Object({
  pending: Type.Integer(),
  running: Type.Integer(),
  /** Same as `running` (the upstream Ash's name). */
  processing: Type.Integer(),
  completed: Type.Integer(),
  failed: Type.Integer(),
  cancelled: Type.Integer(),
});
export type QueueStats = Static<typeof QueueStatsSchema>;
export const QueueStatsResponseSchema = Type.Object({ stats: QueueStatsSchema });
