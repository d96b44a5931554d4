import { describe, expect, it } from 'vitest';
import { quickServeArgs } from './serve.js';

describe('ash serve: the flags read without the command tree', () => {
  it('reads --port, -p and --host in their usual spellings', () => {
    expect(quickServeArgs([])).toEqual({});
    expect(quickServeArgs(['--port', '4100'])).toEqual({ port: '4100' });
    expect(quickServeArgs(['-p', '4100', '--host', '0.0.0.0'])).toEqual({ port: '4100', host: '0.0.0.0' });
    expect(quickServeArgs(['--port=4200', '--host=::1'])).toEqual({ port: '4200', host: '::1' });
    expect(quickServeArgs(['--port', '1', '--port', '2'])).toEqual({ port: '2' });
  });

  it('leaves anything else to the command tree (help, stray arguments, missing values, unknown flags)', () => {
    for (const args of [
      ['--help'],
      ['-h'],
      ['extra'],
      ['--port'],
      ['--bogus'],
      ['--port', '-5'],
      ['--', 'x'],
    ])
      expect(quickServeArgs(args)).toBeUndefined();
  });
});
