/**
 * The one translation from the engine's persisted session events (`session_events` rows: the
 * turn's SSE events plus `lifecycle` rows) to the Managed Agents event vocabulary served under
 * `/v1/sessions/{id}/events` (list and stream).
 *
 * | engine event                          | Managed Agents event(s)                                   |
 * |---------------------------------------|-----------------------------------------------------------|
 * | lifecycle `user_message`              | `user.message` (the content as sent)                       |
 * | lifecycle `user_interrupt`            | `user.interrupt`                                           |
 * | `session_start`                       | `session.status_running`                                   |
 * | `message` (SDK `assistant`)           | `agent.thinking` when it has thinking, then `agent.message`|
 * |                                       | when it has text                                           |
 * | `tool_use` (`mcp__<server>__<tool>`)  | `agent.mcp_tool_use`                                       |
 * | `tool_use` (any other tool)           | `agent.tool_use` (`evaluated_permission: "allow"`, `"ask"` |
 * |                                       | for an `askTools` tool)                                    |
 * | `tool_use` / `tool_result` of a custom| nothing (`custom_tool_use` and the client's answer say it) |
 * | tool (`mcp__ash_custom__<name>`)      |                                                            |
 * | `tool_result`                         | `agent.mcp_tool_result` / `agent.tool_result`              |
 * | `permission_request`                  | `session.status_idle` (`requires_action`, `event_ids` =    |
 * |                                       | the tool uses waiting)                                     |
 * | `custom_tool_use`                     | `agent.custom_tool_use`, then that `session.status_idle`   |
 * | `tool_answer`                         | `user.tool_confirmation` / `user.custom_tool_result`, then |
 * |                                       | `session.status_running` when nothing else waits, else     |
 * |                                       | `session.status_idle` listing the rest                     |
 * | lifecycle `tool_answer` (an answer    | `user.tool_confirmation` / `user.custom_tool_result`       |
 * | after the call's turn ended)          |                                                            |
 * | `error` (not `turn_interrupted`)       | `session.error` (`retry_status: exhausted`)                |
 * | `turn_complete` (budget subtype)      | nothing; remembered for the idle reason                    |
 * | `done`                                | `session.status_idle` (`end_turn`, also when interrupted;  |
 * |                                       | `retries_exhausted` after an error; `budget_reached` after |
 * |                                       | a budget stop)                                             |
 * | deltas, other messages, lifecycle,    | nothing                                                    |
 * | `sandbox_starting`, `sandbox_ready`   |                                                            |
 *
 * Not yet: `span.model_request_*` (the engine does not persist request boundaries in order).
 *
 * Event ids are `sevt_<sequence>` (plus `_<n>` for the n-th extra event made from one row), so a
 * list and a stream give the same ids. A tool use's event id is the model's tool-use id, which is
 * also the `tool_use_id` of its result.
 */

import { CUSTOM_TOOL_SERVER } from '@ash-ai/shared';

/** A persisted engine event: what the translation needs of a `session_events` row. */
export interface EngineEvent {
  sequence: number;
  type: string;
  /** Parsed JSON data. */
  data: unknown;
  createdAt: string;
}

/** A Managed Agents session event (wire shape). */
export type ManagedEvent = { type: string; id: string; processed_at: string } & Record<string, unknown>;

type Rec = Record<string, unknown>;
const isRec = (v: unknown): v is Rec => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Splits an Agent SDK MCP tool name `mcp__<server>__<tool>`; undefined for other tools. */
export function splitMcpToolName(name: string): { server: string; tool: string } | undefined {
  const m = /^mcp__(.+?)__(.+)$/.exec(name);
  return m ? { server: m[1]!, tool: m[2]! } : undefined;
}

/** The lifecycle actions this module writes and reads (recorded by the `/v1` events route). */
export const USER_MESSAGE_ACTION = 'user_message';
export const USER_INTERRUPT_ACTION = 'user_interrupt';
/** An answer to a call whose turn had ended (data: a `tool_answer` event's data). */
export const TOOL_ANSWER_ACTION = 'tool_answer';

