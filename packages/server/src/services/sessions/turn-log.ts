import { randomUUID } from 'node:crypto';
import type { StreamEvent, StreamEventBody } from '@ash-ai/shared';
import type { Logger } from 'pino';
import type { EventRecord, HistoryRepo, MessageRecord } from '../../db/repos/index.js';
import { isStorageFull } from '../../errors.js';

/** A comment frame of an SSE stream (`: text`): transient, never stored, ignored by clients. */
export interface SseComment {
  comment: string;
}

/**
 * Why a turn's history could not be written: `insufficient_storage` when the disk (or quota) is
 * full, else `storage_unavailable`.
 */
export interface PersistFailure {
  code: 'insufficient_storage' | 'storage_unavailable';
  message: string;
}

/** Options of {@link TurnLog}. */
export interface TurnLogOptions {
  /** Called once when a write failed for good (after retries): the turn must end. */
  onPersistFailure?: (failure: PersistFailure) => void;
  /** Attempts per batch before the turn is failed (default 5, backoff 200 ms doubling). */
  attempts?: number;
}

/**
 * The record of one running turn: every SSE event it emits (with its per-session sequence
 * number) and every message it produces. Events live in memory for streaming and reconnection
 * and are written to the database in order by a single background writer that batches whatever
 * has queued up; {@link TurnLog.flush} waits for it.
 *
 * Subscribers are given an event only once it is in the database, so an id a client has seen is
 * always in the history and can never be handed out again (a restart continues from the stored
 * maximum). When a write fails for good (full disk, database error), the events not yet written
 * are dropped unseen, their numbers are given back, `onPersistFailure` is called and further
 * events are ignored, except the turn's closing ones ({@link TurnLog.emitFinal}): those are sent
 * at once and written as soon as the store takes them again (retried until then).
 *
 * Only the process that holds the session's turn slot writes during a turn, so sequence numbers
 * are handed out here, starting after the counters the slot was acquired with.
 */
export class TurnLog {
  readonly events: StreamEvent[] = [];
  /** Sequence number of the first event of this turn. */
  readonly firstSeq: number;
  private nextSeq: number;
  private nextMessageSeq: number;
  /** Highest event / message sequence known to be in the database. */
  private storedSeq: number;
  private storedMessageSeq: number;
  /** Events with an id up to this may be sent: stored, or closing events after a failure. */
  private visibleSeq: number;
  private pendingEvents: EventRecord[] = [];
  private pendingMessages: MessageRecord[] = [];
  private writing: Promise<void> | undefined;
  private wakers = new Set<() => void>();
  private finishedFlag = false;
  private failure: PersistFailure | undefined;
  private abandoned = false;
  /** Writes wait (see {@link holdWrites}). */
  private held = false;
  private onReleased: (() => void) | undefined;
  /** The latest transient notice (start-queue position), sent as an SSE comment. */
  private noticeText: string | undefined;
  private noticeSeq = 0;
  /** Set when the turn has ended; kept for late reconnects. */
  finishedAt: number | undefined;
  /**
   * The runner's number of the turn event being recorded (set around each one): stored with
   * the events and messages it becomes, so a server taking the turn over knows where to resume.
   */
  source: number | undefined;
  /** True for a turn this server took over from a dead one (its first events are in history only). */
  takenOver = false;
  /** Messages of runner events up to this number are already stored (a takeover): not again. */
  skipMessagesUpTo = -1;

  constructor(
    readonly sessionId: string,
    readonly tenantId: string,
    readonly turnId: string,
    counters: { lastEventSeq: number; lastMessageSeq: number },
    private readonly history: HistoryRepo,
    private readonly log: Logger,
    private readonly opts: TurnLogOptions = {},
  ) {
    this.firstSeq = counters.lastEventSeq + 1;
    this.nextSeq = this.firstSeq;
    this.storedSeq = counters.lastEventSeq;
    this.visibleSeq = counters.lastEventSeq;
    this.nextMessageSeq = counters.lastMessageSeq + 1;
    this.storedMessageSeq = counters.lastMessageSeq;
  }

  /**
   * Last sequence numbers handed out. After a write failure these are the stored ones plus the
   * closing events (numbers of dropped events are given back).
   */
  get counters(): { lastEventSeq: number; lastMessageSeq: number } {
    return { lastEventSeq: this.nextSeq - 1, lastMessageSeq: this.nextMessageSeq - 1 };
  }

  /** Last sequence numbers known to be in the database. */
  get storedCounters(): { lastEventSeq: number; lastMessageSeq: number } {
    return { lastEventSeq: this.storedSeq, lastMessageSeq: this.storedMessageSeq };
  }

