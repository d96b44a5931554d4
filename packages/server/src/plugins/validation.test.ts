import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { findNul } from './validation.js';

describe('findNul (the NUL refusal of every request part)', () => {
  it('names the first string or key holding a NUL as a JSON pointer', () => {
    expect(findNul({ a: 'x', env: { TOKEN: 'v\u0000' } })).toBe('/env/TOKEN');
    expect(findNul({ files: [{ path: 'ok' }, { path: 'a\u0000' }] })).toBe('/files/1/path');
    expect(findNul({ 'a/b~c': { 'k\u0000': 1 } })).toBe('/a~1b~0c/k\u0000');
    expect(findNul('top\u0000')).toBe('/');
    expect(findNul({ a: ['x', 1, null, true, { b: 'fine' }] })).toBeUndefined();
    // Objects with a null prototype, or a prototype of their own without one (query strings).
    const bare = Object.assign(Object.create(null), { q: 'a\u0000' });
    function Empty() {}
    Empty.prototype = Object.create(null);
    const query = Object.assign(Object.create(Empty.prototype), { path: 'a\u0000b' });
    expect(findNul(bare)).toBe('/q');
    expect(findNul(query)).toBe('/path');
  });

  it('walks only parsed JSON: a raw body stream or a Buffer is not walked (and cannot hang it)', () => {
    const stream = new PassThrough();
    const started = Date.now();
    expect(findNul(stream)).toBeUndefined();
    expect(findNul({ body: stream })).toBeUndefined();
    expect(findNul(Buffer.from([0, 0, 0]))).toBeUndefined();
    expect(Date.now() - started).toBeLessThan(100);
    stream.destroy();
  });
});
