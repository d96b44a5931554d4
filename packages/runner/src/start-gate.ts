import { RunnerCapacityError } from './errors.js';

/** A place in the start queue; `position` is 1 for the next to start, 0 once started. */
export interface StartTicket {
  readonly position: number;
  /** Gives the permit back (or leaves the queue). Idempotent. */
  release(): void;
  /** Resolves when the permit is granted; rejects with {@link RunnerCapacityError} after the wait limit. */
  readonly granted: Promise<void>;
}

interface Waiter {
  ticket: Ticket;
  onPosition?: (position: number) => void;
  resolve: () => void;
  reject: (err: unknown) => void;
  timer: NodeJS.Timeout | undefined;
}

class Ticket implements StartTicket {
  position = 0;
  released = false;
  granted: Promise<void> = Promise.resolve();
  constructor(private readonly gate: StartGate) {}
  release(): void {
    if (this.released) return;
    this.released = true;
    this.gate.giveBack(this);
  }
}

/** Settings of the start gate. */
export interface StartGateOptions {
  /** Sandbox starts (bridge + Claude process boot) at once (ASH_MAX_CONCURRENT_STARTS), ≥ 1. */
  maxConcurrent: number;
  /** Starts that may wait (ASH_START_QUEUE_MAX); more are refused. */
  maxQueued: number;
  /** Longest wait in the queue, ms (ASH_START_QUEUE_TIMEOUT_MS). */
  maxWaitMs: number;
}

/**
 * Admission control for sandbox starts: at most `maxConcurrent` sandboxes boot at once (a Claude
 * process boot takes a core for about a second; many at once on few cores make every one of them
 * slow), the others wait in FIFO order and are told their position as it changes. Bounded: a
 * full queue refuses at once, a wait longer than `maxWaitMs` fails; both with
 * {@link RunnerCapacityError} (the server answers 503 `capacity_reached` with `Retry-After`).
 */
export class StartGate {
  private running = 0;
  private readonly queue: Waiter[] = [];

  constructor(private readonly opts: StartGateOptions) {}

  /** Starts in progress / waiting. */
  get stats(): { starting: number; queued: number } {
    return { starting: this.running, queued: this.queue.length };
  }

  /** True when a new start would be admitted or queued (not refused for a full queue). */
  hasRoom(): boolean {
    return this.running < this.opts.maxConcurrent || this.queue.length < this.opts.maxQueued;
  }

  /**
   * Asks for a start permit. `onPosition` is called with the queue position (1 = next) whenever it
   * changes, and with 0 when the permit is granted.
   * @throws RunnerCapacityError when the queue is full.
   */
  acquire(onPosition?: (position: number) => void): StartTicket {
    const ticket = new Ticket(this);
    if (this.running < this.opts.maxConcurrent && this.queue.length === 0) {
      this.running++;
      return ticket;
    }
    if (this.queue.length >= this.opts.maxQueued)
      throw this.refusal('too many sandboxes are waiting to start');
    ticket.granted = new Promise<void>((resolve, reject) => {
      const w: Waiter = { ticket, onPosition, resolve, reject, timer: undefined };
      w.timer = setTimeout(() => {
        const i = this.queue.indexOf(w);
        if (i < 0) return;
        this.queue.splice(i, 1);
        ticket.released = true;
        this.announce(i);
        reject(this.refusal(`no sandbox could start within ${this.opts.maxWaitMs} ms`));
      }, this.opts.maxWaitMs);
      w.timer.unref();
      this.queue.push(w);
      ticket.position = this.queue.length;
      onPosition?.(ticket.position);
    });
    ticket.granted.catch(() => undefined);
    return ticket;
  }

  /** A ticket gave its permit (or its place) back. */
  giveBack(ticket: Ticket): void {
    const i = this.queue.findIndex((w) => w.ticket === ticket);
    if (i >= 0) {
      const [w] = this.queue.splice(i, 1);
      clearTimeout(w!.timer);
      w!.reject(this.refusal('the start was cancelled'));
      this.announce(i);
      return;
    }
    this.running--;
    const next = this.queue.shift();
    if (next) {
      clearTimeout(next.timer);
      this.running++;
      next.ticket.position = 0;
      next.onPosition?.(0);
      next.resolve();
      this.announce(0);
    }
  }

  /** Tells waiters from index `from` on their new position. */
  private announce(from: number): void {
    for (let i = from; i < this.queue.length; i++) {
      const w = this.queue[i]!;
      w.ticket.position = i + 1;
      w.onPosition?.(i + 1);
    }
  }

  private refusal(why: string): RunnerCapacityError {
    return new RunnerCapacityError(`${why}; retry later`);
  }
}
