import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, open, readdir, rename, rm, statfs } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from './logger.js';
import { directorySize } from './workspace-size.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;

/** Name of the image file and its mount point, next to the session's `workspace` and `claude`. */
export const DISK_IMAGE_NAME = '.ash-disk.img';
export const DISK_MOUNT_NAME = '.ash-disk';
/** Written into the image once the session's files are copied in: from then on the image holds the truth. */
const COMPLETE_MARK = '.ash-complete';

/**
 * Host space an image may take beyond its usable size (`diskMb`): ext4 metadata (inode tables,
 * 1/64 of the size at one inode per 16 KiB, group descriptors, bitmaps) and a 4 MiB journal.
 */
export function diskImageBytes(usableBytes: number): number {
  return usableBytes + Math.ceil(usableBytes / 32) + 8 * MiB;
}

/** Tools the per-sandbox file system needs (root only). */
export interface DiskTools {
  mkfs: string;
  dumpe2fs: string;
  tune2fs: string;
  mount: string;
  umount: string;
  cp: string;
}

const SEARCH = ['/usr/sbin', '/sbin', '/usr/bin', '/bin'];
function find(name: string): string | undefined {
  for (const d of SEARCH) if (existsSync(join(d, name))) return join(d, name);
  return undefined;
}

/**
 * Checks that this host can give each sandbox its own file system: root, mkfs.ext4, loop mounts.
 * Makes, mounts and removes a small image in `scratchDir` and returns the tools with the time it
 * took, or the reason it cannot.
 */
export async function detectDiskSupport(
  scratchDir: string,
): Promise<{ tools: DiskTools; probeMs: number } | { problem: string }> {
  if (process.getuid?.() !== 0) return { problem: 'the server is not root (loop mounts need root)' };
  const mkfs = find('mkfs.ext4');
  const mount = find('mount');
  const umount = find('umount');
  const cp = find('cp');
  const dumpe2fs = find('dumpe2fs');
  const tune2fs = find('tune2fs');
  if (!mkfs || !mount || !umount || !cp || !dumpe2fs || !tune2fs)
    return { problem: 'mkfs.ext4, dumpe2fs, tune2fs, mount, umount or cp is missing' };
  const tools = { mkfs, dumpe2fs, tune2fs, mount, umount, cp };
  const image = join(scratchDir, 'probe.img');
  const mnt = join(scratchDir, 'probe');
  const t0 = performance.now();
  try {
    await mkdir(mnt, { recursive: true });
    await makeImage(tools, image, 8 * MiB);
    await run(mount, ['-o', 'loop,nosuid,nodev', image, mnt]);
    await run(umount, [mnt]);
    return { tools, probeMs: Math.round(performance.now() - t0) };
  } catch (err) {
    return { problem: `loop-mounted images do not work here: ${errText(err)}` };
  } finally {
    await rm(image, { force: true });
    await rm(mnt, { recursive: true, force: true }).catch(() => undefined);
  }
}

/**
 * Makes a sparse ext4 image whose space for non-root users is exactly `usableBytes`: the blocks
 * the metadata leaves beyond it are reserved for root (the sandbox user cannot use them; the host
 * copying a session's files in can).
 */
async function makeImage(tools: DiskTools, image: string, usableBytes: number): Promise<void> {
  const fh = await open(image, 'wx', 0o600);
  try {
    await fh.truncate(diskImageBytes(usableBytes));
  } finally {
    await fh.close();
  }
  // 4 KiB blocks and an inode per 16 KiB whatever the size (mkfs picks 1 KiB blocks and an inode per
  // 4 KiB for small file systems: 6% of the space); no reserved blocks (the sandbox user is not root);
  // lazy init keeps the sparse image at ~2 MiB on the host however large it is.
  await run(tools.mkfs, [
    '-q',
    '-F',
    '-b',
    '4096',
    '-i',
    '16384',
    '-m',
    '0',
    '-J',
    'size=4',
    '-E',
    'lazy_itable_init=1,lazy_journal_init=1,nodiscard',
    image,
  ]);
  const { stdout } = await run(tools.dumpe2fs, ['-h', image], { maxBuffer: MiB });
  const field = (name: string) =>
    Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(stdout)?.[1] ?? Number.NaN);
  const free = field('Free blocks');
  const blockSize = field('Block size');
  const reserve = free - Math.ceil(usableBytes / blockSize);
  if (!(reserve >= 0))
    throw new Error(`the disk image has ${free} free blocks of ${blockSize} bytes, too few`);
  await run(tools.tune2fs, ['-r', String(reserve), image]);
}

