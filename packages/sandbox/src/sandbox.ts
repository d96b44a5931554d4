import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import type { Server } from 'node:net';
import type { BridgeSdkOptions, Conversation, MessageContent, ToolAnswer } from '@ash-ai/shared';
import type { BridgeConnection, TurnChannel, TurnEvent } from './bridge-connection.js';
import { SandboxCgroup, type CgroupCounters } from './cgroups.js';
import { execInSandbox, LogRing, type ExecLaunch, type ExecOutcome } from './exec.js';
import type { LimitName, SandboxLimits } from './limits.js';
import type { Logger } from './logger.js';
import type { ModelProxy } from './model-proxy.js';
import type { EgressLimitName, EgressProxy } from './egress-proxy.js';
import type { SandboxDisk } from './sandbox-disk.js';
import { directorySize } from './workspace-size.js';

/** State of a sandbox process. */
export type SandboxState = 'ready' | 'closing' | 'closed';

/** Parts a {@link Sandbox} owns; built by the SandboxManager. */
export interface SandboxParts {
  id: string;
  workspaceDir: string;
  /** Directories to remove when the sandbox is gone (its runtime dir, its bridge's). */
  runtimeDirs: string[];
  limits: SandboxLimits;
  bridge: ChildProcess;
  connection: BridgeConnection;
  bridgeServer: Server;
  proxy: ModelProxy;
  /** The egress proxy, when the sandbox has network. */
  egress?: EgressProxy | undefined;
  cgroup: SandboxCgroup | undefined;
  log: Logger;
  /** Interval for checking resource counters while a turn runs, ms. */
  limitPollMs: number;
  /** How commands run in this sandbox (`exec`): its launcher and environment. */
  execLaunch?: ExecLaunch;
  /** The sandbox's own file system (kernel-enforced disk limit), when the host supports it. */
  disk?: SandboxDisk | undefined;
  /** Host uid/gid the sandboxed processes run as (server is root). */
  owner?: { uid: number; gid: number } | undefined;
  /** Called once everything of the sandbox is gone (releases its uid). */
  onCleanedUp?: () => void;
}

/**
 * One live sandbox: a bridge process (running the Claude Agent SDK) whose Claude process runs
 * inside the isolation, plus its model proxy and cgroup. Runs one turn at a time.
 */
export class Sandbox {
  readonly id: string;
  readonly workspaceDir: string;
  readonly startedAt = Date.now();
  private stateValue: SandboxState = 'ready';
  private exitListeners: Array<(info: { expected: boolean }) => void> = [];
  private stopping: Promise<void> | undefined;
  private currentTurn: string | undefined;
  lastUsedAt = Date.now();
  /** Times this sandbox hit a resource limit. */
  limitHits = 0;

  /** The sandbox's output: the Claude process's stderr, commands run by `exec`, system notes. */
  readonly logs = new LogRing();

  constructor(private readonly parts: SandboxParts) {
    this.id = parts.id;
    this.workspaceDir = parts.workspaceDir;
    this.logs.push('system', 'sandbox started');
    parts.connection.onLog = (level, text) => this.logs.push(level === 'error' ? 'system' : 'stderr', text);
    parts.connection.onClose(() => {
      const expected = this.stateValue !== 'ready';
      this.stateValue = 'closed';
      void this.cleanup();
      for (const l of this.exitListeners.splice(0)) l({ expected });
    });
  }

  get state(): SandboxState {
    return this.stateValue;
  }

  /** Pid of the bridge process. */
  get pid(): number | undefined {
    return this.parts.bridge.pid;
  }

  /** True while a turn runs. */
  get busy(): boolean {
    return this.currentTurn !== undefined;
  }

  get limits(): SandboxLimits {
    return this.parts.limits;
  }

  /** Host uid/gid of the sandboxed processes, when the server is root. */
  get owner(): { uid: number; gid: number } | undefined {
    return this.parts.owner ? { ...this.parts.owner } : undefined;
  }

  /** True when the disk limit is a file system of fixed size (enforced by the kernel). */
  get hasOwnDisk(): boolean {
    return this.parts.disk !== undefined;
  }

