import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';

/** Token usage a scripted reply reports (Anthropic Messages API `usage`). */
export interface ScriptedUsage {
  input_tokens?: number;
  output_tokens?: number;
  cache_creation_input_tokens?: number;
  cache_read_input_tokens?: number;
}

/** One scripted model reply. */
export type ScriptedReply =
  | {
      /** Text answer (streamed as `text_delta`s). */
      text: string;
      /** Optional thinking block before the text. */
      thinking?: string;
      /** Number of deltas to split the text into (default: about 8 characters each, max 8). */
      chunks?: number;
      /** Delay between deltas, ms (default 0). */
      delayMs?: number;
      usage?: ScriptedUsage;
    }
  | {
      /** One or more tool calls (stop_reason `tool_use`). */
      toolUse:
        | { name: string; input: unknown; id?: string }
        | Array<{ name: string; input: unknown; id?: string }>;
      /** Text before the tool calls. */
      text?: string;
      usage?: ScriptedUsage;
    }
  | {
      /** An HTTP error with an Anthropic error body. */
      error: { status: number; type?: string; message?: string };
    }
  | {
      /** Sends `message_start`, then nothing until the client goes away or the server closes. */
      stall: true;
    }
  | {
      /**
       * A slow text stream: `deltas` deltas, `intervalMs` apart. With `stamp`, each delta's text is
       * the time it was written to the socket, `⟨t=<epoch ms, µs precision>⟩` (see
       * {@link deltaStampMs}): a client on the same machine measures each delta's latency from it.
       */
      slow: { deltas: number; intervalMs: number; text?: string; stamp?: boolean };
      usage?: ScriptedUsage;
    };

/** A request the model server received, parsed. */
export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** `x-claude-code-session-id` header: the SDK session id (= the Ash session id). */
  sessionId: string | undefined;
  /** The API key the request carried (`x-api-key` or bearer). */
  apiKey: string | undefined;
  body: Record<string, unknown>;
  model: string | undefined;
  /** Names of the tools offered. */
  tools: string[];
  /** `system` flattened to one string. */
  systemText: string;
  messages: Array<{ role: string; content: unknown }>;
  /** Time the request arrived (ms since epoch). */
  at: number;
  /** The reply the server chose. */
  reply?: ScriptedReply;
  /**
   * What the response reported: the API message id and its final `usage` (what a metering proxy
   * should count for this request). Absent for error replies and non-message endpoints.
   */
  reported?: {
    id: string;
    usage: Required<ScriptedUsage>;
  };
}

/** Chooses the reply for a request; return undefined to fall back to the default. */
export type ScriptHandler = (req: RecordedRequest) => ScriptedReply | undefined;

/**
 * A scripted Anthropic Messages API server for tests: the real Claude Agent SDK (and Ash's model
 * proxy) talk to it instead of the real API.
 *
 * Replies are chosen, in order, from: the per-session queue (`forSession(id).enqueue`), the global
 * queue (`enqueue`), the handler (`onRequest`), and finally the default: plain text
 * `Echo: <last user text>` (or `Done.` after a tool result). Requests without tools (side requests)
 * always get the default. Streams always finish with `message_delta` + `message_stop` unless
 * a reply says `stall`.
 */
