import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

/** How long an idle turn-stream connection is kept (under the runner's 72 s keep-alive), ms. */
const IDLE_SOCKET_MS = 30_000;

/**
 * The keep-alive connections a coordinator opens turn streams on (`POST …/turns`, one NDJSON
 * response per turn) to one runner, on `node:http`/`node:https` rather than undici.
 *
 * Why: undici (7.2x) checks an idle keep-alive socket for one event-loop turn (a `setImmediate`)
 * before it writes the next request on it. A turn's request is made while the coordinator is
 * busiest (storing the user message and the turn's first events), so it left only after that
 * work: 2–7 ms at p50 on the path to the first text delta (bench/runners.mjs, profiled;
 * docs/benchmarks/2026-12-03-runners.md). `node:http` writes on a reused socket at the next
 * tick. The other runner calls stay on undici (they are not on that path).
 *
 * What the check guards against (bytes a peer sends on an idle connection being read as the
 * next answer) matters little here: each pool talks to one runner, which is authenticated by
 * the same secret for every request and whose answers the coordinator trusts anyway.
 * TLS: `https` URLs use Node's default trust store (NODE_EXTRA_CA_CERTS included), as undici does.
 */
export class TurnStreamPool {
  private readonly agent: HttpAgent;
  private readonly secure: boolean;

  /** @param base the runner's URL (its scheme picks http or https). */
  constructor(base: URL) {
    this.secure = base.protocol === 'https:';
    // `timeout` only closes idle (free) sockets: the agent ignores it on a socket in use, so a
    // turn silent for minutes (a long tool call) keeps its stream.
    const options = { keepAlive: true, maxSockets: 64, maxFreeSockets: 16, timeout: IDLE_SOCKET_MS };
    this.agent = this.secure ? new HttpsAgent(options) : new HttpAgent(options);
  }

  /**
   * POSTs `body` and resolves with the response once its head arrived (any status; the body is
   * the caller's to read). `signal` aborting destroys the request or the response stream (reads
   * then throw).
   * @param headersTimeoutMs give up when no response head arrived in this long (0 = never).
   * @throws Error when the runner cannot be reached, answers no head in time, or `signal` aborted
   *   before the head arrived.
   */
  post(
    url: URL,
    headers: Record<string, string>,
    body: string,
    signal: AbortSignal,
    headersTimeoutMs: number,
  ): Promise<IncomingMessage> {
    return new Promise<IncomingMessage>((resolve, reject) => {
      if (signal.aborted) {
        reject(new Error('aborted'));
        return;
      }
      const payload = Buffer.from(body);
      const req = (this.secure ? httpsRequest : httpRequest)(url, {
        method: 'POST',
        agent: this.agent,
        headers: { ...headers, 'content-length': String(payload.length) },
      });
      let timer: NodeJS.Timeout | undefined;
      const onAbort = (): void => {
        req.destroy(new Error('aborted'));
      };
      const cleanup = (): void => {
        if (timer) clearTimeout(timer);
        timer = undefined;
        signal.removeEventListener('abort', onAbort);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      if (headersTimeoutMs > 0)
        timer = setTimeout(
          () => req.destroy(new Error(`no answer within ${headersTimeoutMs} ms`)),
          headersTimeoutMs,
        );
      req.once('response', (res) => {
        if (timer) clearTimeout(timer);
        timer = undefined;
        // A read error surfaces in the caller's read; never as an unhandled 'error' event.
        res.on('error', () => undefined);
        // Aborting after the response ended must not destroy the socket (it is back in the pool).
        res.once('end', cleanup);
        res.once('close', cleanup);
        resolve(res);
      });
      req.on('error', (err) => {
        cleanup();
        reject(err);
      });
      // Head and body leave in one write; no Nagle delay behind an unacknowledged segment.
      req.setNoDelay(true);
      req.end(payload);
    });
  }

  /**
   * Closes the idle connections now and each one in use when its turn stream ends (as undici's
   * `close()`: a turn still streaming is not cut).
   */
  close(): void {
    for (const sockets of Object.values(this.agent.freeSockets)) for (const s of sockets ?? []) s.destroy();
    this.agent.on('free', (socket) => socket.destroy());
  }
}

/** A response body as text (for an error answer's problem details); '' when it cannot be read. */
export async function responseText(res: IncomingMessage): Promise<string> {
  try {
    const chunks: Buffer[] = [];
    for await (const chunk of res) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  } catch {
    return '';
  }
}