/** Where a session's disk lives, derived from its workspace directory. */
function layout(workspaceDir: string, claudeConfigDir: string) {
  const sessionDir = dirname(workspaceDir);
  return {
    sessionDir,
    image: join(sessionDir, DISK_IMAGE_NAME),
    mount: join(sessionDir, DISK_MOUNT_NAME),
    out: join(sessionDir, '.ash-disk-out'),
    workspaceDir,
    claudeConfigDir,
  };
}

/** Mount points currently mounted (from /proc/self/mountinfo; octal escapes decoded). */
function mountPoints(): Set<string> {
  const out = new Set<string>();
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    if (f[4])
      out.add(f[4].replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8))));
  }
  return out;
}

/**
 * One sandbox's own file system: a sparse ext4 image of fixed size, loop-mounted next to the
 * session's folders, holding `workspace/`, `claude/` (CLAUDE_CONFIG_DIR), `home/`, `tmp/`, `run/`
 * and `etc/`. Every path the sandbox can write is on it, so the kernel refuses a write past the
 * size with ENOSPC, during a turn or between turns, whoever writes.
 *
 * The host keeps reading and writing the session at its usual paths: `workspace/` and `claude/`
 * are bind-mounted from the image over them while the sandbox lives. At start the session's files
 * are copied in (ownership set to the sandbox user) and the host copies emptied; at stop they are
 * copied back out and the image is deleted. A crash in between is repaired by {@link recover}:
 * once the image is marked complete it holds the truth, before that the host copies do.
 */
export class SandboxDisk {
  private released: Promise<void> | undefined;

  private constructor(
    private readonly tools: DiskTools,
    private readonly l: ReturnType<typeof layout>,
    /** Usable size, bytes. */
    readonly limitBytes: number,
    private readonly log: Logger,
    /** Runs a step with the host's file access to the session held off (see `SandboxManager.lockSessionFiles`). */
    private readonly exclusive: <T>(fn: () => Promise<T>) => Promise<T>,
  ) {}

  /** The image's mount point on the host. */
  get root(): string {
    return this.l.mount;
  }

  /** Host path of a folder on the image (`home`, `tmp`, `run`, `etc`, `workspace`, `claude`). */
  path(name: 'home' | 'tmp' | 'run' | 'etc' | 'workspace' | 'claude'): string {
    return join(this.l.mount, name);
  }

  /**
   * Creates, mounts and fills the disk of a session. The image's usable size is `limitBytes`, or
   * what the session's files already take plus 16 MiB when that is more (a limit lowered below
   * the current usage must not make the session unusable).
   * @throws Error when a step fails (what was done is undone; the host copies are untouched).
   */
  static async create(input: {
    tools: DiskTools;
    workspaceDir: string;
    claudeConfigDir: string;
    limitBytes: number;
    owner: { uid: number; gid: number };
    log: Logger;
    exclusive?: <T>(fn: () => Promise<T>) => Promise<T>;
    /** Blank images made ahead of time (used when one of the right size is there). */
    blanks?: BlankImages | undefined;
  }): Promise<SandboxDisk> {
    const exclusive = input.exclusive ?? (<T>(fn: () => Promise<T>) => fn());
    return exclusive(() => SandboxDisk.doCreate({ ...input, exclusive }));
  }

