import pino, { type Logger } from 'pino';

/**
 * Secret values that must never appear in a log line: the real Anthropic key, API keys,
 * credential values. Strings are replaced with `[REDACTED]` wherever they occur, at every level,
 * in messages and in logged objects.
 */
export class SecretRegistry {
  private readonly secrets = new Set<string>();

  /** Registers a secret (values shorter than 8 characters are ignored: too likely to match by chance). */
  add(secret: string | undefined): void {
    if (secret && secret.length >= 8) this.secrets.add(secret);
  }

  scrub(text: string): string {
    let out = text;
    for (const s of this.secrets) if (out.includes(s)) out = out.split(s).join('[REDACTED]');
    return out;
  }

  scrubValue(value: unknown, depth = 0): unknown {
    if (this.secrets.size === 0 || depth > 8) return value;
    if (typeof value === 'string') return this.scrub(value);
    if (Array.isArray(value)) return value.map((v) => this.scrubValue(v, depth + 1));
    if (value && typeof value === 'object' && !(value instanceof Error)) {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[k] = this.scrubValue(v, depth + 1);
      return out;
    }
    if (value instanceof Error) return { type: value.name, message: this.scrub(value.message) };
    return value;
  }
}

/** Header and field names whose values are always replaced, whatever they hold. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers.cookie',
  'headers.authorization',
  'headers["x-api-key"]',
  '*.apiKey',
  '*.key',
  '*.secret',
  '*.password',
  '*.token',
];

/**
 * The server's one logger: pino JSON lines on stdout (or `destination`), with path redaction and
 * secret scrubbing.
 */
export function createLogger(opts: { level: string; secrets: SecretRegistry; destination?: pino.DestinationStream }): Logger {
  const { secrets } = opts;
  const options: pino.LoggerOptions = {
    level: opts.level,
    redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
    formatters: {
      log: (obj) => secrets.scrubValue(obj) as Record<string, unknown>,
    },
    hooks: {
      logMethod(args, method) {
        const scrubbed = args.map((a) => (typeof a === 'string' ? secrets.scrub(a) : a)) as Parameters<typeof method>;
        return method.apply(this, scrubbed);
      },
    },
  };
  return opts.destination ? pino(options, opts.destination) : pino(options);
}
