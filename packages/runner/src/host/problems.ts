import { SandboxStartError, SandboxUnavailableError } from '@ash-ai/sandbox';
import type { ErrorCode, FieldError } from '@ash-ai/shared';
import { RunnerCapacityError, RunnerClosedError } from '../errors.js';
import { CoordinatorError } from './coordinator-link.js';

/** An error the runner's API answers with: problem details with a stable `code`. */
export class HostError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly extra: { retryAfterSeconds?: number; errors?: FieldError[]; status?: number } = {},
  ) {
    super(message);
    this.name = 'HostError';
  }
}

/**
 * The problem an error becomes on the runner's API: the pool's capacity errors → 503
 * `capacity_reached` (+ Retry-After), a closed pool or a failed start → 503 `sandbox_unavailable`,
 * a coordinator's `lease_lost` → 409 `lease_lost`, another coordinator failure (checkout) → 503
 * `sandbox_unavailable`. Anything else is a 500 `internal_error` (no internals in the detail).
 */
export function toHostError(err: unknown): HostError {
  if (err instanceof HostError) return err;
  if (err instanceof RunnerCapacityError)
    return new HostError('capacity_reached', err.message, { retryAfterSeconds: err.retryAfterSeconds });
  if (err instanceof RunnerClosedError)
    return new HostError('sandbox_unavailable', 'the runner is shutting down');
  if (err instanceof SandboxStartError || err instanceof SandboxUnavailableError)
    return new HostError('sandbox_unavailable', `the sandbox could not start: ${err.message}`);
  if (err instanceof CoordinatorError) {
    if (err.leaseLost) return new HostError('lease_lost', 'the session lease moved on: nothing was stored');
    return new HostError('sandbox_unavailable', `the workspace could not be checked out: ${err.message}`);
  }
  return new HostError('internal_error', 'unexpected runner failure');
}