  /** Called once when the bridge goes away (`expected` = we were stopping it). */
  onExit(listener: (info: { expected: boolean }) => void): void {
    if (this.stateValue === 'closed') listener({ expected: true });
    else this.exitListeners.push(listener);
  }

  /** Starts the Claude process ahead of the first turn; resolves when it is up (or failed). */
  async warm(options: BridgeSdkOptions, conversation: Conversation): Promise<boolean> {
    const waited = this.parts.connection.waitWarmed();
    this.parts.connection.send({ cmd: 'warm', options, conversation });
    const r = await waited;
    if (!r.ok) this.parts.log.warn({ err: r.error }, 'warm-up failed');
    return r.ok;
  }

  /**
   * Runs a turn: the returned iterable yields the SDK messages of the turn, then one `turn_end`.
   * While the turn runs, resource counters are watched; a hit kills the sandbox's processes and
   * ends the turn with `limit_exceeded` naming the limit.
   * @throws Error when the sandbox is not ready or already running a turn.
   */
  runTurn(
    turnId: string,
    prompt: MessageContent,
    options: BridgeSdkOptions,
    conversation: Conversation,
  ): AsyncIterable<TurnEvent> {
    if (this.stateValue !== 'ready') throw new Error('sandbox is not running');
    if (this.currentTurn) throw new Error('sandbox is already running a turn');
    this.currentTurn = turnId;
    this.lastUsedAt = Date.now();
    this.parts.egress?.resetTurn();
    const channel = this.parts.connection.openTurn(turnId);
    this.parts.connection.send({ cmd: 'query', turnId, prompt, options, conversation });
    const watch = this.watchLimits(turnId, channel);
    const self = this;
    return {
      async *[Symbol.asyncIterator]() {
        try {
          for await (const ev of channel) {
            // A limit hit the watcher had no time to see (the turn ended first) still fails the
            // turn, and names the limit — also when the hit is why the turn failed (a fork bomb
            // can make the Claude process die before the watcher's next poll).
            if (ev.ev === 'turn_end' && ev.outcome !== 'interrupted' && ev.error?.code !== 'limit_exceeded') {
              const late = await watch.check();
              if (late) {
                yield {
                  ev: 'turn_end',
                  turnId,
                  outcome: 'error',
                  error: { message: late.message, code: 'limit_exceeded', limit: late.limit },
                };
                continue;
              }
            }
            yield ev;
          }
        } finally {
          watch.stop();
          if (self.currentTurn === turnId) self.currentTurn = undefined;
          self.lastUsedAt = Date.now();
        }
      },
    };
  }

  /**
   * Runs a shell command in the sandbox (same isolation, limits and environment as the Claude
   * process; cwd = the workspace), killed after `timeoutMs`. Its output also goes to {@link logs}.
   * @throws Error when the sandbox is not running, cannot run commands, or stopped while it ran.
   */
  async exec(command: string, opts: { timeoutMs: number; maxOutputBytes: number }): Promise<ExecOutcome> {
    if (this.stateValue !== 'ready') throw new Error('sandbox is not running');
    if (!this.parts.execLaunch) throw new Error('this sandbox cannot run commands');
    this.lastUsedAt = Date.now();
    this.logs.push('system', `$ ${command.slice(0, 1000)}`);
    const r = await execInSandbox(this.parts.execLaunch, command, opts);
    // The sandbox went away meanwhile (its bridge crashed, or it was stopped): what the command
    // printed is the launcher's failure on a vanishing sandbox (host paths), not the command's.
    if (this.stateValue !== 'ready') throw new Error('the sandbox stopped while the command ran');
    this.logs.push('stdout', r.stdout);
    this.logs.push('stderr', r.stderr);
    this.logs.push('system', r.timedOut ? `killed after ${opts.timeoutMs} ms` : `exit ${r.exitCode}`);
    return r;
  }

  /** True when the sandbox has network (an egress proxy). */
  get hasNetwork(): boolean {
    return this.parts.egress !== undefined;
  }

