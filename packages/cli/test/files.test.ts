import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ALL_BYTES,
  ScriptedModel,
  removeDir,
  runAsh,
  serverEnv,
  startAshProcess,
  TEST_API_KEY,
  tempDir,
  tinyPng,
  type AshProcess,
} from '@ash-ai/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

describe('ash session files|download|upload and workspace save|restore, ash deploy excludes', () => {
  let model: ScriptedModel;
  let dataDir: string;
  let work: string;
  let proc: AshProcess;
  let env: Record<string, string>;
  const ash = async (...args: string[]) => {
    const r = await runAsh(args, env, { cwd: work });
    if (r.code !== 0) throw new Error(`ash ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
    return r;
  };

  beforeAll(async () => {
    model = await ScriptedModel.start();
    dataDir = tempDir('ash-cli-files-');
    work = tempDir('ash-cli-work-');
    proc = await startAshProcess(serverEnv({ dataDir, modelUrl: model.url }));
    env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: work,
      ASH_DATA_DIR: join(work, '.ash'),
      ASH_SERVER_URL: proc.url,
      ASH_API_KEY: TEST_API_KEY,
    };
  });
  afterAll(async () => {
    await proc?.stop();
    await model?.close();
    removeDir(dataDir);
    removeDir(work);
  });

  it('deploys honouring .gitignore/.ashignore and a size limit', async () => {
    const agent = join(work, 'agent');
    mkdirSync(join(agent, 'build'), { recursive: true });
    mkdirSync(join(agent, 'docs'), { recursive: true });
    writeFileSync(join(agent, 'CLAUDE.md'), '# CLI agent\n');
    writeFileSync(join(agent, '.gitignore'), 'build/\n*.log\ndocs/*\n!docs/keep.md\n');
    writeFileSync(join(agent, '.ashignore'), 'secret.txt\n');
    writeFileSync(join(agent, 'build', 'out.js'), 'x');
    writeFileSync(join(agent, 'debug.log'), 'x');
    writeFileSync(join(agent, 'secret.txt'), 'x');
    writeFileSync(join(agent, 'docs', 'drop.md'), 'x');
    writeFileSync(join(agent, 'docs', 'keep.md'), 'kept');
    writeFileSync(join(agent, 'big.bin'), Buffer.alloc(300 * 1024));
    const tooBig = await runAsh(['deploy', agent, '--name', 'cliagent', '--max-size', '0.2'], env, {
      cwd: work,
    });
    expect(tooBig.code).toBe(1);
    expect(tooBig.stderr).toMatch(/byte limit.*--max-size/);
    // An unusable --max-size is refused before anything is read or sent, naming the value.
    for (const bad of ['abc', '10MB', '0x10', '1e3', '-5', '0', '', '0.0000000001', 'Infinity']) {
      const r = await runAsh(['deploy', agent, '--name', 'cliagent', '--max-size', bad], env, { cwd: work });
      expect(r.code, bad).toBe(1);
      expect(r.stderr, bad).toContain(`invalid --max-size '${bad}'`);
    }
    await ash('deploy', agent, '--name', 'cliagent');
    const files = JSON.parse(
      (await runAsh(['agent', 'get', 'cliagent', '--json'], env, { cwd: work })).stdout,
    );
    expect(files.agent.fileCount).toBe(5); // CLAUDE.md, .gitignore, .ashignore, docs/keep.md, big.bin
  });

  it('uploads, lists and downloads byte-identical files; saves and restores workspaces', async () => {
    const id = JSON.parse((await ash('session', 'create', 'cliagent', '--json')).stdout).session.id as string;
    const local = join(work, 'local');
    mkdirSync(join(local, 'nested'), { recursive: true });
    writeFileSync(join(local, 'pixel.png'), tinyPng());
    writeFileSync(join(local, 'all.bin'), ALL_BYTES);
    writeFileSync(join(local, 'nested', 'ñandú 🐦.txt'), 'unicode\n');
    const up = await ash(
      'session',
      'upload',
      id,
      join(local, 'pixel.png'),
      join(local, 'all.bin'),
      join(local, 'nested'),
      '--to',
      'in',
    );
    expect(up.stdout).toContain('uploaded in/pixel.png');
    expect(up.stdout).toContain('uploaded in/nested/ñandú 🐦.txt');
    const listed = JSON.parse((await ash('session', 'files', id, '--json')).stdout);
    expect(listed.files.map((f: { path: string }) => f.path)).toEqual(
      expect.arrayContaining(['in/pixel.png', 'in/all.bin', 'in/nested/ñandú 🐦.txt', 'CLAUDE.md']),
    );
    const table = await ash('session', 'files', id);
    expect(table.stdout).toContain('in/all.bin');
    for (const [remote, bytes] of [
      ['in/pixel.png', tinyPng()],
      ['in/all.bin', ALL_BYTES],
      ['in/nested/ñandú 🐦.txt', Buffer.from('unicode\n')],
    ] as const) {
      const out = join(work, 'dl', remote.replace(/\//g, '_'));
      await ash('session', 'download', id, remote, '-o', out);
      expect(readFileSync(out).equals(bytes)).toBe(true);
    }
    // A local target that cannot be written is a clear one-line error, not a raw system error.
    writeFileSync(join(work, 'a-file'), 'x');
    for (const [target, why] of [
      [work, /cannot write .*: it is a folder/],
      [join(work, 'a-file', 'under.bin'), /cannot write .*: a parent of it is a file/],
    ] as const) {
      const r = await runAsh(['session', 'download', id, 'in/all.bin', '-o', target], env, { cwd: work });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(why);
    }
    const missing = await runAsh(['session', 'download', id, 'nope.txt'], env, { cwd: work });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/404 file_not_found/);

    const bundle = join(work, 'ws.tar.gz');
    await ash('session', 'workspace', 'save', id, '-o', bundle);
    const other = JSON.parse((await ash('session', 'create', 'cliagent', '--json')).stdout).session
      .id as string;
    const restored = await ash('session', 'workspace', 'restore', other, bundle);
    expect(restored.stdout).toMatch(/restored \d+ files/);
    const back = join(work, 'back.bin');
    await ash('session', 'download', other, 'in/all.bin', '-o', back);
    expect(readFileSync(back).equals(ALL_BYTES)).toBe(true);
    await ash('session', 'rm-file', other, 'in/all.bin');
    expect(
      (await runAsh(['session', 'download', other, 'in/all.bin', '-o', back], env, { cwd: work })).code,
    ).toBe(1);
    const snap = await ash('session', 'workspace', 'snapshot', other);
    expect(snap.stdout).toMatch(/snapshot stored/);
  });
});
