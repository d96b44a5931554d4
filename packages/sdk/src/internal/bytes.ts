import { AshLocalError } from '../core/errors.js';

/** Bytes as standard base64 (works in Node.js and browsers). */
export function toBase64(data: Uint8Array | string): string {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  if (typeof Buffer !== 'undefined')
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

/**
 * `a/b c.txt` → `a/b%20c.txt` (each segment encoded, `/` kept).
 * @throws AshLocalError `invalid_path` for `.`/`..` or empty segments: URLs would silently resolve them, so such a
 *   path could never reach the server as written.
 */
export function encodePath(path: string): string {
  const segs = path.split('/');
  if (segs.some((s) => s === '' || s === '.' || s === '..'))
    throw new AshLocalError(
      'invalid_path',
      `invalid path '${path}': use a relative path without empty, '.' or '..' segments`,
      path,
    );
  return segs.map((s) => encodeURIComponent(s)).join('/');
}

/** The file name of a `Content-Disposition` header (`filename*` first, RFC 6266), if any. */
export function dispositionFilename(header: string | null): string | undefined {
  if (!header) return undefined;
  const star = /filename\*\s*=\s*UTF-8''([^;\s]+)/i.exec(header);
  if (star) {
    try {
      return decodeURIComponent(star[1]!);
    } catch {
      // fall through to the plain parameter
    }
  }
  return /filename\s*=\s*"([^"]*)"/i.exec(header)?.[1];
}
