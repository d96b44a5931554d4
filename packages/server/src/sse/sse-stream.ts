import { PassThrough } from 'node:stream';
import type { FastifyReply } from 'fastify';
import { encodeSseComment, encodeSseFrame, type StreamEvent } from '@ash-ai/shared';

/** Headers of every SSE response: no caching, no transformation, no proxy buffering (nginx). */
export const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  'x-accel-buffering': 'no',
  connection: 'keep-alive',
} as const;

export interface SseOptions {
  /** Send a comment when nothing was written for this long, ms (counted from the last write). */
  heartbeatMs: number;
  /** A client that does not drain its socket for this long is disconnected, ms. */
  writeTimeoutMs?: number;
}

/**
 * Streams `events` to the client as SSE frames (`id:` = event sequence); `{ comment }` items
 * become comment frames (`: text`, transient notices such as the start-queue position). Honours backpressure:
 * when the socket buffer is full it waits for `drain` (never queues unboundedly); a client that
 * does not drain within `writeTimeoutMs` is dropped. A client that disconnects stops the
 * iteration (`return()` is called) and nothing else: the turn goes on and can be rejoined.
 */
export function sendSse(
  reply: FastifyReply,
  events: AsyncIterable<StreamEvent | { comment: string }>,
  opts: SseOptions,
): FastifyReply {
  const body = new PassThrough({ highWaterMark: 64 * 1024 });
  reply.headers(SSE_HEADERS);
  const raw = reply.raw;
  let closed = false;
  let onClosed: () => void = () => undefined;
  const closedPromise = new Promise<'closed'>((resolve) => {
    onClosed = () => {
      closed = true;
      resolve('closed');
    };
  });
  raw.once('close', onClosed);
  body.once('close', onClosed);
  // The heartbeat is scheduled from the last write (re-armed by every write), so a silent gap
  // is at most `heartbeatMs` — a polling interval would add up to one period on top.
  const heartbeat = setTimeout(
    () => {
      if (!closed) write(encodeSseComment('ping'));
    },
    Math.max(50, opts.heartbeatMs),
  );
  heartbeat.unref();
  const write = (chunk: string): boolean => {
    const ok = body.write(chunk);
    heartbeat.refresh();
    return ok;
  };
  const writeTimeoutMs = opts.writeTimeoutMs ?? 30_000;
  void (async () => {
    const it = events[Symbol.asyncIterator]();
    try {
      while (!closed) {
        const next = await Promise.race([it.next(), closedPromise]);
        if (next === 'closed' || next.done) break;
        const ev = next.value;
        const frame =
          'comment' in ev
            ? encodeSseComment(ev.comment)
            : encodeSseFrame({ id: ev.id, event: ev.event, data: JSON.stringify(ev.data) });
        if (!write(frame)) {
          let timer: NodeJS.Timeout | undefined;
          const drained = await Promise.race([
            new Promise<'drain'>((resolve) => body.once('drain', () => resolve('drain'))),
            closedPromise,
            new Promise<'timeout'>((resolve) => {
              timer = setTimeout(() => resolve('timeout'), writeTimeoutMs);
            }),
          ]);
          clearTimeout(timer);
          if (drained === 'timeout') {
            body.destroy();
            break;
          }
        }
      }
    } catch (err) {
      reply.log.warn({ err }, 'SSE stream failed');
    } finally {
      clearTimeout(heartbeat);
      await it.return?.();
      if (!body.destroyed) body.end();
    }
  })();
  return reply.send(body);
}
