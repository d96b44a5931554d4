import type {
  CreateSessionBody,
  ListSessionsQuery,
  Message,
  SendMessageBody,
  Session,
  SessionEvent,
  StreamEvent,
  ToolAnswerBody,
  ToolAnswerResponse,
  UpdateSessionConfigBody,
} from '@ash-ai/shared';
import { AshConnectionError } from '../core/errors.js';
import type { HttpClient } from '../core/http.js';
import { readSseEvents } from '../core/streaming.js';
import { SessionFiles, SessionWorkspace } from './files.js';
import { route } from '../internal/route.js';

/** Options of {@link Sessions.send}. */
export type SendOptions = Omit<SendMessageBody, 'content'> & {
  signal?: AbortSignal;
  /**
   * When the connection drops before `done`, rejoin the turn through
   * `GET /api/sessions/:id/stream` with `Last-Event-ID`, up to this many times (default 5).
   * Every event is delivered exactly once across reconnects.
   */
  maxReconnects?: number;
};

/** One line of a sandbox's output (`GET /api/sessions/:id/logs`). */
export interface SessionLogEntry {
  /** Position in the sandbox's log ring; pass the last one seen as `after` to get only newer lines. */
  index: number;
  level: 'stdout' | 'stderr' | 'system';
  text: string;
  /** ISO 8601 time the line was written. */
  ts: string;
}

/** Result of {@link Sessions.exec}. */
export interface ExecResult {
  /** Exit status (124 after a timeout, 128+n after signal n). */
  exitCode: number;
  stdout: string;
  stderr: string;
  /** The command was killed at its timeout. */
  timedOut?: boolean;
  /** Output beyond the server's limit was cut. */
  truncated?: boolean;
  durationMs?: number;
}

/** A page of history. */
export interface HistoryPage<T> {
  items: T[];
  hasMore: boolean;
}

/** Sessions and their turns: `client.sessions`. */
export class Sessions {
  /** The session's files: list, read, upload, delete. */
  readonly files: SessionFiles;
  /** Whole workspaces: download/upload tar.gz bundles, snapshots. */
  readonly workspace: SessionWorkspace;

  constructor(private readonly http: HttpClient) {
    this.files = new SessionFiles(http);
    this.workspace = new SessionWorkspace(http);
  }

  /** Creates a session on an agent. @throws NotFoundError (agent), UnprocessableEntityError (agent files missing). */
  async create(agent: string, opts: Omit<CreateSessionBody, 'agent'> = {}): Promise<Session> {
    return (
      await this.http.request<{ session: Session }>('POST', '/api/sessions', { body: { agent, ...opts } })
    ).session;
  }

  /** Lists sessions, newest first. */
  async list(q: ListSessionsQuery = {}): Promise<{ sessions: Session[]; total: number; hasMore: boolean }> {
    return this.http.request('GET', '/api/sessions', { query: { ...q } });
  }

  /** @throws NotFoundError */
  async get(id: string): Promise<Session> {
    return (await this.http.request<{ session: Session }>('GET', route`/api/sessions/${id}`)).session;
  }

  /** Ends the session (its process stops; history stays). @throws NotFoundError */
  async end(id: string): Promise<Session> {
    return (await this.http.request<{ session: Session }>('DELETE', route`/api/sessions/${id}`)).session;
  }

  /**
   * Changes the session's options for later turns (a value sets an option, `null` removes it;
   * `budgetUsd` sets the session budget). @throws NotFoundError, GoneError, BadRequestError.
   * @example await client.sessions.updateConfig(id, { model: 'claude-sonnet-4-5', allowedTools: null })
   */
  async updateConfig(id: string, patch: UpdateSessionConfigBody): Promise<Session> {
    return (
      await this.http.request<{ session: Session }>('PATCH', route`/api/sessions/${id}/config`, {
        body: patch,
      })
    ).session;
  }

  /**
   * Pauses the session: its processes stop; workspace and transcript stay; a message resumes it.
   * @throws NotFoundError, GoneError (ended).
   */
  async pause(id: string): Promise<Session> {
    return (await this.http.request<{ session: Session }>('POST', route`/api/sessions/${id}/pause`)).session;
  }

