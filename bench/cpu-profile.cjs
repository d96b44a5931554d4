// Preloaded into a process (NODE_OPTIONS=--require …/bench/cpu-profile.cjs, which refuses
// --cpu-prof itself): samples its CPU every 200 µs and writes a .cpuprofile (Chrome DevTools,
// speedscope) into BENCH_CPU_PROFILE_DIR when it exits. Child processes that inherit the
// variable and cannot read this file (a sandbox) are not started with it: bench/runners.mjs
// gives it only to the server and the runner.
const dir = process.env.BENCH_CPU_PROFILE_DIR;
if (dir) {
  const inspector = require('node:inspector');
  const { writeFileSync } = require('node:fs');
  const { basename, join } = require('node:path');
  const session = new inspector.Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 200 });
  session.post('Profiler.start');
  const file = join(dir, `${basename(process.argv[1] || 'node')}-${process.pid}.cpuprofile`);
  let written = false;
  // The main thread's inspector session answers synchronously: this works inside 'exit'.
  process.on('exit', () => {
    if (written) return;
    written = true;
    session.post('Profiler.stop', (err, r) => {
      if (!err) writeFileSync(file, JSON.stringify(r.profile));
    });
  });
}
