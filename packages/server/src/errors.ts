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

/** Socket errors of a connection that could not be made or was lost. */
const CONNECTION_ERRNOS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/**
 * PostgreSQL SQLSTATEs that mean "the database cannot serve now", not "this query is wrong":
 * class 08 (connection exception), 57P01-57P03 (shut down by the administrator, crash shutdown,
 * cannot connect now: starting up or recovering), 53300 (too many connections).
 */
function isUnavailableSqlState(code: string): boolean {
  return (
    code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03' || code === '53300'
  );
}

/** node-postgres's own texts for a lost or never-made connection (these errors carry no code). */
const PG_CONNECTION_TEXT =
  /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Client was closed and is not queryable|Cannot use a pool after calling end)/;

/**
 * True when an error (or one it wraps) says the database could not be reached or dropped the
 * connection: a query drizzle wrapped (`DrizzleQueryError`, "Failed query: …") whose cause is a
 * socket error, a PostgreSQL SQLSTATE of an unavailable server, or node-postgres's connection
 * texts (a pool that could not connect within its timeout, a connection cut mid-query). A socket
 * error alone (a fetch, S3) is not enough: those have their own codes.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  let viaQuery = false;
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 5; depth++) {
    const { code, message, name } = e as { code?: unknown; message?: unknown; name?: unknown };
    if (name === 'DrizzleQueryError' || (typeof message === 'string' && message.startsWith('Failed query:')))
      viaQuery = true;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && isUnavailableSqlState(code)) return true;
    if (typeof message === 'string' && PG_CONNECTION_TEXT.test(message)) return true;
    if (viaQuery && typeof code === 'string' && CONNECTION_ERRNOS.has(code)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}