  /** Like {@link pause}, but the session reports status `stopped` (the upstream name); resumable. */
  async stop(id: string): Promise<Session> {
    return (await this.http.request<{ session: Session }>('POST', route`/api/sessions/${id}/stop`)).session;
  }

  /**
   * Resumes a paused session (warm when its process is alive, else a new sandbox on the same
   * workspace and conversation). @throws NotFoundError, GoneError (ended), UnprocessableEntityError
   * (agent files gone), ServiceUnavailableError (no capacity).
   */
  async resume(id: string): Promise<Session> {
    return (await this.http.request<{ session: Session }>('POST', route`/api/sessions/${id}/resume`)).session;
  }

  /**
   * Forks the session: a new, independent session with a copy of its history, transcript,
   * workspace and config. @throws NotFoundError, ConflictError (a turn is running).
   */
  async fork(id: string): Promise<Session> {
    return (await this.http.request<{ session: Session }>('POST', route`/api/sessions/${id}/fork`)).session;
  }

  /** Interrupts the running turn; resolves once it has ended. */
  async interrupt(id: string): Promise<boolean> {
    return (await this.http.request<{ interrupted: boolean }>('POST', route`/api/sessions/${id}/interrupt`))
      .interrupted;
  }

  /**
   * Answers a call that waits for the client: a `permission_request` (`{id, result: 'allow'}` or
   * `{id, result: 'deny', denyMessage?}`) or a `custom_tool_use` (`{id, result: 'result', content,
   * isError?}`); `id` is the event's `id`. The waiting turn goes on (`outcome: 'delivered'`), or,
   * when it had ended, a new turn tells the model (`'resumed'`).
   * @throws NotFoundError, GoneError `session_ended`, BadRequestError (`validation_failed`: no
   *   such call waits, or it was already answered).
   */
  async answerToolRequest(id: string, answer: ToolAnswerBody): Promise<ToolAnswerResponse> {
    return this.http.request<ToolAnswerResponse>('POST', route`/api/sessions/${id}/tool-answers`, {
      body: answer,
    });
  }

  /**
   * Sends a message and streams the turn's events (`session_start` … `done`). Errors before the
   * stream starts throw (e.g. ConflictError `session_busy`, GoneError `session_ended`); errors
   * during the turn arrive as `error` events followed by `done`.
   * @example
   * for await (const ev of client.sessions.send(id, 'Hello')) {
   *   if (ev.event === 'text_delta') process.stdout.write(ev.data.delta);
   * }
   */
  async *send(
    id: string,
    content: SendMessageBody['content'],
    opts: SendOptions = {},
  ): AsyncGenerator<StreamEvent> {
    const { signal, maxReconnects = 5, ...body } = opts;
    const res = await this.http.request<Response>('POST', route`/api/sessions/${id}/messages`, {
      body: { content, ...body },
      raw: true,
      headers: { accept: 'text/event-stream' },
      ...(signal ? { signal } : {}),
    });
    yield* this.follow(id, res, maxReconnects, signal, 0, 'first');
  }

  /**
   * Rejoins a session's stream: every event after `after` (an SSE id), then the live rest of the
   * running turn, ending after `done` (or at the end of history when no turn runs).
   */
  async *stream(
    id: string,
    opts: { after?: number; signal?: AbortSignal; maxReconnects?: number } = {},
  ): AsyncGenerator<StreamEvent> {
    const res = await this.openStream(id, opts.after ?? 0, opts.signal);
    const turn = res.headers.get('x-ash-turn');
    yield* this.follow(
      id,
      res,
      opts.maxReconnects ?? 5,
      opts.signal,
      opts.after ?? 0,
      turn && turn !== 'none' ? turn : null,
    );
  }

