import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from './logger.js';
import type { DiskTools } from './sandbox-disk.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;

/** Where the shared images of the Claude executable are kept and mounted (host-wide caches). */
export const DEFAULT_CLAUDE_IMAGE_DIR = '/var/cache/ash';
export const DEFAULT_CLAUDE_MOUNT_ROOT = '/run/ash-claude';

function mounted(path: string): boolean {
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n'))
    if (line.split(' ')[4] === path) return true;
  return false;
}

/**
 * Gives the Claude executable a path whose mount info names no host folder: a read-only ext4
 * image holding only `/claude`, made once per executable version (keyed by its path, size, inode
 * and mtime) in `imageDir` and loop-mounted read-only at `<mountRoot>/<key>`, shared by every
 * server on the host and left mounted (a cache). A sandbox binding `<mountRoot>/<key>/claude`
 * sees it in `/proc/self/mountinfo` as `/claude` on `/dev/loopN`, where binding the file itself
 * would show its install path (a checkout, a home directory).
 * @returns the path to bind.
 * @throws Error when the image cannot be made or mounted (the caller binds the file itself).
 */
export async function neutralClaudePath(
  tools: DiskTools,
  executable: string,
  log: Logger,
  imageDir = DEFAULT_CLAUDE_IMAGE_DIR,
  mountRoot = DEFAULT_CLAUDE_MOUNT_ROOT,
): Promise<string> {
  const real = realpathSync(executable);
  const st = statSync(real);
  const key = createHash('sha256')
    .update(`${st.dev}\0${st.ino}\0${st.size}\0${st.mtimeMs}`)
    .digest('hex')
    .slice(0, 16);
  const image = join(imageDir, `claude-${key}.img`);
  const mnt = join(mountRoot, key);
  const target = join(mnt, 'claude');
  if (mounted(mnt) && existsSync(target)) return target;
  await mkdir(imageDir, { recursive: true, mode: 0o700 });
  await mkdir(mnt, { recursive: true, mode: 0o755 });
  if (!existsSync(image)) await makeImage(tools, real, st.size, image, log);
  if (!mounted(mnt)) {
    try {
      await run(tools.mount, ['-o', 'loop,ro,nosuid,nodev', image, mnt]);
    } catch (err) {
      if (!mounted(mnt)) throw err; // else another server mounted it meanwhile
    }
  }
  if (!existsSync(target)) throw new Error('the Claude image holds no executable');
  return target;
}

/** Builds the image under a temporary name (one builder at a time, host-wide), then renames it. */
async function makeImage(
  tools: DiskTools,
  exe: string,
  size: number,
  image: string,
  log: Logger,
): Promise<void> {
  const tmp = `${image}.tmp`;
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      await (await open(tmp, 'wx', 0o600)).close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    // Another server builds it: wait for the result; a builder silent for 2 minutes died.
    if (existsSync(image)) return;
    const age = Date.now() - (await stat(tmp).catch(() => ({ mtimeMs: Date.now() }))).mtimeMs;
    if (age > 120_000) await rm(tmp, { force: true });
    if (Date.now() > deadline)
      throw new Error('timed out waiting for another server to build the Claude image');
    await new Promise((r) => setTimeout(r, 200));
  }
  const t0 = performance.now();
  const scratch = `${image}.mnt`;
  try {
    const fh = await open(tmp, 'r+');
    try {
      await fh.truncate(size + Math.ceil(size / 16) + 16 * MiB);
    } finally {
      await fh.close();
    }
    await run(tools.mkfs, ['-q', '-F', '-b', '4096', '-N', '64', '-m', '0', '-O', '^has_journal', tmp]);
    await mkdir(scratch, { recursive: true, mode: 0o700 });
    await run(tools.mount, ['-o', 'loop', tmp, scratch]);
    try {
      await run(tools.cp, ['--preserve=mode', exe, join(scratch, 'claude')]);
      await rm(join(scratch, 'lost+found'), { recursive: true, force: true });
    } finally {
      await run(tools.umount, [scratch]);
    }
    await rename(tmp, image);
    log.info({ ms: Math.round(performance.now() - t0) }, 'made the shared image of the Claude executable');
  } finally {
    await rm(tmp, { force: true });
    await rm(scratch, { recursive: true, force: true }).catch(() => undefined);
  }
}
