import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCodes, problem, type ErrorCode, type FieldError } from '@ash-ai/shared';
import { AppError, isDatabaseUnavailable, isStorageFull } from '../errors.js';

const PROBLEM_TYPE = 'application/problem+json; charset=utf-8';

/** True for the Managed Agents API (`/v1/…`), whose clients (the official Anthropic SDKs) parse another error body. */
export function isManagedAgentsPath(url: string): boolean {
  return url === '/v1' || url.startsWith('/v1/') || url.startsWith('/v1?');
}

/** The Managed Agents `request-id` of a request (also sent as a response header on `/v1`). */
export function managedRequestId(request: FastifyRequest): string {
  return `req_${String(request.id).replace(/-/g, '')}`;
}

/** The Anthropic API's error category (`error.type`) for a status, as the official SDKs map it. */
function managedErrorType(status: number): string {
  switch (status) {
    case 400:
    case 413:
    case 414:
    case 415:
    case 422:
      return 'invalid_request_error';
    case 401:
      return 'authentication_error';
    case 402:
      return 'billing_error';
    case 403:
      return 'permission_error';
    case 404:
    case 410:
      return 'not_found_error';
    case 408:
    case 504:
      return 'timeout_error';
    case 409:
      return 'conflict_error';
    case 429:
      return 'rate_limit_error';
    case 503:
    case 529:
      return 'overloaded_error';
    default:
      return status < 500 ? 'invalid_request_error' : 'api_error';
  }
}

function send(
  reply: FastifyReply,
  code: ErrorCode,
  detail: string,
  extra: { status?: number; errors?: FieldError[]; error?: string } = {},
) {
  const path = reply.request.url.split('?')[0] ?? '';
  if (isManagedAgentsPath(path)) {
    // The same error, in the envelope the official Anthropic SDKs parse into their typed errors;
    // our stable code travels as `details.error_code`.
    const status = extra.status ?? ErrorCodes[code];
    const requestId = managedRequestId(reply.request);
    return reply
      .code(status)
      .header('request-id', requestId)
      .type('application/json; charset=utf-8')
      .send({
        type: 'error',
        error: { type: managedErrorType(status), message: detail, details: { error_code: code } },
        request_id: requestId,
      });
  }
  const body = problem(code, detail, {
    ...extra,
    instance: path.length > 1024 ? `${path.slice(0, 1024)}…` : path,
  });
  return reply.code(body.status).type(PROBLEM_TYPE).send(body);
}

/** The value at a JSON pointer (`/network/allow/0`) in `root`; undefined when there is none. */
function valueAt(root: unknown, pointer: string): unknown {
  let at: unknown = root;
  for (const raw of pointer.split('/').slice(1)) {
    if (at === null || typeof at !== 'object') return undefined;
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    at = (at as Record<string, unknown>)[key];
  }
  return at;
}

/** Maps a Fastify/Ajv validation error to field errors (`/body/name`, `/query/limit`...). */
function fieldErrors(
  err: FastifyError,
  input?: { body?: unknown; query?: unknown; params?: unknown; headers?: unknown },
): FieldError[] {
  // Fastify names the query context `querystring`; the documented paths say `/query/…`.
  const ctx = err.validationContext === 'querystring' ? 'query' : (err.validationContext ?? 'body');
  const out: FieldError[] = [];
  const allowed = new Map<string, unknown[]>();
  for (const v of err.validation ?? []) {
    const params = (v.params ?? {}) as {
      missingProperty?: string;
      additionalProperty?: string;
      allowedValue?: unknown;
      allowedValues?: unknown[];
    };
    const extraName = params.missingProperty ?? params.additionalProperty;
    const path = `/${ctx}${v.instancePath}${extraName ? `/${extraName}` : ''}`;
    // A union of literals (TypeBox) fails once per literal: collect them into one "one of" message.
    if (v.keyword === 'const' || v.keyword === 'enum') {
      const list = allowed.get(path) ?? [];
      if (v.keyword === 'const') list.push(params.allowedValue);
      else list.push(...(params.allowedValues ?? []));
      allowed.set(path, list);
      continue;
    }
    if (v.keyword === 'anyOf' && allowed.has(path)) continue;
    // The path already names a missing field: "/body/content is required", not Ajv's
    // "/body/content must have required property 'content'".
    let message = params.additionalProperty
      ? 'is not a known field'
      : params.missingProperty
        ? 'is required'
        : (v.message ?? 'is invalid');
    // A long pattern (host patterns, ids) says nothing to a reader: name the value instead.
    const pattern = (v.params as { pattern?: string } | undefined)?.pattern;
    if (v.keyword === 'pattern' && pattern && pattern.length > 40) {
      const value = valueAt(input?.[ctx === 'query' ? 'query' : ctx], v.instancePath);
      message =
        typeof value === 'string'
          ? `${JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value)} is not in the accepted form (see the API documentation of this field)`
          : 'is not in the accepted form (see the API documentation of this field)';
    }
    out.push({ path, message });
  }
  const oneOf = [...allowed].map(([path, values]) => ({
    path,
    message: `must be one of: ${values.map((x) => JSON.stringify(x)).join(', ')}`,
  }));
  return [...oneOf, ...out];
}

