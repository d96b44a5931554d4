import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { bridgeEntryPath, resolveClaudeExecutable, SandboxManager } from '@ash-ai/sandbox';
import type { Logger } from 'pino';
import { InProcessRunner } from '../in-process-runner.js';
import type { SandboxPaths } from '../pool.js';
import type { RunnerHostConfig } from './config.js';

/** Where a runner keeps its sessions' files: `<data>/sessions/<id>/{workspace,claude}` (as a server does). */
export function runnerSessionPaths(dataDir: string): SandboxPaths {
  const sessionDir = (id: string) => join(dataDir, 'sessions', id);
  return {
    sessionDir,
    workspace: (id) => join(sessionDir(id), 'workspace'),
    claudeConfig: (id) => join(sessionDir(id), 'claude'),
  };
}

/**
 * The sandbox side of a runner process: a `SandboxManager` (isolation, cgroups, disks, uids,
 * bridges) and the `InProcessRunner` pool over it, built from the runner's own configuration as
 * the embedded server builds its own. The manager's default model upstream is unused: every
 * session's sandbox gets the coordinator's gateway as its upstream, and no key.
 * @throws SandboxUnavailableError when the requested isolation cannot be provided.
 */
export async function createSandboxHost(
  config: RunnerHostConfig,
  log: Logger,
): Promise<{ manager: SandboxManager; runner: InProcessRunner; paths: SandboxPaths }> {
  mkdirSync(join(config.dataDir, 'sessions'), { recursive: true, mode: 0o700 });
  const manager = await SandboxManager.create({
    mode: config.sandboxMode,
    spareBridges: config.spareBridges,
    spareRefillDelayMs: config.poolRefillDelayMs,
    ...(config.bwrapPath ? { bwrapPath: config.bwrapPath } : {}),
    bridgeEntry: bridgeEntryPath(),
    claudeExecutable: config.claudeExecutable ?? resolveClaudeExecutable({}),
    // Stable per data dir (a restart sweeps its own leftovers), distinct from a server's.
    groupName: `ash-r${createHash('sha256').update(config.dataDir).digest('hex').slice(0, 11)}`,
    defaultLimits: config.sandboxLimits,
    // Never used: each start names its coordinator's gateway (a sandbox without one reaches nothing).
    modelUpstreamUrl: 'http://127.0.0.1:9',
    baseClaudeEnv:
      config.modelMaxRetries !== undefined ? { CLAUDE_CODE_MAX_RETRIES: String(config.modelMaxRetries) } : {},
    ...(config.sandboxUid !== undefined ? { sandboxUid: config.sandboxUid } : {}),
    ...(config.sandboxGid !== undefined ? { sandboxGid: config.sandboxGid } : {}),
    sandboxUidRange: config.sandboxUidRange,
    sessionsRoot: join(config.dataDir, 'sessions'),
    egress: {
      allowCidrs: config.egress.allowCidrs,
      limits: {
        maxConnections: config.egress.maxConnections,
        maxBytesPerTurn: config.egress.maxBytesPerTurn,
      },
      // No egress CA: sessions with credential bindings are never placed on a runner.
    },
    log: log.child({ component: 'sandbox' }),
  });
  const paths = runnerSessionPaths(config.dataDir);
  const runner = new InProcessRunner({
    factory: manager,
    paths,
    maxSandboxes: config.maxSandboxes,
    idleTimeoutMs: config.idleTimeoutMs,
    startGate: {
      maxConcurrent: config.maxConcurrentStarts,
      maxQueued: config.startQueueMax,
      maxWaitMs: config.startQueueTimeoutMs,
    },
    log: log.child({ component: 'pool' }),
  });
  runner.start();
  return { manager, runner, paths };
}
