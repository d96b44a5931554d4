import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Bytes used by the files under `dir` (symlinks not followed), stopping early once `stopAt`
 * is reached. Unreadable entries count as zero.
 */
export async function directorySize(dir: string, stopAt = Number.POSITIVE_INFINITY): Promise<number> {
  let total = 0;
  const stack = [dir];
  while (stack.length > 0 && total < stopAt) {
    const d = stack.pop()!;
    let entries: import('node:fs').Dirent[];
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) stack.push(p);
      else if (e.isFile()) {
        try {
          total += (await lstat(p)).size;
        } catch {
          // vanished
        }
      }
    }
  }
  return total;
}
