import { describe, expect, it } from 'vitest';
import { EventTranslator, splitMcpToolName, translateEvents, type EngineEvent } from './translate.js';

const at = '2026-12-02T00:00:00.000Z';
let seq = 0;
const ev = (type: string, data: unknown): EngineEvent => ({ sequence: ++seq, type, data, createdAt: at });

describe('engine events → Managed Agents events', () => {
  it('translates a turn with a Bash call into the vocabulary, in order, with stable ids', () => {
    seq = 0;
    const out = translateEvents([
      ev('lifecycle', { action: 'created' }),
      ev('lifecycle', { action: 'user_message', content: [{ type: 'text', text: 'hi' }] }),
      ev('session_start', { sessionId: 's', version: '1', turnId: 't' }),
      ev('text_delta', { delta: 'x' }),
      ev('tool_use', { id: 'toolu_1', name: 'Bash', input: { command: 'ls' } }),
      ev('message', { type: 'assistant', message: { content: [{ type: 'tool_use', id: 'toolu_1' }] } }),
      ev('tool_result', { tool_use_id: 'toolu_1', content: 'a.txt', is_error: false }),
      ev('message', { type: 'user', message: { content: [] } }),
      ev('message', {
        type: 'assistant',
        message: {
          content: [
            { type: 'thinking', thinking: 'hmm' },
            { type: 'text', text: 'Done.' },
          ],
        },
      }),
      ev('message', { type: 'result', subtype: 'success' }),
      ev('turn_complete', { subtype: 'success', isError: false }),
      ev('done', { sessionId: 's', turnId: 't', outcome: 'completed' }),
    ]);
    expect(out.map((e) => e.type)).toEqual([
      'user.message',
      'session.status_running',
      'agent.tool_use',
      'agent.tool_result',
      'agent.thinking',
      'agent.message',
      'session.status_idle',
    ]);
    expect(out[0]).toEqual({
      type: 'user.message',
      id: 'sevt_2',
      processed_at: at,
      content: [{ type: 'text', text: 'hi' }],
    });
    expect(out[2]).toMatchObject({
      id: 'toolu_1',
      name: 'Bash',
      input: { command: 'ls' },
      evaluated_permission: 'allow',
    });
    expect(out[3]).toMatchObject({
      tool_use_id: 'toolu_1',
      content: [{ type: 'text', text: 'a.txt' }],
      is_error: false,
    });
    expect(out[4]).toEqual({ type: 'agent.thinking', id: 'sevt_9', processed_at: at });
    expect(out[5]).toMatchObject({ id: 'sevt_9_1', content: [{ type: 'text', text: 'Done.' }] });
    expect(out[6]).toMatchObject({ stop_reason: { type: 'end_turn' }, stop_details: null });
  });

  it('MCP tools become agent.mcp_tool_use / agent.mcp_tool_result with the server name split off', () => {
    seq = 0;
    expect(splitMcpToolName('mcp__github__create_issue')).toEqual({ server: 'github', tool: 'create_issue' });
    expect(splitMcpToolName('Bash')).toBeUndefined();
    const out = translateEvents([
      ev('tool_use', { id: 'toolu_m', name: 'mcp__github__create_issue', input: { title: 't' } }),
      ev('tool_result', { tool_use_id: 'toolu_m', content: 'ok', is_error: false }),
    ]);
    expect(out[0]).toMatchObject({
      type: 'agent.mcp_tool_use',
      mcp_server_name: 'github',
      name: 'create_issue',
    });
    expect(out[1]).toMatchObject({ type: 'agent.mcp_tool_result', mcp_tool_use_id: 'toolu_m' });
  });

  it('idle reasons: errors → session.error + retries_exhausted; budget → budget_reached; interrupt → end_turn, no error', () => {
    seq = 0;
    const t = new EventTranslator();
    const failed = translateEvents(
      [
        ev('session_start', {}),
        ev('error', { error: 'model down', code: 'model_error' }),
        ev('done', { outcome: 'error' }),
      ],
      t,
    );
    expect(failed.map((e) => e.type)).toEqual([
      'session.status_running',
      'session.error',
      'session.status_idle',
    ]);
    expect(failed[1]).toMatchObject({
      error: { type: 'unknown_error', message: 'model down', retry_status: { type: 'exhausted' } },
    });
    expect(failed[2]).toMatchObject({ stop_reason: { type: 'retries_exhausted' } });
    const budget = translateEvents(
      [
        ev('session_start', {}),
        ev('turn_complete', { subtype: 'error_max_budget_usd', isError: true }),
        ev('done', { outcome: 'completed' }),
      ],
      t,
    );
    expect(budget.at(-1)).toMatchObject({ stop_reason: { type: 'budget_reached' } });
    const interrupted = translateEvents(
      [
        ev('lifecycle', { action: 'user_interrupt' }),
        ev('session_start', {}),
        ev('error', { error: 'interrupted', code: 'turn_interrupted' }),
        ev('done', { outcome: 'interrupted' }),
      ],
      t,
    );
    expect(interrupted.map((e) => e.type)).toEqual([
      'user.interrupt',
      'session.status_running',
      'session.status_idle',
    ]);
    expect(interrupted.at(-1)).toMatchObject({ stop_reason: { type: 'end_turn' } });
  });

  it('deltas, raw SDK messages and other lifecycle rows produce nothing', () => {
    seq = 0;
    expect(
      translateEvents([
        ev('text_delta', { delta: 'a' }),
        ev('thinking_delta', { delta: 'b' }),
        ev('message', { type: 'system', subtype: 'init' }),
        ev('lifecycle', { action: 'paused' }),
        ev('message', { type: 'assistant', message: { content: [{ type: 'text', text: '' }] } }),
      ]),
    ).toEqual([]);
  });

  it('an always_ask call: ask permission, requires_action listing what waits, the confirmation, running again', () => {
    seq = 0;
    const t = new EventTranslator({ askTools: ['Bash', 'mcp__docs'] });
    const out = translateEvents(
      [
        ev('session_start', {}),
        ev('tool_use', { id: 'toolu_a', name: 'Bash', input: { command: 'rm x' } }),
        ev('tool_use', { id: 'toolu_b', name: 'mcp__docs__search', input: {} }),
        ev('tool_use', { id: 'toolu_c', name: 'Read', input: {} }),
        ev('permission_request', { id: 'toolu_a', name: 'Bash', input: { command: 'rm x' } }),
        ev('permission_request', { id: 'toolu_b', name: 'mcp__docs__search', input: {} }),
        ev('tool_answer', { id: 'toolu_a', kind: 'permission', result: 'deny', denyMessage: 'no' }),
        ev('tool_answer', { id: 'toolu_b', kind: 'permission', result: 'allow' }),
        ev('done', { outcome: 'completed' }),
      ],
      t,
    );
    expect(out.map((e) => e.type)).toEqual([
      'session.status_running',
      'agent.tool_use',
      'agent.mcp_tool_use',
      'agent.tool_use',
      'session.status_idle',
      'session.status_idle',
      'user.tool_confirmation',
      'session.status_idle',
      'user.tool_confirmation',
      'session.status_running',
      'session.status_idle',
    ]);
    expect(out[1]).toMatchObject({ evaluated_permission: 'ask', evaluation: { type: 'always_ask' } });
    expect(out[2]).toMatchObject({ evaluated_permission: 'ask' });
    expect(out[3]).toMatchObject({ name: 'Read', evaluated_permission: 'allow' });
    expect(out[4]).toMatchObject({ stop_reason: { type: 'requires_action', event_ids: ['toolu_a'] } });
    expect(out[5]).toMatchObject({
      stop_reason: { type: 'requires_action', event_ids: ['toolu_a', 'toolu_b'] },
    });
    expect(out[6]).toMatchObject({ tool_use_id: 'toolu_a', result: 'deny', deny_message: 'no' });
    expect(out[7]).toMatchObject({ stop_reason: { type: 'requires_action', event_ids: ['toolu_b'] } });
    expect(out[8]).toMatchObject({ tool_use_id: 'toolu_b', result: 'allow' });
    expect(out[8]).not.toHaveProperty('deny_message');
    expect(out.at(-1)).toMatchObject({ stop_reason: { type: 'end_turn' } });
  });

  it('a custom tool: agent.custom_tool_use (not an MCP call), requires_action, the client result; a late answer is echoed', () => {
    seq = 0;
    const out = translateEvents([
      ev('session_start', {}),
      ev('tool_use', { id: 'toolu_c', name: 'mcp__ash_custom__weather', input: { city: 'Oslo' } }),
      ev('custom_tool_use', { id: 'toolu_c', name: 'weather', input: { city: 'Oslo' } }),
      ev('tool_answer', {
        id: 'toolu_c',
        kind: 'custom_tool',
        result: 'result',
        content: [{ type: 'text', text: 'cold' }],
        isError: false,
      }),
      ev('tool_result', { tool_use_id: 'toolu_c', content: 'cold', is_error: false }),
      ev('done', { outcome: 'completed' }),
      ev('lifecycle', {
        action: 'tool_answer',
        id: 'toolu_d',
        kind: 'custom_tool',
        result: 'result',
        content: [{ type: 'text', text: 'late' }],
        isError: true,
      }),
    ]);
    expect(out.map((e) => e.type)).toEqual([
      'session.status_running',
      'agent.custom_tool_use',
      'session.status_idle',
      'user.custom_tool_result',
      'session.status_running',
      'session.status_idle',
      'user.custom_tool_result',
    ]);
    expect(out[1]).toMatchObject({ id: 'toolu_c', name: 'weather', input: { city: 'Oslo' } });
    expect(out[2]).toMatchObject({ stop_reason: { type: 'requires_action', event_ids: ['toolu_c'] } });
    expect(out[3]).toMatchObject({
      custom_tool_use_id: 'toolu_c',
      content: [{ type: 'text', text: 'cold' }],
      is_error: false,
    });
    expect(out.at(-1)).toMatchObject({ custom_tool_use_id: 'toolu_d', is_error: true });
  });
});