const CUSTOM_PREFIX = `mcp__${CUSTOM_TOOL_SERVER}__`;

/** The client event that echoes a `tool_answer` (engine event or lifecycle row). */
export function answerEcho(d: Rec, base: { id: string; processed_at: string }): ManagedEvent {
  const id = String(d.id ?? '');
  if (d.kind === 'custom_tool')
    return {
      type: 'user.custom_tool_result',
      ...base,
      custom_tool_use_id: id,
      content: Array.isArray(d.content) ? d.content : [],
      is_error: d.isError === true,
    };
  return {
    type: 'user.tool_confirmation',
    ...base,
    tool_use_id: id,
    result: d.result === 'allow' ? 'allow' : 'deny',
    ...(typeof d.denyMessage === 'string' ? { deny_message: d.denyMessage } : {}),
  };
}

/** Options of an {@link EventTranslator}. */
export interface TranslatorOptions {
  /** Tools whose calls wait for approval (`askTools`; `mcp__<server>` = all of that server's). */
  askTools?: readonly string[];
}

/**
 * Translates engine events in sequence order. Keeps what a later event needs (which tool uses
 * were MCP calls, whether the turn stopped on an error or a budget): feed one session's events to
 * one translator, in order.
 */
export class EventTranslator {
  private readonly mcpToolUses = new Set<string>();
  private readonly customToolUses = new Set<string>();
  /** Tool uses waiting for the client, in order. */
  private readonly waiting: string[] = [];
  private readonly askTools: ReadonlySet<string>;
  private turnError = false;
  private budgetStop = false;

  constructor(opts: TranslatorOptions = {}) {
    this.askTools = new Set(opts.askTools ?? []);
  }

  private permissionOf(name: string): Rec {
    const server = /^(mcp__.+?)__/.exec(name)?.[1];
    return this.askTools.has(name) || (server !== undefined && this.askTools.has(server))
      ? { evaluated_permission: 'ask', evaluation: { type: 'always_ask' } }
      : { evaluated_permission: 'allow' };
  }

  private idleForAction(base: { id: string; processed_at: string }): ManagedEvent {
    return {
      type: 'session.status_idle',
      ...base,
      stop_reason: { type: 'requires_action', event_ids: [...this.waiting] },
      stop_details: null,
    };
  }

