import type { Command } from 'commander';
import type { UsageTotals } from '@ash-ai/sdk';
import { CliError, printJson, printTable } from '../output.js';
import type { GlobalOptions } from '../program.js';

const GROUPS = ['agent', 'session', 'model', 'day'] as const;

function totalsRow(t: UsageTotals): Record<string, string | number> {
  return {
    calls: t.totalModelCalls,
    input: t.totalInputTokens,
    output: t.totalOutputTokens,
    'cache write': t.totalCacheCreationTokens,
    'cache read': t.totalCacheReadTokens,
    tools: t.totalToolCalls,
    turns: t.totalTurns,
    cpu_s: t.totalComputeSeconds.toFixed(2),
    cost_usd: t.totalCostUsd.toFixed(6),
    sdk_usd: t.totalSdkCostUsd.toFixed(6),
  };
}

/** `ash usage [stats]`. */
export function registerUsageCommands(program: Command, globals: () => GlobalOptions): void {
  program
    .command('usage')
    .description('usage and cost totals from the ledger')
    .option('--session <id>', 'only this session')
    .option('--agent <name>', 'only this agent')
    .option('--from <time>', 'records at or after this time (ISO 8601)')
    .option('--to <time>', 'records before this time (ISO 8601)')
    .option('--group-by <key>', `one row per ${GROUPS.join(', ')}`)
    .option('--json', 'print JSON')
    .action(
      async (opts: {
        session?: string;
        agent?: string;
        from?: string;
        to?: string;
        groupBy?: string;
        json?: boolean;
      }) => {
        if (opts.groupBy && !(GROUPS as readonly string[]).includes(opts.groupBy))
          throw new CliError(`--group-by must be one of ${GROUPS.join(', ')}`);
        const time = (name: string, v: string | undefined) => {
          if (v === undefined) return undefined;
          const t = new Date(v);
          if (Number.isNaN(t.getTime())) throw new CliError(`${name} is not a time: '${v}'`);
          return t.toISOString();
        };
        const from = time('--from', opts.from);
        const to = time('--to', opts.to);
        const r = await globals()
          .client()
          .usage.stats({
            ...(opts.session ? { sessionId: opts.session } : {}),
            ...(opts.agent ? { agentName: opts.agent } : {}),
            ...(from ? { from } : {}),
            ...(to ? { to } : {}),
            ...(opts.groupBy ? { groupBy: opts.groupBy as (typeof GROUPS)[number] } : {}),
          });
        if (opts.json) {
          printJson(r);
          return;
        }
        const rows = (r.groups ?? []).map((g) => ({
          [opts.groupBy ?? 'key']: g.key ?? '-',
          ...totalsRow(g.stats),
        }));
        rows.push({ [opts.groupBy ?? 'key']: 'TOTAL', ...totalsRow(r.stats) });
        printTable(rows, [opts.groupBy ?? 'key', ...Object.keys(totalsRow(r.stats))]);
      },
    );
}
