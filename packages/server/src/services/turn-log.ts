import { randomUUID } from 'node:crypto';
import type { StreamEvent, StreamEventBody } from '@ash-ai/shared';
import type { Logger } from 'pino';
import type { EventRecord, HistoryRepo, MessageRecord } from '../db/repos/index.js';

/**
 * The record of one running turn: every SSE event it emits (with its per-session sequence
 * number) and every message it produces. Events live in memory for streaming and reconnection
 * and are written to the database in order by a single background writer that batches whatever
 * has queued up (so a slow database never slows the stream); {@link TurnLog.flush} waits for it.
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
  private pendingEvents: EventRecord[] = [];
  private pendingMessages: MessageRecord[] = [];
  private writing: Promise<void> | undefined;
  private wakers = new Set<() => void>();
  private finishedFlag = false;
  /** Set when the turn has ended; kept for late reconnects. */
  finishedAt: number | undefined;

  constructor(
    readonly sessionId: string,
    readonly tenantId: string,
    readonly turnId: string,
    counters: { lastEventSeq: number; lastMessageSeq: number },
    private readonly history: HistoryRepo,
    private readonly log: Logger,
  ) {
    this.firstSeq = counters.lastEventSeq + 1;
    this.nextSeq = this.firstSeq;
    this.nextMessageSeq = counters.lastMessageSeq + 1;
  }

  /** Last sequence numbers handed out. */
  get counters(): { lastEventSeq: number; lastMessageSeq: number } {
    return { lastEventSeq: this.nextSeq - 1, lastMessageSeq: this.nextMessageSeq - 1 };
  }

  get finished(): boolean {
    return this.finishedFlag;
  }

  /** Appends an event: numbers it, keeps it, queues it for the database, wakes subscribers. */
  emit(body: StreamEventBody): StreamEvent {
    if (this.finishedFlag) throw new Error('turn already finished');
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
    });
    this.kick();
    for (const w of this.wakers) w();
    return ev;
  }

  /** Appends a message of the conversation. */
  addMessage(m: { role: MessageRecord['role']; type: string; content: unknown; text: string }): void {
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
    });
    this.kick();
  }

  /** Marks the turn finished (after `done`) and wakes subscribers so they end. */
  finish(): void {
    this.finishedFlag = true;
    this.finishedAt = Date.now();
    for (const w of this.wakers) w();
  }

  /** Resolves when everything emitted so far is in the database. */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
  }

  /**
   * Events with `id > after`, then the live rest of the turn, ending after `done` (given only
   * once every event and message of the turn is in the database).
   * Each subscriber reads at its own pace (the events stay in memory), so one slow client never
   * holds back the turn or other clients.
   */
  async *subscribe(after: number): AsyncGenerator<StreamEvent> {
    let index = Math.max(0, after - this.firstSeq + 1);
    for (;;) {
      while (index < this.events.length) {
        const ev = this.events[index++]!;
        // A client that saw `done` may read the history at once: it is all there by then.
        if (ev.event === 'done') await this.flush();
        yield ev;
      }
      if (this.finishedFlag) return;
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.wakers.delete(wake);
          resolve();
        };
        this.wakers.add(wake);
      });
    }
  }

  private kick(): void {
    if (!this.writing) this.writing = this.writeLoop().finally(() => (this.writing = undefined));
  }

  private async writeLoop(): Promise<void> {
    while (this.pendingEvents.length > 0 || this.pendingMessages.length > 0) {
      const events = this.pendingEvents;
      const messages = this.pendingMessages;
      this.pendingEvents = [];
      this.pendingMessages = [];
      await this.persist('messages', () => this.history.insertMessages(messages), messages.length);
      await this.persist('events', () => this.history.insertEvents(events), events.length);
    }
  }

  private async persist(what: string, write: () => Promise<void>, count: number): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await write();
        return;
      } catch (err) {
        if (attempt >= 5) {
          this.log.error(
            { err, sessionId: this.sessionId, what, lost: count },
            'could not persist turn history',
          );
          return;
        }
        await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
      }
    }
  }
}
