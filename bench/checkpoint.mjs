// Incremental vs full workspace checkpoint (issue 11: incremental ≤ 5% of full), with the
// runner's workspace-sync library (built dist): a workspace of CHECKPOINT_FILES files of
// CHECKPOINT_FILE_KB KiB (default 2000 × 100 KiB = 200 MiB) plus one 1 KiB file.
//   - full: scan + pack every entry + apply into an empty folder;
//   - incremental: the 1 KiB file rewritten, then scan + diff against the last manifest + pack +
//     apply into the up-to-date copy.
// Rounds interleave the two (the order flipping each round), so a load change hits both sides;
// the page cache is warm for both (the data was just written), as it is on a runner.
//
// Second part, checkpoints in object storage (the server's CheckpointStore: content-addressed
// blobs + a manifest), on the local object store and on S3 (s3rver on loopback): a workspace of
// OBJECTS_MB MiB (files of 128 KiB, half random bytes, half source-like text) plus one 1 KiB file.
//   - full: every file hashed, compressed and uploaded under a fresh prefix, then the manifest;
//   - incremental: the 1 KiB file rewritten, scan + compare with the last manifest + one blob +
//     the manifest; also today's predecessor (one tar.gz of the whole tree) and both restores.
// Used by `npm run bench`; alone: node bench/checkpoint.mjs [rounds]
//   OBJECTS_MB=200 OBJECTS_BACKENDS=local,s3 OBJECTS_ROUNDS=3
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { applyDelta, diffManifests, packDelta, scanManifest } from '@ash-ai/runner';
import { startTestS3 } from '@ash-ai/testing';
import { packTarGz } from '../packages/server/dist/storage/bundle.js';
import { CheckpointStore } from '../packages/server/dist/storage/checkpoint-store.js';
import { ConfinedDir } from '../packages/server/dist/storage/confined-dir.js';
import { LocalObjectStore } from '../packages/server/dist/storage/local-object-store.js';
import { S3ObjectStore } from '../packages/server/dist/storage/s3-object-store.js';

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

const OBJECTS_MB = Number(process.env.OBJECTS_MB ?? 200);
const OBJECTS_FILE_KB = 128;
const OBJECTS_BACKENDS = (process.env.OBJECTS_BACKENDS ?? 'local,s3').split(',');
const EXCLUDE = new Set(['node_modules', '.cache']);

/** A workspace of OBJECTS_MB MiB: 128 KiB files in 50 folders, half random, half text; + notes.txt (1 KiB). */
function objectsWorkspace(root) {
  const roots = { workspace: join(root, 'workspace'), claude: join(root, 'claude') };
  mkdirSync(join(roots.claude, 'projects'), { recursive: true });
  const files = Math.round((OBJECTS_MB * 1024) / OBJECTS_FILE_KB);
  const line = 'const answer = compute(input, options); // a line of ordinary source code\n';
  const text = Buffer.from(line.repeat(Math.ceil((OBJECTS_FILE_KB * 1024) / line.length))).subarray(
    0,
    OBJECTS_FILE_KB * 1024,
  );
  for (let i = 0; i < files; i++) {
    const dir = join(roots.workspace, `dir-${i % 50}`);
    if (i < 50) mkdirSync(dir, { recursive: true });
    const body =
      i % 2 ? randomBytes(OBJECTS_FILE_KB * 1024) : Buffer.concat([Buffer.from(`// file ${i}\n`), text]);
    writeFileSync(join(dir, `f-${i}.bin`), body);
  }
  writeFileSync(join(roots.workspace, 'notes.txt'), 'n'.repeat(1024));
  writeFileSync(join(roots.claude, 'projects', 't.jsonl'), '{"type":"user"}\n'.repeat(200));
  return { roots, files };
}

async function objectStore(name, base) {
  if (name === 'local') return { store: new LocalObjectStore(join(base, 'objects')), done: async () => {} };
  const s3 = await startTestS3();
  const store = new S3ObjectStore({
    bucket: s3.bucket,
    endpoint: s3.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    spoolDir: join(base, 'spool'),
    timeoutMs: 120_000,
  });
  return {
    store,
    done: async () => {
      await store.close();
      await s3.close();
    },
  };
}

const timed = async (fn) => {
  const t0 = performance.now();
  const r = await fn();
  return { ms: performance.now() - t0, r };
};

/**
 * Full vs incremental checkpoints to object storage, per backend, `rounds` interleaved rounds
 * (each full round under a fresh prefix, so every blob is uploaded).
 */
