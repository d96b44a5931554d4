import pino, { type Logger } from 'pino';

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
 * The server's one logger: pino JSON lines with path redaction (headers, keys) and, on top,
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
      ...(opts.mixin ? { mixin: opts.mixin } : {}),
    },
    scrubbing,
  );
}
