import type { Socket } from 'node:net';
import {
  BridgeProtocolError,
  LineSplitter,
  decodeBridgeEvent,
  encodeBridgeMessage,
  type BridgeCommand,
  type BridgeEvent,
} from '@ash-ai/shared';
import type { Logger } from './logger.js';

/**
 * An event of one turn, as the sandbox delivers it: SDK messages and tool requests (the bridge
 * waits for the host's `tool_answer`), then exactly one `turn_end`.
 */
export type TurnEvent = Extract<BridgeEvent, { ev: 'message' } | { ev: 'tool_request' } | { ev: 'turn_end' }>;

/**
 * A pull-based channel of one turn's events. The bridge's events are buffered here until the
 * consumer reads them; the socket is paused while too many are waiting (backpressure reaches the
 * bridge, then the SDK).
 */
export class TurnChannel implements AsyncIterable<TurnEvent> {
  private items: TurnEvent[] = [];
  private waiter: (() => void) | undefined;
  private ended = false;

  constructor(
    readonly turnId: string,
    private readonly onDrain: () => void,
    private readonly highWaterMark = 1000,
  ) {}

  push(ev: TurnEvent): boolean {
    if (this.ended) return true;
    this.items.push(ev);
    if (ev.ev === 'turn_end') this.ended = true;
    this.waiter?.();
    return this.items.length < this.highWaterMark;
  }

  get done(): boolean {
    return this.ended;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<TurnEvent> {
    for (;;) {
      const item = this.items.shift();
      if (item) {
        if (this.items.length === Math.floor(this.highWaterMark / 2)) this.onDrain();
        yield item;
        if (item.ev === 'turn_end') return;
        continue;
      }
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
      });
      this.waiter = undefined;
    }
  }
}

/**
 * The host end of one bridge's socket: encodes commands, decodes and validates events, and routes
 * them to the waiting turn, warm request or ready promise.
 */
export class BridgeConnection {
  private readonly splitter = new LineSplitter();
  private turn: TurnChannel | undefined;
  private warmWaiters: Array<(ok: { ok: boolean; error?: string }) => void> = [];
  private closed = false;
  private closeListeners: Array<() => void> = [];
  readonly ready: Promise<Extract<BridgeEvent, { ev: 'ready' }>>;

  constructor(
    private readonly socket: Socket,
    private readonly log: Logger,
  ) {
    let resolveReady!: (ev: Extract<BridgeEvent, { ev: 'ready' }>) => void;
    let rejectReady!: (err: Error) => void;
    this.ready = new Promise((res, rej) => {
      resolveReady = res;
      rejectReady = rej;
    });
    this.ready.catch(() => undefined);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      let lines: string[];
      try {
        lines = this.splitter.push(chunk);
      } catch (err) {
        this.log.error({ err: (err as Error).message }, 'bridge sent an oversized line; closing');
        socket.destroy();
        return;
      }
      for (const line of lines) {
        let ev: BridgeEvent;
        try {
          ev = decodeBridgeEvent(line);
        } catch (err) {
          this.log.warn(
            { err: err instanceof BridgeProtocolError ? err.message : String(err) },
            'rejected bridge event',
          );
          continue;
        }
        if (ev.ev === 'ready') resolveReady(ev);
        else this.dispatch(ev);
      }
    });
    socket.on('close', () => {
      this.closed = true;
      rejectReady(new Error('bridge closed before it was ready'));
      const turn = this.turn;
      if (turn && !turn.done) {
        turn.push({
          ev: 'turn_end',
          turnId: turn.turnId,
          outcome: 'error',
          error: { message: 'the sandbox process exited during the turn', code: 'sandbox_crashed' },
        });
      }
      for (const w of this.warmWaiters.splice(0)) w({ ok: false, error: 'bridge closed' });
      for (const l of this.closeListeners.splice(0)) l();
    });
    socket.on('error', (err) => this.log.debug({ err: err.message }, 'bridge socket error'));
  }

  get isClosed(): boolean {
    return this.closed;
  }

  onClose(listener: () => void): void {
    if (this.closed) listener();
    else this.closeListeners.push(listener);
  }

  send(cmd: BridgeCommand): void {
    if (this.closed) throw new Error('bridge connection is closed');
    this.socket.write(encodeBridgeMessage(cmd));
  }

  /** Opens the channel for a turn; events of other turn ids are dropped. */
  openTurn(turnId: string): TurnChannel {
    const channel = new TurnChannel(turnId, () => this.socket.resume());
    this.turn = channel;
    return channel;
  }

  waitWarmed(): Promise<{ ok: boolean; error?: string }> {
    return new Promise((resolve) => this.warmWaiters.push(resolve));
  }

  /** Injects a synthetic end for the current turn (watchdogs, limit hits). No-op if it already ended. */
  endTurn(turnId: string, end: Extract<BridgeEvent, { ev: 'turn_end' }>): void {
    const turn = this.turn;
    if (turn && turn.turnId === turnId && !turn.done) turn.push(end);
  }

  close(): void {
    this.socket.destroy();
  }

  /** Receives the bridge's log lines (the sandbox's output ring). */
  onLog: ((level: string, text: string) => void) | undefined;

  private dispatch(ev: BridgeEvent): void {
    switch (ev.ev) {
      case 'message':
      case 'tool_request':
      case 'turn_end': {
        const turn = this.turn;
        if (!turn || turn.turnId !== ev.turnId) return;
        if (!turn.push(ev)) this.socket.pause();
        return;
      }
      case 'warmed':
        for (const w of this.warmWaiters.splice(0))
          w(ev.error ? { ok: ev.ok, error: ev.error.message } : { ok: ev.ok });
        return;
      case 'log':
        this.log.debug({ bridge: ev.level }, ev.text);
        this.onLog?.(ev.level, ev.text);
        return;
      default:
        return;
    }
  }
}
