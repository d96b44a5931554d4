import type { Message, StreamEvent } from '@ash-ai/sdk';
import { describe, expect, it } from 'vitest';
import { buildTurns, mergeEvents } from '../src/conversation.js';

const ev = (id: number, event: string, data: unknown) => ({ id, event, data }) as StreamEvent;
const prompt = (turnId: string, text: string) =>
  ({ role: 'user', type: 'user', text, turnId, sequence: 1 }) as unknown as Message;

describe('console conversation model', () => {
  it('renders a turn: prompt, collapsed thinking, text, tool call with its result, image, error, outcome', () => {
    const events = [
      ev(1, 'session_start', { sessionId: 's', version: '1', turnId: 't1' }),
      ev(2, 'thinking_delta', { delta: 'Let me ' }),
      ev(3, 'thinking_delta', { delta: 'think.' }),
      ev(4, 'text_delta', { delta: 'Hel' }),
      ev(5, 'text_delta', { delta: 'lo' }),
      ev(6, 'tool_use', { id: 'tu1', name: 'Read', input: { path: 'a.png' } }),
      ev(7, 'tool_result', { tool_use_id: 'tu1', content: 'ok', is_error: false }),
      ev(8, 'message', {
        type: 'user',
        message: {
          content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAAA' } }],
        },
      }),
      ev(9, 'error', { error: 'model unavailable', code: 'model_error' }),
      ev(10, 'turn_complete', { totalCostUsd: 0.25 }),
      ev(11, 'done', { sessionId: 's', turnId: 't1', outcome: 'error' }),
    ];
    const [turn, ...rest] = buildTurns(events, [prompt('t1', 'Hi there')]);
    expect(rest).toEqual([]);
    expect(turn).toEqual({
      turnId: 't1',
      prompt: 'Hi there',
      outcome: 'error',
      costUsd: 0.25,
      blocks: [
        { kind: 'thinking', text: 'Let me think.' },
        { kind: 'text', text: 'Hello' },
        {
          kind: 'tool',
          id: 'tu1',
          name: 'Read',
          input: { path: 'a.png' },
          result: { content: 'ok', isError: false },
        },
        { kind: 'image', src: 'data:image/png;base64,AAAA', alt: 'image from the conversation' },
        { kind: 'error', code: 'model_error', message: 'model unavailable' },
      ],
    });
  });

  it('takes the text of assistant messages when a turn streamed no deltas, and splits turns', () => {
    const events = [
      ev(1, 'session_start', { sessionId: 's', version: '1', turnId: 't1' }),
      ev(2, 'message', { type: 'assistant', message: { content: [{ type: 'text', text: 'Whole answer' }] } }),
      ev(3, 'done', { sessionId: 's', turnId: 't1', outcome: 'completed' }),
      ev(4, 'session_start', { sessionId: 's', version: '1', turnId: 't2' }),
      ev(5, 'text_delta', { delta: 'Second' }),
      ev(6, 'message', { type: 'assistant', message: { content: [{ type: 'text', text: 'Second' }] } }),
      ev(7, 'done', { sessionId: 's', turnId: 't2', outcome: 'interrupted' }),
    ];
    const turns = buildTurns(events, []);
    expect(turns.map((t) => [t.turnId, t.outcome, t.blocks])).toEqual([
      ['t1', 'completed', [{ kind: 'text', text: 'Whole answer' }]],
      ['t2', 'interrupted', [{ kind: 'text', text: 'Second' }]],
    ]);
  });

  it('keeps each event id once, in order, whichever connection delivered it', () => {
    const a = [ev(1, 'text_delta', { delta: 'a' }), ev(2, 'text_delta', { delta: 'b' })];
    const merged = mergeEvents(a, [
      ev(2, 'text_delta', { delta: 'b' }),
      ev(4, 'done', {}),
      ev(3, 'text_delta', { delta: 'c' }),
    ]);
    expect(merged.map((e) => e.id)).toEqual([1, 2, 3, 4]);
    expect(mergeEvents(merged, [ev(3, 'text_delta', { delta: 'c' })])).toBe(merged);
  });
});
