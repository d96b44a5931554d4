import type { FieldError, Problem } from '@ash-ai/shared';

/** Base class of every error the SDK throws. */
export class AshError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AshError';
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
    readonly code: string,
    message: string,
    readonly body: Partial<Problem> | undefined,
    readonly headers: Headers | undefined,
  ) {
    super(message);
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
    super(message);
    this.name = 'AshConnectionError';
  }
}

/** The request took longer than the client's timeout. */
export class AshTimeoutError extends AshError {
  constructor(message: string) {
    super(message);
    this.name = 'AshTimeoutError';
  }
}
