import { existsSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { type Agent, AshApiError } from '@ash-ai/sdk';
import { CliError, printJson, printTable } from '../output.js';
import { progressBar } from '../progress.js';
import type { GlobalOptions } from '../program.js';
import { parseEnvPairs } from './env-pairs.js';

function printAgent(a: Agent): void {
  process.stdout.write(
    `${a.name} (version ${a.version})\n  files: ${a.fileCount} (${a.sizeBytes} bytes)\n  env: ${Object.keys(a.env).join(', ') || '-'}\n  updated: ${a.updatedAt}\n`,
  );
}

/**
 * `--max-size` as MB: a plain decimal number (`100`, `0.5`), positive, at least one byte, at most
 * 1 TiB. Anything else (`10MB`, `0x10`, `1e3`, `-1`, `0`) is refused with a message naming the value.
 */
export function parseMaxSizeMb(value: string): number {
  const trimmed = value.trim();
  const mb = /^\d+(\.\d+)?$/.test(trimmed) ? Number(trimmed) : Number.NaN;
  if (!Number.isFinite(mb) || mb * 1024 * 1024 < 1 || mb > 1024 * 1024)
    throw new CliError(
      `invalid --max-size '${value}': give the limit in MB as a positive number (e.g. 100 or 0.5), at most 1048576`,
    );
  return mb;
}

/** `ash deploy` and `ash agent list|get|delete`. */
export function registerAgentCommands(program: Command, globals: () => GlobalOptions): void {
  program
    .command('deploy <dir>')
    .description(
      'deploy an agent folder (must contain CLAUDE.md), honouring .gitignore and .ashignore; redeploying bumps the version',
    )
    .option('-n, --name <name>', 'agent name (default: the folder name)')
    .option('-e, --env <KEY=VALUE...>', 'environment variable for the agent (repeatable)')
    .option('--max-size <MB>', 'refuse folders larger than this (default 100, the server default)', '100')
    .option('--json', 'print JSON')
    .action(async (dir: string, opts: { name?: string; env?: string[]; maxSize: string; json?: boolean }) => {
      const maxMb = parseMaxSizeMb(opts.maxSize);
      const name = opts.name ?? basename(resolve(dir)).replace(/[^a-zA-Z0-9_-]/g, '-');
      if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new CliError(`not a directory: ${dir}`);
      if (!existsSync(join(dir, 'CLAUDE.md')))
        throw new CliError(`${dir} has no CLAUDE.md; an agent folder needs one`);
      const env = parseEnvPairs(opts.env);
      const bar = progressBar('upload', { json: opts.json });
      const agent = await globals()
        .client()
        .agents.deployDirectory(name, dir, {
          maxBytes: Math.floor(maxMb * 1024 * 1024),
          onSkip: (rel: string, reason: string) => process.stderr.write(`skipped ${rel}: ${reason}\n`),
          ...(env ? { env } : {}),
          onProgress: (done: number, total: number) => bar.update(done, total),
        })
        .finally(() => bar.done())
        .catch((err: unknown) => {
          const code = (err as { code?: unknown } | null)?.code;
          if (code === 'not_a_directory' || code === 'local_io_error')
            throw new CliError((err as Error).message);
          if (code === 'payload_too_large' && !(err instanceof AshApiError))
            throw new CliError(
              `${(err as Error).message} (after .gitignore/.ashignore excludes); exclude more, or raise --max-size`,
            );
          throw err;
        });
      const { unchanged, ...shown } = agent;
      if (opts.json) printJson(unchanged ? { agent: shown, unchanged } : { agent: shown });
      else
        process.stdout.write(
          `${unchanged ? 'unchanged' : 'deployed'} ${agent.name} (version ${agent.version}, ${agent.fileCount} files)\n`,
        );
    });

  const agent = program.command('agent').description('manage agents');
  agent
    .command('list')
    .description('list agents')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const agents = await globals().client().agents.list();
      if (opts.json) printJson({ agents });
      else
        printTable(
          agents.map((a) => ({ name: a.name, version: a.version, files: a.fileCount, updated: a.updatedAt })),
          ['name', 'version', 'files', 'updated'],
        );
    });
  agent
    .command('get <name>')
    .alias('info')
    .description('show an agent')
    .option('--json', 'print JSON')
    .action(async (name: string, opts: { json?: boolean }) => {
      const a = await globals().client().agents.get(name);
      if (opts.json) printJson({ agent: a });
      else printAgent(a);
    });
  agent
    .command('delete <name>')
    .description('delete an agent (its sessions end; their history is kept)')
    .action(async (name: string) => {
      await globals().client().agents.delete(name);
      process.stdout.write(`deleted ${name}\n`);
    });
}