/**
 * The one error handler: every error leaves as RFC 9457 problem details with a stable `code`, or,
 * on the Managed Agents API (`/v1/…`), as `{type:"error", error:{type, message, details:{error_code}},
 * request_id}` with the same status. 5xx answers never carry internals (the log has them).
 */
export function registerErrorHandler(app: FastifyInstance): void {
  // Every Managed Agents response carries `request-id` (the SDKs read it into `requestID`).
  app.addHook('onRequest', async (req, reply) => {
    if (isManagedAgentsPath(req.url)) reply.header('request-id', managedRequestId(req));
  });
  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (err instanceof AppError) {
      if (err.extra.headers) reply.headers(err.extra.headers);
      return send(reply, err.code, err.detail, {
        status: err.status,
        ...(err.extra.errors ? { errors: err.extra.errors } : {}),
        ...(err.extra.error ? { error: err.extra.error } : {}),
      });
    }
    if (err.validation) {
      const errors = fieldErrors(err, request);
      const first = errors[0];
      return send(
        reply,
        'validation_failed',
        first ? `${first.path} ${first.message}` : 'the request is invalid',
        { errors },
      );
    }
    switch (err.code) {
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
        return send(reply, 'unsupported_media_type', 'this route accepts application/json');
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return send(reply, 'payload_too_large', 'the request body is larger than this route allows');
      case 'FST_ERR_CTP_EMPTY_JSON_BODY':
        return send(reply, 'invalid_json', 'the request body is empty; send a JSON object');
      case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
        return send(reply, 'invalid_json', 'the Content-Length header does not match the body');
      default:
        break;
    }
    if (err instanceof SyntaxError || err.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
      return send(reply, 'invalid_json', 'the request body is not valid JSON');
    }
    if (err.statusCode === 400 && /prototype|constructor/i.test(err.message)) {
      return send(
        reply,
        'invalid_json',
        'the request body contains a forbidden key (__proto__ or constructor.prototype)',
      );
    }
    if (err.statusCode === 429) {
      return send(
        reply,
        'rate_limited',
        'too many requests; slow down and retry after the Retry-After delay',
      );
    }
    if (err.statusCode === 403) {
      // A plugin's refusal (e.g. a static file path with a NUL byte or an empty segment).
      request.log.info({ err }, 'client error');
      return send(reply, 'forbidden', 'the request is not allowed (a malformed or forbidden path)');
    }
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      request.log.info({ err }, 'client error');
      return send(reply, 'validation_failed', 'the request is invalid', { status: err.statusCode });
    }
    if (isStorageFull(err)) {
      // A full disk (or quota) is the operator's to fix, not a bug: 507 with the reason.
      request.log.error({ err }, 'a write failed: the disk is full');
      reply.header('Retry-After', '30');
      return send(
        reply,
        'insufficient_storage',
        "the server's data disk is full; nothing more can be stored until space is freed",
      );
    }
    if (isDatabaseUnavailable(err)) {
      // The database is down, restarting or out of connections: the operator's to fix, and the
      // client's to retry, not a bug of this request.
      request.log.error({ err }, 'the database is unavailable');
      reply.header('Retry-After', '5');
      return send(
        reply,
        'database_unavailable',
        'the database is unavailable (unreachable, restarting or out of connections); retry after the Retry-After delay',
      );
    }
    request.log.error({ err }, 'unhandled error');
    return send(reply, 'internal_error', 'an unexpected error occurred; it has been logged');
  });

  app.setNotFoundHandler((request, reply) =>
    send(reply, 'route_not_found', `no route ${request.method} ${request.url.split('?')[0]}`),
  );
}

/**
 * Fastify's `frameworkErrors`: refusals made by the router before any route runs — a malformed
 * percent-encoding (FST_ERR_BAD_URL → 400 `invalid_url`) and a path parameter over the router's
 * `maxParamLength` (FST_ERR_MAX_PARAM_LENGTH → 414 `uri_too_long`) — answered as problem details
 * like every other error.
 */
export function handleFrameworkError(err: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  switch (err.code) {
    case 'FST_ERR_BAD_URL':
      return send(reply, 'invalid_url', 'the URL has a malformed percent-encoding (%XX)');
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return send(reply, 'uri_too_long', 'a path parameter is longer than any valid id or name');
    default:
      request.log.error({ err }, 'unhandled framework error');
      return send(reply, 'internal_error', 'an unexpected error occurred; it has been logged');
  }
}

/**
 * The HTTP server's `clientError` handler (Fastify `clientErrorHandler`): requests the parser
 * refuses before Fastify sees them — headers (with the request line) over Node's limit, a
 * request that did not arrive in time, malformed HTTP — get a problem-details body with a stable
 * code (431 `headers_too_large`, 408 `request_timeout`, 400 `invalid_request`) instead of Node's
 * bare answer; the connection is then closed.
 */
export function handleClientError(this: FastifyInstance, err: NodeJS.ErrnoException, socket: Socket): void {
  // A reset connection has nobody to answer.
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [code, detail]: [ErrorCode, string] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? ['headers_too_large', 'the request line and headers are larger than the server accepts']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? ['request_timeout', 'the request did not arrive completely in time']
        : ['invalid_request', 'the request is not valid HTTP/1.1'];
  this.log.debug({ err }, `client error: ${code}`);
  if (socket.writable) {
    const status = ErrorCodes[code];
    const body = JSON.stringify(problem(code, detail));
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: ${PROBLEM_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}
