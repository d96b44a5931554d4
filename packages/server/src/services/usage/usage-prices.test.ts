import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
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
    expect(p.version).toBe('anthropic-list-2026-06');
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
    for (const id of ['claude-opus-6', 'claude-opus-7-5', 'claude-opus-6-5-20271101', 'claude-opus-4-9']) {
      expect(p.lookup(id), id).toEqual({ kind: 'family', family: 'opus', price: opusMax });
      expect(p.versionFor(id), id).toBe('anthropic-list-2026-06;fallback=opus');
    }
    for (const id of ['claude-sonnet-6', 'claude-sonnet-6-20270301', 'claude-sonnet-4-7'])
      expect(p.lookup(id), id).toEqual({ kind: 'family', family: 'sonnet', price: sonnetMax });
    expect(p.lookup('claude-haiku-6')).toEqual({ kind: 'family', family: 'haiku', price: haikuMax });
    // A known id in a provider's or a dated form keeps its own price.
    for (const id of [
      'claude-opus-4-5-20251101',
      'claude-opus-4-5@20251101',
      'us.anthropic.claude-opus-4-5-20251101-v1:0',
      'anthropic/claude-opus-4-5',
      'CLAUDE-OPUS-4-5',
    ]) {
      expect(p.lookup(id), id).toMatchObject({ kind: 'exact', key: 'claude-opus-4-5' });
      expect(p.versionFor(id), id).toBe('anthropic-list-2026-06');
    }
    expect(p.lookup('claude-opus-4-20250514')).toMatchObject({ kind: 'exact', key: 'claude-opus-4' });
    // A longer version number is not a variant of a shorter key.
    expect(p.lookup('claude-opus-45')).toMatchObject({ kind: 'family', family: 'opus' });
    // Unknown and unheard-of models: the dearest rate of all, never 0.
    for (const id of ['claude-lyric-1', 'gpt-9', '']) {
      expect(p.lookup(id), id).toEqual({ kind: 'max', price: opusMax });
      expect(p.versionFor(id), id).toBe('anthropic-list-2026-06;fallback=max');
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
    expect(ops.versionFor('gpt-9')).toBe('anthropic-list-2026-06;fallback=default');
    expect(ops.lookup('claude-opus-6')).toMatchObject({ kind: 'family', price: opusMax });
  });

  it('has a price of its own for every model id the bundled Claude Agent SDK can request (issue 16)', () => {
    const sdkDir = dirname(createRequire(import.meta.url).resolve('@anthropic-ai/claude-agent-sdk'));
    const ids = new Set<string>();
    for (const f of readdirSync(sdkDir).filter((n) => /\.(mjs|js|d\.ts)$/.test(n))) {
      const text = readFileSync(join(sdkDir, f), 'utf8');
      for (const m of text.matchAll(/\bclaude-(?:\d-\d-)?(?:opus|sonnet|haiku|fable|mythos)(?:-\d{1,2})*\b/g))
        ids.add(m[0]);
    }
    // The SDK's own model list (the ids `opus`, `sonnet`… resolve to) is in there.
    for (const id of ['claude-opus-5-5', 'claude-sonnet-5-5', 'claude-haiku-5-5', 'claude-fable-5-2'])
      expect(ids).toContain(id);
    const p = new Pricing(BUILTIN_PRICES);
    const unpriced = [...ids].filter((id) => p.lookup(id)?.kind !== 'exact');
    expect(unpriced).toEqual([]);
    // The figures of the SDK's catalog: Opus 5.5 $4 in / $20 out / $5 cache write / $0.20 cache read.
    const t = (i: number, o: number, w = 0, r = 0) => ({
      inputTokens: i,
      outputTokens: o,
      cacheCreationInputTokens: w,
      cacheReadInputTokens: r,
    });
    expect(p.cost('claude-opus-5-5', t(1e6, 1e6, 1e6, 1e6))).toBeCloseTo(4 + 20 + 5 + 0.2, 12);
    expect(p.cost('claude-sonnet-5-5', t(1e6, 1e6))).toBeCloseTo(12, 12);
    // Haiku 5.5 is dearer above 100k prompt tokens per call.
    expect(p.cost('claude-haiku-5-5', t(100_000, 0))).toBeCloseTo(0.01, 12);
    expect(p.cost('claude-haiku-5-5', t(100_001, 0))).toBeCloseTo(0.0500005, 12);
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
