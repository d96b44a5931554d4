import { AshApiError, AshConnectionError, AshError } from '@ash-ai/sdk';

/** Raised for wrong CLI usage or a failed local operation; printed as one line, exit 1. */
export class CliError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliError';
  }
}

/**
 * Runs an operator command (internal routes): a 401 while ASH_INTERNAL_SECRET is unset says what
 * to set instead of only what the server missed.
 */
export async function withInternalSecret<T>(call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (err) {
    if (err instanceof AshApiError && err.status === 401 && !process.env.ASH_INTERNAL_SECRET)
      throw new CliError(
        "this is an operator command: set ASH_INTERNAL_SECRET to the servers' internal secret (401 unauthorized)",
      );
    throw err;
  }
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Prints rows as aligned columns. */
export function printTable(
  rows: Array<Record<string, string | number | null | undefined>>,
  columns: string[],
): void {
  if (rows.length === 0) {
    process.stdout.write('(none)\n');
    return;
  }
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c] ?? '').length)));
  const line = (cells: string[]) =>
    `${cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd()}\n`;
  process.stdout.write(line(columns.map((c) => c.toUpperCase())));
  for (const r of rows) process.stdout.write(line(columns.map((c) => String(r[c] ?? ''))));
}

/** One line describing an error, for stderr. Never a stack trace. */
export function describeError(err: unknown, serverUrl?: string): string {
  if (err instanceof AshApiError) return `${err.message} (${err.status} ${err.code})`;
  if (err instanceof AshConnectionError)
    return `cannot reach the Ash server at ${serverUrl ?? 'the configured URL'}; is it running? (start it with: ash start)`;
  if (err instanceof AshError || err instanceof CliError) return err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}
