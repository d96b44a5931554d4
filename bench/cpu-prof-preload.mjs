// Preload (`NODE_OPTIONS=--import=<this file>`, where `--cpu-prof` is not allowed): profiles the
// whole process with V8's sampling profiler (1 ms, as --cpu-prof) and writes
// $ASH_BENCH_PROF_DIR/<pid>.cpuprofile when it exits. Used by bench/delta-path.mjs.
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';

const dir = process.env.ASH_BENCH_PROF_DIR ?? '.';
const session = new Session();
session.connect();
session.post('Profiler.enable');
session.post('Profiler.setSamplingInterval', { interval: 1000 });
session.post('Profiler.start');
process.on('exit', () => {
  // On the main thread the inspector answers synchronously, so this runs before the exit.
  session.post('Profiler.stop', (err, r) => {
    if (err) return;
    mkdirSync(dir, { recursive: true });
    writeFileSync(`${dir}/${process.pid}.cpuprofile`, JSON.stringify(r.profile));
  });
});
