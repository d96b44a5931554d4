import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { LimitName, SandboxLimits } from './limits.js';
import type { Logger } from './logger.js';

/** What cgroup support this host offers, detected at run time. */
export type CgroupVersion = 'cgroup-v1' | 'cgroup-v2' | 'none';

interface V1Mounts {
  memory?: string;
  pids?: string;
  cpu?: string;
  /** CPU accounting (often co-mounted with cpu). */
  cpuacct?: string;
}

/** Resource-limit counters read from a sandbox's cgroup. */
export interface CgroupCounters {
  /** Times the kernel OOM-killed a process of the group. */
  oomKills: number;
  /** Times a fork failed because `pids.max` was reached. */
  pidsMaxHits: number;
  /** Current memory usage, bytes. */
  memoryBytes: number;
}

/**
 * One sandbox's cgroup (a directory per controller on v1, one directory on v2).
 * The Claude process joins it through {@link SandboxCgroup.joinPrefix} before it starts, so
 * everything it forks is accounted and limited there.
 */
export class SandboxCgroup {
  constructor(
    readonly version: Exclude<CgroupVersion, 'none'>,
    /** One directory per controller (v1) or a single directory (v2). */
    readonly dirs: string[],
  ) {}

  /** `cgroup.procs` files the launcher writes its pid to. */
  get procsFiles(): string[] {
    return this.dirs.map((d) => join(d, 'cgroup.procs'));
  }

  /**
   * A command prefix that moves the launched process into this cgroup, then execs the rest:
   * `sh -c '…' sh <procs files…> -- <command…>`.
   */
  joinPrefix(): string[] {
    const script = 'while [ "$1" != "--" ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec "$@"';
    return ['/bin/sh', '-c', script, 'sh', ...this.procsFiles, '--'];
  }

  /** Pids currently in the group. */
  pids(): number[] {
    const seen = new Set<number>();
    for (const f of this.procsFiles) {
      try {
        for (const line of readFileSync(f, 'utf8').split('\n')) {
          const n = Number.parseInt(line, 10);
          if (n > 0) seen.add(n);
        }
      } catch {
        // group gone
      }
    }
    return [...seen];
  }

  counters(): CgroupCounters {
    const c: CgroupCounters = { oomKills: 0, pidsMaxHits: 0, memoryBytes: 0 };
    for (const d of this.dirs) {
      c.oomKills += readKey(
        join(d, this.version === 'cgroup-v1' ? 'memory.oom_control' : 'memory.events'),
        'oom_kill',
      );
      c.pidsMaxHits += readKey(join(d, 'pids.events'), 'max');
      const usage = readNumber(
        join(d, this.version === 'cgroup-v1' ? 'memory.usage_in_bytes' : 'memory.current'),
      );
      if (usage > c.memoryBytes) c.memoryBytes = usage;
    }
    return c;
  }

  /**
   * CPU time (user + system) the group's processes have used since it was created, in seconds:
   * `usage_usec` of `cpu.stat` (v2) or `cpuacct.usage` (v1, nanoseconds). Undefined when the
   * kernel does not account it (no cpuacct controller) or the group is gone.
   */
  cpuSeconds(): number | undefined {
    for (const d of this.dirs) {
      if (this.version === 'cgroup-v2') {
        const usec = readKey(join(d, 'cpu.stat'), 'usage_usec', -1);
        if (usec >= 0) return usec / 1e6;
      } else if (existsSync(join(d, 'cpuacct.usage'))) {
        const ns = readNumber(join(d, 'cpuacct.usage'), -1);
        if (ns >= 0) return ns / 1e9;
      }
    }
    return undefined;
  }

  /** Which limit was hit between two counter readings, if any. */
  static limitHit(before: CgroupCounters, after: CgroupCounters): LimitName | undefined {
    if (after.oomKills > before.oomKills) return 'memory';
    if (after.pidsMaxHits > before.pidsMaxHits) return 'pids';
    return undefined;
  }

