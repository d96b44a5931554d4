import type { Logger } from 'pino';
import type { ToolAnswer, ToolRequestEvent } from '@ash-ai/shared';
import type { Repos } from '../db/repos/index.js';
import { AppError } from '../errors.js';
import type { ToolRequestHook } from '../services/sessions/session-runtime.js';

/** A stored tool call that waits (or waited) for the client. */
export interface ToolRequestRow {
  sessionId: string;
  turnId: string;
  kind: ToolRequestEvent['kind'];
  name: string;
  input: Record<string, unknown>;
  status: 'pending' | 'answered';
  answeredAt?: string;
}

/** Dependencies of {@link ToolRequestService}. */
export interface ToolRequestDeps {
  repos: Repos;
  log: Logger;
}

/** JSON with sorted keys: two equal inputs give the same text. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object')
    return `{${Object.keys(v as Record<string, unknown>)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v) ?? 'null';
}

const invalid = (message: string, path = '/body/events') =>
  new AppError('validation_failed', message, { errors: [{ path, message }] });

/**
 * Tool calls that wait for the client: `askTools` approvals (`permission`) and custom tools
 * (`custom_tool`).
 *
 * Durability: every waiting call is stored (a `managed_objects` row of kind `tool_request`, id =
 * the model's tool-use id) before anyone can answer it, and waits with no timeout. An answer is
 * delivered straight to the waiting call when its turn still runs here. When that turn is gone —
 * the server restarted (the Claude process died with it) or the turn was interrupted — the answer
 * is still accepted and {@link ToolRequestService.answer} returns `resume`: the caller starts a
 * new turn on the same conversation that tells the model the outcome ({@link resumePrompt}). An
 * approval is then also recorded as a decision, so the model's repeated identical call runs
 * without asking again (once). Claude Code drops a transcript's unanswered tool use on resume,
 * so a plain `tool_result` for the old call cannot be delivered: the model is told instead.
 */
export class ToolRequestService {
  /** Calls waiting in a turn on this server, by tool-use id. */
  private readonly waiting = new Map<
    string,
    { sessionId: string; turnId: string; answer: (a: ToolAnswer) => number | false }
  >();
  /** Rows being stored, by tool-use id (an answer waits for its row). */
  private readonly recording = new Map<string, Promise<void>>();
  /** Approvals given after their turn ended, by session: the repeated call runs without asking. */
  private readonly decisions = new Map<string, Array<{ name: string; input: string }>>();

  constructor(private readonly deps: ToolRequestDeps) {}

  /**
   * The runtime's `onToolRequest` hook: answers at once from a recorded approval, else stores the
   * request and keeps its answer function.
   */
  onRequest(h: ToolRequestHook): ToolAnswer | undefined {
    const { session, request: r } = h;
    if (r.kind === 'permission') {
      const list = this.decisions.get(session.id) ?? [];
      const input = canonical(r.input);
      const i = list.findIndex((d) => d.name === r.name && d.input === input);
      if (i >= 0) {
        list.splice(i, 1);
        return { type: 'allow' };
      }
    }
    this.waiting.set(r.requestId, { sessionId: session.id, turnId: h.turnId, answer: h.answer });
    const at = new Date().toISOString();
    const row: ToolRequestRow = {
      sessionId: session.id,
      turnId: h.turnId,
      kind: r.kind,
      name: r.name,
      input: r.input,
      status: 'pending',
    };
    const stored = (async () => {
      const { managed } = this.deps.repos;
      const existing = await managed.get(session.tenantId, 'tool_request', r.requestId, 0);
      if (existing)
        await managed.update(session.tenantId, 'tool_request', r.requestId, 0, { data: row, updatedAt: at });
      else
        await managed.insert({
          tenantId: session.tenantId,
          kind: 'tool_request',
          id: r.requestId,
          version: 0,
          data: row,
          createdAt: at,
          updatedAt: at,
          archivedAt: null,
        });
    })()
      .catch((err) => {
        // Not stored: the call cannot wait durably; it is denied rather than left hanging.
        this.deps.log.error({ err, sessionId: session.id }, 'could not store a tool request; denying it');
        this.waiting.delete(r.requestId);
        h.answer({ type: 'deny', message: 'the server could not record this request' });
      })
      .finally(() => this.recording.delete(r.requestId));
    this.recording.set(r.requestId, stored);
    return undefined;
  }

