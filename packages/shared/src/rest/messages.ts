import { type Static, Type } from '@sinclair/typebox';
import { Nullable, Timestamp, Uuid } from './common.js';

const Base64Source = Type.Object(
  {
    type: Type.Literal('base64'),
    media_type: Type.String({ minLength: 1, maxLength: 255 }),
    data: Type.String({ minLength: 1 }),
  },
  { additionalProperties: false },
);
const AttachmentSource = Type.Object(
  { type: Type.Literal('attachment'), attachmentId: Uuid },
  { additionalProperties: false, description: 'An attachment uploaded to this session, by id' },
);
const PlainTextSource = Type.Object(
  { type: Type.Literal('text'), media_type: Type.Literal('text/plain'), data: Type.String() },
  { additionalProperties: false },
);

/** A user content block (Anthropic Messages API shapes, plus attachment references). */
export const ContentBlockSchema = Type.Union([
  Type.Object(
    { type: Type.Literal('text'), text: Type.String({ maxLength: 500_000 }) },
    { additionalProperties: false },
  ),
  Type.Object(
    { type: Type.Literal('image'), source: Type.Union([Base64Source, AttachmentSource]) },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      type: Type.Literal('document'),
      source: Type.Union([Base64Source, AttachmentSource, PlainTextSource]),
      title: Type.Optional(Type.String({ maxLength: 1024 })),
    },
    { additionalProperties: false },
  ),
]);
export type ContentBlock = Static<typeof ContentBlockSchema>;

/** What a turn may be told: `string` or 1..20 content blocks. */
export const MessageContentSchema = Type.Union([
  Type.String({ minLength: 1, maxLength: 500_000 }),
  Type.Array(ContentBlockSchema, { minItems: 1, maxItems: 20 }),
]);
export type MessageContent = Static<typeof MessageContentSchema>;

/** Per-turn SDK options (Claude Agent SDK `Options` of the same names). */
export const TurnOptionsSchema = Type.Object({
  model: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  maxTurns: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
  maxBudgetUsd: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1_000_000 })),
  effort: Type.Optional(
    Type.Union([
      Type.Literal('low'),
      Type.Literal('medium'),
      Type.Literal('high'),
      Type.Literal('xhigh'),
      Type.Literal('max'),
    ]),
  ),
  thinking: Type.Optional(
    Type.Union([
      Type.Object({ type: Type.Literal('adaptive') }, { additionalProperties: false }),
      Type.Object(
        {
          type: Type.Literal('enabled'),
          budgetTokens: Type.Optional(Type.Integer({ minimum: 1024, maximum: 1_000_000 })),
        },
        { additionalProperties: false },
      ),
      Type.Object({ type: Type.Literal('disabled') }, { additionalProperties: false }),
    ]),
  ),
  outputFormat: Type.Optional(
    Type.Object(
      { type: Type.Literal('json_schema'), schema: Type.Record(Type.String(), Type.Unknown()) },
      { additionalProperties: false },
    ),
  ),
});
export type TurnOptions = Static<typeof TurnOptionsSchema>;

/** What to do with a message that arrives while a turn runs. */
export const BusyPolicySchema = Type.Union([
  Type.Literal('reject'),
  Type.Literal('queue'),
  Type.Literal('interrupt'),
]);
export type BusyPolicy = Static<typeof BusyPolicySchema>;

/** `POST /api/sessions/:id/messages` (answers with an SSE stream). */
export const SendMessageBodySchema = Type.Object(
  {
    content: MessageContentSchema,
    /** Also stream the SDK's raw `stream_event` messages as `message` events. */
    includePartialMessages: Type.Optional(Type.Boolean()),
    /** Busy policy, default `reject` (409 `session_busy`). */
    onBusy: Type.Optional(BusyPolicySchema),
    ...TurnOptionsSchema.properties,
  },
  { additionalProperties: false },
);
export type SendMessageBody = Static<typeof SendMessageBodySchema>;

/** An id of a call that waits for the client (the `id` of its `permission_request` / `custom_tool_use` event). */
const ToolRequestId = Type.String({ minLength: 1, maxLength: 256 });

/**
 * `POST /api/sessions/:id/tool-answers`: the answer to a call that waits for the client. For a
 * `permission_request`: `result` `allow` or `deny` (`denyMessage`, default "The user denied this
 * tool call.", is what the model receives). For a `custom_tool_use`: `result` `result` with the
 * tool's output as `content` (text or base64 image blocks) and `isError`.
 */
