/**
 * Builds a `Content-Disposition` header value valid for any Unicode file name (RFC 6266 §4.3):
 * an ASCII-only `filename="…"` fallback for old clients, and `filename*=UTF-8''…` with the exact
 * name percent-encoded per RFC 8187/5987 (`attr-char` kept, everything else encoded, including
 * `'`, `(`, `)`, `*`, `%`). Control characters never reach the header.
 * @param type `attachment` (download) or `inline`.
 */
export function contentDisposition(type: 'attachment' | 'inline', filename: string): string {
  const clean = stripControls(filename) || 'download';
  return `${type}; filename="${asciiFallback(clean)}"; filename*=UTF-8''${encodeRfc8187(clean)}`;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point
const CONTROLS = /[\u0000-\u001f\u007f-\u009f]/g;

/** A high surrogate without its low half, or a low one without its high half. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** Drops control characters and replaces lone surrogates (which have no UTF-8 form) with U+FFFD. */
function stripControls(s: string): string {
  return s.replace(CONTROLS, '').replace(LONE_SURROGATE, '\ufffd');
}

/** RFC 8187 `value-chars`: attr-char stays, every other UTF-8 byte is `%XX`. */
export function encodeRfc8187(s: string): string {
  return encodeURIComponent(s).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * ASCII stand-in for the name, always a safe basename (old clients save under it as is): only
 * the last `/`- or `\`-separated segment, accents dropped (NFKD), other non-ASCII characters,
 * control characters and the quoted-string specials `"` `\` become `_`, `%` too (some clients
 * decode it); leading dots go and runs of dots become `_` (no `.`, `..` or hidden names); at most
 * 150 characters keeping the extension; `download` when nothing is left.
 */
export function asciiFallback(s: string): string {
  const base =
    s
      .split(/[/\\]/)
      .filter((seg) => seg !== '')
      .pop() ?? '';
  let out = base
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^\x20-\x7e]/g, '_')
    .replace(/["\\%]/g, '_')
    .replace(/^[.\s]+/, '')
    .replace(/\.{2,}/g, '_');
  if (out.length > 150) {
    const dot = out.lastIndexOf('.');
    const ext = dot > 0 && out.length - dot <= 16 ? out.slice(dot) : '';
    out = out.slice(0, 150 - ext.length) + ext;
  }
  return out.trim() || 'download';
}