export async function objectCheckpointBench(rounds = 3) {
  const base = mkdtempSync(join(tmpdir(), 'ash-bench-objects-'));
  try {
    const { roots, files } = objectsWorkspace(join(base, 'src'));
    const results = [];
    for (const name of OBJECTS_BACKENDS) {
      const { store, done } = await objectStore(name, join(base, name));
      try {
        const ckpt = new CheckpointStore(store);
        const prefix = 'sessions/default/bench/checkpoint/';
        let prev = (await ckpt.save(prefix, roots, { exclude: EXCLUDE })).manifest;
        const tar = await timed(() =>
          store.put(
            'sessions/default/bench/snapshot.tar.gz',
            packTarGz([
              { dir: new ConfinedDir(roots.workspace), prefix: 'workspace', exclude: EXCLUDE, links: 'all' },
              { dir: new ConfinedDir(roots.claude), prefix: 'claude', exclude: new Set(), links: 'all' },
            ]),
          ),
        );
        const times = { full: [], incremental: [] };
        const bytes = { full: 0, incremental: 0 };
        const loads = [];
        let n = 0;
        const full = async () => {
          const t = await timed(() =>
            ckpt.save(`sessions/default/full-${n++}/checkpoint/`, roots, { exclude: EXCLUDE }),
          );
          times.full.push(t.ms);
          bytes.full = t.r.uploadedBytes;
        };
        const incremental = async () => {
          writeFileSync(
            join(roots.workspace, 'notes.txt'),
            `${String(n++).padStart(8, '0')}`.padEnd(1024, 'y'),
          );
          const t = await timed(() => ckpt.save(prefix, roots, { prev, exclude: EXCLUDE }));
          if (t.r.uploadedBlobs !== 1)
            throw new Error(`one changed file uploaded ${t.r.uploadedBlobs} blobs`);
          prev = t.r.manifest;
          times.incremental.push(t.ms);
          bytes.incremental = t.r.uploadedBytes;
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
        // Restores: everything into an empty folder, then one changed file into that copy.
        const dst = {
          workspace: join(base, `dst-${name}`, 'workspace'),
          claude: join(base, `dst-${name}`, 'claude'),
        };
        const fullRestore = await timed(() => ckpt.restore(prefix, prev, dst, { exclude: EXCLUDE }));
        writeFileSync(join(roots.workspace, 'notes.txt'), 'changed'.padEnd(1024, 'z'));
        prev = (await ckpt.save(prefix, roots, { prev, exclude: EXCLUDE })).manifest;
        const incrRestore = await timed(() => ckpt.restore(prefix, prev, dst, { exclude: EXCLUDE }));
        results.push({
          backend: name,
          tar: { ms: tar.ms, bytes: tar.r.size },
          full: times.full,
          incremental: times.incremental,
          bytes,
          loads,
          ratio: p50(times.incremental) / p50(times.full),
          restore: { full: fullRestore.ms, incremental: incrRestore.ms, written: incrRestore.r.written },
        });
      } finally {
        await done();
      }
    }
    return { mb: OBJECTS_MB, files, rounds, results };
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}

/** The object-storage checkpoint section of a benchmark report (markdown lines). */
export function objectCheckpointLines(r) {
  const mb = (n) => (n / 1024 / 1024).toFixed(1);
  const fmt = (xs) => xs.map((x) => x.toFixed(0)).join(', ');
  return [
    `Checkpoint to object storage: a ${r.mb} MiB workspace (${r.files} files of ${OBJECTS_FILE_KB} KiB, half random, half text, + one 1 KiB file), ${r.rounds} interleaved rounds. Full = every file hashed, gzipped and uploaded as a blob + the manifest; incremental = the 1 KiB file rewritten, scan + compare + one blob + the manifest. "tar.gz" = the one-archive snapshot servers stored before.`,
    '',
    '| store | tar.gz (before) | full p50 (runs) | incremental p50 (runs) | incremental / full | target ≤ 5% | full restore | 1-file restore | load |',
    '|---|---|---|---|---|---|---|---|---|',
    ...r.results.map(
      (b) =>
        `| ${b.backend} | ${b.tar.ms.toFixed(0)} ms, ${mb(b.tar.bytes)} MB | ${p50(b.full).toFixed(0)} ms, ${mb(b.bytes.full)} MB (${fmt(b.full)}) | ${p50(b.incremental).toFixed(1)} ms, ${(b.bytes.incremental / 1024).toFixed(0)} KB (${fmt(b.incremental)}) | ${(b.ratio * 100).toFixed(2)}% | ${b.ratio <= 0.05 ? 'met' : '**NOT met**'} | ${b.restore.full.toFixed(0)} ms | ${b.restore.incremental.toFixed(0)} ms | ${b.loads.map((x) => x.toFixed(1)).join(', ')} |`,
    ),
    '',
  ];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const rounds = Number(process.argv[2] ?? 5);
  const r = await checkpointBench(rounds);
  process.stdout.write(`${checkpointLines(r).join('\n')}\n`);
  const o = await objectCheckpointBench(Number(process.env.OBJECTS_ROUNDS ?? Math.min(rounds, 3)));
  process.stdout.write(`${objectCheckpointLines(o).join('\n')}\n`);
}
