import { chmodSync, chownSync, rmSync } from 'node:fs';
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { Dispatcher } from 'undici';
import type { Logger } from './logger.js';

/** Token usage of one model response, from the Messages API's own `usage` fields. */
export interface ModelCallUsage {
  /** The API message id (`msg_…`): the deduplication key. */
  messageId: string;
  model: string;
  inputTokens: number;
  outputTokens: number;
  cacheCreationInputTokens: number;
  cacheReadInputTokens: number;
}

/** What the proxy saw of one forwarded model call (for traces and metrics). */
export interface ModelCallOutcome {
  /** Upstream HTTP status; 0 when the upstream could not be reached. */
  status: number;
  /** The model the response names (else the one requested, when known). */
  model: string | undefined;
  usage: ModelCallUsage | undefined;
  /** From forwarding the request to the first text/tool delta of a stream (or the whole body), ms. */
  timeToFirstTokenMs: number | undefined;
  /** From forwarding the request to the end of the response, ms. */
  durationMs: number;
}

/**
 * Watches one model call: `headers` are added to the upstream request (e.g. W3C `traceparent`),
 * `end` is called once when the response ended (or failed).
 */
export interface ModelCallObserver {
  headers?: Record<string, string>;
  end(outcome: ModelCallOutcome): void;
}

/** Why the proxy refuses a model call: answered as `{type:'error', error:{type, message}}` with `status`. */
export interface ModelCallRefusal {
  status: number;
  type: string;
  message: string;
}

export interface ModelProxyOptions {
  /** Unix socket to listen on. */
  socketPath: string;
  /**
   * Base URL of the Messages API (default https://api.anthropic.com); a base path is kept
   * (`https://coordinator/api/internal/gateway` forwards to `…/gateway/v1/messages`). A function
   * is asked at each call (a runner moves its sandboxes' model traffic to another coordinator's
   * gateway when the first one is gone).
   */
  upstreamUrl: string | (() => string);
  /** The API key to add to each request; `undefined` forwards without one. Called per request. */
  resolveApiKey: () => string | undefined;
  /** Give the socket to this uid/gid (the sandbox's host uid) so the sandbox can connect. */
  socketOwner?: { uid: number; gid: number };
  /** Called once per completed model response with its usage. */
  onUsage?: (usage: ModelCallUsage) => void;
  /**
   * Asked before each Messages API call is forwarded; a refusal is answered locally with an
   * Anthropic-style error (e.g. a spending budget reached) and nothing reaches the upstream.
   */
  admit?: () => Promise<ModelCallRefusal | undefined>;
  /** Shared upstream connection pool (else undici's global one). */
  dispatcher?: UpstreamPool;
  /** Called as each admitted Messages API call is forwarded; see {@link ModelCallObserver}. */
  observe?: () => ModelCallObserver | undefined;
  log: Logger;
}

// Hop-by-hop and credential headers never forwarded (RFC 9110 §7.6.1 plus the auth headers we replace).
const DROP_REQUEST = new Set([
  'host',
  'connection',
  'keep-alive',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'upgrade',
  'x-api-key',
  'authorization',
  'accept-encoding',
]);
const DROP_RESPONSE = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'trailer',
  'upgrade',
  'proxy-authenticate',
]);

/**
 * The host-side Messages API proxy of one sandbox. The Claude process inside the sandbox holds only
 * a placeholder key and reaches the model through this socket (`ANTHROPIC_UNIX_SOCKET`); the proxy
 * replaces the credentials with the real key and forwards to the upstream API, metering usage from
 * the responses as they stream by.
 */
export class ModelProxy {
  private constructor(
    private readonly server: Server,
    private readonly opts: ModelProxyOptions,
  ) {}

