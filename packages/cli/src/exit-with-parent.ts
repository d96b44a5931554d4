/*
 * Preloaded (`node --import`) into the server and runner processes that `ash serve` and
 * `ash runner` run in the foreground: when the `ash` process that started them is gone — killed
 * with SIGKILL, which it cannot pass on — the child is reparented, and it then stops itself with
 * SIGTERM (its graceful shutdown) instead of living on unseen, holding its port and sessions.
 * Checked once a second; the timer never keeps the process alive.
 */
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) process.kill(process.pid, 'SIGTERM');
}, 1000).unref();
