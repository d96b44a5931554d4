/**
 * Errors a runner answers with. Plain (name, message, a number): an HTTP runner sends them as
 * data and its client raises the same classes, so the server maps them to problem details once.
 */

/**
 * No room for another sandbox: every slot is busy (nothing could be evicted), or too many starts
 * are waiting. The server answers 503 `capacity_reached` with `Retry-After: retryAfterSeconds`.
 */
export class RunnerCapacityError extends Error {
  constructor(
    message: string,
    /** When a retry may find room, seconds. */
    readonly retryAfterSeconds = 5,
  ) {
    super(message);
    this.name = 'RunnerCapacityError';
  }
}

/** The runner is shutting down: it starts nothing more. The server answers 503 `sandbox_unavailable`. */
export class RunnerClosedError extends Error {
  constructor(message = 'the server is shutting down') {
    super(message);
    this.name = 'RunnerClosedError';
  }
}