  /**
   * Called by the egress proxy when a limit is hit: ends the running turn with `limit_exceeded`
   * naming the limit (the sandbox stays usable; the next turn starts with a fresh budget).
   */
  egressLimitHit(limit: EgressLimitName, message: string): void {
    const turnId = this.currentTurn;
    this.limitHits++;
    this.logs.push('system', message);
    if (!turnId || this.stateValue !== 'ready') return;
    void this.abortTurn(turnId, { message, code: 'limit_exceeded', limit });
  }

  /** Answers a `tool_request` of the running turn (ignored by the bridge when nothing waits for it). */
  answerToolRequest(requestId: string, answer: ToolAnswer): void {
    if (this.stateValue === 'ready') this.parts.connection.send({ cmd: 'tool_answer', requestId, answer });
  }

  /** Asks the SDK to stop the turn (soft). */
  interrupt(turnId: string): void {
    if (this.stateValue === 'ready' && this.currentTurn === turnId)
      this.parts.connection.send({ cmd: 'interrupt', turnId });
  }

  /**
   * Ends a turn from the host side (watchdog): kills the sandbox's processes and ends the turn's
   * stream with the given error. The bridge stays up, so the next turn restarts Claude.
   */
  async abortTurn(
    turnId: string,
    error: { message: string; code: string; limit?: string },
    outcome: 'error' | 'interrupted' = 'error',
  ): Promise<void> {
    // Kill first, end the turn after: the next turn cannot start before the old processes are gone.
    await this.killSandboxProcesses();
    this.parts.connection.endTurn(turnId, { ev: 'turn_end', turnId, outcome, error });
  }

  /**
   * CPU seconds (user + system) the sandbox's processes — the Claude process and everything it
   * started — have used so far (cgroup accounting); undefined without cgroups.
   */
  cpuSeconds(): number | undefined {
    return this.parts.cgroup?.cpuSeconds();
  }

  /** Memory in use by the sandbox's processes, bytes (cgroup), or undefined without cgroups. */
  memoryBytes(): number | undefined {
    return this.parts.cgroup?.counters().memoryBytes;
  }

  /**
   * Stops everything: asks the bridge to shut down, then kills the bridge's process group and
   * every process of the cgroup, removes the cgroup, the sockets and the runtime directory.
   */
  stop(graceMs = 1500): Promise<void> {
    if (!this.stopping) this.stopping = this.doStop(graceMs);
    return this.stopping;
  }

  private async doStop(graceMs: number): Promise<void> {
    if (this.stateValue === 'ready') this.stateValue = 'closing';
    const bridge = this.parts.bridge;
    const exited = new Promise<void>((resolve) => {
      if (bridge.exitCode !== null || bridge.signalCode !== null) resolve();
      else bridge.once('exit', () => resolve());
    });
    try {
      this.parts.connection.send({ cmd: 'shutdown' });
    } catch {
      // connection already gone
    }
    await Promise.race([exited, sleep(graceMs)]);
    killGroup(bridge);
    await Promise.race([exited, sleep(2000)]);
    await this.cleanup();
  }

  private cleaning: Promise<void> | undefined;
  /** Idempotent; every caller waits for the same cleanup. */
  private cleanup(): Promise<void> {
    if (!this.cleaning) this.cleaning = this.doCleanup();
    return this.cleaning;
  }

  private async doCleanup(): Promise<void> {
    try {
      await this.releaseEverything();
    } finally {
      this.parts.onCleanedUp?.();
      this.stateValue = 'closed';
    }
  }

  private async releaseEverything(): Promise<void> {
    killGroup(this.parts.bridge);
    if (this.parts.cgroup) {
      await this.parts.cgroup.killAll();
      this.parts.cgroup.remove();
    }
    this.parts.connection.close();
    await new Promise<void>((resolve) => this.parts.bridgeServer.close(() => resolve()));
    await this.parts.proxy.close().catch(() => undefined);
    await this.parts.egress?.close().catch(() => undefined);
    // The session's files go back to their host folders (the processes are gone).
    await this.parts.disk
      ?.release()
      .catch((err: unknown) => this.parts.log.error({ err: String(err) }, 'sandbox disk release failed'));
    for (const d of this.parts.runtimeDirs) rmSync(d, { recursive: true, force: true });
  }