  private static async doCreate(input: {
    tools: DiskTools;
    workspaceDir: string;
    claudeConfigDir: string;
    limitBytes: number;
    owner: { uid: number; gid: number };
    log: Logger;
    exclusive: <T>(fn: () => Promise<T>) => Promise<T>;
    blanks?: BlankImages | undefined;
  }): Promise<SandboxDisk> {
    const l = layout(input.workspaceDir, input.claudeConfigDir);
    await SandboxDisk.recover(input.tools, input.workspaceDir, input.claudeConfigDir, input.log);
    await mkdir(l.workspaceDir, { recursive: true });
    await mkdir(l.claudeConfigDir, { recursive: true });
    const used = (await directorySize(l.workspaceDir)) + (await directorySize(l.claudeConfigDir));
    const usable = used > input.limitBytes ? used + 16 * MiB : input.limitBytes;
    const disk = new SandboxDisk(input.tools, l, usable, input.log, input.exclusive);
    const { tools } = input;
    try {
      // A blank image made ahead of time (same size, fresh mkfs) saves mkfs, dumpe2fs and tune2fs.
      if (!(await input.blanks?.take(usable, l.image))) await makeImage(tools, l.image, usable);
      await mkdir(l.mount, { recursive: true, mode: 0o700 });
      await fill(tools, l, input.owner);
      return disk;
    } catch (err) {
      await SandboxDisk.recover(input.tools, l.workspaceDir, l.claudeConfigDir, input.log).catch(
        (e: unknown) => input.log.error({ err: errText(e) }, 'disk cleanup failed'),
      );
      throw err;
    }
  }

  /** Free bytes left for the sandbox (statfs of the image). */
  async freeBytes(): Promise<number> {
    const s = await statfs(this.l.mount);
    return s.bavail * s.bsize;
  }

  /** Bytes in use on the image (its files and metadata). */
  async usedBytes(): Promise<number> {
    const s = await statfs(this.l.mount);
    return (s.blocks - s.bfree) * s.bsize;
  }

  /**
   * Copies the files back to the host paths and removes the image. Call once no sandboxed
   * process runs any more. Idempotent.
   */
  release(): Promise<void> {
    if (!this.released)
      this.released = this.exclusive(() =>
        SandboxDisk.recover(this.tools, this.l.workspaceDir, this.l.claudeConfigDir, this.log),
      );
    return this.released;
  }

  /**
   * Brings a session's files back from a disk left by a stopped sandbox or a crashed server: if
   * the image is complete, its `workspace/` and `claude/` replace the host copies; then every
   * mount is undone and the image deleted. Does nothing when there is no disk.
   */
  static async recover(
    tools: DiskTools,
    workspaceDir: string,
    claudeConfigDir: string,
    log: Logger,
  ): Promise<void> {
    const l = layout(workspaceDir, claudeConfigDir);
    let mounted = mountPoints();
    const hasImage = existsSync(l.image);
    if (
      !hasImage &&
      !mounted.has(l.mount) &&
      !mounted.has(l.workspaceDir) &&
      !mounted.has(l.claudeConfigDir)
    ) {
      await rm(l.out, { recursive: true, force: true });
      return;
    }
    if (hasImage && !mounted.has(l.mount)) {
      await mkdir(l.mount, { recursive: true, mode: 0o700 });
      await run(tools.mount, ['-o', 'loop,nosuid,nodev', l.image, l.mount]);
      mounted = mountPoints();
    }
    const complete = hasImage && existsSync(join(l.mount, COMPLETE_MARK));
    if (complete) {
      // Copy out beside the host paths, then swap: the host paths are empty only for a moment.
      await rm(l.out, { recursive: true, force: true });
      await mkdir(join(l.out, 'workspace'), { recursive: true });
      await mkdir(join(l.out, 'claude'), { recursive: true });
      await copyContents(tools, join(l.mount, 'workspace'), join(l.out, 'workspace'));
      await copyContents(tools, join(l.mount, 'claude'), join(l.out, 'claude'));
    }
    for (const p of [l.workspaceDir, l.claudeConfigDir]) if (mounted.has(p)) await unmount(tools, p);
    if (complete) {
      for (const [from, to] of [
        [join(l.out, 'workspace'), l.workspaceDir],
        [join(l.out, 'claude'), l.claudeConfigDir],
      ] as const) {
        await rm(to, { recursive: true, force: true });
        await rename(from, to);
      }
    }
    // The image file goes before the unmount: a crash from here on leaves no image to restore from.
    await rm(l.image, { force: true });
    if (mountPoints().has(l.mount)) await unmount(tools, l.mount);
    await rm(l.mount, { recursive: true, force: true });
    await rm(l.out, { recursive: true, force: true });
    if (complete) log.debug({ workspaceDir }, 'sandbox disk released');
  }

