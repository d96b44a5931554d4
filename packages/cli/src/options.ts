import { type Command, InvalidArgumentError } from 'commander';

/**
 * A commander argument parser for a whole-number flag: `--limit abc` fails with
 * `--limit must be an integer` (and `--limit must be at least 1` below `min`) before anything is
 * sent, so the error names the flag the user typed, never the API's query field.
 */
export function intFlag(flag: string, opts: { min?: number; max?: number } = {}) {
  const min = opts.min ?? 0;
  return (value: string): number => {
    const v = value.trim();
    if (!/^-?\d+$/.test(v)) throw new InvalidArgumentError(`${flag} must be an integer`);
    const n = Number(v);
    if (!Number.isSafeInteger(n)) throw new InvalidArgumentError(`${flag} must be an integer`);
    if (n < min) throw new InvalidArgumentError(`${flag} must be at least ${min}`);
    if (opts.max !== undefined && n > opts.max)
      throw new InvalidArgumentError(`${flag} must be at most ${opts.max}`);
    return n;
  };
}

/** A commander argument parser refusing an empty (or blank) value: `--model ''` → `--model must not be empty`. */
export function nonEmptyFlag(flag: string) {
  return (value: string): string => {
    if (value.trim().length === 0) throw new InvalidArgumentError(`${flag} must not be empty`);
    return value;
  };
}

/** `ash session send` as typed: the names of the command and its parents. */
export function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/**
 * Makes every command report a usage error as one line (`ash: …`) followed by that command's
 * usage line only (not the whole help): commander's own wording is kept, except for an invalid
 * flag value, which is reduced to the parser's message (e.g. `--limit must be an integer`).
 */
export function conciseUsageErrors(root: Command): void {
  const visit = (cmd: Command) => {
    cmd.configureOutput({
      outputError: (str, write) => {
        const text = str.trim().replace(/^error: /, '');
        const invalid = /^option '[^']*' argument '[\s\S]*' is invalid\. ([\s\S]*)$/.exec(text);
        const invalidArg =
          /^command-argument value '[\s\S]*' is invalid for argument '[^']*'\. ([\s\S]*)$/.exec(text);
        write(`ash: ${invalid?.[1] ?? invalidArg?.[1] ?? text}\n`);
      },
    });
    cmd.showHelpAfterError(`Usage: ${commandPath(cmd)} ${cmd.usage()}`);
    for (const sub of cmd.commands) visit(sub);
  };
  visit(root);
}
