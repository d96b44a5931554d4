import { type Static, Type } from '@sinclair/typebox';

/**
 * SSE events of a turn (`POST /api/sessions/:id/messages`, `GET /api/sessions/:id/stream`).
 *
 * Order within a turn: `session_start` first; then, when the session has no live sandbox, the pair
 * `sandbox_starting` / `sandbox_ready` while it starts (the stream is open before the start ends);
 * then any of `text_delta`, `thinking_delta`, `tool_use`, `tool_result`, `message`; `turn_complete` when the SDK reports its result; `error`
 * on failure; `done` always last. Every frame carries `id:` = the per-session event sequence.
 */
export const SessionStartDataSchema = Type.Object({
  sessionId: Type.String(),
  /** Server version. */
  version: Type.String(),
  turnId: Type.String(),
});
/**
 * The session had no live sandbox when the turn began: one is starting (a cold start, a resume
 * of a paused session, or a start already under way from the prewarm). Sent right after
 * `session_start`, before the start completes (a wait in the start queue shows as `: queued position=<n>`
 * comments).
 */
export const SandboxStartingDataSchema = Type.Object({
  sessionId: Type.String(),
});
/** The sandbox announced by `sandbox_starting` is up; the turn goes on. Not sent when the start failed (`error` then). */
export const SandboxReadyDataSchema = Type.Object({
  sessionId: Type.String(),
  /** How long the turn waited for the sandbox, ms. */
  waitMs: Type.Number({ minimum: 0 }),
});
export const TextDeltaDataSchema = Type.Object({ delta: Type.String() });
export const ThinkingDeltaDataSchema = Type.Object({ delta: Type.String() });
export const ToolUseDataSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  input: Type.Unknown(),
});
export const ToolResultDataSchema = Type.Object({
  tool_use_id: Type.String(),
  /** The tool's output as text (text blocks joined). */
  content: Type.String(),
  is_error: Type.Boolean(),
});
/** The SDK message, untranslated (`assistant`, `user`, `result`, `system`...). */
export const MessageDataSchema = Type.Record(Type.String(), Type.Unknown());
export const TurnCompleteDataSchema = Type.Object({
  numTurns: Type.Integer(),
  /** The final text of the turn (the SDK result). */
  result: Type.Union([Type.String(), Type.Null()]),
  isError: Type.Boolean(),
  /** SDK result subtype: `success`, `error_max_turns`, `error_max_budget_usd`, ... */
  subtype: Type.String(),
  durationMs: Type.Number(),
  /**
   * The SDK's own cost estimate for this turn in USD (its per-result model usage; the SDK's
   * `total_cost_usd` is cumulative over the conversation).
   */
  totalCostUsd: Type.Number(),
  usage: Type.Record(Type.String(), Type.Unknown()),
  /** With `outputFormat`: the structured result. */
  structuredOutput: Type.Optional(Type.Unknown()),
});
export const ErrorDataSchema = Type.Object({
  /** Human-readable message. */
  error: Type.String(),
  /** Stable code (see docs/errors.md), e.g. `turn_timeout`, `limit_exceeded`. */
  code: Type.String(),
  /** For `limit_exceeded`: which limit (`memory`, `pids`, `disk`, `fsize`, `nofile`, `egress_connections`, `egress_bytes`). */
  limit: Type.Optional(Type.String()),
});
/**
 * One network connection a tool made through the sandbox's egress proxy (allowed or refused).
 * Emitted when the connection ended; between turns it is only counted.
 */
export const EgressDataSchema = Type.Object({
  host: Type.String(),
  port: Type.Integer(),
  /** `CONNECT` (a tunnel: HTTPS, git, pip...) or the method of a plain-HTTP request. */
  method: Type.String(),
  allowed: Type.Boolean(),
  /** Why it was refused, naming the policy entry (or `allowed by the network policy`). */
  reason: Type.String(),
  /** Bytes sent to the destination. */
  bytesUp: Type.Integer(),
  /** Bytes received from the destination. */
  bytesDown: Type.Integer(),
  durationMs: Type.Number(),
});
/** How a turn ended. */
export const TurnOutcomeSchema = Type.Union([
  Type.Literal('completed'),
  Type.Literal('error'),
  Type.Literal('interrupted'),
]);
export type TurnOutcome = Static<typeof TurnOutcomeSchema>;
export const DoneDataSchema = Type.Object({
  sessionId: Type.String(),
  turnId: Type.String(),
  outcome: TurnOutcomeSchema,
});

