import { spawn } from 'node:child_process';
import { EXIT_WITH_PARENT } from './exit-with-parent-flag.js';

/** Exit code numbers of the signals a foreground child is usually stopped by. */
const SIGNAL_NUMBERS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

/**
 * Runs `node <bin> ...args` in the foreground: the child shares this terminal and gets `env`;
 * SIGINT, SIGTERM and SIGHUP are passed on, and the child stops itself when this process is
 * killed (SIGKILL cannot be passed on; see exit-with-parent.ts). Resolves with the exit code to use (128 + n when the
 * child ended by signal n).
 * @throws Error when the child cannot be spawned.
 */
export function runForeground(bin: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const child = spawn(process.execPath, [...EXIT_WITH_PARENT, bin, ...args], { env, stdio: 'inherit' });
  const forward = (signal: NodeJS.Signals) => () => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  };
  const handlers = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((s) => [s, forward(s)] as const);
  for (const [s, h] of handlers) process.on(s, h);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      for (const [s, h] of handlers) process.off(s, h);
      resolve(code ?? 128 + ((signal && SIGNAL_NUMBERS[signal]) || 1));
    });
  });
}
