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
        const fallback = r.stats.fallbackPricedCalls ?? 0;
        if (fallback > 0) {
          const all = [...(r.groups ?? []).map((g) => g.stats), r.stats];
          rows.forEach((row, i) => {
            const n = all[i]?.fallbackPricedCalls ?? 0;
            row.priced = n > 0 ? `fallback (${n} calls)` : 'table';
          });
        }
        // Sandbox network connections, when there were any (agents with a network policy).
        const network = (r.stats.totalEgressAllowed ?? 0) + (r.stats.totalEgressDenied ?? 0) > 0;
        if (network) {
          const all = [...(r.groups ?? []).map((g) => g.stats), r.stats];
          rows.forEach((row, i) => {
            const t = all[i];
            row['net allowed/denied'] = `${t?.totalEgressAllowed ?? 0}/${t?.totalEgressDenied ?? 0}`;
            row['net bytes up/down'] = `${t?.totalEgressBytesUp ?? 0}/${t?.totalEgressBytesDown ?? 0}`;
          });
        }
        const columns = [opts.groupBy ?? 'key', ...Object.keys(totalsRow(r.stats))];
        if (network) columns.push('net allowed/denied', 'net bytes up/down');
        printTable(rows, fallback > 0 ? [...columns, 'priced'] : columns);
        console.log(
          "cost_usd: Ash's price table (tokens of each model call x its price); sdk_usd: the Claude SDK's own total_cost_usd (per turn)",
        );
        if (fallback > 0)
          console.log(
            `note: ${fallback} model call${fallback === 1 ? '' : 's'} had no price of ${fallback === 1 ? 'its' : 'their'} own and ${fallback === 1 ? 'was' : 'were'} priced at a fallback rate (the dearest of the model's family); ` +
              'see `ash usage --group-by model`, and give the price in ASH_PRICES_FILE',
          );
      },
    );
}
