// The bench and the soak as smoke runs: `npm run bench` prints every goal of issue 15 with its
// floor, ratio and load, and `npm run soak` ends with no error and nothing leaked. One round and a
// few turns only: no figure is asserted (speed is measured by the scripts, never by tests).
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { removeDir, tempDir } from '@ash-ai/testing';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Runs `node <script>` from the repository root; resolves with its exit code and output. */
function runScript(
  script: string,
  env: Record<string, string>,
): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, script)], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, out }));
  });
}

describe('bench and soak (smoke runs)', () => {
  const dir = tempDir('ash-bench-smoke-');
  afterAll(() => removeDir(dir));

  it('npm run bench: one round prints every goal with its floor, ratio and load, and writes the report', async () => {
    const r = await runScript('bench/run.mjs', {
      BENCH_N: '1',
      BENCH_DELTAS: '3',
      BENCH_BURST_ROUNDS: '0',
      BENCH_CHECKPOINT_ROUNDS: '0',
      BENCH_RUNNERS_ROUNDS: '0',
      BENCH_IDLE_WAIT_MS: '0',
      BENCH_REPORT_DIR: dir,
    });
    expect(r.code, r.out.slice(-3000)).toBe(0);
    const files = readdirSync(dir).filter((f) => f.endsWith('.md'));
    expect(files.length).toBe(1);
    const report = readFileSync(join(dir, files[0]!), 'utf8');
    const row = (label: string) => report.split('\n').find((l) => l.startsWith(`| ${label}`));
    const ms = String.raw`\d+\.\d ms / \d+\.\d ms`;
    const load = String.raw`\d+\.\d–\d+\.\d \(mean \d+\.\d\)`;
    for (const label of [
      'later turn: live session vs SDK streaming-input query()',
      'first turn, no warm pool',
      'warm-pool create → first token',
      'resume (paused) → first token',
    ]) {
      // Ash p50/p95 | floor p50/p95 | ratio | target | met or not | load
      expect(row(label), label).toMatch(
        new RegExp(
          String.raw`\| ${ms} \| ${ms} \| \d+\.\d\dx \| ≤ 1\.1x \| (met|\*\*NOT met\*\*) \| ${load} \|$`,
        ),
      );
    }
    expect(row('per-delta latency')).toMatch(
      new RegExp(
        String.raw`\| ${ms} \| ${ms} \| [+−]\d+\.\d ms p50, [+−]\d+\.\d ms p95 \| .* \| ${load} \|$`,
      ),
    );
    expect(row('first SSE frame of a turn')).toMatch(/\| \d+\.\d ms \/ \d+\.\d ms \(p50\) \|/);
    expect(row('`ash serve` → /health 200')).toMatch(
      new RegExp(String.raw`\| ${ms} \| .* \| ${load}; CPU idle before each start \d+–\d+% \|$`),
    );
    expect(report).toMatch(/^Memory: an idle live session runs \d+ processes using \d+ MB PSS/m);
    expect(report).toMatch(/a paused session runs 0\./);
  }, 300_000);

  it('npm run soak: a few sessions and turns end with no error and no leaked process, cgroup or fd', async () => {
    const r = await runScript('bench/soak.mjs', { SOAK_SESSIONS: '3', SOAK_TURNS: '3' });
    const json = r.out.slice(r.out.indexOf('{\n'));
    const result = JSON.parse(json.slice(0, json.lastIndexOf('}') + 1));
    expect(result.turns).toBe(9);
    // RSS flatness needs many turns (the default run): not judged on three.
    expect(result.checks, r.out.slice(-3000)).toMatchObject({
      noErrors: true,
      noLeakedProcesses: true,
      noLeakedCgroups: true,
      noLeakedFds: true,
    });
  }, 300_000);
});
