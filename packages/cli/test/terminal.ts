import { spawn } from 'node:child_process';
import { ENTRIES, REPO_ROOT, type CliResult } from '@ash-ai/testing';

/** Runs the built `ash` with `input` written to its stdin (then closed). */
export function runAshWithInput(
  args: string[],
  env: Record<string, string>,
  input: string | Buffer,
  opts: { timeoutMs?: number } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [ENTRIES.cli, ...args], {
      env,
      cwd: REPO_ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`ash ${args.join(' ')} timed out\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, opts.timeoutMs ?? 120_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** A process running `ash` under a pseudo-terminal (util-linux `script`): stdin, stdout and stderr are a TTY. */
export interface PtyAsh {
  /** Everything the terminal showed so far (stdout and stderr interleaved, with escape codes). */
  output(): string;
  /** Types into the terminal (`\r` is Enter, `\x03` is Ctrl-C). */
  write(text: string): void;
  /** Resolves once the output after `from` (without escape codes) matches, else rejects after `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs?: number, from?: number): Promise<RegExpMatchArray>;
  /** Resolves with the exit code of `ash` (`script -e` passes it on). */
  exited: Promise<number>;
  kill(): void;
}

/** Starts `ash <args>` under a pseudo-terminal of 120 columns. */
export function ashInPty(args: string[], env: Record<string, string>): PtyAsh {
  const command = ['stty', 'cols', '120', ';', 'exec', process.execPath, ENTRIES.cli, ...args]
    .map((a, i) => (i < 4 ? a : shellQuote(a)))
    .join(' ');
  const child = spawn('script', ['-q', '-e', '-f', '-c', command, '/dev/null'], {
    env: { ...env, TERM: 'xterm' },
    cwd: REPO_ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  const waiters = new Set<() => void>();
  const onData = (d: Buffer) => {
    out += d.toString();
    for (const w of waiters) w();
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  child.stdin.on('error', () => undefined);
  const exited = new Promise<number>((resolve) => {
    child.once('exit', (code) => {
      resolve(code ?? -1);
      for (const w of waiters) w();
    });
  });
  return {
    output: () => out,
    write: (text) => child.stdin.write(text),
    waitFor(pattern, timeoutMs = 60_000, from = 0) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = plain(out.slice(from)).match(pattern);
          if (m) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(m);
          } else if (child.exitCode !== null) {
            waiters.delete(check);
            clearTimeout(timer);
            reject(
              new Error(`ash exited (${child.exitCode}) before ${pattern}; the terminal showed:\n${out}`),
            );
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out waiting for ${pattern}; the terminal showed:\n${out}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    exited,
    kill: () => child.kill('SIGKILL'),
  };
}

/** Terminal output without ANSI escape sequences and carriage returns. */
export const plain = (s: string) =>
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping terminal escape codes
  s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r/g, '');
