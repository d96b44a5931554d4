import { spawn } from 'node:child_process';
import type { Writable } from 'node:stream';
import { encodeLaunchEnv, LAUNCH_ENV_FD, LAUNCHER_ENV } from '@ash-ai/shared';

/** A command run in a sandbox: how it ended and what it printed (each stream cut at the limit). */
export interface ExecOutcome {
  /** Exit status; 124 when it was killed after the timeout, 128+n after signal n. */
  exitCode: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** True when stdout or stderr was longer than the limit (the rest was dropped). */
  truncated: boolean;
  durationMs: number;
}

/** How to start a command the way the sandbox starts its Claude process. */
export interface ExecLaunch {
  command: string;
  args: string[];
  /** Host working directory of the launcher. */
  hostCwd: string;
  /** The sandboxed process's environment (delivered on fd 3, applied inside the sandbox). */
  env: Record<string, string>;
}

/**
 * Runs `sh -c <command>` through the sandbox launcher (same cgroup, rlimits, namespaces, uid and
 * environment as the Claude process; cwd = the workspace). The whole process group is killed
 * after `timeoutMs`. Output beyond `maxOutputBytes` per stream is dropped.
 */
export function execInSandbox(
  launch: ExecLaunch,
  command: string,
  opts: { timeoutMs: number; maxOutputBytes: number },
): Promise<ExecOutcome> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(launch.command, [...launch.args, '/bin/sh', '-c', command], {
      cwd: launch.hostCwd,
      env: { ...LAUNCHER_ENV },
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
      detached: true,
    });
    const envPipe = child.stdio[LAUNCH_ENV_FD] as Writable | null;
    envPipe?.on('error', () => undefined);
    envPipe?.end(encodeLaunchEnv(launch.env));
    let truncated = false;
    const collect = (stream: NodeJS.ReadableStream | null) => {
      const chunks: Buffer[] = [];
      let size = 0;
      stream?.on('data', (d: Buffer) => {
        if (size >= opts.maxOutputBytes) {
          truncated = true;
          return;
        }
        const part = d.subarray(0, opts.maxOutputBytes - size);
        if (part.length < d.length) truncated = true;
        chunks.push(part);
        size += part.length;
      });
      return () => Buffer.concat(chunks).toString('utf8');
    };
    const out = collect(child.stdout);
    const err = collect(child.stderr);
    let timedOut = false;
    const kill = () => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, opts.timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        exitCode: timedOut ? 124 : (code ?? (signal ? 128 + signalNumber(signal) : 1)),
        stdout: out(),
        stderr: err(),
        timedOut,
        truncated,
        durationMs: Date.now() - started,
      });
    });
  });
}

function signalNumber(signal: NodeJS.Signals): number {
  const n: Partial<Record<NodeJS.Signals, number>> = { SIGKILL: 9, SIGTERM: 15, SIGINT: 2, SIGSEGV: 11 };
  return n[signal] ?? 0;
}

/** One entry of a sandbox's output ring. */
export interface SandboxLogEntry {
  index: number;
  level: 'stdout' | 'stderr' | 'system';
  text: string;
  ts: string;
}

/** A bounded ring of a sandbox's output lines (the oldest go first). */
export class LogRing {
  private entries: SandboxLogEntry[] = [];
  private next = 0;

  constructor(private readonly capacity = 10_000) {}

  /** Adds text, one entry per line (at most 4000 characters each). */
  push(level: SandboxLogEntry['level'], text: string): void {
    const ts = new Date().toISOString();
    for (const line of text.split('\n')) {
      if (line === '') continue;
      this.entries.push({ index: this.next++, level, text: line.slice(0, 4000), ts });
    }
    if (this.entries.length > this.capacity) this.entries.splice(0, this.entries.length - this.capacity);
  }

  /** Entries with `index > after`. */
  since(after: number): SandboxLogEntry[] {
    return this.entries.filter((e) => e.index > after);
  }
}
