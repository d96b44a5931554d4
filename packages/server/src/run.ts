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

/** What stderr says of a startup failure: its message, with the fix when it is a known one (no stack for expected ones). */
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
  // Node switched after the install (nvm): better-sqlite3's binary is for the old version.
  if (err instanceof Error && err.message.includes('NODE_MODULE_VERSION'))
    return `${err.message.split('\n')[0]}\nA native module was built for another Node.js version than this one (${process.version}): run \`npm rebuild better-sqlite3\` in the Ash checkout (or ./install.sh again) after switching Node.`;
  return String(err instanceof Error ? err.stack : err);
}