  /**
   * Repairs the disks of every session under `sessionsRoot` (`<id>/workspace`, `<id>/claude`)
   * that a crashed server or a reboot left behind. Returns how many were found.
   */
  static async recoverAll(tools: DiskTools, sessionsRoot: string, log: Logger): Promise<number> {
    let ids: string[];
    try {
      ids = await readdir(sessionsRoot);
    } catch {
      return 0;
    }
    const mounted = mountPoints();
    let n = 0;
    for (const id of ids) {
      const dir = join(sessionsRoot, id);
      if (!existsSync(join(dir, DISK_IMAGE_NAME)) && !mounted.has(join(dir, DISK_MOUNT_NAME))) continue;
      n++;
      try {
        await SandboxDisk.recover(tools, join(dir, 'workspace'), join(dir, 'claude'), log);
      } catch (err) {
        log.error({ err: errText(err), sessionId: id }, 'could not recover a sandbox disk');
      }
    }
    if (n > 0) log.info({ count: n }, 'recovered sandbox disks left by a previous run');
    return n;
  }
}

/**
 * The folders of an image (in its root, mounted at "$1"): modes as the sandbox sees them; the
 * sandbox user's own ones are given to it when the image is filled. Shell function.
 */
const SKELETON_FN = `skeleton() {
  rm -rf -- "$1/lost+found" &&
    chmod 755 "$1" &&
    mkdir -m 755 -- "$1/workspace" "$1/run" "$1/etc" &&
    mkdir -m 700 -- "$1/claude" "$1/home" &&
    mkdir -m 1777 -- "$1/tmp"
}
`;

/**
 * The steps that fill a new image, in one shell (each command spawned from the server costs a
 * fork of a large process, 5-20 ms on a loaded host; the eight spawns of the earlier steps were
 * most of a sandbox start): mount the image; make its folders unless it is a blank made ahead
 * (which has them); copy the session's `workspace/` and `claude/` in (owners, modes, links, holes
 * kept) and give them and `home/` to the sandbox user (`chown -h`: links are not followed); mark
 * it complete; bind the image's folders over the host paths, then empty the host copies beneath
 * them (through the subshell's working directory, which stays on the covered folder), so the host
 * paths never look empty to a reader (the files API, a test) while a sandbox starts. Stops at the
 * first failure (the caller recovers: a complete image replaces the host folders).
 */
const FILL_SCRIPT = `set -eu
${SKELETON_FN}mount="$1" cp="$2" image="$3" mnt="$4" ws="$5" cl="$6" owner="$7" complete="$8"
"$mount" -o loop,nosuid,nodev "$image" "$mnt"
if [ ! -d "$mnt/workspace" ]; then skeleton "$mnt"; fi
if [ -d "$ws" ]; then "$cp" -a --sparse=always --no-target-directory "$ws/." "$mnt/workspace"; fi
if [ -d "$cl" ]; then "$cp" -a --sparse=always --no-target-directory "$cl/." "$mnt/claude"; fi
chown -R -h -- "$owner" "$mnt/workspace" "$mnt/claude" "$mnt/home"
: > "$mnt/$complete"
(cd "$ws" && "$mount" --bind "$mnt/workspace" "$ws" && exec find . -mindepth 1 -delete)
(cd "$cl" && "$mount" --bind "$mnt/claude" "$cl" && exec find . -mindepth 1 -delete)
`;

/** Makes the folders of a blank image ahead of time: mount it, {@link SKELETON_FN}, unmount. */
const BLANK_SCRIPT = `set -eu
${SKELETON_FN}mount="$1" umount="$2" image="$3" mnt="$4"
"$mount" -o loop,nosuid,nodev "$image" "$mnt"
status=0
skeleton "$mnt" || status=$?
"$umount" "$mnt"
exit $status
`;

/** Environment of the disk scripts: root's tool folders, nothing of the server's. */
const SCRIPT_ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' };

async function fill(
  tools: DiskTools,
  l: ReturnType<typeof layout>,
  owner: { uid: number; gid: number },
): Promise<void> {
  await run(
    '/bin/sh',
    [
      '-c',
      FILL_SCRIPT,
      'ash-disk-fill',
      tools.mount,
      tools.cp,
      l.image,
      l.mount,
      l.workspaceDir,
      l.claudeConfigDir,
      `${owner.uid}:${owner.gid}`,
      COMPLETE_MARK,
    ],
    { env: SCRIPT_ENV, maxBuffer: 4 * MiB },
  );
}

