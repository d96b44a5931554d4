import type { AshClient, UsageRecord } from '@ash-ai/sdk';
import { BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, Tooltip } from 'chart.js';
import { useEffect, useMemo, useRef, useState } from 'react';
import { ErrorBox, Loading, Section, useLoad } from '../ui.js';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Legend, Tooltip);

const PALETTE = ['#2563eb', '#d97706', '#059669', '#db2777', '#7c3aed', '#0891b2', '#65a30d', '#dc2626'];
type By = 'agent' | 'model';
type Metric = 'tokens' | 'cost';

/** Usage records of the window (newest first), up to 5000. */
async function loadRecords(client: AshClient, fromIso: string): Promise<UsageRecord[]> {
  const out: UsageRecord[] = [];
  for (let offset = 0; offset < 5000; offset += 1000) {
    const page = await client.usage.list({ from: fromIso, kind: 'model_call', limit: 1000, offset });
    out.push(...page.records);
    if (!page.hasMore) break;
  }
  return out;
}

/** Buckets (hour for a day's window, else day) × groups → values. */
function series(records: UsageRecord[], by: By, metric: Metric, hourly: boolean) {
  const bucketOf = (iso: string) => (hourly ? `${iso.slice(0, 13)}:00` : iso.slice(0, 10));
  const buckets = [...new Set(records.map((r) => bucketOf(r.createdAt)))].sort();
  const groups = [
    ...new Set(records.map((r) => (by === 'agent' ? r.agentName : r.model) ?? '(none)')),
  ].sort();
  const values = new Map(groups.map((g) => [g, new Array<number>(buckets.length).fill(0)]));
  for (const r of records) {
    const g = (by === 'agent' ? r.agentName : r.model) ?? '(none)';
    const v =
      metric === 'cost'
        ? r.costUsd
        : r.inputTokens + r.outputTokens + r.cacheCreationTokens + r.cacheReadTokens;
    values.get(g)![buckets.indexOf(bucketOf(r.createdAt))]! += v;
  }
  return { buckets, groups, values };
}

function UsageChart({
  data,
  metric,
  label,
}: {
  data: ReturnType<typeof series>;
  metric: Metric;
  label: string;
}) {
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    if (!canvas.current) return;
    const dark = document.documentElement.dataset.theme === 'dark';
    const fg = dark ? '#e5e7eb' : '#1f2937';
    const grid = dark ? '#374151' : '#d1d5db';
    const chart = new Chart(canvas.current, {
      type: 'bar',
      data: {
        labels: data.buckets,
        datasets: data.groups.map((g, i) => ({
          label: g,
          data: data.values.get(g)!,
          backgroundColor: PALETTE[i % PALETTE.length]!,
          maxBarThickness: 64,
        })),
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        scales: {
          x: { stacked: true, ticks: { color: fg }, grid: { color: grid } },
          y: {
            stacked: true,
            beginAtZero: true,
            ticks: { color: fg },
            grid: { color: grid },
            title: { display: true, text: metric === 'cost' ? 'USD' : 'tokens', color: fg },
          },
        },
        plugins: { legend: { labels: { color: fg } } },
      },
    });
    return () => chart.destroy();
  }, [data, metric]);
  return (
    <div className="chart">
      <canvas ref={canvas} role="img" aria-label={label} />
    </div>
  );
}

export function UsageView({ client }: { client: AshClient }) {
  const [days, setDays] = useState('7');
  const [by, setBy] = useState<By>('agent');
  const [metric, setMetric] = useState<Metric>('tokens');
  const from = useMemo(() => new Date(Date.now() - Number(days) * 86400_000).toISOString(), [days]);
  const records = useLoad(() => loadRecords(client, from), [client, from]);
  const stats = useLoad(() => client.usage.stats({ from, groupBy: by }), [client, from, by]);
  const data = useMemo(
    () => series(records.data ?? [], by, metric, Number(days) <= 1),
    [records.data, by, metric, days],
  );
  return (
    <>
      <h1>Usage</h1>
      <form className="filters" aria-label="Usage options" onSubmit={(e) => e.preventDefault()}>
        <div className="field">
          <label htmlFor="u-window">Window</label>
          <select id="u-window" value={days} onChange={(e) => setDays(e.target.value)}>
            <option value="1">Last 24 hours (hourly)</option>
            <option value="7">Last 7 days</option>
            <option value="30">Last 30 days</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor="u-by">Per</label>
          <select id="u-by" value={by} onChange={(e) => setBy(e.target.value as By)}>
            <option value="agent">agent</option>
            <option value="model">model</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor="u-metric">Measure</label>
          <select id="u-metric" value={metric} onChange={(e) => setMetric(e.target.value as Metric)}>
            <option value="tokens">tokens</option>
            <option value="cost">cost (USD)</option>
          </select>
        </div>
      </form>
      <ErrorBox error={records.error ?? stats.error} />
      <Section title={`${metric === 'cost' ? 'Cost' : 'Tokens'} over time per ${by}`}>
        {records.loading && !records.data ? <Loading what="usage" /> : null}
        {records.data && records.data.length === 0 ? (
          <p className="muted">No model calls in this window.</p>
        ) : null}
        {records.data && records.data.length > 0 ? (
          <UsageChart
            data={data}
            metric={metric}
            label={`${metric} over time per ${by}; the table below has the figures`}
          />
        ) : null}
      </Section>
      <Section title={`Totals per ${by}`}>
        {stats.data ? (
          <div className="table-wrap">
            <table>
              <caption className="sr-only">Usage totals per {by}</caption>
              <thead>
                <tr>
                  <th scope="col">{by === 'agent' ? 'Agent' : 'Model'}</th>
                  <th scope="col">Input tokens</th>
                  <th scope="col">Output tokens</th>
                  <th scope="col">Cache read</th>
                  <th scope="col">Model calls</th>
                  <th scope="col">Tool calls</th>
                  <th scope="col">Turns</th>
                  <th scope="col">Cost (USD)</th>
                </tr>
              </thead>
              <tbody>
                {[...(stats.data.groups ?? []), { key: 'Total', stats: stats.data.stats }].map((g) => (
                  <tr key={g.key ?? '(none)'}>
                    <th scope="row">{g.key ?? '(none)'}</th>
                    <td>{g.stats.totalInputTokens.toLocaleString()}</td>
                    <td>{g.stats.totalOutputTokens.toLocaleString()}</td>
                    <td>{g.stats.totalCacheReadTokens.toLocaleString()}</td>
                    <td>{g.stats.totalModelCalls}</td>
                    <td>{g.stats.totalToolCalls}</td>
                    <td>{g.stats.totalTurns}</td>
                    <td>{g.stats.totalCostUsd.toFixed(4)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : null}
      </Section>
    </>
  );
}
