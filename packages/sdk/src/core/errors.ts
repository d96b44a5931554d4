import type { FieldError, Problem } from '@ash-ai/shared';

/**
 * Base class of every error the SDK throws. `code` is stable and machine-readable: the server's
 * problem code for {@link AshApiError}, else one of {@link AshLocalErrorCode} or
 * `connection_error` / `timeout`.
 */
export class AshError extends Error {
  readonly code: string;

  constructor(message: string, code = 'ash_error') {
    super(message);
    this.name = 'AshError';
    this.code = code;
  }
}

/**
 * Codes of errors found on the client before (or instead of) a request: `invalid_path` (a path
 * with empty, `.` or `..` segments), `not_a_directory` (a local folder that does not exist or is
 * not a folder), `payload_too_large` (a local folder over `maxBytes`), `local_io_error` (a local
 * file could not be read or written; `cause` holds the system error).
 */
export type AshLocalErrorCode = 'invalid_path' | 'not_a_directory' | 'payload_too_large' | 'local_io_error';

/** An error about local input (paths, folders, files) raised by the SDK itself, with a stable `code`. */
export class AshLocalError extends AshError {
  constructor(
    override readonly code: AshLocalErrorCode,
    message: string,
    /** The local path concerned, when there is one. */
    readonly path?: string,
    override readonly cause?: unknown,
  ) {
    super(message, code);
    this.name = 'AshLocalError';
  }
}

/**
 * The server answered with an error status. `code` is the stable problem code (see the API's
 * docs/errors.md), `status` the HTTP status; `body` the full problem-details body.
 */
export class AshApiError extends AshError {
  /** Same as `status` (upstream Ash SDK compatibility). */
  readonly statusCode: number;
  readonly errors: FieldError[];

  constructor(
    readonly status: number,
    code: string,
    message: string,
    readonly body: Partial<Problem> | undefined,
    readonly headers: Headers | undefined,
  ) {
    super(message, code);
    this.name = 'AshApiError';
    this.statusCode = status;
    this.errors = body?.errors ?? [];
  }

  /** Builds the subclass that matches `status`. */
  static from(status: number, body: unknown, headers?: Headers): AshApiError {
    const p = (typeof body === 'object' && body !== null ? body : {}) as Partial<Problem>;
    const code = typeof p.code === 'string' ? p.code : `http_${status}`;
    const message = p.detail ?? p.error ?? `request failed with status ${status}`;
    const Cls = STATUS_CLASSES[status] ?? (status >= 500 ? InternalServerError : AshApiError);
    return new Cls(status, code, message, p, headers);
  }
}

/** 400: the request is invalid (`errors` names the fields). */
export class BadRequestError extends AshApiError {
  override name = 'BadRequestError';
}
/** 401: no or wrong API key. */
export class AuthenticationError extends AshApiError {
  override name = 'AuthenticationError';
}
/** 403: not allowed. */
export class PermissionDeniedError extends AshApiError {
  override name = 'PermissionDeniedError';
}
/** 404: no such resource (or not yours). */
export class NotFoundError extends AshApiError {
  override name = 'NotFoundError';
}
/** 409: conflict, e.g. the session is running a turn (`session_busy`). */
export class ConflictError extends AshApiError {
  override name = 'ConflictError';
}
/** 410: the session has ended. */
export class GoneError extends AshApiError {
  override name = 'GoneError';
}
/** 413: body or content over a limit. */
export class PayloadTooLargeError extends AshApiError {
  override name = 'PayloadTooLargeError';
}
/** 415: wrong Content-Type. */
export class UnsupportedMediaTypeError extends AshApiError {
  override name = 'UnsupportedMediaTypeError';
}
/** 422: well-formed but unusable (e.g. an agent folder without CLAUDE.md). */
export class UnprocessableEntityError extends AshApiError {
  override name = 'UnprocessableEntityError';
}
/** 429: rate limited; see `retryAfterSeconds`. */
export class RateLimitError extends AshApiError {
  override name = 'RateLimitError';
  get retryAfterSeconds(): number | undefined {
    const v = this.headers?.get('retry-after');
    return v ? Number(v) : undefined;
  }
}
/** 5xx (other than 503). */
export class InternalServerError extends AshApiError {
  override name = 'InternalServerError';
}
/** 503: no capacity, or a feature switched off. */
export class ServiceUnavailableError extends AshApiError {
  override name = 'ServiceUnavailableError';
}

const STATUS_CLASSES: Record<number, new (...a: ConstructorParameters<typeof AshApiError>) => AshApiError> = {
  400: BadRequestError,
  401: AuthenticationError,
  403: PermissionDeniedError,
  404: NotFoundError,
  409: ConflictError,
  410: GoneError,
  413: PayloadTooLargeError,
  415: UnsupportedMediaTypeError,
  422: UnprocessableEntityError,
  429: RateLimitError,
  503: ServiceUnavailableError,
};

/** The server could not be reached (refused, DNS, reset). */
export class AshConnectionError extends AshError {
  constructor(
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message, 'connection_error');
    this.name = 'AshConnectionError';
  }
}

/** The request took longer than the client's timeout. */
export class AshTimeoutError extends AshError {
  constructor(message: string) {
    super(message, 'timeout');
    this.name = 'AshTimeoutError';
  }
}
