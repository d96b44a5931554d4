import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BUILTIN_PRICES, loadPricing, PriceTableError, Pricing } from './usage-prices.js';

const dir = mkdtempSync(join(tmpdir(), 'ash-prices-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, body: string) => {
  const p = join(dir, name);
  writeFileSync(p, body);
  return p;
};

describe('price tables', () => {
  it('prices by the longest matching key, per million tokens of each kind', () => {
    const p = new Pricing(BUILTIN_PRICES);
    expect(p.version).toBe('anthropic-list-2025-11');
    expect(p.priceOf('claude-opus-4-1-20250805')).toEqual(BUILTIN_PRICES.models['claude-opus-4-1']);
    expect(p.priceOf('claude-opus-4-5-20251101')).toEqual(BUILTIN_PRICES.models['claude-opus-4-5']);
    // Sonnet 4.5: $3 in, $15 out, $3.75 cache write, $0.30 cache read.
    expect(
      p.cost('claude-sonnet-4-5-20250929', {
        inputTokens: 1_000_000,
        outputTokens: 100_000,
        cacheCreationInputTokens: 10_000,
        cacheReadInputTokens: 200_000,
      }),
    ).toBeCloseTo(3 + 1.5 + 0.0375 + 0.06, 12);
    // Unknown models fall back to the default entry.
    expect(p.priceOf('some-gateway-model')).toEqual(BUILTIN_PRICES.default);
  });

  it('lays the operator file over the built-in table and takes its version', () => {
    const p = loadPricing(
      file(
        'ok.json',
        JSON.stringify({
          version: 'ops-1',
          models: {
            'claude-sonnet-4-5': {
              inputPerMTok: 1,
              outputPerMTok: 2,
              cacheWritePerMTok: 0,
              cacheReadPerMTok: 0,
            },
          },
        }),
      ),
    );
    expect(p.version).toBe('ops-1');
    expect(p.priceOf('claude-sonnet-4-5')!.inputPerMTok).toBe(1);
    expect(p.priceOf('claude-haiku-4-5')).toEqual(BUILTIN_PRICES.models['claude-haiku-4-5']);
    expect(
      new Pricing({ version: 'v', models: {} }).cost('x', {
        inputTokens: 9,
        outputTokens: 9,
        cacheCreationInputTokens: 0,
        cacheReadInputTokens: 0,
      }),
    ).toBe(0);
  });

  it('refuses unreadable or invalid files with a message naming the problem', () => {
    expect(() => loadPricing(join(dir, 'missing.json'))).toThrow(PriceTableError);
    expect(() => loadPricing(file('bad.json', '{nope'))).toThrow(/could not be read as JSON/);
    expect(() =>
      loadPricing(file('neg.json', JSON.stringify({ version: 'v', models: { m: { inputPerMTok: -1 } } }))),
    ).toThrow(/not a valid price table: \/models\/m/);
    expect(() => loadPricing(file('nov.json', JSON.stringify({ models: {} })))).toThrow(/version/);
  });
});