/**
 * A call that waits for the client (`permission_request`: may an `askTools` tool run;
 * `custom_tool_use`: a custom tool for the client to execute). `id` is the model's tool-use id.
 */
export const ToolRequestDataSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  input: Type.Unknown(),
});
/** The client's answer to a `permission_request` or `custom_tool_use`, as delivered to the turn. */
export const ToolAnswerDataSchema = Type.Object({
  id: Type.String(),
  kind: Type.Union([Type.Literal('permission'), Type.Literal('custom_tool')]),
  /** `allow` / `deny` (permission) or `result` (custom tool). */
  result: Type.Union([Type.Literal('allow'), Type.Literal('deny'), Type.Literal('result')]),
  denyMessage: Type.Optional(Type.String()),
  content: Type.Optional(Type.Array(Type.Record(Type.String(), Type.Unknown()))),
  isError: Type.Optional(Type.Boolean()),
});
export type ToolRequestData = Static<typeof ToolRequestDataSchema>;
export type ToolAnswerData = Static<typeof ToolAnswerDataSchema>;

export type SessionStartData = Static<typeof SessionStartDataSchema>;
export type SandboxStartingData = Static<typeof SandboxStartingDataSchema>;
export type SandboxReadyData = Static<typeof SandboxReadyDataSchema>;
export type TextDeltaData = Static<typeof TextDeltaDataSchema>;
export type ThinkingDeltaData = Static<typeof ThinkingDeltaDataSchema>;
export type ToolUseData = Static<typeof ToolUseDataSchema>;
export type ToolResultData = Static<typeof ToolResultDataSchema>;
export type TurnCompleteData = Static<typeof TurnCompleteDataSchema>;
export type ErrorData = Static<typeof ErrorDataSchema>;
export type DoneData = Static<typeof DoneDataSchema>;
export type EgressData = Static<typeof EgressDataSchema>;

/** Map of SSE event name → data type. */
export interface StreamEventDataMap {
  session_start: SessionStartData;
  sandbox_starting: SandboxStartingData;
  sandbox_ready: SandboxReadyData;
  text_delta: TextDeltaData;
  thinking_delta: ThinkingDeltaData;
  tool_use: ToolUseData;
  tool_result: ToolResultData;
  permission_request: ToolRequestData;
  custom_tool_use: ToolRequestData;
  tool_answer: ToolAnswerData;
  message: Record<string, unknown>;
  turn_complete: TurnCompleteData;
  egress: EgressData;
  error: ErrorData;
  done: DoneData;
}
export type StreamEventName = keyof StreamEventDataMap;
export const STREAM_EVENT_NAMES: readonly StreamEventName[] = [
  'session_start',
  'sandbox_starting',
  'sandbox_ready',
  'text_delta',
  'thinking_delta',
  'tool_use',
  'tool_result',
  'permission_request',
  'custom_tool_use',
  'tool_answer',
  'message',
  'turn_complete',
  'egress',
  'error',
  'done',
];

/** An event before it has a sequence number. */
export type StreamEventBody = {
  [K in StreamEventName]: { event: K; data: StreamEventDataMap[K] };
}[StreamEventName];

/** A streamed (or replayed) event with its per-session sequence number (`id:`). */
export type StreamEvent = StreamEventBody & { id: number };

type Rec = Record<string, unknown>;
const isRec = (v: unknown): v is Rec => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Joins the text of a tool_result `content` (a string or an array of blocks). */
export function toolResultText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content))
    return content === undefined || content === null ? '' : JSON.stringify(content);
  return content
    .map((b) =>
      isRec(b) && b.type === 'text' && typeof b.text === 'string'
        ? b.text
        : isRec(b)
          ? `[${String(b.type)}]`
          : '',
    )
    .join('\n');
}

/**
 * Turns one Claude Agent SDK message into the SSE events of a turn, in order.
 *
 * - `stream_event` → `text_delta` / `thinking_delta` (and the raw message as `message` when
 *   `includePartialMessages`);
 * - `assistant` → one `tool_use` per tool_use block, then `message`;
 * - `user` → one `tool_result` per tool_result block, then `message`;
 * - `result` → `message`, then `turn_complete`;
 * - anything else (`system`...) → `message`.
 *
 * Text and thinking blocks of `assistant` messages produce no deltas here: they already streamed
 * as partial messages (the bridge always asks the SDK for them).
 */
