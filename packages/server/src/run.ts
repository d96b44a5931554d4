import { ConfigError, loadConfig } from './config.js';
import { createAshServer } from './server.js';

/**
 * Runs the server in the foreground until SIGINT/SIGTERM (then stops sandboxes and exits).
 * @throws ConfigError for an invalid environment; PriceTableError for an unusable ASH_PRICES_FILE;
 * SandboxUnavailableError when isolation is missing.
 */
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

/** One line for stderr describing a startup failure (no stack for expected ones). */
export function startupErrorMessage(err: unknown): string {
  if (err instanceof ConfigError) return err.message;
  if (
    err instanceof Error &&
    [
      'SandboxUnavailableError',
      'SandboxStartError',
      'PriceTableError',
      'ApiKeyConfigError',
      'DataDirLockedError',
      'StartupCheckError',
    ].includes(err.name)
  )
    return err.message;
  if (err instanceof Error && 'code' in err && err.code === 'EADDRINUSE')
    return `${err.message}: the port is taken (set ASH_PORT)`;
  return String(err instanceof Error ? err.stack : err);
}
