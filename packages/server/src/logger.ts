import pino, { type Logger, stdSerializers } from 'pino';

/**
 * Secret values that must never appear in a log line: the real Anthropic key, API keys,
 * credential values. Strings are replaced with `[REDACTED]` wherever they occur, at every level,
 * in messages and in logged objects.
 */
export class SecretRegistry {
  private readonly secrets = new Set<string>();

  /**
   * Registers a secret (values shorter than 8 characters are ignored: too likely to match by
   * chance). Its JSON-escaped form is registered too, since log lines are JSON.
   */
  add(secret: string | undefined): void {
    if (!secret || secret.length < 8) return;
    this.secrets.add(secret);
    const escaped = JSON.stringify(secret).slice(1, -1);
    if (escaped !== secret) this.secrets.add(escaped);
  }

  scrub(text: string): string {
    if (this.secrets.size === 0) return text;
    let out = text;
    for (const s of this.secrets) if (out.includes(s)) out = out.split(s).join('[REDACTED]');
    return out;
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
 * Fields of database errors that carry the values of a statement: the query parameters (drizzle's
 * `params`, which its message repeats), PostgreSQL's `detail` (`Key (x)=(value)…`) and `where`
 * (`JSON data, line 1: …`). They may hold agent env values, credential material or whole bodies.
 */
const VALUE_FIELDS = ['params', 'parameters', 'detail', 'where'];

/**
 * The `err` serializer: pino's standard one, minus the statement values of database errors
 * ({@link VALUE_FIELDS}), also cut out of the message and stack (`…\nparams: <values>`). The
 * query text (with `$1` placeholders), codes and the rest of the stack stay.
 */
export function serializeError(err: unknown): unknown {
  const out = stdSerializers.err(err as Error) as unknown;
  if (typeof out !== 'object' || out === null || typeof err !== 'object' || err === null) return out;
  const record = out as Record<string, unknown>;
  const params = (err as { params?: unknown }).params;
  const cut = (text: unknown): unknown => {
    if (typeof text !== 'string') return text;
    let t = text;
    if (params !== undefined) t = t.split(`params: ${String(params)}`).join('params: [REDACTED]');
    return t;
  };
  record.message = cut(record.message);
  record.stack = cut(record.stack);
  // An AppError's `detail` is the client-facing text (no values): it stays.
  const isAppError = (err as { name?: unknown }).name === 'AppError';
  for (const f of VALUE_FIELDS) if (f in record && !(isAppError && f === 'detail')) record[f] = '[REDACTED]';
  return out;
}

/**
 * The server's one logger: pino JSON lines with path redaction (headers, keys), database
 * errors without their statement values ({@link serializeError}) and, on top,
 * every registered secret scrubbed from each finished line before it is written, whatever field
 * or message it hides in.
 */
export function createLogger(opts: {
  level: string;
  secrets: SecretRegistry;
  destination?: pino.DestinationStream;
  /** Fields added to every line (e.g. the sessionId/turnId/tenantId/traceId of the current work). */
  mixin?: () => object;
}): Logger {
  const target = opts.destination ?? pino.destination(1);
  const scrubbing: pino.DestinationStream = {
    write: (line: string) => target.write(opts.secrets.scrub(line)),
  };
  return pino(
    {
      level: opts.level,
      redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
      serializers: { err: serializeError, error: serializeError },
      ...(opts.mixin ? { mixin: opts.mixin } : {}),
    },
    scrubbing,
  );
}