  /** Starts listening. @throws when the socket cannot be bound. */
  static async listen(opts: ModelProxyOptions): Promise<ModelProxy> {
    rmSync(opts.socketPath, { force: true });
    let proxy: ModelProxy | undefined;
    const server = createServer((req, res) => {
      void proxy?.handle(req, res);
    });
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.socketPath, () => resolve());
    });
    chmodSync(opts.socketPath, 0o600);
    if (opts.socketOwner) chownSync(opts.socketPath, opts.socketOwner.uid, opts.socketOwner.gid);
    proxy = new ModelProxy(server, opts);
    return proxy;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    rmSync(this.opts.socketPath, { force: true });
  }

  private handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    return handleModelCall(req, res, req.url ?? '/', this.opts);
  }
}

/** How one model call is handled: the upstream, the key, metering, admission and tracing. */
export type ModelCallHandlerOptions = Pick<
  ModelProxyOptions,
  'upstreamUrl' | 'resolveApiKey' | 'onUsage' | 'admit' | 'dispatcher' | 'observe' | 'log'
>;

/**
 * Handles one request of a sandbox's model traffic: the Messages API only (anything else 404),
 * admitted (`admit`), the real key added, forwarded to the upstream, the response streamed back
 * while its usage is metered (`onUsage`) and the call observed (`observe`). Used by each
 * sandbox's {@link ModelProxy} and by the server's model gateway (a remote runner's sandboxes),
 * so both meter and refuse alike. Never throws: failures are answered as Anthropic-style errors.
 * @param rawTarget the request target relative to the Messages API root (`/v1/messages?beta=true`).
 */
export async function handleModelCall(
  req: IncomingMessage,
  res: ServerResponse,
  rawTarget: string,
  opts: ModelCallHandlerOptions,
): Promise<void> {
  const path = rawTarget;
  // The SDK's preconnect probe; answered locally.
  if (req.method === 'HEAD' || (req.method === 'GET' && path.startsWith('/api/hello'))) {
    res.writeHead(200).end();
    return;
  }
  const target = req.method === 'POST' ? messagesApiTarget(path) : undefined;
  if (!target) {
    sendApiError(res, 404, 'not_found_error', 'only the Messages API is reachable from a sandbox');
    req.resume();
    return;
  }
  // A request of known, bounded size (every Messages API call the CLI makes: one JSON body, sent
  // at once) is read while the call is admitted and forwarded as one buffer: undici then writes
  // it with the headers, where relaying the stream cost milliseconds per call. Larger or unsized
  // bodies are streamed through.
  const length = Number(req.headers['content-length']);
  const buffered =
    Number.isSafeInteger(length) && length >= 0 && length <= BUFFERED_BODY_MAX_BYTES
      ? readBody(req, length)
      : undefined;
  buffered?.catch(() => undefined);
  const refusal = await opts.admit?.().catch(() => undefined);
  if (refusal) {
    req.resume();
    sendApiError(res, refusal.status, refusal.type, refusal.message);
    return;
  }
  const headers = forwardHeaders(req.headers);
  const key = opts.resolveApiKey();
  if (key) headers['x-api-key'] = key;
  let observer: ModelCallObserver | undefined;
  try {
    observer = opts.observe?.();
  } catch {
    observer = undefined;
  }
  if (observer?.headers) Object.assign(headers, observer.headers);
  const startedAt = performance.now();
  let upstream: Dispatcher.ResponseData;
  try {
    const base = typeof opts.upstreamUrl === 'function' ? opts.upstreamUrl() : opts.upstreamUrl;
    const body = buffered ? await buffered : req;
    const { request } = await import('undici');
    upstream = await request(upstreamTarget(base, target), {
      method: 'POST',
      headers,
      body,
      dispatcher: await opts.dispatcher?.get(),
      headersTimeout: 600_000,
      bodyTimeout: 0,
    });
  } catch (err) {
    opts.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'model upstream unreachable');
    sendApiError(res, 502, 'api_error', 'the model API could not be reached');
    observer?.end({
      status: 0,
      model: undefined,
      usage: undefined,
      timeToFirstTokenMs: undefined,
      durationMs: performance.now() - startedAt,
    });
    return;
  }
  const outHeaders: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(upstream.headers)) {
    if (v !== undefined && !DROP_RESPONSE.has(k.toLowerCase())) outHeaders[k] = v;
  }
  res.writeHead(upstream.statusCode, outHeaders);
  const contentType = String(upstream.headers['content-type'] ?? '');
  const meter =
    upstream.statusCode < 300 && (opts.onUsage || observer)
      ? new UsageMeter(contentType.includes('event-stream'), startedAt)
      : undefined;
  res.on('close', () => {
    if (!res.writableFinished) upstream.body.destroy();
  });
  try {
    for await (const chunk of upstream.body) {
      // Forwarded before it is metered: the meter parses the chunk's events, Claude need not wait.
      const flowing = res.write(chunk);
      meter?.push(chunk as Buffer);
      if (!flowing) await new Promise<void>((resolve) => res.once('drain', resolve));
      if (res.destroyed) break;
    }
    res.end();
  } catch {
    res.destroy();
  }
  const usage = meter?.finish();
  if (usage && opts.onUsage) opts.onUsage(usage);
  const durationMs = performance.now() - startedAt;
  try {
    observer?.end({
      status: upstream.statusCode,
      model: usage?.model || undefined,
      usage,
      timeToFirstTokenMs: meter?.firstTokenMs ?? (meter && !meter.streaming ? durationMs : undefined),
      durationMs,
    });
  } catch {
    // observers never break a model call
  }
}

