import type { Message, StreamEvent } from '@ash-ai/sdk';

/** One rendered piece of a turn. */
export type Block =
  | { kind: 'text'; text: string }
  | { kind: 'thinking'; text: string }
  | {
      kind: 'tool';
      id: string;
      name: string;
      input: unknown;
      result?: { content: string; isError: boolean };
    }
  | { kind: 'image'; src: string; alt: string }
  | { kind: 'error'; code: string; message: string };

/** A turn as the user reads it: their prompt, then what the agent did. */
export interface Turn {
  turnId: string;
  prompt?: string;
  blocks: Block[];
  outcome?: 'completed' | 'error' | 'interrupted';
  costUsd?: number;
}

/**
 * Builds the conversation from the session's events (in id order, each once) and its persisted
 * user messages (the prompts, which the event stream does not carry).
 */
export function buildTurns(events: StreamEvent[], messages: Message[]): Turn[] {
  const prompts = new Map<string, string>();
  for (const m of messages)
    if (m.role === 'user' && m.turnId && m.text && !prompts.has(m.turnId)) prompts.set(m.turnId, m.text);
  const turns: Turn[] = [];
  let cur: Turn | undefined;
  let sawDeltas = false;
  const tools = new Map<string, Extract<Block, { kind: 'tool' }>>();
  const ensure = (turnId?: string): Turn => {
    if (!cur || (turnId && cur.turnId !== turnId && cur.outcome)) {
      cur = { turnId: turnId ?? `t${turns.length}`, blocks: [] };
      if (turnId && prompts.has(turnId)) cur.prompt = prompts.get(turnId)!;
      turns.push(cur);
      sawDeltas = false;
    }
    return cur;
  };
  const appendText = (t: Turn, kind: 'text' | 'thinking', delta: string) => {
    const last = t.blocks[t.blocks.length - 1];
    if (last && last.kind === kind) last.text += delta;
    else t.blocks.push({ kind, text: delta });
  };
  for (const ev of events) {
    switch (ev.event) {
      case 'session_start': {
        cur = undefined;
        ensure(ev.data.turnId);
        break;
      }
      case 'text_delta':
        sawDeltas = true;
        appendText(ensure(), 'text', ev.data.delta);
        break;
      case 'thinking_delta':
        sawDeltas = true;
        appendText(ensure(), 'thinking', ev.data.delta);
        break;
      case 'tool_use': {
        const b = { kind: 'tool' as const, id: ev.data.id, name: ev.data.name, input: ev.data.input };
        tools.set(b.id, b);
        ensure().blocks.push(b);
        break;
      }
      case 'tool_result': {
        const b = tools.get(ev.data.tool_use_id);
        if (b) b.result = { content: ev.data.content, isError: ev.data.is_error };
        break;
      }
      case 'message': {
        const t = ensure();
        const msg = ev.data as { type?: string; message?: { content?: unknown } };
        const content = Array.isArray(msg.message?.content) ? (msg.message.content as unknown[]) : [];
        for (const raw of content) {
          const c = raw as {
            type?: string;
            text?: string;
            source?: { type?: string; media_type?: string; data?: string };
          };
          if (c.type === 'image' && c.source?.type === 'base64' && c.source.data)
            t.blocks.push({
              kind: 'image',
              src: `data:${c.source.media_type};base64,${c.source.data}`,
              alt: 'image from the conversation',
            });
          else if (msg.type === 'assistant' && c.type === 'text' && !sawDeltas && c.text)
            appendText(t, 'text', c.text);
        }
        break;
      }
      case 'turn_complete':
        ensure().costUsd = ev.data.totalCostUsd;
        break;
      case 'error':
        ensure().blocks.push({ kind: 'error', code: ev.data.code, message: ev.data.error });
        break;
      case 'done':
        ensure().outcome = ev.data.outcome;
        break;
    }
  }
  return turns;
}

/** Adds `incoming` events to `known`, each id once, in id order. */
export function mergeEvents(known: StreamEvent[], incoming: StreamEvent[]): StreamEvent[] {
  const seen = new Set(known.map((e) => e.id));
  const add: StreamEvent[] = [];
  for (const e of incoming) {
    if (seen.has(e.id)) continue;
    seen.add(e.id);
    add.push(e);
  }
  if (add.length === 0) return known;
  return [...known, ...add].sort((a, b) => a.id - b.id);
}
