import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { responseText, TurnStreamPool } from '../src/services/runners/turn-stream.js';

/**
 * The coordinator's turn-stream connections (node:http keep-alive, see turn-stream.ts) against a
 * real HTTP server: a reused connection, a response read as it streams, the headers timeout,
 * aborts, and a peer dying mid-stream (what the remote runner tests see as `runner_lost`).
 */
describe('TurnStreamPool', () => {
  const closers: Array<() => void> = [];
  afterEach(() => {
    for (const c of closers.splice(0)) c();
  });

  async function serve(handle: (body: string, res: ServerResponse, port: number) => void): Promise<URL> {
    const server: Server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => handle(body, res, req.socket.remotePort ?? 0));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closers.push(() => {
      server.closeAllConnections();
      server.close();
    });
    return new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/turns`);
  }

  function pool(url: URL): TurnStreamPool {
    const p = new TurnStreamPool(url);
    closers.push(() => p.close());
    return p;
  }

  it('streams a response as it is written and reuses the connection for the next turn', async () => {
    const url = await serve((body, res, port) => {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      res.write(`${JSON.stringify({ got: body, port })}\n`);
      setTimeout(() => res.end('{"ev":"end"}\n'), 20);
    });
    const p = pool(url);
    const ports: number[] = [];
    for (const turn of ['one', 'two']) {
      const res = await p.post(
        url,
        { 'content-type': 'application/json' },
        turn,
        new AbortController().signal,
        5_000,
      );
      expect(res.statusCode).toBe(200);
      const text = await responseText(res);
      const [first, last] = text
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(first.got).toBe(turn);
      expect(last).toEqual({ ev: 'end' });
      ports.push(first.port);
    }
    // The second turn went over the first one's connection (same client port).
    expect(ports[1]).toBe(ports[0]);
  });

  it('gives up when no response head arrives in time', async () => {
    const url = await serve(() => undefined);
    const p = pool(url);
    await expect(p.post(url, {}, 'x', new AbortController().signal, 200)).rejects.toThrow(
      /no answer within 200 ms/,
    );
  });

  it('an abort mid-stream ends the read with an error; an abort before sending refuses', async () => {
    const url = await serve((_b, res) => {
      res.writeHead(200);
      res.write('{"ev":"a"}\n');
    });
    const p = pool(url);
    const abort = new AbortController();
    const res = await p.post(url, {}, 'x', abort.signal, 5_000);
    const read = (async () => {
      for await (const _ of res) abort.abort();
    })();
    await expect(read).rejects.toThrow();
    await expect(p.post(url, {}, 'x', abort.signal, 5_000)).rejects.toThrow(/aborted/);
  });

  it('a peer that dies mid-stream makes the read throw (not end quietly)', async () => {
    const url = await serve((_b, res) => {
      res.writeHead(200);
      res.write('{"ev":"a"}\n', () => setTimeout(() => res.socket?.destroy(), 20));
    });
    const p = pool(url);
    const res = await p.post(url, {}, 'x', new AbortController().signal, 5_000);
    const read = (async () => {
      for await (const _ of res) {
        // reading until the peer goes away
      }
    })();
    await expect(read).rejects.toThrow(/aborted/);
  });

  it('close() lets a streaming turn finish, then closes its connection', async () => {
    let closed = false;
    const url = await serve((_b, res) => {
      res.socket?.once('close', () => (closed = true));
      res.writeHead(200);
      res.write('{"ev":"a"}\n');
      setTimeout(() => res.end('{"ev":"b"}\n'), 100);
    });
    const p = pool(url);
    const res = await p.post(url, {}, 'x', new AbortController().signal, 5_000);
    p.close();
    expect((await responseText(res)).trim().split('\n')).toEqual(['{"ev":"a"}', '{"ev":"b"}']);
    // Well before the server's own keep-alive timeout (5 s) would close it.
    await expect.poll(() => closed, { timeout: 2_000 }).toBe(true);
  });

  it('answers an error status with its body readable', async () => {
    const url = await serve((_b, res) => {
      res.writeHead(409, { 'content-type': 'application/problem+json' });
      res.end('{"code":"session_busy","detail":"busy"}');
    });
    const p = pool(url);
    const res = await p.post(url, {}, 'x', new AbortController().signal, 5_000);
    expect(res.statusCode).toBe(409);
    expect(JSON.parse(await responseText(res))).toEqual({ code: 'session_busy', detail: 'busy' });
  });
});
