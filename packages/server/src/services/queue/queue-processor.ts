import type { Logger } from 'pino';
import type { ErrorData, QueueResult, SendMessageBody, TurnCompleteData } from '@ash-ai/shared';
import type { QueueRecord, Repos } from '../../db/repos/index.js';
import { AppError } from '../../errors.js';
import type { SessionService } from '../sessions/session-service.js';
import type { ServerMetrics } from '../../telemetry/metrics.js';

export interface QueueProcessorOptions {
  /** Items run at once by this processor (≥ 1). */
  concurrency: number;
  /** Idle poll interval, ms. */
  pollMs: number;
  /** First retry delay, ms; doubled per retry, capped at `retryMaxMs`. */
  retryBaseMs: number;
  retryMaxMs: number;
  /** Heartbeat interval of running items, ms. */
  heartbeatMs: number;
  /** Running items whose heartbeat is older than this are taken back, ms. */
  staleMs: number;
}

export interface QueueProcessorDeps extends QueueProcessorOptions {
  /** Stable id of this processor (the server id, so a restarted server recognises its items). */
  id: string;
  repos: Repos;
  sessions: SessionService;
  log: Logger;
  /** `ash_queue_wait_seconds` (`/metrics`). */
  metrics?: ServerMetrics;
}

/** Errors no retry can fix: the item fails at once. */
const PERMANENT: ReadonlySet<string> = new Set([
  'agent_not_found',
  'agent_folder_missing',
  'session_not_found',
  'session_ended',
  'validation_failed',
  // A budget (the turn's, the session's or the tenant's) was reached: retrying would only be
  // refused again, or spend past the budget.
  'budget_exceeded',
]);

type Attempt = (
  | { ok: true; result: QueueResult }
  | { ok: false; error: string; permanent: boolean; result: QueueResult | null }
) & {
  /** The session the attempt ran in, when it got one, and whether the queue created it. */
  session?: { id: string; createdByQueue: boolean };
};

/**
 * Runs queue items as turns, one processor per server process.
 *
 * - **Claiming** is one conditional UPDATE (see `QueueRepo.claim`), so an item is owned by one
 *   processor at a time, across processes sharing the database.
 * - **Running**: in the item's session (created by the first attempt when none was given; later
 *   attempts reuse it), through the same path as `POST /messages` with `onBusy: queue`.
 * - **Retries**: a failed attempt is retried after `retryBaseMs · 2^retryCount` (capped), up to
 *   `maxRetries` times, then the item is `failed` with the last error. Permanent errors (unknown
 *   agent or session, invalid options) fail at once.
 *   A `budget_exceeded` outcome is permanent too.
 * - **Crashes**: running items carry a heartbeat; on start a processor takes back the items its
 *   previous incarnation was running, and any processor takes back items whose heartbeat is older
 *   than `staleMs`. Such an interrupted attempt counts as a failed one.
 * - **Shutdown**: no new claims; an attempt cut short by the shutdown counts as a failed one too
 *   (due again at once while retries remain, else `failed`), so an item that never survives a
 *   shutdown cannot be retried forever.
 * - **Capacity**: a session the queue created for an item is paused when an attempt ends, so it
 *   holds no sandbox while the item waits or after it finished (a session given at enqueue is
 *   left as it is). Its history stays readable, and the next message resumes it.
 */
export class QueueProcessor {
  private readonly running = new Map<string, Promise<void>>();
  private stopping = false;
  private loopDone: Promise<void> | undefined;
  private wake: (() => void) | undefined;

  constructor(private readonly deps: QueueProcessorDeps) {}

  get id(): string {
    return this.deps.id;
  }

  /** Starts the loop (after taking back this processor's interrupted items). */
  start(): void {
    if (this.loopDone || this.deps.concurrency < 1) return;
    this.loopDone = this.loop();
  }

  /** Looks for work now instead of at the next poll. */
  notify(): void {
    this.wake?.();
  }

  /** Stops claiming. Running attempts go on; {@link drain} waits for them. */
  stop(): void {
    this.stopping = true;
    this.wake?.();
  }

  /** Resolves when the loop and every running attempt have finished. */
  async drain(): Promise<void> {
    await this.loopDone;
    await Promise.all([...this.running.values()]);
  }