  /** Persisted messages with sequence > `after`. */
  async messages(id: string, opts: { after?: number; limit?: number } = {}): Promise<HistoryPage<Message>> {
    const r = await this.http.request<{ messages: Message[]; hasMore: boolean }>(
      'GET',
      route`/api/sessions/${id}/messages`,
      {
        query: { after: opts.after, limit: opts.limit },
      },
    );
    return { items: r.messages, hasMore: r.hasMore };
  }

  /**
   * Persisted events (what was streamed, plus lifecycle events) with sequence > `after`.
   * `view: 'timeline'` gives the upstream Ash's timeline (text, tool_start, tool_result,
   * reasoning, turn_complete, error, lifecycle) instead of the full log.
   */
  async events(
    id: string,
    opts: { after?: number; limit?: number; type?: string; turnId?: string; view?: 'log' | 'timeline' } = {},
  ): Promise<HistoryPage<SessionEvent>> {
    const r = await this.http.request<{ events: SessionEvent[]; hasMore: boolean }>(
      'GET',
      route`/api/sessions/${id}/events`,
      {
        query: {
          after: opts.after,
          limit: opts.limit,
          type: opts.type,
          turnId: opts.turnId,
          view: opts.view,
        },
      },
    );
    return { items: r.events, hasMore: r.hasMore };
  }

  /**
   * The sandbox's recent output lines (its process's stdout/stderr and system notes) with an
   * index greater than `after` (default -1: all that are kept).
   * @throws NotFoundError
   */
  async logs(
    id: string,
    opts: { after?: number } = {},
  ): Promise<{ logs: SessionLogEntry[]; source: string }> {
    return this.http.request('GET', route`/api/sessions/${id}/logs`, { query: { after: opts.after } });
  }

  /**
   * Runs a shell command (`sh -c`) in the session's sandbox, in its workspace, and resolves with
   * its exit code and output. `timeoutMs` (1..300000) bounds the command on the server.
   * @throws NotFoundError, BadRequestError (session not running), GoneError (ended).
   */
  async exec(id: string, command: string, opts: { timeoutMs?: number } = {}): Promise<ExecResult> {
    return this.http.request('POST', route`/api/sessions/${id}/exec`, {
      body: { command, ...(opts.timeoutMs !== undefined ? { timeout: opts.timeoutMs } : {}) },
      // The request may take as long as the command (plus a margin).
      ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs + 30_000 } : {}),
    });
  }

  private openStream(id: string, after: number, signal?: AbortSignal): Promise<Response> {
    return this.http.request<Response>('GET', route`/api/sessions/${id}/stream`, {
      raw: true,
      headers: { accept: 'text/event-stream', 'last-event-id': String(after) },
      ...(signal ? { signal } : {}),
    });
  }

  /**
   * Reads a stream to its end, rejoining it after a dropped connection.
   * @param until the `done` to stop at: `'first'` (a sent message: its own turn), a turn id (the
   *   turn `/stream` follows), or `null` (history only: the stream simply ends).
   */
  private async *follow(
    id: string,
    first: Response,
    maxReconnects: number,
    signal: AbortSignal | undefined,
    after: number,
    until: 'first' | string | null,
  ): AsyncGenerator<StreamEvent> {
    let res = first;
    let lastId = after;
    for (let attempt = 0; ; attempt++) {
      let finished = false;
      try {
        if (!res.body) throw new AshConnectionError('the stream has no body');
        for await (const ev of readSseEvents(res.body)) {
          if (ev.id && ev.id <= lastId) continue; // already delivered before a reconnect
          if (ev.id) lastId = ev.id;
          yield ev;
          if (ev.event === 'done' && (until === 'first' || ev.data.turnId === until)) {
            finished = true;
            break;
          }
        }
        if (until === null) return;
      } catch (err) {
        if (signal?.aborted) throw err;
      }
      if (finished || signal?.aborted) return;
      if (attempt >= maxReconnects)
        throw new AshConnectionError(`the stream of session ${id} ended before its done event`);
      await new Promise((r) => setTimeout(r, Math.min(2000, 100 * 2 ** attempt)));
      res = await this.openStream(id, lastId, signal);
    }
  }
}
