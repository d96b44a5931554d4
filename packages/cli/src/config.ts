import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** `~/.ash` or `ASH_DATA_DIR`: the server's data dir and the CLI's config (config.json). */
export function ashHome(env: NodeJS.ProcessEnv = process.env): string {
  const d = env.ASH_DATA_DIR;
  if (d) return d.startsWith('~/') ? join(homedir(), d.slice(2)) : d;
  return join(homedir(), '.ash');
}

/** What the CLI remembers between runs (file mode 0600). */
export interface CliConfig {
  server_url?: string;
  api_key?: string;
}

export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(ashHome(env), 'config.json');
}

export function readCliConfig(env: NodeJS.ProcessEnv = process.env): CliConfig {
  const file = configPath(env);
  if (!existsSync(file)) return {};
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as CliConfig;
  } catch {
    return {};
  }
}

export function writeCliConfig(patch: CliConfig, env: NodeJS.ProcessEnv = process.env): void {
  const dir = ashHome(env);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = configPath(env);
  writeFileSync(file, `${JSON.stringify({ ...readCliConfig(env), ...patch }, null, 2)}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
}

export const DEFAULT_PORT = 4100;

/** Server URL: --server, then ASH_SERVER_URL, then the config, then http://localhost:4100. */
export function resolveServerUrl(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return flag ?? env.ASH_SERVER_URL ?? readCliConfig(env).server_url ?? `http://localhost:${DEFAULT_PORT}`;
}

/** API key: --api-key, then ASH_API_KEY, then the config. */
export function resolveApiKey(
  flag: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  return flag ?? env.ASH_API_KEY ?? readCliConfig(env).api_key;
}
