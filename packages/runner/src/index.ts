/**
 * @ash-ai/runner — the sandbox host: one pool of sandboxes (capacity, slot reservations, the start
 * queue, warm spares, idle and capacity eviction, the registry of session sandboxes) behind
 * {@link RunnerClient}, the one interface the server's session engine uses. The embedded server
 * runs an {@link InProcessRunner}; a runner in another process is a second implementation of the
 * same interface over HTTP (`ash runner`, `src/host/`, its own bin). No database here.
 */
export { emptyPoolCounters, type PoolCounters } from './counters.js';
export { RunnerCapacityError, RunnerClosedError } from './errors.js';
export { InProcessRunner, type InProcessRunnerOptions } from './in-process-runner.js';
export {
  SandboxPool,
  type PoolSandbox,
  type SandboxFactory,
  type SandboxPaths,
  type SandboxPoolOptions,
} from './pool.js';
export {
  createSandboxHost,
  runnerSessionPaths,
  type SandboxHostOptions,
  type SandboxHostSettings,
} from './sandbox-host.js';
export {
  SandboxHostEnvProperties,
  type SandboxHostEnv,
  sandboxHostSettingsFromEnv,
} from './sandbox-env.js';
export { StartGate, type StartGateOptions, type StartTicket } from './start-gate.js';
export type {
  EvictionReason,
  ModelCallHooks,
  RunnerClient,
  RunnerListener,
  RunnerStats,
  SandboxSpec,
  SandboxStarter,
  SandboxTurn,
  SlotReservation,
  SpareAgent,
  SpareSource,
  TurnRequest,
} from './types.js';
export {
  applyDelta,
  DeltaError,
  diffManifests,
  packDelta,
  scanManifest,
  type SyncRoots,
} from './workspace-sync.js';
