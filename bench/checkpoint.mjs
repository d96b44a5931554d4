// Incremental vs full workspace checkpoint (issue 11: incremental ≤ 5% of full), with the
// runner's workspace-sync library (built dist): a workspace of CHECKPOINT_FILES files of
// CHECKPOINT_FILE_KB KiB (default 2000 × 100 KiB = 200 MiB) plus one 1 KiB file.
//   - full: scan + pack every entry + apply into an empty folder;
//   - incremental: the 1 KiB file rewritten, then scan + diff against the last manifest + pack +
//     apply into the up-to-date copy.
// Rounds interleave the two (the order flipping each round), so a load change hits both sides;
// the page cache is warm for both (the data was just written), as it is on a runner.
// Used by `npm run bench`; alone: node bench/checkpoint.mjs [rounds]
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { applyDelta, diffManifests, packDelta, scanManifest } from '@ash-ai/runner';

const FILES = Number(process.env.CHECKPOINT_FILES ?? 2000);
const FILE_KB = Number(process.env.CHECKPOINT_FILE_KB ?? 100);

const p50 = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** One checkpoint from `src` into `dst` given what `dst` holds (`have`); ms and the manifest sent. */
async function checkpoint(src, dst, have) {
  const t0 = performance.now();
  const want = await scanManifest(src);
  const diff = diffManifests(have, want);
  const counts = await applyDelta(dst, packDelta(src, want, diff));
  return { ms: performance.now() - t0, want, counts };
}

/** Runs `rounds` interleaved rounds; returns times (ms) of each kind and the load at each round. */
export async function checkpointBench(rounds = 5) {
  const base = mkdtempSync(join(tmpdir(), 'ash-bench-checkpoint-'));
  try {
    const src = { workspace: join(base, 'src/ws'), claude: join(base, 'src/claude') };
    mkdirSync(src.claude, { recursive: true });
    const body = Buffer.alloc(FILE_KB * 1024);
    for (let i = 0; i < FILES; i++) {
      const dir = join(src.workspace, `d${i % 20}`);
      if (i < 20) mkdirSync(dir, { recursive: true });
      body.writeUInt32LE(i, 0);
      writeFileSync(join(dir, `file ${i}.bin`), body);
    }
    const small = join(src.workspace, 'notes.txt');
    writeFileSync(small, 'x'.repeat(1024));
    mkdirSync(join(src.claude, 'projects'), { recursive: true });
    writeFileSync(join(src.claude, 'projects/t.jsonl'), '{}\n');

    // The incremental side keeps its own up-to-date copy and last manifest, as a runner does.
    const inc = { workspace: join(base, 'inc/ws'), claude: join(base, 'inc/claude') };
    let last = (await checkpoint(src, inc, {})).want;
    const times = { full: [], incremental: [] };
    const loads = [];
    let bytes = { full: 0, incremental: 0 };
    let n = 0;
    const full = async () => {
      const dst = { workspace: join(base, `full${n}/ws`), claude: join(base, `full${n}/claude`) };
      n++;
      const r = await checkpoint(src, dst, {});
      times.full.push(r.ms);
      bytes.full = r.counts.bytes;
      rmSync(join(dst.workspace, '..'), { recursive: true, force: true });
    };
    const incremental = async () => {
      writeFileSync(small, `${String(n++).padStart(8, '0')}${'y'.repeat(1016)}`);
      const r = await checkpoint(src, inc, last);
      last = r.want;
      times.incremental.push(r.ms);
      bytes = { ...bytes, incremental: r.counts.bytes };
    };
    for (let round = 0; round < rounds; round++) {
      loads.push(loadavg()[0]);
      if (round % 2 === 0) {
        await full();
        await incremental();
      } else {
        await incremental();
        await full();
      }
    }
    return {
      files: FILES,
      fileKb: FILE_KB,
      rounds,
      full: times.full,
      incremental: times.incremental,
      bytes,
      loads,
      ratio: p50(times.incremental) / p50(times.full),
    };
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}

/** The checkpoint section of a benchmark report (markdown lines). */
export function checkpointLines(r) {
  const mb = ((r.files * r.fileKb * 1024) / 1e6).toFixed(1);
  const fmt = (xs) => xs.map((x) => x.toFixed(1)).join(', ');
  return [
    `Checkpoint: a ${mb} MB workspace (${r.files} files of ${r.fileKb} KiB + one 1 KiB file), ${r.rounds} interleaved rounds. Full = scan + pack all + apply into an empty folder (${r.bytes.full} file bytes); incremental = the 1 KiB file rewritten, scan + diff + pack + apply (${r.bytes.incremental} file bytes).`,
    '',
    '| checkpoint | p50 | runs (ms) |',
    '|---|---|---|',
    `| full | ${p50(r.full).toFixed(1)} ms | ${fmt(r.full)} |`,
    `| incremental | ${p50(r.incremental).toFixed(1)} ms | ${fmt(r.incremental)} |`,
    '',
    `| ratio (incremental / full, p50) | ${(r.ratio * 100).toFixed(2)}% | target ≤ 5% | ${r.ratio <= 0.05 ? 'met' : '**NOT met**'} | load ${fmt(r.loads)} |`,
    '|---|---|---|---|---|',
    '',
  ];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const r = await checkpointBench(Number(process.argv[2] ?? 5));
  process.stdout.write(`${checkpointLines(r).join('\n')}\n`);
}
