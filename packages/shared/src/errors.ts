import { type Static, Type } from '@sinclair/typebox';

/**
 * The catalogue of stable error codes, each with the HTTP status it is answered with.
 *
 * Codes never change meaning and are never reused; clients branch on `code`, not on the message.
 * Codes marked "stream" only appear in SSE `error` events (the HTTP status is the one the
 * equivalent request would have had; it is informative there).
 */
export const ErrorCodes = {
  /** A body, query or path parameter failed its schema. `errors[]` names the fields. */
  validation_failed: 400,
  /** The request body is not valid JSON. */
  invalid_json: 400,
  /** A file path given by the client is absolute, escapes its root, or is otherwise unusable. */
  invalid_path: 400,
  /** Base64 content that does not decode. */
  invalid_base64: 400,
  /** A credential id that is unknown, inactive or another tenant's. */
  invalid_credential: 400,
  /** A `messageId` that is not a message of this session (unknown, another session's or another tenant's). */
  invalid_message_id: 400,
  /** The URL is not valid: a malformed percent-encoding (`%zz`, a lone `%`). */
  invalid_url: 400,
  /** The request is not valid HTTP/1.1 (refused by the server's HTTP parser before routing). */
  invalid_request: 400,
  /** No or malformed credentials on a protected route. */
  unauthorized: 401,
  /** Authenticated, but not allowed (e.g. an internal route from outside). */
  forbidden: 403,
  /** A route that does not exist. */
  route_not_found: 404,
  agent_not_found: 404,
  session_not_found: 404,
  file_not_found: 404,
  resource_not_found: 404,
  /** The session's workspace is neither on this server nor stored as a snapshot. */
  workspace_not_found: 404,
  attachment_not_found: 404,
  /** A workspace bundle that is not a gzip tar, or holds unsafe entries (links out, absolute or `..` names, devices). */
  invalid_bundle: 400,
  /** An API key id that is unknown, revoked or another tenant's. */
  api_key_not_found: 404,
  /** A credential id that is unknown or another tenant's. */
  credential_not_found: 404,
  /** No such queue item (for this tenant). */
  queue_item_not_found: 404,
  /** No such Managed Agents environment (`/v1/environments`, for this tenant). */
  environment_not_found: 404,
  /** The Managed Agents environment is archived: it cannot be changed or used by new sessions. */
  environment_archived: 400,
  /** A Managed Agents (`/v1`) feature Ash does not support yet (docs/managed-agents.md lists them). */
  not_yet_supported: 400,
  /** The session is running a turn and the busy policy is `reject`. */
  session_busy: 409,
  /**
   * The session is live on another server sharing this database (its sandbox runs there and the
   * owner's lease is current): send the request to that server, or retry once it paused the session.
   */
  session_owned_elsewhere: 409,
  /**
   * The session is live on another server and this server could not reach it to forward the
   * request (it may have died: once its lease runs out, any server takes the session over).
   */
  owner_unreachable: 503,
  /** The session is in a state that does not allow the operation (e.g. pausing a paused session). */
  invalid_session_state: 409,
  /** The resource already exists. */
  conflict: 409,
  /** The queue item is no longer pending (running, finished or cancelled), so it cannot be cancelled. */
  queue_item_not_pending: 409,
  /** The session has ended; it can be read but not used. */
  session_ended: 410,
  /**
   * The attachment is recorded, but its bytes are neither in the configured object storage (e.g.
   * the operator switched storage backends or data dirs) nor intact in the session's workspace.
   */
  attachment_gone: 410,
  /** The body is larger than the route allows, or decoded content exceeds a limit. */
  payload_too_large: 413,
  /**
   * The write (files upload, bundle restore, attachment) would take the session's workspace over
   * its disk limit (allocated blocks; ASH_SANDBOX_DISK_MB or the agent's `limits.diskMb`).
   * Nothing was written.
   */
  disk_limit_exceeded: 413,
  /** A path parameter (an id, a name) is longer than any valid one (1024 characters). */
  uri_too_long: 414,
  /** The request did not arrive completely within the server's request timeout. */
  request_timeout: 408,
  /** The request line and headers together exceed the server's limit (Node's 16 KiB by default). */
  headers_too_large: 431,
  /** The request's Content-Type is not accepted by the route. */
  unsupported_media_type: 415,
  /** The agent folder is not deployable (e.g. no CLAUDE.md); 400 as in the upstream Ash. */
  invalid_agent_folder: 400,
  /** The agent's deployed folder is gone from disk and storage: redeploy the agent. */
  agent_folder_missing: 422,
  /** Too many requests for this API key. See `Retry-After`. */
  rate_limited: 429,
  /** Unexpected server failure. The detail never contains internals. */
  internal_error: 500,
  /** No sandbox capacity left and nothing can be evicted. See `Retry-After`. */
  capacity_reached: 503,
  /** A sandbox could not be started. */
  sandbox_unavailable: 503,
  /** Object storage (local disk or S3) failed or is unreachable; nothing was changed. Retry later. */
  storage_unavailable: 503,
  /**
   * The database (PostgreSQL) refused or dropped the connection, or did not accept one in time:
   * the request did not complete. See `Retry-After`.
   */
  database_unavailable: 503,
  /**
   * The server's data disk is full or under ASH_MIN_FREE_DISK_MB: new sessions, turns and uploads
   * are refused before they start; a turn whose history cannot be stored ends with it (stream).
   */
  insufficient_storage: 507,
  /** A feature is switched off by configuration (e.g. credentials without ASH_CREDENTIAL_KEY). */
  feature_unavailable: 503,
  /** stream: the model API answered with an error. */
  model_error: 502,
  /** stream: the turn produced no event within the turn idle timeout. */
  turn_timeout: 504,
  /** stream: the session's sandbox process exited during the turn. */
  sandbox_crashed: 500,
  /** stream: the sandbox hit a resource limit (memory, processes, disk, file size). */
  limit_exceeded: 500,
  /**
   * Stream: the runner hosting the session's sandbox was lost during the turn (killed,
   * unreachable past ASH_RUNNER_TIMEOUT_MS). The session's next message runs on another runner
   * from its last checkpoint.
   */
  runner_lost: 500,
  /**
   * A runner wrote for a session whose lease moved on (it was paused, partitioned or too slow):
   * the write was refused and nothing was stored (internal runner link only).
   */
  lease_lost: 409,
  /** stream: the turn was interrupted by a client. */
  turn_interrupted: 409,
  /** stream: the SDK ended the turn with an error result (max turns, execution error...). */
  turn_failed: 500,
  /** stream: a spending budget was reached. */
  budget_exceeded: 402,
} as const;

