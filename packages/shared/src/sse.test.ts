import { describe, expect, it } from 'vitest';
import { SseDecoder, encodeSseComment, encodeSseFrame } from './sse.js';
import { classifySdkMessage, sdkMessageText } from './stream-events.js';

describe('SSE framing', () => {
  it('encodes frames with ids and decodes them back, across arbitrary chunk splits', () => {
    const text =
      encodeSseFrame({ id: 1, event: 'text_delta', data: '{"delta":"a\\nb"}' }) +
      encodeSseComment('ping') +
      encodeSseFrame({ id: 2, event: 'done', data: '{}' });
    for (let cut = 0; cut <= text.length; cut++) {
      const d = new SseDecoder();
      const frames = [...d.push(text.slice(0, cut)), ...d.push(text.slice(cut))];
      expect(frames).toEqual([
        { event: 'text_delta', data: '{"delta":"a\\nb"}', id: '1' },
        { event: 'done', data: '{}', id: '2' },
      ]);
    }
  });

  it('handles CRLF, CR, multi-line data and default event names', () => {
    const d = new SseDecoder();
    expect(d.push('data: a\r\ndata: b\r\n\r\n')).toEqual([{ event: 'message', data: 'a\nb', id: undefined }]);
    expect(d.push('event: x\rdata: y\r')).toEqual([]);
    expect(d.push('\r')).toEqual([{ event: 'x', data: 'y', id: undefined }]);
  });

  it('refuses line breaks inside a field', () => {
    expect(() => encodeSseFrame({ event: 'a\nb', data: '{}' })).toThrow();
    expect(() => encodeSseFrame({ event: 'a', data: '1\n2' })).toThrow();
  });
});

describe('classifySdkMessage', () => {
  it('maps partial deltas, tool calls, tool results and results in order', () => {
    expect(
      classifySdkMessage({
        type: 'stream_event',
        event: { type: 'content_block_delta', delta: { type: 'text_delta', text: 'Hi' } },
      }),
    ).toEqual([{ event: 'text_delta', data: { delta: 'Hi' } }]);
    expect(
      classifySdkMessage(
        {
          type: 'stream_event',
          event: { type: 'content_block_delta', delta: { type: 'thinking_delta', thinking: 'hm' } },
        },
        { includePartialMessages: true },
      ).map((e) => e.event),
    ).toEqual(['thinking_delta', 'message']);
    const assistant = {
      type: 'assistant',
      message: {
        content: [
          { type: 'text', text: 'x' },
          { type: 'tool_use', id: 'tu1', name: 'Bash', input: { command: 'ls' } },
        ],
      },
    };
    expect(classifySdkMessage(assistant)).toEqual([
      { event: 'tool_use', data: { id: 'tu1', name: 'Bash', input: { command: 'ls' } } },
      { event: 'message', data: assistant },
    ]);
    const user = {
      type: 'user',
      message: {
        content: [
          {
            type: 'tool_result',
            tool_use_id: 'tu1',
            content: [{ type: 'text', text: 'out' }],
            is_error: false,
          },
        ],
      },
    };
    expect(classifySdkMessage(user)[0]).toEqual({
      event: 'tool_result',
      data: { tool_use_id: 'tu1', content: 'out', is_error: false },
    });
    const result = {
      type: 'result',
      subtype: 'success',
      num_turns: 2,
      result: 'ok',
      is_error: false,
      total_cost_usd: 0.1,
      duration_ms: 5,
      usage: {},
      structured_output: { a: 1 },
    };
    const evs = classifySdkMessage(result);
    expect(evs.map((e) => e.event)).toEqual(['message', 'turn_complete']);
    expect(evs[1]!.data).toMatchObject({
      numTurns: 2,
      result: 'ok',
      structuredOutput: { a: 1 },
      totalCostUsd: 0.1,
    });
    expect(classifySdkMessage(null)).toEqual([]);
  });

  it('extracts plain text', () => {
    expect(
      sdkMessageText({
        type: 'assistant',
        message: {
          content: [
            { type: 'text', text: 'a' },
            { type: 'text', text: 'b' },
          ],
        },
      }),
    ).toBe('ab');
    expect(sdkMessageText({ type: 'result', result: 'r' })).toBe('r');
    expect(sdkMessageText({ type: 'user', message: { content: 'plain' } })).toBe('plain');
  });
});
