import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import type { BlockList } from 'node:net';
import { join } from 'node:path';
import {
  bridgeEntryPath,
  type EgressCa,
  type IsolationMode,
  resolveClaudeExecutable,
  type SandboxLimits,
  SandboxManager,
} from '@ash-ai/sandbox';
import type { Logger } from 'pino';
import { InProcessRunner, type InProcessRunnerOptions } from './in-process-runner.js';
import type { SandboxPaths } from './pool.js';

/** Where a host keeps its sessions' files: `<data>/sessions/<id>/{workspace,claude}`. */
export function runnerSessionPaths(dataDir: string): SandboxPaths {
  const sessionDir = (id: string) => join(dataDir, 'sessions', id);
  return {
    sessionDir,
    workspace: (id) => join(sessionDir(id), 'workspace'),
    claudeConfig: (id) => join(sessionDir(id), 'claude'),
  };
}

/**
 * The sandbox settings a host is built from — the same names in the server's and the runner's
 * configuration (`ASH_SANDBOX*`, `ASH_EGRESS_*`, `ASH_MAX_SANDBOXES`, the start queue…).
 */
export interface SandboxHostSettings {
  dataDir: string;
  sandboxMode: IsolationMode;
  bwrapPath: string | undefined;
  sandboxUid: number | undefined;
  sandboxGid: number | undefined;
  sandboxUidRange: { first: number; last: number };
  sandboxLimits: SandboxLimits;
  egress: {
    allowCidrs: BlockList;
    maxConnections: number;
    maxBytesPerTurn: number;
    upstreamCa?: string[] | undefined;
  };
  maxSandboxes: number;
  maxConcurrentStarts: number;
  startQueueMax: number;
  startQueueTimeoutMs: number;
  spareBridges: number;
  poolRefillDelayMs: number;
  idleTimeoutMs: number;
  modelMaxRetries: number | undefined;
  claudeExecutable: string | undefined;
}

/** What differs between the embedded server's host and a runner process's. */
export interface SandboxHostOptions {
  /** The cgroup group's prefix (`ash-` for a server, `ash-r` for a runner); the data dir's hash follows. */
  groupPrefix: string;
  /** The model proxies' default upstream (a runner's sessions each name their coordinator's gateway). */
  modelUpstreamUrl: string;
  /** Terminates TLS for hosts with a bound credential (servers only: such sessions never go to a runner). */
  egressCa?: EgressCa | undefined;
  onSpareStart?: InProcessRunnerOptions['onSpareStart'];
  log: Logger;
}

/**
 * Builds a sandbox host: a `SandboxManager` (isolation, cgroups, disks, uids, bridges) and the
 * `InProcessRunner` pool over it — the embedded server's and a runner process's, from the same
 * settings. The pool's idle sweep is not started ({@link InProcessRunner.start}).
 * @throws SandboxUnavailableError when the requested isolation cannot be provided.
 */
export async function createSandboxHost(
  settings: SandboxHostSettings,
  opts: SandboxHostOptions,
): Promise<{ manager: SandboxManager; runner: InProcessRunner; paths: SandboxPaths }> {
  const s = settings;
  mkdirSync(join(s.dataDir, 'sessions'), { recursive: true, mode: 0o700 });
  const manager = await SandboxManager.create({
    mode: s.sandboxMode,
    spareBridges: s.spareBridges,
    spareRefillDelayMs: s.poolRefillDelayMs,
    ...(s.bwrapPath ? { bwrapPath: s.bwrapPath } : {}),
    bridgeEntry: bridgeEntryPath(),
    claudeExecutable: s.claudeExecutable ?? resolveClaudeExecutable({}),
    // Stable per data dir (a restart sweeps its own leftovers).
    groupName: `${opts.groupPrefix}${createHash('sha256').update(s.dataDir).digest('hex').slice(0, 12)}`,
    defaultLimits: s.sandboxLimits,
    modelUpstreamUrl: opts.modelUpstreamUrl,
    baseClaudeEnv:
      s.modelMaxRetries !== undefined ? { CLAUDE_CODE_MAX_RETRIES: String(s.modelMaxRetries) } : {},
    ...(s.sandboxUid !== undefined ? { sandboxUid: s.sandboxUid } : {}),
    ...(s.sandboxGid !== undefined ? { sandboxGid: s.sandboxGid } : {}),
    sandboxUidRange: s.sandboxUidRange,
    sessionsRoot: join(s.dataDir, 'sessions'),
    egress: {
      allowCidrs: s.egress.allowCidrs,
      limits: { maxConnections: s.egress.maxConnections, maxBytesPerTurn: s.egress.maxBytesPerTurn },
      ...(opts.egressCa ? { ca: opts.egressCa } : {}),
      ...(s.egress.upstreamCa ? { upstreamCa: s.egress.upstreamCa } : {}),
    },
    log: opts.log.child({ component: 'sandbox' }),
  });
  const paths = runnerSessionPaths(s.dataDir);
  const runner = new InProcessRunner({
    factory: manager,
    paths,
    maxSandboxes: s.maxSandboxes,
    idleTimeoutMs: s.idleTimeoutMs,
    startGate: {
      maxConcurrent: s.maxConcurrentStarts,
      maxQueued: s.startQueueMax,
      maxWaitMs: s.startQueueTimeoutMs,
    },
    log: opts.log.child({ component: 'runner' }),
    ...(opts.onSpareStart ? { onSpareStart: opts.onSpareStart } : {}),
  });
  return { manager, runner, paths };
}