/** A stable, machine-readable error code. */
export type ErrorCode = keyof typeof ErrorCodes;

/** One field-level problem inside a `validation_failed` error. */
export const FieldErrorSchema = Type.Object({
  /** JSON pointer-ish location, e.g. `/body/name` or `/query/limit`. */
  path: Type.String(),
  message: Type.String(),
});
export type FieldError = Static<typeof FieldErrorSchema>;

/**
 * The one error body of the API: RFC 9457 "problem details" (`application/problem+json`) with a
 * stable `code`. `error` and `statusCode` repeat `detail` and `status` so clients written for the
 * upstream Ash (`{error, statusCode}`) keep working.
 */
export const ProblemSchema = Type.Object(
  {
    type: Type.String({ description: 'URI naming the problem type: `urn:ash:error:<code>`' }),
    title: Type.String({ description: 'Short, code-level summary' }),
    status: Type.Integer(),
    detail: Type.String({ description: 'Human-readable explanation of this occurrence' }),
    code: Type.String({ description: 'Stable machine-readable code (see docs/errors.md)' }),
    instance: Type.Optional(Type.String()),
    errors: Type.Optional(Type.Array(FieldErrorSchema)),
    error: Type.String({
      description:
        'Upstream compatibility: the upstream Ash text where one exists (401: `Missing Authorization header`, `Invalid API key`), else the same as detail',
    }),
    statusCode: Type.Integer({ description: 'Same as status (upstream compatibility)' }),
  },
  { $id: 'Problem', description: 'RFC 9457 problem details' },
);
export type Problem = Static<typeof ProblemSchema>;

/** Human titles per code, used in `title`. */
export function errorTitle(code: ErrorCode): string {
  const words = code.replace(/_/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/**
 * Builds a problem-details body.
 * @param code the stable code; its catalogue status is used unless `status` overrides it.
 * @param extra.error the `error` field, when it must differ from `detail` (upstream texts).
 */
export function problem(
  code: ErrorCode,
  detail: string,
  extra: { status?: number; errors?: FieldError[]; instance?: string; error?: string } = {},
): Problem {
  const status = extra.status ?? ErrorCodes[code];
  const body: Problem = {
    type: `urn:ash:error:${code}`,
    title: errorTitle(code),
    status,
    detail,
    code,
    // The upstream Ash's own text where one exists (e.g. 401 "Invalid API key"), else `detail`.
    error: extra.error ?? detail,
    statusCode: status,
  };
  if (extra.instance) body.instance = extra.instance;
  if (extra.errors && extra.errors.length > 0) body.errors = extra.errors;
  return body;
}

/** True when `code` is one of the catalogue's codes. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ErrorCodes, code);
}