  /** SIGKILLs every process in the group until it is empty (bounded to about 2 s). */
  async killAll(): Promise<void> {
    if (this.version === 'cgroup-v2') {
      const killFile = join(this.dirs[0]!, 'cgroup.kill');
      if (existsSync(killFile)) {
        try {
          writeFileSync(killFile, '1');
        } catch {
          // fall back to the loop
        }
      }
    }
    for (let i = 0; i < 100; i++) {
      const pids = this.pids();
      if (pids.length === 0) return;
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Removes the group's directories (they must be empty of processes). */
  remove(): void {
    for (const d of this.dirs) {
      try {
        rmdirSync(d);
      } catch {
        // busy or gone; the startup sweep retries stale groups
      }
    }
  }
}

/**
 * Creates and sweeps sandbox cgroups under this process's own cgroup (never at the root: on
 * hosts where a VM or container manager placed us in a memory group, children must live there).
 */
export class CgroupManager {
  private constructor(
    readonly version: CgroupVersion,
    /** Parent directory per controller (v1) or the single parent (v2). */
    private readonly parents: string[],
    private readonly log: Logger,
  ) {}

  /**
   * Detects cgroup support and prepares the parent group `<own cgroup>/<groupName>`.
   * Returns a manager with version `none` when cgroups are unavailable or not writable.
   */
  static detect(groupName: string, log: Logger): CgroupManager {
    try {
      const own = ownCgroups();
      if (existsSync('/sys/fs/cgroup/cgroup.controllers')) {
        const ownDir = join('/sys/fs/cgroup', own.get('') ?? '/');
        const parent = join(ownDir, groupName);
        prepareV2Parent(ownDir, parent);
        weighParent(join(parent, 'cpu.weight'), Math.min(10_000, 100 * availableParallelism()));
        return new CgroupManager('cgroup-v2', [parent], log);
      }
      const mounts = v1Mounts();
      if (mounts.memory && mounts.pids) {
        const parents: string[] = [];
        for (const ctl of ['memory', 'pids', 'cpu', 'cpuacct'] as const) {
          const mount = mounts[ctl];
          if (!mount) continue;
          const ownPath = own.get(ctl) ?? own.get(ctl === 'cpu' ? 'cpu,cpuacct' : ctl) ?? '/';
          const parent = join(mount, ownPath, groupName);
          if (parents.includes(parent)) continue; // co-mounted controllers (cpu,cpuacct)
          mkdirSync(parent, { recursive: true });
          if (ctl === 'cpu') weighParent(join(parent, 'cpu.shares'), 1024 * availableParallelism());
          parents.push(parent);
        }
        return new CgroupManager('cgroup-v1', parents, log);
      }
    } catch (err) {
      log.warn({ err: String(err) }, 'cgroups unavailable');
    }
    return new CgroupManager('none', [], log);
  }

  /**
   * Creates the cgroup of sandbox `id` with `limits`.
   * @throws Error when the group cannot be created or a limit cannot be written.
   */
  create(id: string, limits: SandboxLimits): SandboxCgroup | undefined {
    if (this.version === 'none') return undefined;
    const dirs = this.parents.map((p) => join(p, id));
    for (const d of dirs) mkdirSync(d, { recursive: true });
    const mib = 1024 * 1024;
    if (this.version === 'cgroup-v1') {
      for (const d of dirs) {
        if (existsSync(join(d, 'memory.limit_in_bytes')) && limits.memoryMb > 0) {
          writeFileSync(join(d, 'memory.limit_in_bytes'), String(limits.memoryMb * mib));
          // Same ceiling for memory+swap: no escape into swap (only where swap accounting exists).
          if (existsSync(join(d, 'memory.memsw.limit_in_bytes'))) {
            try {
              writeFileSync(join(d, 'memory.memsw.limit_in_bytes'), String(limits.memoryMb * mib));
            } catch {
              // swap accounting disabled
            }
          }
        }
        if (existsSync(join(d, 'pids.max')) && limits.maxProcesses > 0)
          writeFileSync(join(d, 'pids.max'), String(limits.maxProcesses));
        if (existsSync(join(d, 'cpu.cfs_quota_us')) && limits.cpuPercent > 0) {
          writeFileSync(join(d, 'cpu.cfs_period_us'), '100000');
          writeFileSync(join(d, 'cpu.cfs_quota_us'), String(limits.cpuPercent * 1000));
        }
      }
    } else {
      const d = dirs[0]!;
      if (limits.memoryMb > 0) {
        writeFileSync(join(d, 'memory.max'), String(limits.memoryMb * mib));
        if (existsSync(join(d, 'memory.swap.max'))) writeFileSync(join(d, 'memory.swap.max'), '0');
      }
      if (limits.maxProcesses > 0) writeFileSync(join(d, 'pids.max'), String(limits.maxProcesses));
      if (limits.cpuPercent > 0) writeFileSync(join(d, 'cpu.max'), `${limits.cpuPercent * 1000} 100000`);
    }
    return new SandboxCgroup(this.version, dirs);
  }

  /** Reopens the group of sandbox `id` if it exists (used to sweep what a crashed server left). */
  existing(id: string): SandboxCgroup | undefined {
    if (this.version === 'none') return undefined;
    const dirs = this.parents.map((p) => join(p, id)).filter((d) => existsSync(d));
    return dirs.length > 0 ? new SandboxCgroup(this.version, dirs) : undefined;
  }

  /** Removes this server's parent groups (after its sandboxes are gone; v1: one per controller). */
  async removeParents(): Promise<void> {
    await this.sweepStale();
    for (const p of this.parents) {
      try {
        rmdirSync(p);
      } catch {
        // still in use, or gone
      }
    }
  }

  /** Ids of the sandbox groups present under the parent. */
  listIds(): string[] {
    const ids = new Set<string>();
    for (const p of this.parents) {
      try {
        for (const e of readdirSync(p, { withFileTypes: true })) if (e.isDirectory()) ids.add(e.name);
      } catch {
        // parent gone
      }
    }
    return [...ids];
  }

  /** Kills and removes every sandbox group left under the parent (after a crash). Returns their ids. */
  async sweepStale(keep: (id: string) => boolean = () => false): Promise<string[]> {
    const swept: string[] = [];
    for (const id of this.listIds()) {
      if (keep(id)) continue;
      const cg = this.existing(id);
      if (!cg) continue;
      await cg.killAll();
      cg.remove();
      swept.push(id);
    }
    if (swept.length > 0) this.log.info({ count: swept.length }, 'removed stale sandbox cgroups');
    return swept;
  }
}

/** Parses /proc/self/cgroup into controller → path ('' for the v2 entry). */
function ownCgroups(): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    const [, ctls, path] = m;
    if (ctls === '') map.set('', path!);
    for (const c of ctls!.split(',')) if (c) map.set(c, path!);
  }
  return map;
}

