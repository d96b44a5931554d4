import { ErrorCodes, type ErrorCode, type FieldError } from '@ash-ai/shared';

/**
 * An error the API answers with a problem-details body. Services throw these; the one error
 * handler (plugins/error-handler.ts) turns them into responses. `detail` is shown to the client,
 * so it must never contain paths, SQL or secrets.
 */
export class AppError extends Error {
  readonly status: number;

  constructor(
    readonly code: ErrorCode,
    readonly detail: string,
    readonly extra: {
      errors?: FieldError[];
      headers?: Record<string, string>;
      status?: number;
      /** The body's `error` field when it must differ from `detail` (the upstream Ash's text). */
      error?: string;
    } = {},
  ) {
    super(detail);
    this.name = 'AppError';
    this.status = extra.status ?? ErrorCodes[code];
  }
}

/** 404 with a code and detail that are the same whether the id exists for another tenant or not at all. */
export const notFound = (
  code: Extract<ErrorCode, `${string}_not_found`>,
  what: string,
  id: string,
): AppError => new AppError(code, `${what} '${id}' was not found`);

/** Builds a 400 `validation_failed` naming one field. */
export const invalidField = (path: string, message: string): AppError =>
  new AppError('validation_failed', `${path}: ${message}`, { errors: [{ path, message }] });

/**
 * True when an error (or one it wraps) says the disk or a quota is full: ENOSPC/EDQUOT from the
 * file system, SQLITE_FULL, PostgreSQL 53100 (disk_full).
 */
export function isStorageFull(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (code === 'ENOSPC' || code === 'EDQUOT' || code === 'SQLITE_FULL' || code === '53100') return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}