export class ScriptedModel {
  readonly requests: RecordedRequest[] = [];
  private readonly queue: ScriptedReply[] = [];
  private readonly sessionQueues = new Map<string, ScriptedReply[]>();
  private handler: ScriptHandler | undefined;
  private readonly open = new Set<ServerResponse>();
  private waiters: Array<() => void> = [];

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  /** Starts a server on 127.0.0.1, on `port` (default 0: a random free port). */
  static async start(opts: { port?: number } = {}): Promise<ScriptedModel> {
    let model: ScriptedModel | undefined;
    const server = createServer((req, res) => {
      void model?.handle(req, res);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? 0, '127.0.0.1', resolve);
    });
    const port = (server.address() as AddressInfo).port;
    model = new ScriptedModel(server, `http://127.0.0.1:${port}`);
    return model;
  }

  /** Adds replies to the global queue (consumed by requests that offer tools). */
  enqueue(...replies: ScriptedReply[]): this {
    this.queue.push(...replies);
    return this;
  }

  /** Replies for one SDK session (by `x-claude-code-session-id`), consumed before the global queue. */
  forSession(sessionId: string): { enqueue: (...replies: ScriptedReply[]) => void } {
    return {
      enqueue: (...replies) => {
        const q = this.sessionQueues.get(sessionId) ?? [];
        q.push(...replies);
        this.sessionQueues.set(sessionId, q);
      },
    };
  }

  /** Sets a handler consulted when no queued reply applies. */
  onRequest(handler: ScriptHandler | undefined): this {
    this.handler = handler;
    return this;
  }

  /** Messages API requests (POST /v1/messages), optionally for one session. */
  messageRequests(sessionId?: string): RecordedRequest[] {
    return this.requests.filter(
      (r) =>
        r.method === 'POST' && r.path.startsWith('/v1/messages') && (!sessionId || r.sessionId === sessionId),
    );
  }

  /** Resolves once at least `n` Messages API requests arrived (or rejects after `timeoutMs`). */
  async waitForRequests(n: number, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.messageRequests().length < n) {
      if (Date.now() > deadline)
        throw new Error(`expected ${n} model requests, got ${this.messageRequests().length}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  }

  /** Clears recorded requests and queued replies. */
  reset(): void {
    this.requests.length = 0;
    this.queue.length = 0;
    this.sessionQueues.clear();
    this.handler = undefined;
  }

  async close(): Promise<void> {
    for (const res of this.open) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    let body: Record<string, unknown> = {};
    try {
      body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
    } catch {
      body = {};
    }
    const path = req.url ?? '/';
    const header = (n: string) => {
      const v = req.headers[n];
      return Array.isArray(v) ? v[0] : v;
    };
    const auth = header('authorization');
    const rec: RecordedRequest = {
      method: req.method ?? 'GET',
      path,
      headers: { ...req.headers },
      sessionId: header('x-claude-code-session-id'),
      apiKey: header('x-api-key') ?? (auth?.startsWith('Bearer ') ? auth.slice(7) : undefined),
      body,
      model: typeof body.model === 'string' ? body.model : undefined,
      tools: Array.isArray(body.tools)
        ? body.tools.map((t) => String((t as { name?: unknown }).name ?? ''))
        : [],
      systemText: systemText(body.system),
      messages: Array.isArray(body.messages) ? (body.messages as RecordedRequest['messages']) : [],
      at: Date.now(),
    };
    this.requests.push(rec);
    for (const w of this.waiters.splice(0)) w();

    if (req.method === 'HEAD' || req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(req.method === 'GET' ? '{}' : undefined);
      return;
    }
    if (!path.startsWith('/v1/messages')) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ type: 'error', error: { type: 'not_found_error', message: 'not found' } }));
      return;
    }
    if (path.startsWith('/v1/messages/count_tokens')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ input_tokens: 10 }));
      return;
    }
    const reply = this.choose(rec);
    rec.reply = reply;
    await this.respond(rec, reply, res);
  }

  private choose(rec: RecordedRequest): ScriptedReply {
    if (rec.tools.length > 0) {
      const sq = rec.sessionId ? this.sessionQueues.get(rec.sessionId) : undefined;
      if (sq && sq.length > 0) return sq.shift()!;
      if (this.queue.length > 0) return this.queue.shift()!;
      const h = this.handler?.(rec);
      if (h) return h;
    }
    return defaultReply(rec);
  }

  private async respond(rec: RecordedRequest, reply: ScriptedReply, res: ServerResponse): Promise<void> {
    if ('error' in reply) {
      res.writeHead(reply.error.status, {
        'content-type': 'application/json',
        'request-id': `req_${randomUUID()}`,
      });
      res.end(
        JSON.stringify({
          type: 'error',
          error: { type: reply.error.type ?? 'api_error', message: reply.error.message ?? 'scripted error' },
        }),
      );
      return;
    }
    if (rec.body.stream !== true) {
      const body = nonStreaming(rec, reply);
      rec.reported = {
        id: body.id as string,
        usage: {
          input_tokens: 10,
          output_tokens: 5,
          cache_creation_input_tokens: 0,
          cache_read_input_tokens: 0,
        },
      };
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    this.open.add(res);
    res.on('close', () => this.open.delete(res));
    const send = (event: string, data: unknown) => {
      if (!res.destroyed) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    const usage = 'usage' in reply && reply.usage ? reply.usage : {};
    const msgId = `msg_${randomUUID().replace(/-/g, '').slice(0, 24)}`;
    rec.reported = {
      id: msgId,
      usage: {
        input_tokens: usage.input_tokens ?? 10,
        output_tokens: 'stall' in reply ? 1 : (usage.output_tokens ?? 5),
        cache_creation_input_tokens: usage.cache_creation_input_tokens ?? 0,
        cache_read_input_tokens: usage.cache_read_input_tokens ?? 0,
      },
    };
    send('message_start', {
      type: 'message_start',
      message: {
        id: msgId,
        type: 'message',
        role: 'assistant',
        model: rec.model ?? 'scripted-model',
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: {
          input_tokens: usage.input_tokens ?? 10,
          output_tokens: 1,
          cache_creation_input_tokens: usage.cache_creation_input_tokens ?? 0,
          cache_read_input_tokens: usage.cache_read_input_tokens ?? 0,
        },
      },
    });
    if ('stall' in reply) return; // keep the response open: the client's watchdog must act
    send('ping', { type: 'ping' });
    let index = 0;
    let stop: 'end_turn' | 'tool_use' = 'end_turn';
    const textBlock = async (text: string, parts: number, delayMs: number) => {
      send('content_block_start', {
        type: 'content_block_start',
        index,
        content_block: { type: 'text', text: '' },
      });
      for (const piece of split(text, parts)) {
        if (delayMs > 0) await sleep(delayMs);
        if (res.destroyed) return;
        send('content_block_delta', {
          type: 'content_block_delta',
          index,
          delta: { type: 'text_delta', text: piece },
        });
      }
      send('content_block_stop', { type: 'content_block_stop', index });
      index++;
    };
    if ('slow' in reply) {
      const text = reply.slow.text ?? 'slow ';
      send('content_block_start', {
        type: 'content_block_start',
        index,
        content_block: { type: 'text', text: '' },
      });
      for (let i = 0; i < reply.slow.deltas; i++) {
        await sleep(reply.slow.intervalMs);
        if (res.destroyed) return;
        send('content_block_delta', {
          type: 'content_block_delta',
          index,
          delta: { type: 'text_delta', text: reply.slow.stamp ? stampNow() : text },
        });
      }
      send('content_block_stop', { type: 'content_block_stop', index });
      index++;
    } else if ('toolUse' in reply) {
      if (reply.text) await textBlock(reply.text, 2, 0);
      const uses = Array.isArray(reply.toolUse) ? reply.toolUse : [reply.toolUse];
      for (const use of uses) {
        const id = use.id ?? `toolu_${randomUUID().replace(/-/g, '').slice(0, 24)}`;
        send('content_block_start', {
          type: 'content_block_start',
          index,
          content_block: { type: 'tool_use', id, name: use.name, input: {} },
        });
        const json = JSON.stringify(use.input ?? {});
        for (let i = 0; i < json.length; i += 64) {
          send('content_block_delta', {
            type: 'content_block_delta',
            index,
            delta: { type: 'input_json_delta', partial_json: json.slice(i, i + 64) },
          });
        }
        send('content_block_stop', { type: 'content_block_stop', index });
        index++;
      }
      stop = 'tool_use';
    } else {
      if (reply.thinking) {
        send('content_block_start', {
          type: 'content_block_start',
          index,
          content_block: { type: 'thinking', thinking: '', signature: '' },
        });
        for (const piece of split(reply.thinking, 3)) {
          send('content_block_delta', {
            type: 'content_block_delta',
            index,
            delta: { type: 'thinking_delta', thinking: piece },
          });
        }
        send('content_block_delta', {
          type: 'content_block_delta',
          index,
          delta: { type: 'signature_delta', signature: 'c2ln' },
        });
        send('content_block_stop', { type: 'content_block_stop', index });
        index++;
      }
      await textBlock(
        reply.text,
        reply.chunks ?? Math.min(8, Math.max(1, Math.ceil(reply.text.length / 8))),
        reply.delayMs ?? 0,
      );
    }
    if (res.destroyed) return;
    send('message_delta', {
      type: 'message_delta',
      delta: { stop_reason: stop, stop_sequence: null },
      usage: { output_tokens: usage.output_tokens ?? 5 },
    });
    send('message_stop', { type: 'message_stop' });
    res.end();
  }
}

/** Wall-clock time with sub-millisecond precision, ms since the epoch (comparable across processes). */
const wallNow = () => performance.timeOrigin + performance.now();

const stampNow = () => `⟨t=${wallNow().toFixed(3)}⟩`;

/**
 * The write time carried by a stamped delta (`slow.stamp`), ms since the epoch; undefined for
 * text without a stamp. Subtract it from {@link deltaStampNow} on receipt for the delta's latency.
 */
export function deltaStampMs(text: string): number | undefined {
  const m = /⟨t=(\d+\.\d+)⟩/.exec(text);
  return m ? Number(m[1]) : undefined;
}

/** The clock {@link deltaStampMs} is measured against, ms since the epoch. */
export const deltaStampNow = wallNow;

function defaultReply(rec: RecordedRequest): ScriptedReply {
  const last = [...rec.messages].reverse().find((m) => m.role === 'user');
  if (
    last &&
    Array.isArray(last.content) &&
    last.content.some((b) => (b as { type?: string }).type === 'tool_result')
  ) {
    return { text: 'Done.' };
  }
  return { text: `Echo: ${lastUserText(rec)}` };
}

/** The text of the last user message (after the SDK's `<system-reminder>` blocks). */
export function lastUserText(rec: Pick<RecordedRequest, 'messages'>): string {
  const last = [...rec.messages].reverse().find((m) => m.role === 'user');
  if (!last) return '';
  if (typeof last.content === 'string') return last.content;
  if (!Array.isArray(last.content)) return '';
  const texts = last.content
    .filter((b) => (b as { type?: string }).type === 'text')
    .map((b) => String((b as { text?: unknown }).text ?? ''))
    .filter((t) => !t.startsWith('<system-reminder>'));
  return texts[texts.length - 1] ?? '';
}

/** All text the request's messages contain (for "did the model see X" assertions). */
export function requestText(rec: Pick<RecordedRequest, 'messages'>): string {
  return JSON.stringify(rec.messages);
}

function systemText(system: unknown): string {
  if (typeof system === 'string') return system;
  if (!Array.isArray(system)) return '';
  return system.map((b) => String((b as { text?: unknown }).text ?? '')).join('\n');
}

function nonStreaming(rec: RecordedRequest, reply: ScriptedReply): Record<string, unknown> {
  const text = 'text' in reply && typeof reply.text === 'string' ? reply.text : 'ok';
  return {
    id: `msg_${randomUUID().replace(/-/g, '').slice(0, 24)}`,
    type: 'message',
    role: 'assistant',
    model: rec.model ?? 'scripted-model',
    content: [{ type: 'text', text }],
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage: { input_tokens: 10, output_tokens: 5 },
  };
}

function split(text: string, parts: number): string[] {
  if (parts <= 1 || text.length <= 1) return [text];
  const size = Math.ceil(text.length / parts);
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