  /** True when every event and message handed out is in the database. */
  get fullyStored(): boolean {
    return this.storedSeq === this.nextSeq - 1 && this.storedMessageSeq === this.nextMessageSeq - 1;
  }

  /** Why the history could not be written, once that happened. */
  get persistFailure(): PersistFailure | undefined {
    return this.failure;
  }

  get finished(): boolean {
    return this.finishedFlag;
  }

  /**
   * Appends an event: numbers it, keeps it, queues it for the database; subscribers get it once
   * it is stored. Ignored (returns undefined) after a write failure: use {@link emitFinal}.
   */
  emit(body: StreamEventBody): StreamEvent | undefined {
    if (this.finishedFlag) throw new Error('turn already finished');
    if (this.failure) return undefined;
    return this.append(body);
  }

  /**
   * Appends one of the turn's closing events (`error`, `done`). After a write failure it is sent
   * at once and its write retried until the store takes it ({@link abandon} stops that).
   */
  emitFinal(body: StreamEventBody): StreamEvent {
    if (this.finishedFlag) throw new Error('turn already finished');
    const ev = this.append(body);
    if (this.failure) {
      this.visibleSeq = ev.id;
      this.wake();
    }
    return ev;
  }

  private append(body: StreamEventBody): StreamEvent {
    const ev = { ...body, id: this.nextSeq++ } as StreamEvent;
    this.events.push(ev);
    this.pendingEvents.push({
      id: randomUUID(),
      tenantId: this.tenantId,
      sessionId: this.sessionId,
      type: ev.event,
      data: JSON.stringify(ev.data),
      sequence: ev.id,
      turnId: this.turnId,
      createdAt: new Date().toISOString(),
      sourceIndex: this.source ?? null,
    });
    this.kick();
    return ev;
  }

  /** Appends a message of the conversation (dropped after a write failure). */
  addMessage(m: { role: MessageRecord['role']; type: string; content: unknown; text: string }): void {
    if (this.failure) return;
    if (this.source !== undefined && this.source <= this.skipMessagesUpTo) return;
    this.pendingMessages.push({
      id: randomUUID(),
      tenantId: this.tenantId,
      sessionId: this.sessionId,
      role: m.role,
      type: m.type,
      content: JSON.stringify(m.content),
      text: m.text,
      sequence: this.nextMessageSeq++,
      turnId: this.turnId,
      createdAt: new Date().toISOString(),
      sourceIndex: this.source ?? null,
    });
    this.kick();
  }

  /** Marks the turn finished (after `done`) and wakes subscribers so they end. */
  finish(): void {
    this.finishedFlag = true;
    this.finishedAt = Date.now();
    this.wake();
  }

  /**
   * Lets events and messages queue up without writing them until {@link releaseWrites}: the
   * start of a turn tells its sandbox first and stores the user message and `session_start` right
   * after (on SQLite a write runs on this thread, before anything else can). Nothing is sent to
   * subscribers meanwhile (they get events once stored). {@link flush} releases too.
   */
  holdWrites(): void {
    this.held = true;
  }

  /** Ends {@link holdWrites}: what queued up is written now. */
  releaseWrites(): void {
    if (!this.held) return;
    this.held = false;
    this.onReleased?.();
    if (this.pendingEvents.length > 0 || this.pendingMessages.length > 0) this.kick();
  }

  /** Resolves once writes are not held (at once when they are not). */
  writesReleased(): Promise<void> {
    if (!this.held) return Promise.resolve();
    return new Promise((resolve) => {
      const previous = this.onReleased;
      this.onReleased = () => {
        previous?.();
        resolve();
      };
    });
  }

  /** Resolves when everything emitted so far is in the database (or was given up). */
  async flush(): Promise<void> {
    this.releaseWrites();
    while (this.writing) await this.writing;
  }

  /** Stops retrying the closing events' write (server shutdown); a restart closes the turn again. */
  abandon(): void {
    this.abandoned = true;
  }

  /**
   * Events with `id > after` as they are stored, then the live rest of the turn, ending after
   * `done`. Each subscriber reads at its own pace (the events stay in memory), so one slow client
   * never holds back the turn or other clients.
   */
  subscribe(after: number): AsyncGenerator<StreamEvent> {
    return this.read(after, false) as AsyncGenerator<StreamEvent>;
  }

  /**
   * Like {@link subscribe}, with the turn's transient notices (its place in the sandbox start
   * queue) as SSE comments between the events: what `POST /messages` and `/stream` send.
   */
  stream(after: number): AsyncGenerator<StreamEvent | SseComment> {
    return this.read(after, true);
  }

