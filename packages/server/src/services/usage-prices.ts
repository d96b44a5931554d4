import { readFileSync } from 'node:fs';
import { type Static, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

const Usd = Type.Number({ minimum: 0, maximum: 1_000_000 });

/** Prices of one model, USD per million tokens. */
export const ModelPriceSchema = Type.Object(
  {
    inputPerMTok: Usd,
    outputPerMTok: Usd,
    /** Writing the prompt cache (5-minute TTL). */
    cacheWritePerMTok: Usd,
    /** Reading the prompt cache. */
    cacheReadPerMTok: Usd,
  },
  { additionalProperties: false },
);
export type ModelPrice = Static<typeof ModelPriceSchema>;

/**
 * A versioned price table. `models` keys are model ids or id prefixes (the longest matching key
 * wins, so `claude-sonnet-4-5` prices `claude-sonnet-4-5-20250929`); `default` prices any other
 * model (absent: such calls cost 0 and are logged).
 */
export const PriceTableSchema = Type.Object(
  {
    /** Stored with every record priced by this table. Change it whenever a price changes. */
    version: Type.String({ minLength: 1, maxLength: 100 }),
    models: Type.Record(Type.String({ minLength: 1, maxLength: 200 }), ModelPriceSchema),
    default: Type.Optional(ModelPriceSchema),
  },
  { additionalProperties: false },
);
export type PriceTable = Static<typeof PriceTableSchema>;

const p = (input: number, output: number, cacheWrite: number, cacheRead: number): ModelPrice => ({
  inputPerMTok: input,
  outputPerMTok: output,
  cacheWritePerMTok: cacheWrite,
  cacheReadPerMTok: cacheRead,
});

/**
 * The built-in table: Anthropic's published list prices per million tokens
 * (https://docs.anthropic.com/en/docs/about-claude/pricing), cache writes at the 5-minute rate.
 * Unknown models are priced like Sonnet (`default`), so budgets never see a free model.
 */
export const BUILTIN_PRICES: PriceTable = {
  version: 'anthropic-list-2025-11',
  models: {
    'claude-opus-4-5': p(5, 25, 6.25, 0.5),
    'claude-opus-4-1': p(15, 75, 18.75, 1.5),
    'claude-opus-4': p(15, 75, 18.75, 1.5),
    'claude-3-opus': p(15, 75, 18.75, 1.5),
    'claude-sonnet-4-5': p(3, 15, 3.75, 0.3),
    'claude-sonnet-4': p(3, 15, 3.75, 0.3),
    'claude-3-7-sonnet': p(3, 15, 3.75, 0.3),
    'claude-3-5-sonnet': p(3, 15, 3.75, 0.3),
    'claude-haiku-4-5': p(1, 5, 1.25, 0.1),
    'claude-3-5-haiku': p(0.8, 4, 1, 0.08),
    'claude-3-haiku': p(0.25, 1.25, 0.3, 0.03),
  },
  default: p(3, 15, 3.75, 0.3),
};

/** Token counts of one model call. */
export interface TokenCounts {
  inputTokens: number;
  outputTokens: number;
  cacheCreationInputTokens: number;
  cacheReadInputTokens: number;
}

/** Raised when the operator's price file cannot be used; the message says why. */
export class PriceTableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PriceTableError';
  }
}

/** Prices model calls with one table. */
export class Pricing {
  private readonly keys: string[];

  constructor(readonly table: PriceTable) {
    // Longest key first: the most specific prefix wins.
    this.keys = Object.keys(table.models).sort((a, b) => b.length - a.length);
  }

  get version(): string {
    return this.table.version;
  }

  /** The price entry for a model id, or undefined when neither a key nor `default` matches. */
  priceOf(model: string): ModelPrice | undefined {
    const id = model.toLowerCase();
    const key = this.keys.find((k) => id === k.toLowerCase() || id.startsWith(k.toLowerCase()));
    return key ? this.table.models[key] : this.table.default;
  }

  /** Cost of one call in USD (0 when the model has no price). */
  cost(model: string, t: TokenCounts): number {
    const price = this.priceOf(model);
    if (!price) return 0;
    return (
      (t.inputTokens * price.inputPerMTok +
        t.outputTokens * price.outputPerMTok +
        t.cacheCreationInputTokens * price.cacheWritePerMTok +
        t.cacheReadInputTokens * price.cacheReadPerMTok) /
      1_000_000
    );
  }
}

/**
 * The pricing in force: the built-in table, or the operator's file (`ASH_PRICES_FILE`) laid over
 * it — its `models` entries replace or add to the built-in ones, its `default` replaces the
 * built-in default, and its `version` names the result.
 * @throws PriceTableError when the file cannot be read or does not match {@link PriceTableSchema}.
 */
export function loadPricing(file: string | undefined): Pricing {
  if (!file) return new Pricing(BUILTIN_PRICES);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new PriceTableError(
      `ASH_PRICES_FILE could not be read as JSON: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  if (!Value.Check(PriceTableSchema, parsed)) {
    const first = [...Value.Errors(PriceTableSchema, parsed)][0];
    throw new PriceTableError(
      `ASH_PRICES_FILE is not a valid price table${first ? `: ${first.path || '/'} ${first.message}` : ''}`,
    );
  }
  return new Pricing({
    version: parsed.version,
    models: { ...BUILTIN_PRICES.models, ...parsed.models },
    ...((parsed.default ?? BUILTIN_PRICES.default)
      ? { default: parsed.default ?? BUILTIN_PRICES.default }
      : {}),
  });
}
