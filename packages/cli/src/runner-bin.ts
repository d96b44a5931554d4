import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { runForeground } from './foreground.js';

/*
 * `ash runner` runs the runner's own program (`@ash-ai/runner`'s `ash-runner` bin) as a child
 * process, never by importing it (the CLI stays small and never loads the sandbox code).
 */

const require = createRequire(import.meta.url);

/** Absolute path of the installed runner's bin (`dist/bin.js` of `@ash-ai/runner`). */
export function runnerBinPath(): string {
  return join(dirname(require.resolve('@ash-ai/runner/package.json')), 'dist', 'bin.js');
}

/** Variables a runner must never receive: provider keys and credential material stay with coordinators. */
const NEVER_TO_A_RUNNER = [
  'ANTHROPIC_API_KEY',
  'ANTHROPIC_AUTH_TOKEN',
  'CLAUDE_CODE_OAUTH_TOKEN',
  'ASH_CREDENTIAL_KEY',
  'ASH_API_KEY',
];

/**
 * Runs the runner in the foreground with `args`: the child shares this terminal, gets this
 * environment minus provider keys (so none is ever in its process environment), and SIGINT,
 * SIGTERM and SIGHUP are passed on. Resolves with the exit code to use (128 + n for a signal).
 */
export function runRunnerForeground(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const clean: NodeJS.ProcessEnv = { ...env };
  for (const k of NEVER_TO_A_RUNNER) delete clean[k];
  return runForeground(runnerBinPath(), args, clean);
}
