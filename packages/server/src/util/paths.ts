import { posix } from 'node:path';

/**
 * Validates a client-supplied relative path (of an uploaded or requested file) and returns it
 * normalised (`a/./b` → `a/b`). Refused: empty, absolute (`/x`, `\\x`, `C:`), backslashes, NUL and
 * other control characters, and any `..` segment (before or after normalising).
 * @returns the normalised path, or undefined when it is not acceptable.
 */
export function safeRelativePath(input: string): string | undefined {
  if (typeof input !== 'string' || input.length === 0 || input.length > 4096) return undefined;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
  if (/[\u0000-\u001f\u007f\\]/.test(input)) return undefined;
  if (input.startsWith('/') || /^[a-zA-Z]:/.test(input)) return undefined;
  const segments = input.split('/');
  if (segments.some((s) => s === '..')) return undefined;
  const normalised = posix.normalize(input).replace(/\/+$/, '');
  if (normalised === '' || normalised === '.' || normalised.startsWith('../') || normalised === '..')
    return undefined;
  return normalised;
}

/** A directory name for a tenant id: the id itself when it is path-safe, else a hash. */
export function tenantDirName(tenantId: string, hash: (s: string) => string): string {
  return /^[a-zA-Z0-9_-]{1,64}$/.test(tenantId) ? tenantId : `t-${hash(tenantId).slice(0, 32)}`;
}
