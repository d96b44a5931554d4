import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

/** Version of the installed `@anthropic-ai/claude-agent-sdk` (exact-pinned in package.json). */
export function claudeAgentSdkVersion(): string {
  try {
    const main = require.resolve('@anthropic-ai/claude-agent-sdk');
    const pkg = JSON.parse(readFileSync(join(dirname(main), 'package.json'), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * Path of the native Claude Code executable the SDK ships as a platform package
 * (`@anthropic-ai/claude-agent-sdk-<platform>-<arch>[-musl]`). `CLAUDE_CODE_EXECUTABLE` overrides it.
 * @throws Error when no executable is installed (npm installed without optional dependencies).
 */
export function resolveClaudeExecutable(env: NodeJS.ProcessEnv = process.env): string {
  const override = env.CLAUDE_CODE_EXECUTABLE;
  if (override) return override;
  const base = `@anthropic-ai/claude-agent-sdk-${process.platform}-${process.arch}`;
  for (const name of [base, `${base}-musl`]) {
    try {
      const dir = dirname(require.resolve(`${name}/package.json`));
      const exe = join(dir, process.platform === 'win32' ? 'claude.exe' : 'claude');
      if (existsSync(exe)) return exe;
    } catch {
      // not this variant
    }
  }
  throw new Error(
    `the Claude Code executable (${base}) is not installed; reinstall without --omit=optional, or set CLAUDE_CODE_EXECUTABLE`,
  );
}
