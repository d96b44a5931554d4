// Standard alphabet, padding only at the end. A plain character class (no groups) keeps the
// match linear and iterative: a grouped `(?:[…]{4})*` overflows V8's regexp stack on inputs of a
// few megabytes.
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Decodes standard base64 (RFC 4648 §4, with padding). Whitespace is not allowed.
 * Node's own decoder silently skips invalid characters; this one refuses them.
 * @returns the bytes, or undefined when `text` is not valid base64.
 */
export function decodeBase64Strict(text: string): Buffer | undefined {
  if (text.length % 4 !== 0 || !BASE64.test(text)) return undefined;
  return Buffer.from(text, 'base64');
}

/** Decoded size of valid base64 text without decoding it, bytes. */
export function base64DecodedLength(text: string): number {
  const pad = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  return (text.length / 4) * 3 - pad;
}
