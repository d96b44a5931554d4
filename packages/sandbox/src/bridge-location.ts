import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/*
 * Where the bridge program and the Claude Code executable it drives are installed. Both are
 * resolved as files, never imported: the host runs the bridge as a child process, so neither the
 * server nor the sandbox package loads the Agent SDK.
 */

const require = createRequire(import.meta.url);

/** Path of `@ash-ai/bridge`'s package.json (the bridge is a dependency of this package). */
function bridgePackageJson(): string {
  return require.resolve('@ash-ai/bridge/package.json');
}

/** Absolute path of the bridge's executable entry (its built `dist/main.js`). */
export function bridgeEntryPath(): string {
  return join(dirname(bridgePackageJson()), 'dist', 'main.js');
}

/**
 * Path of the native Claude Code executable the Agent SDK ships as a platform package
 * (`@anthropic-ai/claude-agent-sdk-<platform>-<arch>[-musl]`), resolved from the bridge's own
 * dependencies. `CLAUDE_CODE_EXECUTABLE` overrides it.
 * @throws Error when no executable is installed (npm installed without optional dependencies).
 */
export function resolveClaudeExecutable(env: NodeJS.ProcessEnv = process.env): string {
  const override = env.CLAUDE_CODE_EXECUTABLE;
  if (override) return override;
  const fromBridge = createRequire(bridgePackageJson());
  const base = `@anthropic-ai/claude-agent-sdk-${process.platform}-${process.arch}`;
  for (const name of [base, `${base}-musl`]) {
    try {
      const dir = dirname(fromBridge.resolve(`${name}/package.json`));
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
