import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { API_KEY_PATTERN } from '@ash-ai/shared';
import { describe, expect, it } from 'vitest';
import { generateApiKey, loadKeyHashSecret, parseAuthorization } from './api-key-service.js';

describe('API key format and Authorization parsing', () => {
  it('generates ash_ + 32 base64url characters from 24 random bytes', () => {
    const keys = new Set(Array.from({ length: 50 }, generateApiKey));
    expect(keys.size).toBe(50);
    for (const k of keys) expect(k).toMatch(new RegExp(API_KEY_PATTERN));
  });

  it('accepts exactly `Bearer <token>` and says what is wrong otherwise', () => {
    const key = generateApiKey();
    expect(parseAuthorization(`Bearer ${key}`)).toEqual({ ok: true, token: key });
    expect(parseAuthorization(`bearer ${key}`)).toEqual({ ok: true, token: key });
    expect(parseAuthorization(undefined)).toEqual({ ok: false, reason: 'missing' });
    expect(parseAuthorization('')).toEqual({ ok: false, reason: 'missing' });
    for (const bad of [
      key,
      `Bearer  ${key}`,
      `Bearer ${key} `,
      ` Bearer ${key}`,
      `Bearer ${key} extra`,
      `Basic ${Buffer.from('a:b').toString('base64')}`,
      'Bearer',
      'Bearer ',
      `Bearer ${key}\t`,
      `Bearer ${'a'.repeat(513)}`,
      'Bearer ke"y',
      'Bearer =abc',
    ]) {
      expect(parseAuthorization(bad), JSON.stringify(bad)).toEqual({ ok: false, reason: 'malformed' });
    }
    expect(parseAuthorization([`Bearer ${key}`, `Bearer ${key}`])).toEqual({
      ok: false,
      reason: 'malformed',
    });
  });

  it('keeps a generated hashing secret in the data dir (0600), or uses the one given', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ash-secret-'));
    try {
      const a = loadKeyHashSecret(dir, undefined);
      expect(a.length).toBeGreaterThanOrEqual(32);
      expect(statSync(join(dir, 'key-hash-secret')).mode & 0o777).toBe(0o600);
      expect(loadKeyHashSecret(dir, undefined)).toBe(a);
      expect(loadKeyHashSecret(dir, 'x'.repeat(40))).toBe('x'.repeat(40));
      writeFileSync(join(dir, 'key-hash-secret'), 'short\n');
      expect(() => loadKeyHashSecret(dir, undefined)).toThrow(/damaged/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
