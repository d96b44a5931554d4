import { describe, expect, it } from 'vitest';
import { base64DecodedLength, decodeBase64Strict } from './base64.js';

describe('decodeBase64Strict', () => {
  it('decodes valid base64 of any size, byte-exact', () => {
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    expect(decodeBase64Strict(all.toString('base64'))).toEqual(all);
    const big = Buffer.alloc(8 * 1024 * 1024, 7);
    const text = big.toString('base64');
    expect(decodeBase64Strict(text)?.length).toBe(big.length);
    expect(base64DecodedLength(text)).toBe(big.length);
    expect(decodeBase64Strict('')).toEqual(Buffer.alloc(0));
  });

  it('refuses anything else', () => {
    for (const bad of ['!!', 'abc', 'ab=c', 'a===', 'YWJj ', 'YW\nJj', 'YWJj=', '====', 'YQ==YQ==']) {
      expect(decodeBase64Strict(bad), bad).toBeUndefined();
    }
  });
});
