import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Disk space taken by the files under `dir`, bytes: their allocated blocks (`st_blocks × 512`),
 * not their apparent size, so a sparse file counts for the data actually written (a 10 GB file
 * made by `truncate` takes next to nothing) and a hard-linked file counts once. Symlinks are not
 * followed. Stops early once `stopAt` is reached. Unreadable entries count as zero.
 */
export async function directorySize(dir: string, stopAt = Number.POSITIVE_INFINITY): Promise<number> {
  let total = 0;
  const seen = new Set<string>();
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
          const st = await lstat(p);
          if (st.nlink > 1) {
            const id = `${st.dev}:${st.ino}`;
            if (seen.has(id)) continue;
            seen.add(id);
          }
          total += allocatedBytes(st);
        } catch {
          // vanished
        }
      }
    }
  }
  return total;
}

/** Bytes allocated on disk to a file (`st_blocks` counts 512-byte units on Linux). */
export function allocatedBytes(st: { blocks: number; size: number }): number {
  return Number.isFinite(st.blocks) ? st.blocks * 512 : st.size;
}