export const ToolAnswerBodySchema = Type.Union([
  Type.Object(
    {
      id: ToolRequestId,
      result: Type.Union([Type.Literal('allow'), Type.Literal('deny')]),
      denyMessage: Type.Optional(Type.String({ maxLength: 100_000 })),
    },
    { additionalProperties: false, title: 'PermissionAnswer' },
  ),
  Type.Object(
    {
      id: ToolRequestId,
      result: Type.Literal('result'),
      content: Type.Optional(
        Type.Array(
          Type.Union([
            Type.Object(
              { type: Type.Literal('text'), text: Type.String({ maxLength: 1_000_000 }) },
              { additionalProperties: false },
            ),
            Type.Object(
              { type: Type.Literal('image'), source: Base64Source },
              { additionalProperties: false },
            ),
          ]),
          { maxItems: 100 },
        ),
      ),
      isError: Type.Optional(Type.Boolean()),
    },
    { additionalProperties: false, title: 'CustomToolResult' },
  ),
]);
export type ToolAnswerBody = Static<typeof ToolAnswerBodySchema>;

/**
 * The answer to `POST /api/sessions/:id/tool-answers`. `outcome` `delivered`: the waiting turn
 * took it and goes on (its stream shows `tool_answer`); `resumed`: that turn had ended (server
 * restart, interrupt), so a new turn tells the model the outcome (`GET …/stream` shows it).
 */
export const ToolAnswerResponseSchema = Type.Object({
  answer: Type.Object({
    id: Type.String(),
    kind: Type.Union([Type.Literal('permission'), Type.Literal('custom_tool')]),
    result: Type.Union([Type.Literal('allow'), Type.Literal('deny'), Type.Literal('result')]),
    denyMessage: Type.Optional(Type.String()),
    content: Type.Optional(Type.Array(Type.Record(Type.String(), Type.Unknown()))),
    isError: Type.Optional(Type.Boolean()),
  }),
  outcome: Type.Union([Type.Literal('delivered'), Type.Literal('resumed')]),
});
export type ToolAnswerResponse = Static<typeof ToolAnswerResponseSchema>;

/** A persisted message of the conversation. */
export const MessageSchema = Type.Object(
  {
    id: Uuid,
    sessionId: Uuid,
    role: Type.Union([Type.Literal('user'), Type.Literal('assistant'), Type.Literal('system')]),
    /** The SDK message type it came from: `user`, `assistant` or `result`. */
    type: Type.String(),
    /** The message as JSON text (the SDK message, untranslated; upstream-compatible). */
    content: Type.String(),
    /** Plain-text view: the text blocks joined, or the result text. */
    text: Type.String(),
    /** Per-session order, starting at 1. */
    sequence: Type.Integer(),
    turnId: Nullable(Type.String()),
    createdAt: Timestamp,
  },
  { $id: 'Message' },
);
export type Message = Static<typeof MessageSchema>;

export const MessageListResponseSchema = Type.Object({
  messages: Type.Array(MessageSchema),
  hasMore: Type.Boolean(),
});

/** A persisted SSE event: exactly what was streamed, in the order of its `id:` (its sequence). */
export const SessionEventSchema = Type.Object(
  {
    id: Uuid,
    sessionId: Uuid,
    /** The SSE event name (`text_delta`, `tool_use`, `done`...) or a lifecycle event (`lifecycle`). */
    type: Type.String(),
    /** The event's data as JSON text. */
    data: Type.String(),
    /** Per-session order; equals the SSE `id:` it was streamed with. */
    sequence: Type.Integer(),
    turnId: Nullable(Type.String()),
    createdAt: Timestamp,
  },
  { $id: 'SessionEvent' },
);
export type SessionEvent = Static<typeof SessionEventSchema>;

export const ListEventsQuerySchema = Type.Object({
  after: Type.Optional(Type.Integer({ minimum: 0, default: 0 })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 200 })),
  type: Type.Optional(Type.String({ maxLength: 64 })),
  turnId: Type.Optional(Type.String({ maxLength: 64 })),
  view: Type.Optional(
    Type.Union([Type.Literal('log'), Type.Literal('timeline')], {
      description:
        "`log` (default): every persisted event, exactly as streamed. `timeline`: the upstream Ash's timeline — only text, tool_start, tool_result, reasoning, turn_complete, error and lifecycle rows, under those names (what the published upstream Python client parses; it is served by default to that client, see docs/compat.md)",
    }),
  ),
});

export const EventListResponseSchema = Type.Object({
  events: Type.Array(SessionEventSchema),
  hasMore: Type.Boolean(),
});
