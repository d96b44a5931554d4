#!/usr/bin/env node
/**
 * `ash-server` / `ash serve`: runs the server in the foreground until SIGINT/SIGTERM.
 */
import { ConfigError, loadConfig } from './config.js';
import { createAshServer } from './server.js';

export async function runServer(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const config = loadConfig(env);
  const server = await createAshServer(config);
  await server.listen();
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    server.logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), 15_000);
    force.unref();
    server
      .close()
      .then(() => process.exit(0))
      .catch(() => process.exit(1));
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

const isMain = import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('/ash-server');
if (isMain) {
  runServer().catch((err: unknown) => {
    const msg =
      err instanceof ConfigError || (err instanceof Error && err.name === 'SandboxUnavailableError')
        ? err.message
        : String(err instanceof Error ? err.stack : err);
    process.stderr.write(`ash-server: ${msg}\n`);
    process.exit(1);
  });
}
