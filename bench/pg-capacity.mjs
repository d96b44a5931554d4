#!/usr/bin/env node
// What one Postgres carries for a fleet of servers and runners: the database writes Ash makes per
// streamed event and per runner heartbeat, timed with the server's own repositories against a
// throwaway cluster with production durability (fsync and synchronous commit on) on this machine.
// Figures for docs/scaling.md.
//
//   node bench/pg-capacity.mjs            (needs PostgreSQL binaries: apt-get install postgresql)
//   BENCH_SECONDS=5 BENCH_WRITERS=1,8,32  duration per phase, concurrent writers per phase
import { randomUUID } from 'node:crypto';
import { loadavg } from 'node:os';
import pg from 'pg';
import { startThrowawayPostgres } from '@ash-ai/testing/postgres-server';
import { openDatabase } from '../packages/server/dist/db/client.js';
import { HistoryRepo } from '../packages/server/dist/db/repos/history-repo.js';
import { RunnersRepo } from '../packages/server/dist/db/repos/runners-repo.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const WRITERS = (process.env.BENCH_WRITERS ?? '1,8,32').split(',').map(Number);
const PORT = Number(process.env.BENCH_PG_PORT ?? 5439);

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] : NaN;
};

/** Runs `writers` loops of `op` for SECONDS; returns operations per second and latency percentiles (ms). */
async function phase(writers, op) {
  const lat = [];
  let count = 0;
  const end = performance.now() + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      let i = 0;
      while (performance.now() < end) {
        const t0 = performance.now();
        await op(w, i++);
        lat.push(performance.now() - t0);
        count++;
      }
    }),
  );
  return { perSecond: count / SECONDS, p50: pct(lat, 50), p99: pct(lat, 99) };
}

const cluster = startThrowawayPostgres(PORT, { durable: true });
const admin = new pg.Client({ connectionString: cluster.url });
await admin.connect();
await admin.query('CREATE DATABASE ash_bench');
await admin.end();
const url = cluster.url.replace(/\/postgres$/, '/ash_bench');
const db = await openDatabase({ postgresUrl: url });
const history = new HistoryRepo(db);
const runners = new RunnersRepo(db);
const tenant = 'default';
const now = () => new Date().toISOString();

const event = (sessionId, seq) => ({
  id: randomUUID(),
  tenantId: tenant,
  sessionId,
  type: 'text_delta',
  data: JSON.stringify({ delta: 'x'.repeat(40) }),
  sequence: seq,
  turnId: null,
  createdAt: now(),
});

const rows = [];
try {
  for (const writers of WRITERS) {
    const sessions = Array.from({ length: writers }, () => randomUUID());
    // One event per INSERT: what a turn writes when its deltas arrive slower than a write takes.
    const single = await phase(writers, (w, i) => history.insertEvents([event(sessions[w], i)]));
    rows.push({
      what: 'event INSERT, 1 event per write',
      writers,
      ...single,
      eventsPerSecond: single.perSecond,
    });
    // Ten per INSERT: the turn log batches whatever queued while the previous write ran.
    const sessions10 = Array.from({ length: writers }, () => randomUUID());
    const batch = await phase(writers, (w, i) =>
      history.insertEvents(Array.from({ length: 10 }, (_, k) => event(sessions10[w], i * 10 + k))),
    );
    rows.push({
      what: 'event INSERT, 10 events per write',
      writers,
      ...batch,
      eventsPerSecond: batch.perSecond * 10,
    });
    const ids = Array.from({ length: writers }, (_, k) => `bench-runner-${writers}-${k}`);
    for (const id of ids)
      await runners.upsert({ id, host: '127.0.0.1', port: 4200, maxSandboxes: 50, now: now() });
    const hb = await phase(writers, (w) => runners.heartbeat(ids[w], 7, now()));
    rows.push({ what: 'runner heartbeat UPDATE', writers, ...hb, eventsPerSecond: NaN });
  }
} finally {
  await db.close();
  cluster.stop();
}

console.log(
  `pg-capacity: ${SECONDS} s per phase, load ${loadavg()[0].toFixed(1)}, fsync on, synchronous_commit on`,
);
console.log('| write | writers | writes/s | events/s | p50 ms | p99 ms |');
console.log('|---|---|---|---|---|---|');
for (const r of rows)
  console.log(
    `| ${r.what} | ${r.writers} | ${r.perSecond.toFixed(0)} | ${Number.isNaN(r.eventsPerSecond) ? '' : r.eventsPerSecond.toFixed(0)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} |`,
  );
