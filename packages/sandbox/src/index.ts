/**
 * @ash-ai/sandbox — starts and isolates per-session sandboxes: a bridge process running the
 * Claude Agent SDK, its Claude process inside bubblewrap and a cgroup, and a host-side model proxy.
 * No HTTP API and no database: the server (and a runner) drive it.
 */
export { bridgeEntryPath, resolveClaudeExecutable } from './bridge-location.js';
export { BridgeConnection, TurnChannel, type TurnEvent } from './bridge-connection.js';
export { execInSandbox, LogRing, type ExecLaunch, type ExecOutcome, type SandboxLogEntry } from './exec.js';
export { CgroupManager, SandboxCgroup, type CgroupCounters, type CgroupVersion } from './cgroups.js';
export {
  buildLaunch,
  detectHostTools,
  SANDBOX_PATHS,
  type HostTools,
  type IsolationMode,
  type Launch,
} from './isolation.js';
export { DEFAULT_SANDBOX_LIMITS, resolveLimits, type LimitName, type SandboxLimits } from './limits.js';
export { silentLogger, type Logger } from './logger.js';
export {
  PROXY_PLACEHOLDER_KEY,
  RESERVED_SANDBOX_ENV,
  SandboxManager,
  SandboxStartError,
  SandboxUnavailableError,
  egressCaEnv,
  egressProxyEnv,
  type SandboxEgressSpec,
  type SandboxManagerOptions,
  type StartSandboxSpec,
} from './manager.js';
export {
  ModelProxy,
  createUpstreamDispatcher,
  handleModelCall,
  messagesApiTarget,
  upstreamTarget,
  type ModelCallHandlerOptions,
  type ModelCallRefusal,
  type ModelCallUsage,
  type ModelCallObserver,
  type ModelCallOutcome,
  type ModelProxyOptions,
  type UpstreamPool,
} from './model-proxy.js';
export { Sandbox, type SandboxState } from './sandbox.js';
export {
  egressPreloadSource,
  SANDBOX_EGRESS_PRELOAD,
  SANDBOX_UNDICI_DIR,
  undiciPackageDir,
} from './egress-preload.js';
export {
  addressAllowed,
  EgressRules,
  parseCidrList,
  parseHostPattern,
  ruleMatches,
  validateNetworkPolicy,
  type EgressDecision,
  type EgressInjection,
  type HostRule,
  type NetworkPolicy,
} from './egress-policy.js';
export {
  EgressProxy,
  type EgressConnection,
  type EgressLimitName,
  type EgressLimits,
  type EgressProxyOptions,
} from './egress-proxy.js';
export { EGRESS_FORWARDER_SOURCE, EGRESS_PROXY_PORT } from './egress-forwarder.js';
export { EgressCa } from './egress-tls.js';
export { allocatedBytes, directorySize } from './workspace-size.js';
export { DISK_IMAGE_NAME, DISK_MOUNT_NAME, diskImageBytes, SandboxDisk } from './sandbox-disk.js';
export { DEFAULT_SANDBOX_UID_RANGE, UidPool } from './uid-pool.js';
