import { parseArgs } from 'node:util';
import { runServerForeground } from './server-bin.js';

/** The flags of `ash serve`. */
export interface ServeOptions {
  port?: string;
  host?: string;
}

/**
 * Runs the server in the foreground with the flags applied over `ASH_PORT` / `ASH_HOST` (an empty
 * flag is ignored); resolves with the exit code to use (128 + n when it ended by signal n).
 */
export function runServe(opts: ServeOptions): Promise<number> {
  return runServerForeground({
    ...process.env,
    ...(opts.port ? { ASH_PORT: opts.port } : {}),
    ...(opts.host ? { ASH_HOST: opts.host } : {}),
  });
}

/**
 * The flags after `ash serve` when they are only `-p/--port` and `--host` with a value, read
 * without loading the command tree (commander, the SDK and its schemas: a quarter of a second
 * before the server even starts); undefined for anything else (`--help`, a stray argument, a
 * missing value), which the full command tree then handles with its usual messages.
 */
export function quickServeArgs(args: string[]): ServeOptions | undefined {
  try {
    const { values } = parseArgs({
      args,
      options: { port: { type: 'string', short: 'p' }, host: { type: 'string' } },
      strict: true,
      allowPositionals: false,
    });
    return {
      ...(values.port !== undefined ? { port: values.port } : {}),
      ...(values.host !== undefined ? { host: values.host } : {}),
    };
  } catch {
    return undefined;
  }
}
