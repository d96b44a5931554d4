import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import {
  ENTRIES,
  REPO_ROOT,
  removeDir,
  runAsh,
  ScriptedModel,
  serverEnv,
  startAshProcess,
  TEST_API_KEY,
  tempDir,
  type AshProcess,
} from '@ash-ai/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** Runs `ash` under GNU time: exit code, output, wall time (ms) and peak resident memory (MiB). */
function measuredAsh(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string; ms: number; maxRssMiB: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(
      '/usr/bin/time',
      ['-f', 'ASH_MAX_RSS_KB=%M', process.execPath, ENTRIES.cli, ...args],
      {
        env,
        cwd: REPO_ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      const m = /ASH_MAX_RSS_KB=(\d+)/.exec(stderr);
      resolve({
        code: code ?? -1,
        stdout,
        stderr: stderr.replace(/(Command exited with non-zero status \d+\n)?ASH_MAX_RSS_KB=\d+\n/, ''),
        ms: Date.now() - started,
        maxRssMiB: m ? Number(m[1]) / 1024 : Number.NaN,
      });
    });
  });
}

/** Writes `mib` MiB of random bytes (1 MiB at a time). */
function randomFile(path: string, mib: number): void {
  const fd = openSync(path, 'w');
  try {
    for (let i = 0; i < mib; i++) writeSync(fd, randomBytes(1024 * 1024));
  } finally {
    closeSync(fd);
  }
}

describe('ash uploads: refused before the transfer when too large, streamed otherwise', () => {
  let model: ScriptedModel;
  let home: string;
  let server: AshProcess;
  let env: Record<string, string>;
  let id: string;
  const ash = (...args: string[]) => runAsh(['-s', server.url, ...args], env, { timeoutMs: 180_000 });

  beforeAll(async () => {
    model = await ScriptedModel.start();
    home = tempDir('ash-cli-uploads-');
    server = await startAshProcess(
      serverEnv({
        dataDir: join(home, 'data'),
        modelUrl: model.url,
        extra: { ASH_BUNDLE_MAX_SIZE_MB: '5', ASH_FILE_MAX_SIZE_MB: '50' },
      }),
    );
    env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: home,
      ASH_DATA_DIR: join(home, 'cli'),
      ASH_API_KEY: TEST_API_KEY,
    };
    expect((await ash('deploy', join(REPO_ROOT, 'examples/hello'), '--name', 'hello')).code).toBe(0);
    id = (await ash('session', 'create', 'hello')).stdout.trim();
  });
  afterAll(async () => {
    await server?.stop();
    await model?.close();
    removeDir(home);
  });

  it('publishes its upload limits in /health', async () => {
    const health = JSON.parse((await ash('health', '--json')).stdout);
    expect(health.uploadLimits).toEqual({
      agentBytes: 100 * 1024 * 1024,
      messageBytes: 50 * 1024 * 1024,
      fileBytes: 50 * 1024 * 1024,
      fileBatchBytes: 100 * 1024 * 1024,
      attachmentBytes: 10 * 1024 * 1024,
      bundleBytes: 5 * 1024 * 1024,
    });
  });

  it('refuses a 60 MB file at once, without reading or sending it', async () => {
    const big = join(home, 'big.bin');
    randomFile(big, 60);
    const r = await measuredAsh(['-s', server.url, 'session', 'upload', id, big], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `ash: ${big} is 60 MiB, over the server's 50 MiB limit per file; nothing was sent\n`,
    );
    // Before: 28 s and 489 MB. Now the CLI's whole run (Node start included) stays small.
    expect(r.ms).toBeLessThan(10_000);
    expect(r.maxRssMiB).toBeLessThan(150);
    const files = JSON.parse((await ash('session', 'files', id, '--json')).stdout) as {
      files: Array<{ path: string }>;
    };
    expect(files.files.map((f) => f.path)).not.toContain('big.bin');
  });

  it('refuses a batch over the per-upload limit and a bundle over the bundle limit, before sending', async () => {
    const parts = [1, 2, 3].map((i) => join(home, `part${i}.bin`));
    for (const p of parts) randomFile(p, 40);
    const batch = await measuredAsh(['-s', server.url, 'session', 'upload', id, ...parts], env);
    expect(batch.code).toBe(1);
    expect(batch.stderr).toBe(
      "ash: the files hold 120 MiB, over the server's 100 MiB limit per upload; nothing was sent (upload them in smaller batches)\n",
    );
    expect(batch.ms).toBeLessThan(10_000);

    const bundle = join(home, 'big.tar.gz');
    randomFile(bundle, 6);
    const restore = await measuredAsh(['-s', server.url, 'session', 'workspace', 'restore', id, bundle], env);
    expect(restore.code).toBe(1);
    expect(restore.stderr).toBe(
      `ash: ${bundle} is 6 MiB, over the server's 5 MiB bundle limit; nothing was sent\n`,
    );
  });

  it('streams a 40 MB upload from disk: the CLI never holds it in memory, the bytes arrive intact', async () => {
    const small = join(home, 'one.bin');
    randomFile(small, 1);
    const base = await measuredAsh(['-s', server.url, 'session', 'upload', id, small], env);
    expect(base.code, base.stderr).toBe(0);
    const file = join(home, 'forty.bin');
    randomFile(file, 40);
    const r = await measuredAsh(['-s', server.url, 'session', 'upload', id, file], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`uploaded forty.bin (${40 * 1024 * 1024} bytes)\n`);
    // Buffered, the file (40 MiB), its base64 and the JSON body (53 MiB each) would add over
    // 140 MiB to the 1 MiB upload's peak; streamed, only garbage not yet collected does.
    console.log(
      `upload peak RSS: 1 MiB ${base.maxRssMiB.toFixed(0)} MiB, 40 MiB ${r.maxRssMiB.toFixed(0)} MiB (${r.ms} ms)`,
    );
    expect(r.maxRssMiB - base.maxRssMiB).toBeLessThan(64);
    const back = join(home, 'forty.back');
    expect((await ash('session', 'download', id, 'forty.bin', '-o', back)).code).toBe(0);
    const { readFileSync } = await import('node:fs');
    expect(readFileSync(back).equals(readFileSync(file))).toBe(true);
  });

  it('streams a deploy from disk', async () => {
    const { mkdirSync } = await import('node:fs');
    const make = (name: string, mib: number) => {
      const dir = join(home, name);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'CLAUDE.md'), `# ${name}\n`);
      randomFile(join(dir, 'model.bin'), mib);
      return dir;
    };
    const base = await measuredAsh(['-s', server.url, 'deploy', make('small-agent', 1)], env);
    expect(base.code, base.stderr).toBe(0);
    const r = await measuredAsh(['-s', server.url, 'deploy', make('big-agent', 30)], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('deployed big-agent (version 1, 2 files)\n');
    console.log(
      `deploy peak RSS: 1 MiB ${base.maxRssMiB.toFixed(0)} MiB, 30 MiB ${r.maxRssMiB.toFixed(0)} MiB (${r.ms} ms)`,
    );
    expect(r.maxRssMiB - base.maxRssMiB).toBeLessThan(64);
    const files = JSON.parse((await ash('agent', 'get', 'big-agent', '--json')).stdout).agent;
    expect(files.sizeBytes).toBe(30 * 1024 * 1024 + Buffer.byteLength('# big-agent\n'));
  });
});