  private async killSandboxProcesses(): Promise<void> {
    if (this.parts.connection.isClosed) return;
    if (this.parts.cgroup) {
      // Reset first: the bridge handles commands in order, so the next query cannot overtake it.
      this.parts.connection.send({ cmd: 'reset' });
      await this.parts.cgroup.killAll();
    } else this.parts.connection.send({ cmd: 'shutdown' });
  }

  private watchLimits(
    turnId: string,
    channel: TurnChannel,
  ): { stop: () => void; check: () => Promise<{ limit: LimitName; message: string } | undefined> } {
    const cg = this.parts.cgroup;
    const limits = this.parts.limits;
    const disk = this.parts.disk;
    const before: CgroupCounters | undefined = cg?.counters();
    let lastDiskCheck = 0;
    let stopped = false;
    // With its own file system, the disk is "hit" when it becomes full during the turn. A disk
    // already full when the turn starts (a background writer between turns) fails the turn only
    // once the turn made room and filled it again: a turn that frees space must work.
    const startedFull = disk ? diskFull(disk).catch(() => false) : undefined;
    let hadRoom = false;
    const diskHit = async (): Promise<boolean> => {
      if (!disk || !startedFull) return false;
      const full = await diskFull(disk);
      if (!full) hadRoom = true;
      return full && (!(await startedFull) || hadRoom);
    };
    const describe = (limit: LimitName): string => {
      switch (limit) {
        case 'memory':
          return `the sandbox exceeded its memory limit (${limits.memoryMb} MiB)`;
        case 'pids':
          return `the sandbox exceeded its process limit (${limits.maxProcesses} processes)`;
        case 'disk':
          return disk
            ? `the sandbox filled its disk limit (${limits.diskMb} MiB for workspace, home, config dir and /tmp); writes past it fail with ENOSPC`
            : `the workspace exceeded its disk limit (${limits.diskMb} MiB)`;
        default:
          return `the sandbox exceeded its ${limit} limit`;
      }
    };
    const counterHit = (): LimitName | undefined =>
      cg && before ? SandboxCgroup.limitHit(before, cg.counters()) : undefined;
    const hit = (limit: LimitName) => {
      if (stopped || channel.done) return;
      stopped = true;
      this.limitHits++;
      this.parts.log.warn({ limit }, 'sandbox hit a resource limit');
      void this.abortTurn(turnId, { message: describe(limit), code: 'limit_exceeded', limit });
    };
    const timer = setInterval(() => {
      if (stopped) return;
      const which = counterHit();
      if (which) hit(which);
      const now = Date.now();
      if (disk) {
        // statfs is cheap: checked on every tick.
        void diskHit()
          .then((full) => {
            if (full) hit('disk');
          })
          .catch(() => undefined);
      } else if (limits.diskMb > 0 && now - lastDiskCheck >= 2000) {
        lastDiskCheck = now;
        void directorySize(this.workspaceDir, limits.diskMb * 1024 * 1024 + 1).then((bytes) => {
          if (bytes > limits.diskMb * 1024 * 1024) hit('disk');
        });
      }
    }, this.parts.limitPollMs);
    timer.unref();
    return {
      stop: () => {
        stopped = true;
        clearInterval(timer);
      },
      check: async () => {
        const which = counterHit() ?? ((await diskHit().catch(() => false)) ? 'disk' : undefined);
        if (!which) return undefined;
        this.limitHits++;
        return { limit: which, message: describe(which) };
      },
    };
  }
}

/**
 * Whether a sandbox disk is full: under 2% or 4 MiB free, whichever is more (a writer stopped by
 * ENOSPC leaves up to one write's worth free — dd with bs=1M left 600 KiB).
 */
async function diskFull(disk: SandboxDisk): Promise<boolean> {
  return (await disk.freeBytes()) < Math.max(4 * 1024 * 1024, disk.limitBytes / 50);
}

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    try {
      child.kill('SIGKILL');
    } catch {
      // gone
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
