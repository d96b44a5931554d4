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
    // Unknown models of no known family: the most expensive rate of the table.
    expect(p.lookup('some-gateway-model')).toMatchObject({ kind: 'max', price: { outputPerMTok: 75 } });
  });

  it('never prices a newer or unknown model as free or cheap (QA #10)', () => {
    const p = new Pricing(BUILTIN_PRICES);
    const opusMax = BUILTIN_PRICES.models['claude-opus-4-1']!;
    const sonnetMax = BUILTIN_PRICES.models['claude-sonnet-4-5']!;
    const haikuMax = BUILTIN_PRICES.models['claude-haiku-4-5']!;
    // New major / minor versions and dated variants: the family's most expensive known rate.
    for (const id of ['claude-opus-5-5', 'claude-opus-5', 'claude-opus-5-5-20261101', 'claude-opus-4-6']) {
      expect(p.lookup(id), id).toEqual({ kind: 'family', family: 'opus', price: opusMax });
      expect(p.versionFor(id), id).toBe('anthropic-list-2025-11;fallback=opus');
    }
    for (const id of ['claude-sonnet-5', 'claude-sonnet-5-20260301', 'claude-sonnet-4-7'])
      expect(p.lookup(id), id).toEqual({ kind: 'family', family: 'sonnet', price: sonnetMax });
    expect(p.lookup('claude-haiku-5')).toEqual({ kind: 'family', family: 'haiku', price: haikuMax });
    // A known id in a provider's or a dated form keeps its own price.
    for (const id of [
      'claude-opus-4-5-20251101',
      'claude-opus-4-5@20251101',
      'us.anthropic.claude-opus-4-5-20251101-v1:0',
      'anthropic/claude-opus-4-5',
      'CLAUDE-OPUS-4-5',
    ]) {
      expect(p.lookup(id), id).toMatchObject({ kind: 'exact', key: 'claude-opus-4-5' });
      expect(p.versionFor(id), id).toBe('anthropic-list-2025-11');
    }
    expect(p.lookup('claude-opus-4-20250514')).toMatchObject({ kind: 'exact', key: 'claude-opus-4' });
    // A longer version number is not a variant of a shorter key.
    expect(p.lookup('claude-opus-45')).toMatchObject({ kind: 'family', family: 'opus' });
    // Unknown and unheard-of models: the dearest rate of all, never 0.
    for (const id of ['claude-mythos-1', 'gpt-9', '']) {
      expect(p.lookup(id), id).toEqual({ kind: 'max', price: opusMax });
      expect(p.versionFor(id), id).toBe('anthropic-list-2025-11;fallback=max');
      expect(
        p.cost(id, {
          inputTokens: 1_000_000,
          outputTokens: 0,
          cacheCreationInputTokens: 0,
          cacheReadInputTokens: 0,
        }),
      ).toBe(15);
    }
    // The operator's `default` prices models of no known family; families still use their own rates.
    const ops = new Pricing({ ...BUILTIN_PRICES, default: { ...sonnetMax, outputPerMTok: 99 } });
    expect(ops.lookup('gpt-9')).toMatchObject({ kind: 'default', price: { outputPerMTok: 99 } });
    expect(ops.versionFor('gpt-9')).toBe('anthropic-list-2025-11;fallback=default');
    expect(ops.lookup('claude-opus-5-5')).toMatchObject({ kind: 'family', price: opusMax });
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
