/**
 * Progress bars and spinners on stderr. They draw only when stderr is a terminal and the command
 * was not asked for `--json`; otherwise every method does nothing, so scripts and pipes see
 * clean output. A bar redraws at most every 80 ms (and always at its end).
 */

/** A byte counter with a bar (or a spinner when the total is unknown). */
export interface Progress {
  /** Sets the bytes done so far (and the total, when it becomes known). */
  update(done: number, total?: number): void;
  /** Erases the line. */
  done(): void;
}

/** Human byte size: `512 B`, `1.5 KiB`, `12.3 MiB`, `1.0 GiB`. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(1)} GiB`;
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const NOOP: Progress = { update() {}, done() {} };

/** True when progress may be drawn: stderr is a terminal and `--json` was not given. */
export function progressEnabled(
  json: boolean | undefined,
  stream: NodeJS.WriteStream = process.stderr,
): boolean {
  return !json && stream.isTTY === true && process.env.ASH_NO_PROGRESS !== '1';
}

/** A byte progress bar labelled `label` (a no-op unless {@link progressEnabled}). */
export function progressBar(
  label: string,
  opts: { json?: boolean | undefined; total?: number } = {},
): Progress {
  if (!progressEnabled(opts.json)) return NOOP;
  const err = process.stderr;
  let total = opts.total;
  let last = 0;
  let frame = 0;
  let drawn = false;
  const draw = (done: number) => {
    const width = 24;
    let text: string;
    if (total !== undefined && total > 0) {
      const ratio = Math.min(1, done / total);
      const fill = Math.round(ratio * width);
      text = `${label} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${String(Math.floor(ratio * 100)).padStart(3)}% ${formatBytes(done)} / ${formatBytes(total)}`;
    } else {
      text = `${label} ${FRAMES[frame++ % FRAMES.length]} ${formatBytes(done)}`;
    }
    err.write(`\r\x1b[2K${text}`);
    drawn = true;
  };
  return {
    update(done, t) {
      if (t !== undefined) total = t;
      const now = Date.now();
      if (now - last < 80 && !(total !== undefined && done >= total)) return;
      last = now;
      draw(done);
    },
    done() {
      if (drawn) err.write('\r\x1b[2K');
      drawn = false;
    },
  };
}

/** A spinner with a message, redrawn every 80 ms until `stop()` (a no-op unless {@link progressEnabled}). */
export function spinner(message: string, opts: { json?: boolean | undefined } = {}): { stop(): void } {
  if (!progressEnabled(opts.json)) return { stop() {} };
  const err = process.stderr;
  let frame = 0;
  const draw = () => err.write(`\r\x1b[2K${FRAMES[frame++ % FRAMES.length]} ${message}`);
  draw();
  const timer = setInterval(draw, 80);
  let stopped = false;
  return {
    stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      err.write('\r\x1b[2K');
    },
  };
}
