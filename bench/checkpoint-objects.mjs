#!/usr/bin/env node
// Checkpoints of a session's files in object storage: a full checkpoint of a 200 MB workspace
// against an incremental one after one 1 KB file changed (issue 11's goal: incremental ≤ 5% of
// full), on the local object store and on S3 (s3rver, a real S3-compatible server on loopback).
// Also times today's predecessor (one tar.gz of the whole tree per save) and the restores.
//
//   npm run build && node bench/checkpoint-objects.mjs
//   BENCH_MB=200 BENCH_FILE_KB=128 BENCH_ROUNDS=5 BENCH_BACKENDS=local,s3
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { removeDir, startTestS3, tempDir } from '@ash-ai/testing';
import { packTarGz } from '../packages/server/dist/storage/bundle.js';
import { CheckpointStore } from '../packages/server/dist/storage/checkpoint-store.js';
import { ConfinedDir } from '../packages/server/dist/storage/confined-dir.js';
import { LocalObjectStore } from '../packages/server/dist/storage/local-object-store.js';
import { S3ObjectStore } from '../packages/server/dist/storage/s3-object-store.js';

const MB = Number(process.env.BENCH_MB ?? 200);
const FILE_KB = Number(process.env.BENCH_FILE_KB ?? 128);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const BACKENDS = (process.env.BENCH_BACKENDS ?? 'local,s3').split(',');
const EXCLUDE = new Set(['node_modules', '.cache']);

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};
const time = async (fn) => {
  const t0 = performance.now();
  const r = await fn();
  return { ms: performance.now() - t0, r };
};

/** A workspace of MB megabytes: FILE_KB files in 50 folders, half random bytes, half text. */
function makeWorkspace(root) {
  const ws = join(root, 'workspace');
  const claude = join(root, 'claude', 'projects');
  mkdirSync(claude, { recursive: true });
  const files = Math.round((MB * 1024) / FILE_KB);
  const line = 'const answer = compute(input, options); // a line of ordinary source code\n';
  const text = Buffer.from(line.repeat(Math.ceil((FILE_KB * 1024) / line.length))).subarray(0, FILE_KB * 1024);
  for (let i = 0; i < files; i++) {
    const dir = join(ws, `dir-${i % 50}`);
    mkdirSync(dir, { recursive: true });
    // Text files differ by a header (distinct contents, as in a real tree).
    const body = i % 2 ? randomBytes(FILE_KB * 1024) : Buffer.concat([Buffer.from(`// file ${i}\n`), text]);
    writeFileSync(join(dir, `f-${i}.bin`), body);
  }
  writeFileSync(join(ws, 'notes.txt'), 'n'.repeat(1024));
  writeFileSync(join(claude, 'transcript.jsonl'), '{"type":"user"}\n'.repeat(200));
  return { roots: { workspace: ws, claude: join(root, 'claude') }, files };
}

async function backend(name) {
  if (name === 'local') {
    const dir = tempDir('ash-bench-objects-');
    return { store: new LocalObjectStore(dir), done: async () => removeDir(dir) };
  }
  const s3 = await startTestS3();
  const spool = tempDir('ash-bench-spool-');
  const store = new S3ObjectStore({
    bucket: s3.bucket,
    endpoint: s3.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    spoolDir: spool,
    timeoutMs: 120_000,
  });
  return {
    store,
    done: async () => {
      await store.close();
      await s3.close();
      removeDir(spool);
    },
  };
}

const work = tempDir('ash-bench-ckpt-');
const { roots, files } = makeWorkspace(work);
console.log(`workspace: ${MB} MB in ${files} files of ${FILE_KB} KB (half random, half text); load ${loadavg()[0].toFixed(2)}`);
const rows = [];
try {
  for (const name of BACKENDS) {
    const { store, done } = await backend(name);
    try {
      const ckpt = new CheckpointStore(store);
      const prefix = 'sessions/default/bench/checkpoint/';
      // Today's predecessor: the whole tree as one tar.gz on every save.
      const tar = await time(() =>
        store.put(
          'sessions/default/bench/snapshot.tar.gz',
          packTarGz([
            { dir: new ConfinedDir(roots.workspace), prefix: 'workspace', exclude: EXCLUDE, links: 'all' },
            { dir: new ConfinedDir(roots.claude), prefix: 'claude', exclude: new Set(), links: 'all' },
          ]),
        ),
      );
      const full = await time(() => ckpt.save(prefix, roots, { exclude: EXCLUDE }));
      let prev = full.r.manifest;
      const incr = [];
      const bytes = [];
      for (let i = 0; i < ROUNDS; i++) {
        writeFileSync(join(roots.workspace, 'notes.txt'), `${i}`.padEnd(1024, 'x'));
        const t = await time(() => ckpt.save(prefix, roots, { prev, exclude: EXCLUDE }));
        if (t.r.uploadedBlobs !== 1) throw new Error(`expected one blob, got ${t.r.uploadedBlobs}`);
        prev = t.r.manifest;
        incr.push(t.ms);
        bytes.push(t.r.uploadedBytes);
      }
      // Restores: everything into an empty folder, then one changed file into that copy.
      const dst = { workspace: join(work, `dst-${name}`, 'workspace'), claude: join(work, `dst-${name}`, 'claude') };
      const fullRestore = await time(() => ckpt.restore(prefix, prev, dst, { exclude: EXCLUDE }));
      writeFileSync(join(roots.workspace, 'notes.txt'), 'changed'.padEnd(1024, 'y'));
      const last = (await ckpt.save(prefix, roots, { prev, exclude: EXCLUDE })).manifest;
      const incrRestore = await time(() => ckpt.restore(prefix, last, dst, { exclude: EXCLUDE }));
      const incrMs = median(incr);
      rows.push({
        backend: name,
        tarMs: tar.ms,
        tarBytes: tar.r.size,
        fullMs: full.ms,
        fullBytes: full.r.uploadedBytes,
        incrMs,
        incrBytes: median(bytes),
        ratio: incrMs / full.ms,
        fullRestoreMs: fullRestore.ms,
        incrRestoreMs: incrRestore.ms,
      });
    } finally {
      await done();
    }
  }
} finally {
  removeDir(work);
}

const f = (n) => (n >= 100 ? n.toFixed(0) : n.toFixed(1));
const mb = (n) => (n / 1024 / 1024).toFixed(1);
console.log(
  '\n| store | tar.gz of the tree (before) | full checkpoint | incremental (1 KB changed, median of ' +
    `${ROUNDS}) | incremental / full | full restore | incremental restore |`,
);
console.log('|---|---|---|---|---|---|---|');
for (const r of rows)
  console.log(
    `| ${r.backend} | ${f(r.tarMs)} ms, ${mb(r.tarBytes)} MB | ${f(r.fullMs)} ms, ${mb(r.fullBytes)} MB | ` +
      `${f(r.incrMs)} ms, ${(r.incrBytes / 1024).toFixed(1)} KB | ${(r.ratio * 100).toFixed(2)}% ` +
      `(goal ≤ 5%: ${r.ratio <= 0.05 ? 'met' : 'MISSED'}) | ${f(r.fullRestoreMs)} ms | ${f(r.incrRestoreMs)} ms |`,
  );