  /**
   * Publishes a transient notice to streaming clients (only the latest is kept; never stored).
   */
  notice(text: string): void {
    this.noticeText = text;
    this.noticeSeq++;
    this.wake();
  }

  private async *read(after: number, notices: boolean): AsyncGenerator<StreamEvent | SseComment> {
    let index = Math.max(0, after - this.firstSeq + 1);
    let noticeSeen = 0;
    for (;;) {
      if (notices && this.noticeSeq > noticeSeen && !this.finishedFlag) {
        noticeSeen = this.noticeSeq;
        if (this.noticeText) yield { comment: this.noticeText };
      }
      while (index < this.events.length && this.events[index]!.id <= this.visibleSeq) {
        yield this.events[index++]!;
      }
      if (this.finishedFlag && index >= this.events.length) return;
      if (notices && this.noticeSeq > noticeSeen) continue;
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.wakers.delete(wake);
          resolve();
        };
        this.wakers.add(wake);
      });
    }
  }

  private wake(): void {
    for (const w of [...this.wakers]) w();
  }

  private kick(): void {
    if (this.writing || this.held) return;
    this.writing = this.writeLoop().then(
      () => {
        this.writing = undefined;
        // Something appended after the loop's last look but before this ran (a few microtasks:
        // with a database whose writes need no I/O wait the whole loop runs in microtasks) is
        // written by a new loop, else it would wait for the next append — forever for a `done`.
        if (!this.abandoned && (this.pendingEvents.length > 0 || this.pendingMessages.length > 0))
          this.kick();
      },
      (err: unknown) => {
        this.writing = undefined;
        throw err;
      },
    );
  }

  /** Writes until nothing is pending (true), or until a write failed for good (false). */
  private async writeLoop(): Promise<boolean> {
    while (this.pendingEvents.length > 0 || this.pendingMessages.length > 0) {
      const events = this.pendingEvents;
      const messages = this.pendingMessages;
      this.pendingEvents = [];
      this.pendingMessages = [];
      const closing = this.failure !== undefined;
      if (messages.length > 0) {
        if (!(await this.persist('messages', () => this.history.insertMessages(messages), closing)))
          return false;
        this.storedMessageSeq = messages[messages.length - 1]!.sequence;
      }
      if (events.length > 0) {
        if (!(await this.persist('events', () => this.history.insertEvents(events), closing))) return false;
        this.storedSeq = events[events.length - 1]!.sequence;
        if (this.storedSeq > this.visibleSeq) this.visibleSeq = this.storedSeq;
        this.wake();
      }
    }
    return true;
  }

  /**
   * Writes one batch, retrying. False when it failed for good: the turn fails (first time), or
   * the closing events' retries were abandoned.
   */
  private async persist(what: string, write: () => Promise<void>, closing: boolean): Promise<boolean> {
    const attempts = this.opts.attempts ?? 5;
    for (let attempt = 1; ; attempt++) {
      try {
        await write();
        return true;
      } catch (err) {
        if (closing) {
          // The turn already failed: its closing events wait for the store to take writes again.
          if (this.abandoned) return false;
          if (attempt === 1)
            this.log.warn(
              { err, sessionId: this.sessionId, what },
              'the end of a failed turn is not stored yet; retrying',
            );
          await new Promise((r) => setTimeout(r, Math.min(2000, 100 * 2 ** attempt)));
          continue;
        }
        if (attempt >= attempts) {
          this.fail(err, what);
          return false;
        }
        await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
      }
    }
  }

  /** A write failed for good: drop what is not stored (nobody saw it), give its numbers back. */
  private fail(err: unknown, what: string): void {
    const full = isStorageFull(err);
    this.failure = full
      ? { code: 'insufficient_storage', message: "the server's data disk is full; the turn was stopped" }
      : {
          code: 'storage_unavailable',
          message: "the turn's history could not be stored; the turn was stopped",
        };
    this.log.error(
      { err, sessionId: this.sessionId, turnId: this.turnId, what },
      'could not persist turn history; ending the turn',
    );
    this.pendingEvents = [];
    this.pendingMessages = [];
    const keep = this.events.findIndex((e) => e.id > this.storedSeq);
    if (keep >= 0) this.events.length = keep;
    this.nextSeq = this.storedSeq + 1;
    this.nextMessageSeq = this.storedMessageSeq + 1;
    this.opts.onPersistFailure?.(this.failure);
  }
}
