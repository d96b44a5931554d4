import { posix } from 'node:path';

/** Longest path component (file or folder name) the file systems we write to accept, UTF-8 bytes. */
export const MAX_COMPONENT_BYTES = 255;
/** Longest relative path accepted, characters. */
export const MAX_RELATIVE_PATH_CHARS = 4096;

/** A short, printable stand-in for a path component in an error message. */
function shownComponent(s: string): string {
  const chars = [...s];
  return chars.length > 40 ? `${chars.slice(0, 40).join('')}…` : s;
}

/**
 * The one validator of client-supplied relative paths (file uploads and reads, `?path=`,
 * `targetPath`, agent deploys, bundle entries). Refused: empty, longer than 4096 characters,
 * absolute (`/x`, `\\x`, `C:`), backslashes, NUL and other control characters, any `..` segment
 * (before or after normalising), and any component over 255 UTF-8 bytes (which the file system
 * would refuse with ENAMETOOLONG).
 * @returns the normalised path (`a/./b` → `a/b`), or the reason it is refused (a sentence
 *   fragment naming the offending component, e.g. `has a component of 300 bytes ('aaa…'); …`).
 */
export function checkRelativePath(input: string): { path: string } | { reason: string } {
  if (typeof input !== 'string' || input.length === 0) return { reason: 'is empty' };
  if (input.length > MAX_RELATIVE_PATH_CHARS)
    return { reason: `is ${input.length} characters long; the limit is ${MAX_RELATIVE_PATH_CHARS}` };
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(input)) return { reason: 'contains a control character' };
  if (input.includes('\\')) return { reason: 'contains a backslash; use / to separate folders' };
  if (input.startsWith('/') || /^[a-zA-Z]:/.test(input))
    return { reason: 'is absolute; it must be relative' };
  const segments = input.split('/');
  if (segments.some((s) => s === '..'))
    return { reason: 'contains a parent reference (".."), which is not allowed' };
  const long = segments.find((s) => Buffer.byteLength(s) > MAX_COMPONENT_BYTES);
  if (long !== undefined)
    return {
      reason: `has a component of ${Buffer.byteLength(long)} bytes ('${shownComponent(long)}'); a file or folder name may be at most ${MAX_COMPONENT_BYTES} bytes`,
    };
  const normalised = posix.normalize(input).replace(/\/+$/, '');
  if (normalised === '' || normalised === '.') return { reason: 'names no file' };
  if (normalised.startsWith('../') || normalised === '..')
    return { reason: 'climbs out of its folder (a parent reference)' };
  return { path: normalised };
}

/**
 * {@link checkRelativePath} without the reason.
 * @returns the normalised path, or undefined when it is not acceptable.
 */
export function safeRelativePath(input: string): string | undefined {
  const r = checkRelativePath(input);
  return 'path' in r ? r.path : undefined;
}

/** A directory name for a tenant id: the id itself when it is path-safe, else a hash. */
export function tenantDirName(tenantId: string, hash: (s: string) => string): string {
  return /^[a-zA-Z0-9_-]{1,64}$/.test(tenantId) ? tenantId : `t-${hash(tenantId).slice(0, 32)}`;
}
