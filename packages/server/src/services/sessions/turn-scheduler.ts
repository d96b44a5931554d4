import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { BusyPolicy, ErrorCode, MessageContent, SendMessageBody, StreamEvent } from '@ash-ai/shared';
import type { Repos, SessionRecord } from '../../db/repos/index.js';
import { AppError } from '../../errors.js';
import type { SessionRuntime } from './session-runtime.js';
import { validateSdkOptions } from './session-options.js';
import type { SseComment, TurnLog } from './turn-log.js';

/** A turn's event stream, as `POST /messages` and the queue processor read it. */
export interface TurnStream {
  /** Events with `id > after`, then the live rest of the turn, ending after `done`. */
  subscribe(after: number): AsyncGenerator<StreamEvent>;
  /** Like `subscribe`, with transient notices (start-queue position) as SSE comments. */
  stream(after: number): AsyncGenerator<StreamEvent | SseComment>;
}

export interface TurnSchedulerDeps {
  runtime: SessionRuntime;
  repos: Repos;
  log: Logger;
  /** How often a waiter re-checks a slot held elsewhere (another server, or a turn starting), ms. */
  pollMs?: number;
}

/**
 * Applies a message's busy policy (`onBusy`) when the session is running a turn:
 * - `reject` (default): 409 `session_busy`, as before;
 * - `queue`: the message waits for the running turn (and for messages queued before it — FIFO
 *   per session on this server), then runs; its SSE stream opens at once and carries its own turn
 *   when it starts;
 * - `interrupt`: the running turn is interrupted (soft, then killed after the grace period), and
 *   the message runs next, ahead of queued ones.
 *
 * A queued message is accepted once its stream opened: it runs even if the client disconnects
 * (like a running turn). If it cannot run (the session ended meanwhile, the server stops), its
 * stream carries `error` then `done`.
 */
export class TurnScheduler {
  /** Per session: the tail of the queued messages' chain. */
  private readonly tails = new Map<string, Promise<unknown>>();
  /** Per session: interrupting senders waiting for the slot (queued ones let them go first). */
  private readonly interrupting = new Map<string, number>();
  private readonly pollMs: number;

  constructor(private readonly deps: TurnSchedulerDeps) {
    this.pollMs = deps.pollMs ?? 100;
  }

  /**
   * Starts a turn on `session` with `body`, following `body.onBusy`. `prompt` is what the model
   * is given (default `body.content`; attachment references resolved by the caller).
   * @throws AppError 400 (invalid turn options), 409 `session_busy` (reject), 410, 404 — before any stream.
   */
  async start(
    session: SessionRecord,
    body: SendMessageBody,
    prompt: MessageContent = body.content,
  ): Promise<TurnStream> {
    validateSdkOptions(body, body, undefined);
    const policy: BusyPolicy = body.onBusy ?? 'reject';
    const queuedAhead = this.tails.has(session.id);
    if (policy !== 'queue' || !queuedAhead) {
      try {
        return await this.deps.runtime.startTurn(session, body, prompt);
      } catch (err) {
        if (!isBusy(err) || policy === 'reject') throw err;
      }
    }
    const started =
      policy === 'interrupt'
        ? this.interruptThenStart(session, body, prompt)
        : this.enqueue(session, body, prompt);
    // Nothing awaits `started` until a subscriber does; keep a rejection from going unhandled.
    started.catch(() => undefined);
    return new PendingTurn(started, session, this.deps.repos);
  }

  private enqueue(session: SessionRecord, body: SendMessageBody, prompt: MessageContent): Promise<TurnLog> {
    const previous = this.tails.get(session.id) ?? Promise.resolve();
    const mine = previous.catch(() => undefined).then(() => this.acquire(session, body, prompt, 'queue'));
    const tail = mine.catch(() => undefined);
    this.tails.set(session.id, tail);
    void tail.then(() => {
      if (this.tails.get(session.id) === tail) this.tails.delete(session.id);
    });
    return mine;
  }

  private async interruptThenStart(
    session: SessionRecord,
    body: SendMessageBody,
    prompt: MessageContent,
  ): Promise<TurnLog> {
    this.interrupting.set(session.id, (this.interrupting.get(session.id) ?? 0) + 1);
    try {
      return await this.acquire(session, body, prompt, 'interrupt');
    } finally {
      const n = (this.interrupting.get(session.id) ?? 1) - 1;
      if (n > 0) this.interrupting.set(session.id, n);
      else this.interrupting.delete(session.id);
    }
  }

  /** Claims the slot once it is free; `interrupt` stops whatever runs in the way. */
  private async acquire(
    session: SessionRecord,
    body: SendMessageBody,
    prompt: MessageContent,
    policy: 'queue' | 'interrupt',
  ): Promise<TurnLog> {
    const { runtime } = this.deps;
    for (;;) {
      if (policy === 'queue' && this.interrupting.has(session.id)) {
        // An interrupting message goes first.
        await runtime.waitForTurnEnd(session.id, this.pollMs);
        continue;
      }
      try {
        return await runtime.startTurn(session, body, prompt);
      } catch (err) {
        if (!isBusy(err)) throw err;
      }
      if (policy === 'interrupt') {
        const interrupted = await runtime.interrupt(session.id);
        if (!interrupted) await runtime.waitForTurnEnd(session.id, this.pollMs);
      } else await runtime.waitForTurnEnd(session.id, this.pollMs);
    }
  }
}

function isBusy(err: unknown): boolean {
  return err instanceof AppError && err.code === 'session_busy';
}

/** The stream of a message waiting for its turn. */
class PendingTurn implements TurnStream {
  constructor(
    private readonly started: Promise<TurnLog>,
    private readonly session: SessionRecord,
    private readonly repos: Repos,
  ) {}

  async *subscribe(after: number): AsyncGenerator<StreamEvent> {
    let log: TurnLog;
    try {
      log = await this.started;
    } catch (err) {
      yield* this.failed(err);
      return;
    }
    yield* log.subscribe(after);
  }

  async *stream(after: number): AsyncGenerator<StreamEvent | SseComment> {
    let log: TurnLog;
    try {
      log = await this.started;
    } catch (err) {
      yield* this.failed(err);
      return;
    }
    yield* log.stream(after);
  }

  /** `error` + `done` for a message that never got its turn, numbered and recorded like lifecycle events. */
  private async *failed(err: unknown): AsyncGenerator<StreamEvent> {
    const code: ErrorCode = err instanceof AppError ? err.code : 'internal_error';
    const message = err instanceof AppError ? err.detail : 'the message could not be run';
    const turnId = randomUUID();
    const s = this.session;
    const last = await this.repos.sessions.reserveEventSeq(s.id, 2).catch(() => undefined);
    const events: StreamEvent[] = [
      { id: last ? last - 1 : 0, event: 'error', data: { error: message, code } },
      { id: last ?? 0, event: 'done', data: { sessionId: s.id, turnId, outcome: 'error' } },
    ];
    if (last !== undefined) {
      const now = new Date().toISOString();
      await this.repos.history
        .insertEvents(
          events.map((e) => ({
            id: randomUUID(),
            tenantId: s.tenantId,
            sessionId: s.id,
            type: e.event,
            data: JSON.stringify(e.data),
            sequence: e.id,
            turnId,
            createdAt: now,
          })),
        )
        .catch(() => undefined);
    }
    yield* events;
  }
}
