import { AshApiError, AshConnectionError, AshError, AshTimeoutError } from './errors.js';

/** Options of an {@link HttpClient}. */
export interface HttpClientOptions {
  /** Base URL of the Ash server, e.g. `http://localhost:4100`. */
  serverUrl: string;
  /** API key sent as `Authorization: Bearer <key>`. */
  apiKey?: string | undefined;
  /** Timeout for non-streaming requests, ms (default 60000). Streams have no overall timeout. */
  timeoutMs?: number;
  /** A `fetch` implementation (default the global one). */
  fetch?: typeof fetch;
  /** Headers added to every request. */
  defaultHeaders?: Record<string, string>;
}

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  /** A binary body sent as is (instead of `body` as JSON). */
  binaryBody?: { data: Uint8Array; contentType: string };
  /**
   * A body streamed from a ReadableStream (never held in memory whole), with its exact length
   * when known (sent as `Content-Length`, so the server can refuse an oversized body at once).
   */
  streamBody?: { stream: ReadableStream<Uint8Array>; contentType: string; length?: number };
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Return the raw Response (for streams and downloads) instead of parsed JSON. */
  raw?: boolean;
  /** Overrides the client's `timeoutMs` for this request. */
  timeoutMs?: number;
}

/** Thin JSON-over-HTTP transport: auth header, timeouts, problem-details errors. */
export class HttpClient {
  readonly serverUrl: string;
  private readonly fetchImpl: typeof fetch;

  /** @throws AshError `invalid_server_url` when `serverUrl` is not an http(s) URL. */
  constructor(private readonly opts: HttpClientOptions) {
    this.serverUrl = opts.serverUrl.replace(/\/+$/, '');
    let parsed: URL | undefined;
    try {
      parsed = new URL(this.serverUrl);
    } catch {
      parsed = undefined;
    }
    if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:'))
      throw new AshError(
        `the server URL '${opts.serverUrl}' is not a valid http(s) URL (e.g. http://localhost:4100)`,
        'invalid_server_url',
      );
    this.fetchImpl = opts.fetch ?? globalThis.fetch.bind(globalThis);
  }

  url(path: string, query?: RequestOptions['query']): string {
    const u = new URL(this.serverUrl + path);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) u.searchParams.set(k, String(v));
    return u.toString();
  }

  /**
   * Sends a request. Resolves to the parsed JSON body (or the Response with `raw`).
   * @throws AshApiError (a subclass per status) on an error status; AshConnectionError when the
   * server is unreachable; AshTimeoutError after `timeoutMs`.
   */
  async request<T>(method: string, path: string, o: RequestOptions = {}): Promise<T> {
    const headers: Record<string, string> = {
      accept: o.raw ? '*/*' : 'application/json',
      ...this.opts.defaultHeaders,
      ...o.headers,
    };
    if (this.opts.apiKey && !Object.keys(headers).some((h) => h.toLowerCase() === 'authorization'))
      headers.authorization = `Bearer ${this.opts.apiKey}`;
    // An empty Authorization header means: send none.
    for (const h of Object.keys(headers))
      if (h.toLowerCase() === 'authorization' && !headers[h]) delete headers[h];
    let body: string | Uint8Array | ReadableStream<Uint8Array> | undefined;
    if (o.streamBody) {
      headers['content-type'] = o.streamBody.contentType;
      if (o.streamBody.length !== undefined) headers['content-length'] = String(o.streamBody.length);
      body = o.streamBody.stream;
    } else if (o.binaryBody) {
      headers['content-type'] = o.binaryBody.contentType;
      body = o.binaryBody.data;
    } else if (o.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(o.body);
    }
    // Uploads of unknown duration and raw responses have no overall timeout.
    const timeoutMs = o.timeoutMs ?? this.opts.timeoutMs ?? 60_000;
    const timeout = o.raw || o.streamBody ? undefined : AbortSignal.timeout(timeoutMs);
    const url = this.url(path, o.query);
    const signal = o.signal && timeout ? AbortSignal.any([o.signal, timeout]) : (o.signal ?? timeout);
    let res: Response;
    try {
      res = await this.fetchImpl(url, {
        method,
        headers,
        body: body as BodyInit,
        signal,
        ...(o.streamBody ? { duplex: 'half' } : {}),
      } as RequestInit);
    } catch (err) {
      if (timeout?.aborted) throw new AshTimeoutError(`${method} ${path} timed out after ${timeoutMs} ms`);
      if (o.signal?.aborted) throw err;
      // A streamed body that failed to read (a local file) is the caller's error, not the network's.
      for (let c: unknown = err; c instanceof Error; c = (c as { cause?: unknown }).cause)
        if (c instanceof AshError) throw c;
      throw new AshConnectionError(`cannot reach the Ash server at ${this.serverUrl}: ${describe(err)}`, err);
    }
    if (!res.ok) {
      let errBody: unknown;
      try {
        errBody = await res.json();
      } catch {
        errBody = undefined;
      }
      throw AshApiError.from(res.status, errBody, res.headers);
    }
    if (o.raw) return res as T;
    if (res.status === 204) return undefined as T;
    return (await res.json()) as T;
  }
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    return cause?.code ?? cause?.message ?? err.message;
  }
  return String(err);
}
