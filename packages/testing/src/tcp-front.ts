import { createServer, type Server, Socket } from 'node:net';

/**
 * A TCP front for a real service (Postgres, S3…) that tests switch into an outage: `forward`
 * (pipes to the service), `hang` (accepts connections and reads, never answers: a black-holed
 * host) or `closed` (not listening: connection refused). Every switch drops the open connections,
 * as a restart does (pooled keep-alive sockets would otherwise bypass it).
 */
export class TcpFront {
  /** The loopback port clients connect to (fixed after the first {@link listen}). */
  port = 0;
  private mode: 'forward' | 'hang' = 'forward';
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly upstreamPort: number) {}

  /** True while the front accepts connections (not `closed`). */
  get listening(): boolean {
    return this.server !== undefined;
  }

  /** Starts listening on loopback (the same port again after a `closed`). */
  async listen(): Promise<void> {
    this.server = createServer((client) => {
      this.track(client);
      if (this.mode === 'hang') {
        client.resume();
        return;
      }
      const upstream = new Socket();
      this.track(upstream);
      upstream.connect(this.upstreamPort, '127.0.0.1');
      client.pipe(upstream).pipe(client);
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
  }

  /** Switches to `mode`, dropping every open connection. */
  async set(mode: 'forward' | 'hang' | 'closed'): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    if (mode === 'closed') {
      await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
      this.server = undefined;
      return;
    }
    this.mode = mode;
    if (!this.server) await this.listen();
  }

  private track(s: Socket): void {
    this.sockets.add(s);
    s.on('close', () => this.sockets.delete(s));
    s.on('error', () => undefined);
  }
}
