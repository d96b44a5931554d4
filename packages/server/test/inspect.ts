import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Environments (`/proc/<pid>/environ`, NUL-separated) of live processes whose command line mentions `needle`. */
export function environsOf(needle: string): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmdline.includes(needle)) out.push(readFileSync(`/proc/${pid}/environ`, 'utf8'));
    } catch {
      // process gone or not readable
    }
  }
  return out;
}

/** Files under `dir` whose bytes contain `needle`. */
export function grepTree(dir: string, needle: string): string[] {
  const hits: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) {
        try {
          if (readFileSync(p).includes(needle)) hits.push(p);
        } catch {
          // unreadable
        }
      }
    }
  };
  walk(dir);
  return hits;
}