export function classifySdkMessage(
  msg: unknown,
  opts: { includePartialMessages?: boolean } = {},
): StreamEventBody[] {
  if (!isRec(msg)) return [];
  const out: StreamEventBody[] = [];
  switch (msg.type) {
    case 'stream_event': {
      const ev = msg.event;
      if (isRec(ev) && ev.type === 'content_block_delta' && isRec(ev.delta)) {
        const d = ev.delta;
        if (d.type === 'text_delta' && typeof d.text === 'string')
          out.push({ event: 'text_delta', data: { delta: d.text } });
        else if (d.type === 'thinking_delta' && typeof d.thinking === 'string')
          out.push({ event: 'thinking_delta', data: { delta: d.thinking } });
      }
      if (opts.includePartialMessages) out.push({ event: 'message', data: msg });
      return out;
    }
    case 'assistant': {
      const content = isRec(msg.message) ? msg.message.content : undefined;
      if (Array.isArray(content)) {
        for (const b of content) {
          if (isRec(b) && b.type === 'tool_use') {
            out.push({
              event: 'tool_use',
              data: { id: String(b.id ?? ''), name: String(b.name ?? ''), input: b.input ?? {} },
            });
          }
        }
      }
      out.push({ event: 'message', data: msg });
      return out;
    }
    case 'user': {
      const content = isRec(msg.message) ? msg.message.content : undefined;
      if (Array.isArray(content)) {
        for (const b of content) {
          if (isRec(b) && b.type === 'tool_result') {
            out.push({
              event: 'tool_result',
              data: {
                tool_use_id: String(b.tool_use_id ?? ''),
                content: toolResultText(b.content),
                is_error: b.is_error === true,
              },
            });
          }
        }
      }
      out.push({ event: 'message', data: msg });
      return out;
    }
    case 'result': {
      out.push({ event: 'message', data: msg });
      out.push({ event: 'turn_complete', data: turnCompleteFromResult(msg) });
      return out;
    }
    default:
      out.push({ event: 'message', data: msg });
      return out;
  }
}

/** Builds `turn_complete` data from an SDK `result` message. */
export function turnCompleteFromResult(msg: Rec): TurnCompleteData {
  const data: TurnCompleteData = {
    numTurns: typeof msg.num_turns === 'number' ? msg.num_turns : 0,
    result: typeof msg.result === 'string' ? msg.result : null,
    isError: msg.is_error === true,
    subtype: typeof msg.subtype === 'string' ? msg.subtype : 'unknown',
    durationMs: typeof msg.duration_ms === 'number' ? msg.duration_ms : 0,
    totalCostUsd: sdkTurnCostUsd(msg),
    usage: isRec(msg.usage) ? msg.usage : {},
  };
  if (msg.structured_output !== undefined) data.structuredOutput = msg.structured_output;
  return data;
}

/**
 * The SDK's cost estimate for the turn a `result` message ends, USD: the sum of `costUSD` over
 * `model_usage_since_last_result` (what this turn used). The message's `total_cost_usd` counts the
 * whole conversation (it survives process restarts), so it is used only when the per-result
 * figures are absent (older SDKs).
 */
export function sdkTurnCostUsd(msg: Rec): number {
  const since = msg.model_usage_since_last_result;
  if (isRec(since)) {
    let sum = 0;
    for (const u of Object.values(since)) if (isRec(u) && typeof u.costUSD === 'number') sum += u.costUSD;
    return sum;
  }
  return typeof msg.total_cost_usd === 'number' ? msg.total_cost_usd : 0;
}

/** The plain text of an SDK message: text blocks joined, or the result text. */
export function sdkMessageText(msg: unknown): string {
  if (!isRec(msg)) return '';
  if (msg.type === 'result') return typeof msg.result === 'string' ? msg.result : '';
  const inner = isRec(msg.message) ? msg.message.content : msg.content;
  if (typeof inner === 'string') return inner;
  if (!Array.isArray(inner)) return '';
  return inner
    .filter((b): b is Rec => isRec(b) && b.type === 'text' && typeof b.text === 'string')
    .map((b) => b.text as string)
    .join('');
}
