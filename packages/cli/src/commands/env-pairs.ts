import { CliError } from '../output.js';

/** Parses repeated `KEY=VALUE` options. @throws CliError on a malformed pair. */
export function parseEnvPairs(pairs: string[] | undefined): Record<string, string> | undefined {
  if (!pairs || pairs.length === 0) return undefined;
  const env: Record<string, string> = {};
  for (const p of pairs) {
    const i = p.indexOf('=');
    if (i <= 0 || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(p.slice(0, i)))
      throw new CliError(`expected KEY=VALUE, got '${p}'`);
    env[p.slice(0, i)] = p.slice(i + 1);
  }
  return env;
}
