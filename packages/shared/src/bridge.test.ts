import { describe, expect, it } from 'vitest';
import {
  BridgeProtocolError,
  LineSplitter,
  decodeBridgeCommand,
  decodeBridgeEvent,
  encodeBridgeMessage,
  parseBridgeProcessConfig,
  type BridgeCommand,
  type BridgeEvent,
} from './bridge.js';

const sid = '3b241101-e2bb-4255-8caf-4136c566a962';

describe('bridge protocol', () => {
  it('round-trips every command and event', () => {
    const commands: BridgeCommand[] = [
      {
        cmd: 'query',
        turnId: 't1',
        prompt: 'hi',
        options: { model: 'm', maxTurns: 2 },
        conversation: { sessionId: sid },
      },
      {
        cmd: 'query',
        turnId: 't2',
        prompt: [{ type: 'text', text: 'x' }],
        options: {},
        conversation: { sessionId: sid, forkFrom: sid },
      },
      { cmd: 'warm', options: {}, conversation: { sessionId: sid } },
      { cmd: 'interrupt', turnId: 't1' },
      { cmd: 'shutdown' },
    ];
    for (const c of commands) expect(decodeBridgeCommand(encodeBridgeMessage(c).trimEnd())).toEqual(c);
    const events: BridgeEvent[] = [
      { ev: 'ready', protocol: 1, pid: 12, sdkVersion: '0.3.332' },
      { ev: 'message', turnId: 't1', data: { type: 'assistant', message: { content: [] } } },
      { ev: 'turn_end', turnId: 't1', outcome: 'error', error: { message: 'boom', code: 'turn_failed' } },
      { ev: 'warmed', ok: true },
      { ev: 'log', level: 'debug', text: 'x' },
    ];
    for (const e of events) expect(decodeBridgeEvent(encodeBridgeMessage(e).trimEnd())).toEqual(e);
  });

  it('rejects unknown discriminators, missing fields, extra fields and bad JSON', () => {
    expect(() => decodeBridgeCommand('{"cmd":"explode"}')).toThrow(BridgeProtocolError);
    expect(() => decodeBridgeCommand('{"cmd":"query","turnId":"t"}')).toThrow(/invalid bridge command/);
    expect(() => decodeBridgeCommand('{"cmd":"shutdown","extra":1}')).toThrow(BridgeProtocolError);
    expect(() => decodeBridgeCommand('{"ev":"ready","protocol":1,"pid":1,"sdkVersion":"x"}')).toThrow(
      BridgeProtocolError,
    );
    expect(() => decodeBridgeEvent('not json')).toThrow(/not valid JSON/);
    expect(() => decodeBridgeEvent('[1,2]')).toThrow(BridgeProtocolError);
  });

  it('rejects prototype-polluting keys at any depth', () => {
    expect(() => decodeBridgeCommand('{"cmd":"shutdown","__proto__":{"x":1}}')).toThrow(/forbidden key/);
    const deep = `{"ev":"message","turnId":"t","data":{"a":{"constructor":{"prototype":{"polluted":true}}}}}`;
    expect(() => decodeBridgeEvent(deep)).toThrow(/forbidden key/);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    // A plain "constructor" key without "prototype" is data, not an attack (tool inputs may use it).
    expect(decodeBridgeEvent('{"ev":"message","turnId":"t","data":{"constructor":"x"}}').ev).toBe('message');
  });

  it('splits lines across chunks and refuses oversized lines', () => {
    const s = new LineSplitter(16);
    expect(s.push('{"a":1}\n{"b"')).toEqual(['{"a":1}']);
    expect(s.push(':2}\n\n')).toEqual(['{"b":2}']);
    expect(() => s.push('x'.repeat(17))).toThrow(/exceeds/);
    const t = new LineSplitter(16);
    expect(() => t.push(`${'y'.repeat(20)}\n`)).toThrow(/exceeds/);
  });

  it('validates the process config', () => {
    expect(() => parseBridgeProcessConfig(undefined)).toThrow(/not set/);
    expect(() => parseBridgeProcessConfig('{"socketPath":"/x"}')).toThrow(/invalid ASH_BRIDGE_CONFIG/);
    const ok = {
      socketPath: '/s',
      cwd: '/w',
      hostCwd: '/w',
      claudeConfigDir: '/c',
      claudeEnv: { A: 'b' },
      settingSources: ['project'],
    };
    expect(parseBridgeProcessConfig(JSON.stringify(ok))).toEqual(ok);
  });

  it('carries tool requests up and their answers down; a malformed answer is refused', () => {
    const ev: BridgeEvent = {
      ev: 'tool_request',
      turnId: 't1',
      requestId: 'toolu_1',
      kind: 'permission',
      name: 'Bash',
      input: { command: 'ls' },
    };
    expect(decodeBridgeEvent(encodeBridgeMessage(ev).trim())).toEqual(ev);
    const answers: BridgeCommand[] = [
      { cmd: 'tool_answer', requestId: 'toolu_1', answer: { type: 'allow' } },
      { cmd: 'tool_answer', requestId: 'toolu_1', answer: { type: 'deny', message: 'no' } },
      {
        cmd: 'tool_answer',
        requestId: 'toolu_2',
        answer: { type: 'result', content: [{ type: 'text', text: 'r' }], isError: false },
      },
    ];
    for (const c of answers) expect(decodeBridgeCommand(encodeBridgeMessage(c).trim())).toEqual(c);
    expect(() =>
      decodeBridgeCommand(JSON.stringify({ cmd: 'tool_answer', requestId: 'x', answer: { type: 'maybe' } })),
    ).toThrow(BridgeProtocolError);
    expect(() => decodeBridgeEvent(JSON.stringify({ ...ev, kind: 'other' }))).toThrow(BridgeProtocolError);
  });
});
