/**
 * Prototype-pollution guard for JSON that crosses a trust boundary (HTTP bodies, bridge lines).
 *
 * The rule matches `secure-json-parse` (what Fastify uses for bodies): an object must not have an
 * own `__proto__` key, and must not have a `constructor` key whose value has a `prototype` key.
 */
export function findPollutingKey(value: unknown, depth = 0): string | undefined {
  if (depth > 256) return '(nesting too deep)';
  if (Array.isArray(value)) {
    for (const v of value) {
      const k = findPollutingKey(v, depth + 1);
      if (k) return k;
    }
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  for (const key of Object.keys(value)) {
    const child = (value as Record<string, unknown>)[key];
    if (key === '__proto__') return '__proto__';
    if (
      key === 'constructor' &&
      typeof child === 'object' &&
      child !== null &&
      Object.hasOwn(child, 'prototype')
    )
      return 'constructor.prototype';
    const k = findPollutingKey(child, depth + 1);
    if (k) return k;
  }
  return undefined;
}

/** Thrown by {@link parseUntrustedJson}. `reason` says what was wrong. */
export class UntrustedJsonError extends Error {
  constructor(
    readonly reason: 'too_large' | 'invalid_json' | 'polluting_key',
    message: string,
  ) {
    super(message);
    this.name = 'UntrustedJsonError';
  }
}

/**
 * Parses JSON from an untrusted peer.
 * @param maxBytes reject text longer than this many UTF-16 code units (a cheap upper bound on bytes/2).
 * @throws UntrustedJsonError on oversized text, invalid JSON or a prototype-polluting key.
 */
export function parseUntrustedJson(text: string, maxBytes: number): unknown {
  if (text.length > maxBytes) throw new UntrustedJsonError('too_large', `message exceeds ${maxBytes} bytes`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new UntrustedJsonError('invalid_json', 'message is not valid JSON');
  }
  const bad = findPollutingKey(value);
  if (bad) throw new UntrustedJsonError('polluting_key', `message contains a forbidden key (${bad})`);
  return value;
}
