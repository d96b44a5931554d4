import { spawn } from 'node:child_process';
import { readFileSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { runForeground } from './foreground.js';

/*
 * The CLI runs the server as its own program (`@ash-ai/server`'s `ash-server` bin), never by
 * importing it: the CLI talks to a server only over HTTP (through the SDK), and stays small.
 */

const SERVER_PACKAGE = '@ash-ai/server';
const require = createRequire(import.meta.url);

/** Absolute path of the installed server's bin (`bin/ash-server.js` of `@ash-ai/server`). */
export function serverBinPath(): string {
  return join(dirname(require.resolve(`${SERVER_PACKAGE}/package.json`)), 'bin', 'ash-server.js');
}

/** True when `file` is the `ash-server.js` bin of an installed `@ash-ai/server` (this one or a copy). */
export function isServerBin(file: string): boolean {
  try {
    if (realpathSync(file) === realpathSync(serverBinPath())) return true;
  } catch {
    // not resolvable: check the package it belongs to
  }
  if (basename(file) !== 'ash-server.js') return false;
  try {
    const pkg = JSON.parse(readFileSync(join(dirname(file), '..', 'package.json'), 'utf8')) as {
      name?: string;
    };
    return pkg.name === SERVER_PACKAGE;
  } catch {
    return false;
  }
}

/**
 * Runs the server in the foreground (`ash serve`): the child shares this terminal; SIGINT,
 * SIGTERM and SIGHUP are passed on; resolves with the exit code to use (128 + n for a signal).
 */
export function runServerForeground(env: NodeJS.ProcessEnv): Promise<number> {
  return runForeground(serverBinPath(), [], env);
}

/**
 * Runs a one-shot server command (`ash-server <command>`) and returns what it printed.
 * Secrets go in `env`, never in the arguments (visible to every local user in /proc).
 */
export function runServerCommand(
  command: string,
  env: NodeJS.ProcessEnv,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [serverBinPath(), command], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}