  /** Whether a call of that turn of the session waits for the client (on this server). */
  waitsIn(sessionId: string, turnId: string | null): boolean {
    if (!turnId) return false;
    for (const w of this.waiting.values()) if (w.sessionId === sessionId && w.turnId === turnId) return true;
    return false;
  }

  /**
   * Answers a waiting call of a session.
   * @returns `delivered` (its turn took it; `sequence` = the recorded answer's event sequence, 0
   *   if unknown) or `resume` (its turn is over: start a new turn with {@link resumePrompt}), with
   *   the stored request.
   * @param path where the id was in the request (for the error), default `/body/events`.
   * @throws AppError 400 `validation_failed` when no such call of that kind waits in the session.
   */
  async answer(
    tenantId: string,
    sessionId: string,
    id: string,
    kind: ToolRequestEvent['kind'],
    answer: ToolAnswer,
    path?: string,
  ): Promise<
    | { outcome: 'delivered'; sequence: number; request: ToolRequestRow }
    | { outcome: 'resume'; request: ToolRequestRow }
  > {
    await this.recording.get(id);
    const { managed } = this.deps.repos;
    const row = await managed.get<ToolRequestRow>(tenantId, 'tool_request', id, 0);
    const what = kind === 'permission' ? 'tool confirmation' : 'custom tool call';
    if (!row || row.data.sessionId !== sessionId || row.data.kind !== kind)
      throw invalid(`no ${what} '${id}' waits in this session`, path);
    if (row.data.status !== 'pending') throw invalid(`the ${what} '${id}' was already answered`, path);
    const at = new Date().toISOString();
    await managed.update<ToolRequestRow>(tenantId, 'tool_request', id, 0, {
      data: { ...row.data, status: 'answered', answeredAt: at },
      updatedAt: at,
    });
    const deliver = this.waiting.get(id);
    this.waiting.delete(id);
    const sequence = deliver?.answer(answer);
    if (sequence !== undefined && sequence !== false)
      return { outcome: 'delivered', sequence, request: row.data };
    if (kind === 'permission' && answer.type === 'allow') {
      const list = this.decisions.get(sessionId) ?? [];
      list.push({ name: row.data.name, input: canonical(row.data.input) });
      this.decisions.set(sessionId, list);
    }
    return { outcome: 'resume', request: row.data };
  }
}

/**
 * The prompt of the turn that resumes a conversation whose call waited when its turn ended: it
 * tells the model what became of the call (the call itself did not run).
 */
export function resumePrompt(req: ToolRequestRow, answer: ToolAnswer): string {
  const call = `your ${req.name} call with input ${JSON.stringify(req.input)}`;
  if (req.kind === 'custom_tool') {
    const text =
      answer.type === 'result'
        ? answer.content
            .map((b) => (b.type === 'text' && typeof b.text === 'string' ? b.text : `[${String(b.type)}]`))
            .join('\n')
        : '';
    const err = answer.type === 'result' && answer.isError ? ' (an error)' : '';
    return `[Ash] The result of ${call} arrived after its turn had ended, so you did not see it then. The result${err}:\n${text}`;
  }
  const waited = `${call} was waiting for the user's approval when its turn ended (the server restarted or the turn was interrupted), so it did not run.`;
  if (answer.type === 'allow')
    return `[Ash] ${waited[0]!.toUpperCase()}${waited.slice(1)} The user has now allowed it: make the same call again to run it.`;
  const why = answer.type === 'deny' && answer.message ? answer.message : 'no reason given';
  return `[Ash] ${waited[0]!.toUpperCase()}${waited.slice(1)} The user denied it: ${why}`;
}
