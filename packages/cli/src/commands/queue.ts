import type { Command } from 'commander';
import type { QueueItem, QueueStatus } from '@ash-ai/sdk';
import { intFlag, nonEmptyFlag } from '../options.js';
import { CliError, printJson, printTable } from '../output.js';
import type { GlobalOptions } from '../program.js';

const STATUSES: QueueStatus[] = ['pending', 'running', 'completed', 'failed', 'cancelled'];

function printItem(i: QueueItem): void {
  const lines = [
    i.id,
    `  agent: ${i.agentName}`,
    `  status: ${i.status} (retries ${i.retryCount}/${i.maxRetries}, priority ${i.priority})`,
    `  prompt: ${i.prompt.length > 200 ? `${i.prompt.slice(0, 200)}…` : i.prompt}`,
    `  run at: ${i.runAt}`,
  ];
  if (i.sessionId) lines.push(`  session: ${i.sessionId}`);
  if (i.result?.text) lines.push(`  result: ${i.result.text}`);
  if (i.error) lines.push(`  error: ${i.error}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** `ash queue add|list|get|cancel|stats`. */
export function registerQueueCommands(program: Command, globals: () => GlobalOptions): void {
  const queue = program.command('queue').description('background prompts, run as turns with retries');
  queue
    .command('add <agent> <prompt>')
    .description('queue a prompt for an agent; prints the item id')
    .option('--session <id>', 'run in this session (default: a new session)')
    .option('--priority <n>', 'higher runs first (default 0)', intFlag('--priority'))
    .option('--max-retries <n>', 'retries after a failed attempt (default 3)', intFlag('--max-retries'))
    .option('--run-at <time>', 'not before this time (ISO 8601)')
    .option('--model <model>', 'model for the turn', nonEmptyFlag('--model'))
    .option('--json', 'print JSON')
    .action(
      async (
        agent: string,
        prompt: string,
        opts: {
          session?: string;
          priority?: number;
          maxRetries?: number;
          runAt?: string;
          model?: string;
          json?: boolean;
        },
      ) => {
        const { priority, maxRetries } = opts;
        let runAt: string | undefined;
        if (opts.runAt !== undefined) {
          const t = new Date(opts.runAt);
          if (Number.isNaN(t.getTime())) throw new CliError(`--run-at is not a time: '${opts.runAt}'`);
          runAt = t.toISOString();
        }
        const item = await globals()
          .client()
          .queue.add({
            agentName: agent,
            prompt,
            ...(opts.session ? { sessionId: opts.session } : {}),
            ...(priority !== undefined ? { priority } : {}),
            ...(maxRetries !== undefined ? { maxRetries } : {}),
            ...(runAt ? { runAt } : {}),
            ...(opts.model !== undefined ? { options: { model: opts.model } } : {}),
          });
        if (opts.json) printJson({ item });
        else process.stdout.write(`${item.id}\n`);
      },
    );
  queue
    .command('list')
    .description('queue items, newest first')
    .option('--status <status>', `only items in this status (${STATUSES.join(', ')})`)
    .option('--limit <n>', 'at most this many (default 50)', intFlag('--limit', { min: 1 }))
    .option('--offset <n>', 'skip this many', intFlag('--offset'))
    .option('--json', 'print JSON')
    .action(async (opts: { status?: string; limit?: number; offset?: number; json?: boolean }) => {
      if (opts.status && !STATUSES.includes(opts.status as QueueStatus))
        throw new CliError(`--status must be one of ${STATUSES.join(', ')}`);
      const { limit, offset } = opts;
      const page = await globals()
        .client()
        .queue.list({
          ...(opts.status ? { status: opts.status as QueueStatus } : {}),
          ...(limit !== undefined ? { limit } : {}),
          ...(offset !== undefined ? { offset } : {}),
        });
      if (opts.json) printJson(page);
      else
        printTable(
          page.items.map((i) => ({
            id: i.id,
            agent: i.agentName,
            status: i.status,
            retries: `${i.retryCount}/${i.maxRetries}`,
            priority: i.priority,
            created: i.createdAt,
          })),
          ['id', 'agent', 'status', 'retries', 'priority', 'created'],
        );
    });
  queue
    .command('get <id>')
    .description('show an item with its result or error')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { json?: boolean }) => {
      const item = await globals().client().queue.get(id);
      if (opts.json) printJson({ item });
      else printItem(item);
    });
  queue
    .command('cancel <id>')
    .description('cancel a pending item')
    .action(async (id: string) => {
      const item = await globals().client().queue.cancel(id);
      process.stdout.write(`cancelled ${item.id}\n`);
    });
  queue
    .command('stats')
    .description('items per status')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const stats = await globals().client().queue.stats();
      if (opts.json) printJson({ stats });
      else for (const s of STATUSES) process.stdout.write(`${s.padEnd(10)} ${stats[s]}\n`);
    });
}