/** Request bodies up to this size are read whole before they are forwarded (see handleModelCall). */
const BUFFERED_BODY_MAX_BYTES = 32 * 1024 * 1024;

/**
 * A request's whole body (`length` bytes, its Content-Length).
 * @throws Error when the request ends early, is aborted, or sends more than it announced.
 */
function readBody(req: IncomingMessage, length: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > length) req.destroy(new Error('the request body is longer than its Content-Length'));
      else chunks.push(c);
    });
    req.once('end', () =>
      size === length
        ? resolve(Buffer.concat(chunks, size))
        : reject(new Error('the request body ended early')),
    );
    req.once('error', reject);
    req.once('close', () => reject(new Error('the request was aborted')));
  });
}

function forwardHeaders(h: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined || DROP_REQUEST.has(k.toLowerCase())) continue;
    out[k] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}

function sendApiError(res: ServerResponse, status: number, type: string, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ type: 'error', error: { type, message } }));
}

/**
 * Reads usage out of a Messages API response as it passes: `message_start.message.usage` and
 * `message_delta.usage` for streams (Anthropic streaming docs: the delta's output_tokens are
 * cumulative), or the body's `usage` for JSON replies.
 */
class UsageMeter {
  private text = '';
  private usage: ModelCallUsage | undefined;
  private readonly decoder = new TextDecoder();
  /** When the first content delta arrived, ms after the request was forwarded. */
  firstTokenMs: number | undefined;

  constructor(
    readonly streaming: boolean,
    private readonly startedAt: number,
  ) {}

  push(chunk: Buffer): void {
    this.text += this.decoder.decode(chunk, { stream: true });
    if (!this.streaming) return;
    let idx = this.text.indexOf('\n');
    while (idx !== -1) {
      const line = this.text.slice(0, idx).trim();
      this.text = this.text.slice(idx + 1);
      if (line.startsWith('data:')) this.onData(line.slice(5).trim());
      idx = this.text.indexOf('\n');
    }
  }

  finish(): ModelCallUsage | undefined {
    if (!this.streaming) {
      try {
        const body = JSON.parse(this.text) as { id?: string; model?: string; usage?: Record<string, number> };
        if (body.id && body.usage) this.usage = fromUsage(body.id, body.model ?? '', body.usage);
      } catch {
        return undefined;
      }
    }
    return this.usage;
  }