/** Finds v1 controller mount points from /proc/self/mountinfo. */
function v1Mounts(): V1Mounts {
  const out: V1Mounts = {};
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const parts = line.split(' - ');
    if (parts.length < 2) continue;
    const [fstype, , superOpts] = parts[1]!.split(' ');
    if (fstype !== 'cgroup') continue;
    const mountPoint = parts[0]!.split(' ')[4]!;
    const opts = (superOpts ?? '').split(',');
    if (opts.includes('memory')) out.memory = mountPoint;
    if (opts.includes('pids')) out.pids = mountPoint;
    if (opts.includes('cpu')) out.cpu = mountPoint;
    if (opts.includes('cpuacct')) out.cpuacct = mountPoint;
  }
  return out;
}

/**
 * cgroup v2 forbids processes in inner nodes that delegate controllers ("no internal processes"),
 * so when our own group does not delegate memory/pids yet, the processes in it move into a leaf
 * `ash-server` first; sandboxes then live under `<own>/<groupName>` with memory, pids and cpu on.
 */
function prepareV2Parent(ownDir: string, parent: string): void {
  const wanted = ['memory', 'pids', 'cpu'];
  const delegated = () => readFileSync(join(ownDir, 'cgroup.subtree_control'), 'utf8').split(/\s+/);
  if (!(delegated().includes('memory') && delegated().includes('pids'))) {
    const available = readFileSync(join(ownDir, 'cgroup.controllers'), 'utf8').split(/\s+/);
    if (!available.includes('memory') || !available.includes('pids'))
      throw new Error('cgroup v2: memory/pids not available');
    const leaf = join(ownDir, 'ash-server');
    mkdirSync(leaf, { recursive: true });
    for (const pid of readFileSync(join(ownDir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
      try {
        writeFileSync(join(leaf, 'cgroup.procs'), pid);
      } catch {
        // a kernel thread or a process that just exited
      }
    }
    writeFileSync(
      join(ownDir, 'cgroup.subtree_control'),
      wanted
        .filter((c) => available.includes(c))
        .map((c) => `+${c}`)
        .join(' '),
    );
  }
  mkdirSync(parent, { recursive: true });
  const available = readFileSync(join(parent, 'cgroup.controllers'), 'utf8').split(/\s+/);
  writeFileSync(
    join(parent, 'cgroup.subtree_control'),
    wanted
      .filter((c) => available.includes(c))
      .map((c) => `+${c}`)
      .join(' '),
  );
}

/**
 * The CPU weight of the parent of a server's sandboxes (`cpu.weight` on v2, `cpu.shares` on v1):
 * as many default weights as the host has cores. With the default (one), every sandbox of the
 * server together weighed as much as a single thread of the host when the host was busy, so a
 * Claude process starting in a sandbox (several threads) got a fraction of the CPU it gets
 * outside one (measured at load 5-9 on 2 cores: its start took 1.5-2x an unsandboxed one). Each
 * sandbox's own quota (`cpuPercent`) still caps it; best effort (left unchanged when not writable).
 */
function weighParent(file: string, weight: number): void {
  try {
    if (existsSync(file)) writeFileSync(file, String(weight));
  } catch {
    // not delegated to us: the default weight stays
  }
}

function readKey(file: string, key: string, missing = 0): number {
  try {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const [k, v] = line.trim().split(/\s+/);
      if (k === key) return Number.parseInt(v ?? '0', 10) || 0;
    }
  } catch {
    // missing counter
  }
  return missing;
}

function readNumber(file: string, missing = 0): number {
  try {
    return Number.parseInt(readFileSync(file, 'utf8'), 10) || 0;
  } catch {
    return missing;
  }
}