  private async loop(): Promise<void> {
    const { repos, log } = this.deps;
    try {
      const n = await repos.queue.recover(
        { processorId: this.id },
        'the server running this item stopped during the attempt',
        new Date().toISOString(),
      );
      if (n > 0) log.warn({ items: n }, 'queue items interrupted by a server stop were taken back');
    } catch (err) {
      log.error({ err: errText(err) }, 'could not take back interrupted queue items');
    }
    let lastSweep = 0;
    while (!this.stopping) {
      try {
        if (Date.now() - lastSweep >= this.deps.staleMs / 2) {
          lastSweep = Date.now();
          const n = await repos.queue.recover(
            { staleBefore: new Date(Date.now() - this.deps.staleMs).toISOString() },
            'the server running this item stopped responding',
            new Date().toISOString(),
          );
          if (n > 0) log.warn({ items: n }, 'stale queue items taken back');
        }
        while (!this.stopping && this.running.size < this.deps.concurrency) {
          const item = await repos.queue.claim(this.id, new Date().toISOString());
          if (!item) break;
          const run = this.run(item).finally(() => {
            this.running.delete(item.id);
            this.wake?.();
          });
          this.running.set(item.id, run);
        }
      } catch (err) {
        log.error({ err: errText(err) }, 'queue processor iteration failed');
      }
      if (this.stopping) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.deps.pollMs);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  private async run(item: QueueRecord): Promise<void> {
    const { repos, log } = this.deps;
    const heartbeat = setInterval(() => {
      void repos.queue
        .heartbeat(item.id, this.id, new Date().toISOString())
        .then((owned) => {
          if (!owned) log.warn({ itemId: item.id }, 'lost a running queue item (taken back as stale)');
        })
        .catch(() => undefined);
    }, this.deps.heartbeatMs);
    heartbeat.unref();
    log.info({ itemId: item.id, attempt: item.retryCount + 1, agent: item.agentName }, 'queue item started');
    const due = Math.max(Date.parse(item.runAt), Date.parse(item.createdAt));
    if (Number.isFinite(due)) this.deps.metrics?.queueWait.observe(Math.max(0, Date.now() - due) / 1000);
    try {
      const attempt = await this.attempt(item);
      const now = new Date().toISOString();
      let owned: boolean;
      if (attempt.ok) {
        owned = await repos.queue.finish(item.id, this.id, {
          status: 'completed',
          result: attempt.result,
          now,
        });
      } else if (this.stopping && !attempt.permanent) {
        owned = await repos.queue.release(
          item.id,
          this.id,
          `the server stopped during the attempt (${attempt.error})`,
          now,
        );
      } else if (attempt.permanent || item.retryCount >= item.maxRetries) {
        owned = await repos.queue.finish(item.id, this.id, {
          status: 'failed',
          error: attempt.error,
          result: attempt.result,
          now,
        });
      } else {
        const delay = Math.min(this.deps.retryMaxMs, this.deps.retryBaseMs * 2 ** item.retryCount);
        owned = await repos.queue.finish(item.id, this.id, {
          status: 'retry',
          error: attempt.error,
          retryAt: new Date(Date.now() + delay).toISOString(),
        });
      }
      if (!owned) log.warn({ itemId: item.id }, 'queue item was taken back before its attempt was recorded');
      log.info(
        { itemId: item.id, ok: attempt.ok, ...(attempt.ok ? {} : { error: attempt.error }) },
        'queue item attempt finished',
      );
      if (attempt.session?.createdByQueue && !this.stopping) await this.release(item, attempt.session.id);
    } catch (err) {
      log.error({ err: errText(err), itemId: item.id }, 'could not record a queue item attempt');
    } finally {
      clearInterval(heartbeat);
    }
  }

  /** Pauses a session the queue created, so it holds no sandbox (pool capacity) between attempts. */
  private async release(item: QueueRecord, sessionId: string): Promise<void> {
    try {
      await this.deps.sessions.pause(item.tenantId, sessionId);
    } catch (err) {
      const ended =
        err instanceof AppError && (err.code === 'session_ended' || err.code === 'session_not_found');
      if (!ended)
        this.deps.log.warn(
          { err: errText(err), itemId: item.id, sessionId },
          'could not pause a queue session',
        );
    }
  }

  /**
   * Whether the item's session was created by the queue (by an earlier attempt) rather than given
   * at enqueue: a given session exists before the item, a created one only after it was claimed.
   */
  private async createdByQueue(item: QueueRecord, sessionId: string): Promise<boolean> {
    const s = await this.deps.repos.sessions.get(item.tenantId, sessionId);
    return !!s && s.createdAt > item.createdAt;
  }

  /** One attempt: the item's turn, start to `done`. */
  private async attempt(item: QueueRecord): Promise<Attempt> {
    const { sessions, repos } = this.deps;
    let sessionId = item.sessionId;
    let session: Attempt['session'];
    try {
      if (!sessionId) {
        const s = await sessions.create(item.tenantId, { agent: item.agentName });
        sessionId = s.id;
        session = { id: s.id, createdByQueue: true };
        await repos.queue.setSession(item.id, this.id, s.id);
      } else {
        session = { id: sessionId, createdByQueue: await this.createdByQueue(item, sessionId) };
      }
      const body: SendMessageBody = { ...item.options, content: item.prompt, onBusy: 'queue' };
      const stream = await sessions.sendMessage(item.tenantId, sessionId, body);
      let complete: TurnCompleteData | undefined;
      let error: ErrorData | undefined;
      let turnId = '';
      let outcome = 'error';
      for await (const ev of stream.subscribe(0)) {
        if (ev.event === 'session_start') turnId = ev.data.turnId;
        else if (ev.event === 'turn_complete') complete = ev.data;
        else if (ev.event === 'error') error = ev.data;
        else if (ev.event === 'done') {
          turnId = ev.data.turnId;
          outcome = ev.data.outcome;
        }
      }
      const result: QueueResult = { turnId, outcome, text: complete?.result ?? null };
      if (complete) {
        result.numTurns = complete.numTurns;
        result.totalCostUsd = complete.totalCostUsd;
        if (complete.structuredOutput !== undefined) result.structuredOutput = complete.structuredOutput;
      }
      if (outcome === 'completed') return { ok: true, result, session };
      return {
        ok: false,
        error: error ? `${error.code}: ${error.error}` : `the turn ended ${outcome}`,
        permanent: !!error && PERMANENT.has(error.code),
        result,
        session,
      };
    } catch (err) {
      if (err instanceof AppError)
        return {
          ok: false,
          error: `${err.code}: ${err.detail}`,
          permanent: PERMANENT.has(err.code),
          result: null,
          session,
        };
      this.deps.log.error({ err: errText(err), itemId: item.id }, 'queue item attempt failed unexpectedly');
      return {
        ok: false,
        error: 'internal_error: the attempt failed unexpectedly',
        permanent: false,
        result: null,
        session,
      };
    }
  }
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