  private onData(json: string): void {
    let ev: {
      type?: string;
      message?: { id?: string; model?: string; usage?: Record<string, number> };
      usage?: Record<string, number>;
    };
    try {
      ev = JSON.parse(json);
    } catch {
      return;
    }
    if (ev.type === 'content_block_delta' && this.firstTokenMs === undefined)
      this.firstTokenMs = performance.now() - this.startedAt;
    if (ev.type === 'message_start' && ev.message?.id) {
      this.usage = fromUsage(ev.message.id, ev.message.model ?? '', ev.message.usage ?? {});
    } else if (ev.type === 'message_delta' && this.usage && ev.usage) {
      const u = ev.usage;
      if (typeof u.output_tokens === 'number') this.usage.outputTokens = u.output_tokens;
      if (typeof u.input_tokens === 'number') this.usage.inputTokens = u.input_tokens;
      if (typeof u.cache_creation_input_tokens === 'number')
        this.usage.cacheCreationInputTokens = u.cache_creation_input_tokens;
      if (typeof u.cache_read_input_tokens === 'number')
        this.usage.cacheReadInputTokens = u.cache_read_input_tokens;
    }
  }
}

function fromUsage(messageId: string, model: string, u: Record<string, number>): ModelCallUsage {
  return {
    messageId,
    model,
    inputTokens: u.input_tokens ?? 0,
    outputTokens: u.output_tokens ?? 0,
    cacheCreationInputTokens: u.cache_creation_input_tokens ?? 0,
    cacheReadInputTokens: u.cache_read_input_tokens ?? 0,
  };
}

/**
 * A connection pool for upstream model calls, shared by every proxy of a process. undici (a
 * megabyte of JavaScript) is loaded with the first call, not when the server starts.
 */
export class UpstreamPool {
  private agent: Promise<Dispatcher> | undefined;

  /** The pool's dispatcher, created on first use. */
  get(): Promise<Dispatcher> {
    this.agent ??= import('undici').then(
      ({ Agent }) => new Agent({ keepAliveTimeout: 30_000, connections: 64 }),
    );
    return this.agent;
  }

  /** Closes the pool's connections (nothing to do when it was never used). Never rejects. */
  async close(): Promise<void> {
    if (!this.agent) return;
    await (await this.agent).close().catch(() => undefined);
  }
}

/** A connection pool for upstream model calls, shared by every proxy of a process. */
export function createUpstreamDispatcher(): UpstreamPool {
  return new UpstreamPool();
}

/**
 * The upstream URL of a request: `target` (an absolute path with its query, from
 * {@link messagesApiTarget}) appended to `base`, keeping the base's own path (a gateway under a
 * path prefix), where `new URL(target, base)` would drop it.
 */
export function upstreamTarget(base: string, target: string): URL {
  const url = new URL(base);
  const q = target.indexOf('?');
  url.pathname = `${url.pathname.replace(/\/+$/, '')}${q < 0 ? target : target.slice(0, q)}`;
  url.search = q < 0 ? '' : target.slice(q);
  return url;
}

/** Paths of the Messages API a sandbox may call (exact, after nothing is normalised). */
const MESSAGES_API_PATHS = new Set(['/v1/messages', '/v1/messages/count_tokens']);

/**
 * The upstream path for a sandbox request, or undefined when it is not the Messages API. The
 * raw request target must be exactly an allowed path, optionally with a plain query string
 * (the SDK sends `?beta=true`): no `..`, `%2e`, `//` or other spelling that a URL parser would
 * resolve to another endpoint (the operator's key would otherwise reach `/v1/files`, batches…,
 * unmetered).
 * @param rawTarget the request line's target (`req.url`).
 */
export function messagesApiTarget(rawTarget: string): string | undefined {
  const q = rawTarget.indexOf('?');
  const path = q < 0 ? rawTarget : rawTarget.slice(0, q);
  const query = q < 0 ? '' : rawTarget.slice(q + 1);
  if (!MESSAGES_API_PATHS.has(path)) return undefined;
  if (!/^[A-Za-z0-9_.=&-]*$/.test(query)) return undefined;
  return query ? `${path}?${query}` : path;
}
