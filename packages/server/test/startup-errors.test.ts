import { describe, expect, it } from 'vitest';
import { startupErrorMessage } from '../src/index.js';

describe('startup error messages', () => {
  it('say how to fix a native module built for another Node version (a switch of Node after the install)', () => {
    // The message Node gives when better-sqlite3's binary was built for Node 20 and Node 22 loads it.
    const err = new Error(
      "The module '/srv/ash/node_modules/better-sqlite3/build/Release/better_sqlite3.node'\n" +
        'was compiled against a different Node.js version using\nNODE_MODULE_VERSION 115. This version of Node.js requires\n' +
        'NODE_MODULE_VERSION 127. Please try re-compiling or re-installing\nthe module (for instance, using `npm rebuild` or `npm install`).',
    );
    const text = startupErrorMessage(err);
    expect(text).toContain('better_sqlite3.node');
    expect(text).toContain('npm rebuild better-sqlite3');
    expect(text).toContain(process.version);
    expect(text).not.toContain('    at '); // no stack
  });

  it('keep the stack of an unexpected error, and explain a taken port', () => {
    expect(startupErrorMessage(new Error('boom'))).toMatch(/^Error: boom\n\s+at /);
    const taken = Object.assign(new Error('listen EADDRINUSE: address already in use 127.0.0.1:4100'), {
      code: 'EADDRINUSE',
    });
    expect(startupErrorMessage(taken)).toBe(
      'listen EADDRINUSE: address already in use 127.0.0.1:4100: the port is taken (set ASH_PORT)',
    );
  });
});