/**
 * Blank sandbox images made ahead of time in a folder of the host (on the data dir's file system,
 * so one is moved into a session's folder by a rename): a sandbox start then skips making its
 * image. Each is made exactly as a start would make it (fresh mkfs), for one usable size; the
 * folder holds nothing else and is emptied when the manager starts.
 */
export class BlankImages {
  private readonly ready: string[] = [];
  private making: Promise<void> | undefined;
  private n = 0;
  private closed = false;

  constructor(
    private readonly tools: DiskTools,
    private readonly dir: string,
    /** The usable size images are made for (the default disk limit), bytes. */
    readonly usableBytes: number,
    /** How many to keep ready. */
    private readonly keep: number,
    private readonly log: Logger,
    /** Waits until background work may run (no user's sandbox start under way). */
    private readonly whenQuiet: () => Promise<void> = async () => undefined,
  ) {}

  /** Empties the folder (images a previous run left) and makes it. */
  static async prepare(dir: string): Promise<void> {
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true, mode: 0o700 });
  }

  /**
   * Moves a ready image of `usableBytes` to `target` (which must not exist). False when none is
   * ready (or the move failed: another file system); a refill is then scheduled.
   */
  async take(usableBytes: number, target: string): Promise<boolean> {
    if (usableBytes !== this.usableBytes) return false;
    const image = this.ready.shift();
    this.refill();
    if (!image) return false;
    try {
      await rename(image, target);
      return true;
    } catch (err) {
      this.log.warn({ err: errText(err) }, 'could not use a blank sandbox image');
      await rm(image, { force: true }).catch(() => undefined);
      return false;
    }
  }

  /** Makes images in the background (when quiet) until `keep` are ready. Failures are logged. */
  refill(): void {
    if (this.making || this.closed || this.ready.length >= this.keep) return;
    this.making = (async () => {
      while (!this.closed && this.ready.length < this.keep) {
        await this.whenQuiet();
        if (this.closed) break;
        const image = join(this.dir, `blank-${++this.n}.img`);
        const mnt = join(this.dir, `blank-${this.n}.mnt`);
        try {
          await makeImage(this.tools, image, this.usableBytes);
          await mkdir(mnt, { mode: 0o700 });
          await run(
            '/bin/sh',
            ['-c', BLANK_SCRIPT, 'ash-disk-blank', this.tools.mount, this.tools.umount, image, mnt],
            { env: SCRIPT_ENV },
          );
          await rm(mnt, { recursive: true, force: true });
          if (this.closed) await rm(image, { force: true });
          else this.ready.push(image);
        } catch (err) {
          await run(this.tools.umount, [mnt]).catch(() => undefined);
          await rm(mnt, { recursive: true, force: true }).catch(() => undefined);
          await rm(image, { force: true }).catch(() => undefined);
          this.log.warn({ err: errText(err) }, 'could not make a blank sandbox image');
          break;
        }
      }
    })().finally(() => {
      this.making = undefined;
    });
  }

  /** Stops making images and removes the folder. */
  async close(): Promise<void> {
    this.closed = true;
    await this.making;
    this.ready.length = 0;
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Copies what is inside `from` into `to` (owners, modes, links, holes kept). */
async function copyContents(tools: DiskTools, from: string, to: string): Promise<void> {
  if (!existsSync(from)) return;
  await run(tools.cp, ['-a', '--sparse=always', '--no-target-directory', `${from}/.`, to], {
    maxBuffer: 4 * MiB,
  });
}

async function unmount(tools: DiskTools, p: string): Promise<void> {
  try {
    await run(tools.umount, [p]);
  } catch {
    // Busy (a host read in flight): detach now, the kernel finishes when it is closed.
    await run(tools.umount, ['-l', p]);
  }
}

function errText(err: unknown): string {
  if (err && typeof err === 'object' && 'stderr' in err && String((err as { stderr: unknown }).stderr).trim())
    return String((err as { stderr: unknown }).stderr).trim();
  return err instanceof Error ? err.message : String(err);
}
