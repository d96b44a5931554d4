// Summary of a V8 .cpuprofile (from --cpu-prof or bench/cpu-prof-preload.mjs) over a time window.
import { readFileSync } from 'node:fs';

/** Monotonic clock in µs: the clock V8's CPU profiles use on Linux. */
export const monoUs = () => Number(process.hrtime.bigint() / 1000n);

/**
 * Self time inside [fromUs, toUs] (monotonic µs) of a .cpuprofile: total, the top functions and
 * the top packages (node_modules package, @ash-ai/<workspace>, node internals, or V8's own
 * entries such as (garbage collector)). Samples are wall-clock ticks of a busy thread, so on a
 * loaded machine they also count time the thread waited for a CPU.
 */
export function summariseProfile(file, fromUs, toUs) {
  const prof = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const self = new Map();
  const pkg = new Map();
  let t = prof.startTime;
  let total = 0;
  for (let i = 0; i < prof.samples.length; i++) {
    t += prof.timeDeltas[i];
    const dt = prof.timeDeltas[i + 1] ?? 0;
    if (t < fromUs || t > toUs) continue;
    const n = byId.get(prof.samples[i]);
    const cf = n.callFrame;
    if (cf.functionName === '(idle)') continue;
    total += dt;
    const url = cf.url.replace(/^file:\/\//, '');
    const key = `${cf.functionName || '(anonymous)'} ${url.replace(/.*node_modules\//, '').replace(/.*packages\//, '')}:${cf.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + dt);
    const p = !url
      ? cf.functionName
      : url.startsWith('node:')
        ? 'node internals'
        : (/node_modules\/((@[^/]+\/)?[^/]+)/.exec(url)?.[1] ??
          (/packages\/([^/]+)/.exec(url)?.[1] ? `@ash-ai/${/packages\/([^/]+)/.exec(url)[1]}` : url));
    pkg.set(p, (pkg.get(p) ?? 0) + dt);
  }
  const top = (m, k) => [...m].sort((a, b) => b[1] - a[1]).slice(0, k);
  return { totalMs: total / 1000, functions: top(self, 15), packages: top(pkg, 12) };
}
