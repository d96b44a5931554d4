import { homedir, tmpdir } from 'node:os';

/**
 * Removes host paths from text that may reach a client (error events, messages from the SDK or
 * the sandbox): every occurrence of a known host directory, and whatever path follows it, becomes
 * `<path>`.
 */
export class PathScrubber {
  private readonly prefixes: string[];

  constructor(extra: string[] = []) {
    const all = [...extra, tmpdir(), homedir()].filter((p) => p && p !== '/' && p.length > 1);
    this.prefixes = [...new Set(all)].sort((a, b) => b.length - a.length);
  }

  scrub(text: string): string {
    let out = text;
    for (const p of this.prefixes) {
      if (!out.includes(p)) continue;
      const escaped = p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      out = out.replace(new RegExp(`${escaped}[^\\s'"\`)]*`, 'g'), '<path>');
    }
    return out;
  }
}
