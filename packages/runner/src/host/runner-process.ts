import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { createSecureContext } from 'node:tls';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { buildRunnerApp } from './app.js';
import type { RunnerHostConfig } from './config.js';
import { CoordinatorLink } from './coordinator-link.js';
import type { LogSecrets } from './logger.js';
import { RunnerMetrics } from './metrics.js';
import { Registration } from './registration.js';
import { RunnerHost } from './runner-host.js';
import { createSandboxHost } from '../sandbox-host.js';

/** The version of @ash-ai/runner (reported to coordinators). */
export function runnerVersion(): string {
  const require = createRequire(import.meta.url);
  return (require('@ash-ai/runner/package.json') as { version: string }).version;
}

/** A started runner process: its API listening, registered (or registering) with its coordinators. */
export interface RunningRunner {
  url: string;
  host: RunnerHost;
  app: FastifyInstance;
  registration: Registration;
  /**
   * Stops for good: sessions released with checkpoints (turns in flight end), sandboxes
   * stopped, deregistered from every coordinator, the API closed. Idempotent.
   */
  close(): Promise<void>;
}

/**
 * Starts `ash runner`: the sandbox host (manager + pool), the API on `config.port`, and the
 * registration loops. The URL coordinators call is `config.advertiseUrl`, else the bound address.
 * @throws SandboxUnavailableError (isolation missing), or the listen error.
 */
export async function startRunner(
  config: RunnerHostConfig,
  log: Logger,
  secrets: LogSecrets,
): Promise<RunningRunner> {
  const startedAt = Date.now();
  const version = runnerVersion();
  // Read first: a missing or bad certificate stops the start before any sandbox exists.
  const tls = config.tls && (await readTls(config.tls));
  const { manager, runner, paths } = await createSandboxHost(config, {
    groupPrefix: 'ash-r',
    // Never used: each start names its coordinator's gateway (a sandbox without one reaches nothing).
    modelUpstreamUrl: 'http://127.0.0.1:9',
    // No egress CA: sessions with credential bindings are never placed on a runner.
    log,
  });
  manager.refillIdleBridges();
  runner.start();
  for (const w of manager.info.warnings) log.warn(w);
  const metrics = new RunnerMetrics();
  const link = new CoordinatorLink({
    runnerId: config.name,
    secret: config.internalSecret,
    requestTimeoutMs: config.requestTimeoutMs,
    transferTimeoutMs: config.transferTimeoutMs,
  });
  const host: RunnerHost = new RunnerHost({
    runnerId: config.name,
    labels: config.labels,
    version,
    manager,
    runner,
    paths,
    link,
    metrics,
    secrets,
    log,
    reservationTtlMs: config.reservationTtlMs,
    maxCheckoutBytes: config.maxCheckoutBytes,
    turnHoldMs: config.turnHoldMs,
    turnBufferBytes: config.turnBufferBytes,
    coordinators: config.coordinators,
    pickCoordinator: (preferred: string): string => registration.pick(preferred),
  });
  const registration: Registration = new Registration({
    runnerId: config.name,
    coordinators: config.coordinators,
    labels: config.labels,
    link,
    heartbeatMs: config.heartbeatMs,
    report: () => host.report(),
    onForeign: (ids, reported) => host.stopForeign(ids, reported),
    onDrain: () => void host.drain(),
    metrics,
    log,
  });
  let app: FastifyInstance;
  try {
    app = buildRunnerApp({ host, registration, metrics, secret: config.internalSecret, log, startedAt, tls });
    await app.listen({ port: config.port, host: config.host });
  } catch (err) {
    await runner.shutdown();
    await manager.close();
    throw err;
  }
  const addr = app.server.address() as AddressInfo;
  const listenHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url =
    config.advertiseUrl ??
    `${config.tls ? 'https' : 'http'}://${listenHost === '0.0.0.0' || listenHost === '[::]' ? '127.0.0.1' : listenHost}:${addr.port}`;
  host.url = url;
  registration.start();
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      await host.shutdown().catch((err: unknown) => log.error({ err: String(err) }, 'shutdown failed'));
      await registration.stop(true);
      await app.close();
      await link.close();
    })();
    return closing;
  };
  return { url, host, app, registration, close };
}

/**
 * Reads the API's PEM certificate and key.
 * @throws Error naming the file that cannot be read, or saying the pair is not a valid PEM pair.
 */
async function readTls(paths: { certPath: string; keyPath: string }): Promise<{ cert: Buffer; key: Buffer }> {
  const read = async (what: string, path: string) => {
    try {
      return await readFile(path);
    } catch (err) {
      throw new Error(
        `cannot read the TLS ${what} ${path}: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  };
  const [cert, key] = await Promise.all([read('certificate', paths.certPath), read('key', paths.keyPath)]);
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    throw new Error(
      `the TLS certificate ${paths.certPath} and key ${paths.keyPath} do not make a valid pair: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  return { cert, key };
}
