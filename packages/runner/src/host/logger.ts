import pino, { type Logger } from 'pino';

/** Header and field names whose values are always replaced, whatever they hold. */
const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'headers.authorization',
  'headers["x-api-key"]',
  '*.secret',
  '*.token',
  '*.gatewayToken',
  '*.internalSecret',
];

/**
 * Secret values that must never appear in a log line (the link's secret, sessions' gateway
 * tokens): replaced with `[REDACTED]` wherever they occur in a finished line.
 */
export class LogSecrets {
  private readonly secrets = new Set<string>();

  /** Registers a secret (shorter than 8 characters: ignored), with its JSON-escaped form. */
  add(secret: string | undefined): void {
    if (!secret || secret.length < 8) return;
    this.secrets.add(secret);
    const escaped = JSON.stringify(secret).slice(1, -1);
    if (escaped !== secret) this.secrets.add(escaped);
  }

  delete(secret: string | undefined): void {
    if (!secret) return;
    this.secrets.delete(secret);
    this.secrets.delete(JSON.stringify(secret).slice(1, -1));
  }

  scrub(text: string): string {
    let out = text;
    for (const s of this.secrets) if (out.includes(s)) out = out.split(s).join('[REDACTED]');
    return out;
  }
}

/** The runner's one logger: pino JSON lines on stdout, header/field redaction, registered secrets scrubbed. */
export function createRunnerLogger(opts: {
  level: string;
  secrets: LogSecrets;
  destination?: pino.DestinationStream;
}): Logger {
  const target = opts.destination ?? pino.destination(1);
  return pino(
    {
      level: opts.level,
      base: { component: 'runner' },
      redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
    },
    { write: (line: string) => target.write(opts.secrets.scrub(line)) },
  );
}
