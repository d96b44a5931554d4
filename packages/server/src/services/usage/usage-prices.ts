import { readFileSync } from 'node:fs';
import { type Static, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

const Usd = Type.Number({ minimum: 0, maximum: 1_000_000 });

const TokenPrices = {
  inputPerMTok: Usd,
  outputPerMTok: Usd,
  /** Writing the prompt cache (5-minute TTL). */
  cacheWritePerMTok: Usd,
  /** Reading the prompt cache. */
  cacheReadPerMTok: Usd,
};

/** Prices of one model, USD per million tokens. */
export const ModelPriceSchema = Type.Object(
  {
    ...TokenPrices,
    /**
     * Other prices for a call whose prompt (input + cache read + cache write tokens) exceeds
     * `abovePromptTokens`.
     */
    longPrompt: Type.Optional(
      Type.Object(
        { abovePromptTokens: Type.Integer({ minimum: 1 }), ...TokenPrices },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type ModelPrice = Static<typeof ModelPriceSchema>;

/**
 * A versioned price table. `models` keys are model ids or id prefixes: the longest key that the
 * id equals or continues past a separator wins (`claude-sonnet-4-5` prices the dated
 * `claude-sonnet-4-5-20250929` and `claude-sonnet-4-5@20250929`), but never another version
 * (`claude-opus-4` does not price `claude-opus-4-6`). Other models are priced by
 * {@link Pricing.lookup}'s fallbacks; `default`, when given, prices models of no known family.
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
 * The built-in table: Anthropic's list prices per million tokens, as the bundled Claude Code
 * (`@anthropic-ai/claude-agent-sdk` 0.3.332) prices them in its own model catalog — the figures
 * behind the SDK's `total_cost_usd` — with cache writes at the 5-minute rate. Every model id that
 * catalog lists has an entry (usage-prices.test.ts checks it against the installed SDK).
 * It has no `default`: a model it does not know is priced at the most expensive rate of its
 * family (Opus, Sonnet, Haiku, Fable, Mythos), or of all models, so budgets never see a free or
 * cheap model.
 */
export const BUILTIN_PRICES: PriceTable = {
  version: 'anthropic-list-2026-06',
  models: {
    'claude-opus-5-5': p(4, 20, 5, 0.2),
    'claude-opus-5': p(5, 25, 6.25, 0.5),
    'claude-opus-4-8': p(5, 25, 6.25, 0.5),
    'claude-opus-4-7': p(5, 25, 6.25, 0.5),
    'claude-opus-4-6': p(5, 25, 6.25, 0.5),
    'claude-opus-4-5': p(5, 25, 6.25, 0.5),
    'claude-opus-4-1': p(15, 75, 18.75, 1.5),
    'claude-opus-4-0': p(15, 75, 18.75, 1.5),
    'claude-opus-4': p(15, 75, 18.75, 1.5),
    'claude-3-opus': p(15, 75, 18.75, 1.5),
    'claude-sonnet-5-5': p(2, 10, 2.5, 0.1),
    'claude-sonnet-5': p(2, 10, 2.5, 0.2),
    'claude-sonnet-4-6': p(3, 15, 3.75, 0.3),
    'claude-sonnet-4-5': p(3, 15, 3.75, 0.3),
    'claude-sonnet-4-0': p(3, 15, 3.75, 0.3),
    'claude-sonnet-4': p(3, 15, 3.75, 0.3),
    'claude-3-7-sonnet': p(3, 15, 3.75, 0.3),
    'claude-3-5-sonnet': p(3, 15, 3.75, 0.3),
    // Haiku 5.5 costs 5x above 100k prompt tokens (input + cache read + cache write) of a call.
    'claude-haiku-5-5': {
      ...p(0.1, 0.5, 0.125, 0.01),
      longPrompt: { abovePromptTokens: 100_000, ...p(0.5, 2.5, 0.625, 0.05) },
    },
    'claude-haiku-4-5': p(1, 5, 1.25, 0.1),
    'claude-3-5-haiku': p(0.8, 4, 1, 0.08),
    'claude-3-haiku': p(0.25, 1.25, 0.3, 0.03),
    'claude-fable-5-2': p(8, 40, 10, 0.2),
    'claude-fable-5-1': p(10, 50, 12.5, 0.25),
    'claude-fable-5': p(10, 50, 12.5, 1),
    'claude-mythos-5-2': p(8, 40, 10, 0.2),
    'claude-mythos-5-1': p(10, 50, 12.5, 0.25),
    'claude-mythos-5': p(10, 50, 12.5, 1),
  },
};

/** Model families priced together when a model's own id is unknown. */
const FAMILIES = ['opus', 'sonnet', 'haiku', 'fable', 'mythos'] as const;

/**
 * How a model's price was found: `exact` (a key of the table), or a fallback — `family` (the most
 * expensive rate of the model's family), `default` (the table's `default`), `max` (the most
 * expensive rate of the table).
 */
export type PriceMatch =
  | { price: ModelPrice; kind: 'exact'; key: string }
  | { price: ModelPrice; kind: 'family'; family: (typeof FAMILIES)[number] }
  | { price: ModelPrice; kind: 'default' | 'max' };

/** Dearer first: by output, then input, then cache prices. */
const dearer = (a: ModelPrice, b: ModelPrice) =>
  b.outputPerMTok - a.outputPerMTok ||
  b.inputPerMTok - a.inputPerMTok ||
  b.cacheWritePerMTok - a.cacheWritePerMTok ||
  b.cacheReadPerMTok - a.cacheReadPerMTok;

/**
 * The model id as priced: lower case, without a cloud provider's prefix
 * (`us.anthropic.claude-…` on Bedrock, `anthropic/claude-…` on gateways).
 */
function normalise(model: string): string {
  const id = model.trim().toLowerCase();
  const at = id.search(/(^|[./])claude-/);
  return at > 0 ? id.slice(at + 1) : id;
}

/**
 * True when `key` prices `id`: equal, or `id` continues past a separator with something that is
 * not a further version number (`-20250929`, `@20250929`, `-v1:0` are variants of `key`;
 * `-6` in `claude-opus-4-6` is another version).
 */
function keyMatches(id: string, key: string): boolean {
  if (id === key) return true;
  if (!id.startsWith(key)) return false;
  const rest = id.slice(key.length);
  if (/[a-z0-9]$/.test(key) && /^[a-z0-9]/.test(rest)) return false;
  return !/^[-._]\d{1,2}(?!\d)/.test(rest);
}
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
  private readonly keys: Array<{ key: string; lower: string }>;
  private readonly familyMax = new Map<string, ModelPrice>();
  private readonly max: ModelPrice | undefined;

  constructor(readonly table: PriceTable) {
    // Longest key first: the most specific prefix wins.
    this.keys = Object.keys(table.models)
      .sort((a, b) => b.length - a.length)
      .map((key) => ({ key, lower: key.toLowerCase() }));
    const all = Object.values(table.models);
    this.max = [...all, ...(table.default ? [table.default] : [])].sort(dearer)[0];
    for (const family of FAMILIES) {
      const members = Object.entries(table.models)
        .filter(([k]) => new RegExp(`(^|[^a-z])${family}([^a-z]|$)`).test(k.toLowerCase()))
        .map(([, v]) => v)
        .sort(dearer);
      if (members[0]) this.familyMax.set(family, members[0]);
    }
  }

  get version(): string {
    return this.table.version;
  }

  /**
   * The price of a model id and how it was found: a key of the table; else, for an unknown
   * model of a known family (`claude-opus-5-5`, `claude-sonnet-5-20260101`), the most expensive
   * rate of that family; else the table's `default`; else the most expensive rate of the table.
   * Undefined only for an empty table.
   */
  lookup(model: string): PriceMatch | undefined {
    const id = normalise(model);
    const hit = this.keys.find((k) => keyMatches(id, k.lower));
    if (hit) return { price: this.table.models[hit.key]!, kind: 'exact', key: hit.key };
    const family = FAMILIES.find((f) => new RegExp(`(^|[^a-z])${f}([^a-z]|$)`).test(id));
    const familyPrice = family && this.familyMax.get(family);
    if (family && familyPrice) return { price: familyPrice, kind: 'family', family };
    if (this.table.default) return { price: this.table.default, kind: 'default' };
    return this.max ? { price: this.max, kind: 'max' } : undefined;
  }

  /** The price entry for a model id (see {@link lookup}); undefined only for an empty table. */
  priceOf(model: string): ModelPrice | undefined {
    return this.lookup(model)?.price;
  }

  /**
   * The price version to record with a call of `model`: the table's version, followed by
   * `;fallback=<family|default|max>` when the model had no price of its own
   * (e.g. `anthropic-list-2025-11;fallback=opus`).
   */
  versionFor(model: string): string {
    const m = this.lookup(model);
    if (!m || m.kind === 'exact') return this.version;
    return `${this.version};fallback=${m.kind === 'family' ? m.family : m.kind}`;
  }

  /** Cost of one call in USD (0 when the table has no price at all). */
  cost(model: string, t: TokenCounts): number {
    const base = this.priceOf(model);
    if (!base) return 0;
    const prompt = t.inputTokens + t.cacheCreationInputTokens + t.cacheReadInputTokens;
    const price = base.longPrompt && prompt > base.longPrompt.abovePromptTokens ? base.longPrompt : base;
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
 * it — its `models` entries replace or add to the built-in ones, its `default` (if any) prices
 * models of no known family, and its `version` names the result.
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
    ...(parsed.default ? { default: parsed.default } : {}),
  });
}