  /** The Managed Agents events of one engine event (often none). */
  translate(e: EngineEvent): ManagedEvent[] {
    const d = isRec(e.data) ? e.data : {};
    const base = (n = 0) => ({
      id: n === 0 ? `sevt_${e.sequence}` : `sevt_${e.sequence}_${n}`,
      processed_at: e.createdAt,
    });
    switch (e.type) {
      case 'lifecycle':
        if (d.action === USER_MESSAGE_ACTION)
          return [{ type: 'user.message', ...base(), content: Array.isArray(d.content) ? d.content : [] }];
        if (d.action === USER_INTERRUPT_ACTION) return [{ type: 'user.interrupt', ...base() }];
        if (d.action === TOOL_ANSWER_ACTION) return [answerEcho(d, base())];
        return [];
      case 'session_start':
        this.turnError = false;
        this.budgetStop = false;
        this.waiting.length = 0;
        return [{ type: 'session.status_running', ...base() }];
      case 'tool_use': {
        const name = String(d.name ?? '');
        const id = typeof d.id === 'string' && d.id ? d.id : base().id;
        if (name.startsWith(CUSTOM_PREFIX)) {
          this.customToolUses.add(id);
          return [];
        }
        const mcp = splitMcpToolName(name);
        if (mcp) {
          this.mcpToolUses.add(id);
          return [
            {
              type: 'agent.mcp_tool_use',
              id,
              processed_at: e.createdAt,
              mcp_server_name: mcp.server,
              name: mcp.tool,
              input: isRec(d.input) ? d.input : {},
              ...this.permissionOf(name),
            },
          ];
        }
        return [
          {
            type: 'agent.tool_use',
            id,
            processed_at: e.createdAt,
            name,
            input: isRec(d.input) ? d.input : {},
            ...this.permissionOf(name),
          },
        ];
      }
      case 'permission_request':
        this.waiting.push(String(d.id ?? ''));
        return [this.idleForAction(base())];
      case 'custom_tool_use': {
        const id = String(d.id ?? '');
        this.waiting.push(id);
        return [
          {
            type: 'agent.custom_tool_use',
            id,
            processed_at: e.createdAt,
            name: String(d.name ?? ''),
            input: isRec(d.input) ? d.input : {},
          },
          this.idleForAction(base(1)),
        ];
      }
      case 'tool_answer': {
        const i = this.waiting.indexOf(String(d.id ?? ''));
        if (i >= 0) this.waiting.splice(i, 1);
        // All answered: running again; else idle again, listing what still waits.
        return [
          answerEcho(d, base()),
          this.waiting.length === 0
            ? { type: 'session.status_running', ...base(1) }
            : this.idleForAction(base(1)),
        ];
      }
      case 'tool_result': {
        const useId = String(d.tool_use_id ?? '');
        if (this.customToolUses.has(useId)) return [];
        const content = [{ type: 'text', text: typeof d.content === 'string' ? d.content : '' }];
        const isError = d.is_error === true;
        if (this.mcpToolUses.has(useId))
          return [
            { type: 'agent.mcp_tool_result', ...base(), mcp_tool_use_id: useId, content, is_error: isError },
          ];
        return [{ type: 'agent.tool_result', ...base(), tool_use_id: useId, content, is_error: isError }];
      }
      case 'message':
        return this.assistantMessage(d, base);
      case 'error':
        // An interrupt is the client's own doing, not an error of the session.
        if (d.code === 'turn_interrupted') return [];
        this.turnError = true;
        return [
          {
            type: 'session.error',
            ...base(),
            error: {
              type: 'unknown_error',
              message: typeof d.error === 'string' ? d.error : 'the turn failed',
              retry_status: { type: 'exhausted' },
            },
          },
        ];
      case 'turn_complete':
        if (typeof d.subtype === 'string' && d.subtype.includes('budget')) this.budgetStop = true;
        else if (d.isError === true) this.turnError = true;
        return [];
      case 'done': {
        this.waiting.length = 0;
        const reason = this.budgetStop
          ? 'budget_reached'
          : d.outcome === 'interrupted'
            ? 'end_turn'
            : this.turnError || d.outcome === 'error'
              ? 'retries_exhausted'
              : 'end_turn';
        return [
          { type: 'session.status_idle', ...base(), stop_reason: { type: reason }, stop_details: null },
        ];
      }
      default:
        return [];
    }
  }

  /** An SDK `assistant` message: its thinking (no text, as the API defines it) and its text. */
  private assistantMessage(
    d: Rec,
    base: (n?: number) => { id: string; processed_at: string },
  ): ManagedEvent[] {
    if (d.type !== 'assistant' || !isRec(d.message)) return [];
    const blocks = Array.isArray(d.message.content) ? d.message.content.filter(isRec) : [];
    const out: ManagedEvent[] = [];
    if (blocks.some((b) => b.type === 'thinking' || b.type === 'redacted_thinking'))
      out.push({ type: 'agent.thinking', ...base(out.length) });
    const text = blocks
      .filter((b) => b.type === 'text' && typeof b.text === 'string' && b.text !== '')
      .map((b) => ({ type: 'text', text: b.text as string }));
    if (text.length > 0) out.push({ type: 'agent.message', ...base(out.length), content: text });
    return out;
  }
}

/** Translates a run of engine events (one translator, in order). */
export function translateEvents(
  events: readonly EngineEvent[],
  t: EventTranslator = new EventTranslator(),
): ManagedEvent[] {
  return events.flatMap((e) => t.translate(e));
}
