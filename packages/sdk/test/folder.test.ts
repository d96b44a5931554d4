import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { removeDir, tempDir } from '@ash-ai/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { AshClient, AshError, AshLocalError, readAgentFolder } from '../src/index.js';

describe('readAgentFolder', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) removeDir(d);
  });

  it('uploads what in-folder symlinks point to, and reports links that lead outside, nowhere, or in a cycle', async () => {
    const outside = tempDir('ash-folder-outside-');
    const root = tempDir('ash-folder-');
    dirs.push(outside, root);
    writeFileSync(join(outside, 'secret.txt'), 'not for upload');
    writeFileSync(join(root, 'CLAUDE.md'), '# Agent\n');
    mkdirSync(join(root, 'shared', 'review'), { recursive: true });
    writeFileSync(join(root, 'shared', 'review', 'SKILL.md'), '# Review\n');
    mkdirSync(join(root, '.claude', 'skills'), { recursive: true });
    symlinkSync('../../shared/review', join(root, '.claude', 'skills', 'review'));
    symlinkSync('CLAUDE.md', join(root, 'AGENTS.md'));
    symlinkSync(join(outside, 'secret.txt'), join(root, 'leak.txt'));
    symlinkSync(outside, join(root, 'leakdir'));
    symlinkSync('missing.md', join(root, 'broken.md'));
    symlinkSync('..', join(root, 'shared', 'up'));

    const skipped: Array<[string, string]> = [];
    const files = await readAgentFolder(root, { onSkip: (rel, reason) => skipped.push([rel, reason]) });
    const byPath = new Map(files.map((f) => [f.path, Buffer.from(f.content, 'base64').toString()]));
    expect([...byPath.keys()].sort()).toEqual([
      '.claude/skills/review/SKILL.md',
      'AGENTS.md',
      'CLAUDE.md',
      'shared/review/SKILL.md',
    ]);
    expect(byPath.get('.claude/skills/review/SKILL.md')).toBe('# Review\n');
    expect(byPath.get('AGENTS.md')).toBe('# Agent\n');
    expect(skipped.sort()).toEqual([
      ['broken.md', 'broken symbolic link'],
      ['leak.txt', 'symbolic link to outside the folder'],
      ['leakdir', 'symbolic link to outside the folder'],
      ['shared/up', 'symbolic link cycle'],
    ]);
  });
  it('throws errors with a stable code for local path problems', async () => {
    const root = tempDir('ash-folder-codes-');
    dirs.push(root);
    writeFileSync(join(root, 'CLAUDE.md'), '# Agent\n');
    writeFileSync(join(root, 'big.bin'), Buffer.alloc(2048));
    const missing = await readAgentFolder(join(root, 'nope')).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(AshLocalError);
    expect(missing).toBeInstanceOf(AshError);
    expect(missing).toMatchObject({ code: 'not_a_directory', path: join(root, 'nope') });
    await expect(readAgentFolder(join(root, 'CLAUDE.md'))).rejects.toMatchObject({ code: 'not_a_directory' });
    await expect(readAgentFolder(root, { maxBytes: 1024 })).rejects.toMatchObject({
      code: 'payload_too_large',
    });
    const client = new AshClient({ serverUrl: 'http://127.0.0.1:9', apiKey: 'ash_x' });
    await expect(client.agents.deployDirectory('x', join(root, 'nope'))).rejects.toMatchObject({
      code: 'not_a_directory',
    });
    await expect(client.sessions.files.read('s', '../etc/passwd')).rejects.toMatchObject({
      code: 'invalid_path',
    });
    await expect(client.sessions.files.read('s', 'a//b')).rejects.toMatchObject({ code: 'invalid_path' });
  });

  it('never uploads .git or node_modules, at any depth, nor through links (QA #9)', async () => {
    const root = tempDir('ash-folder-');
    dirs.push(root);
    const write = (rel: string, text: string) => {
      mkdirSync(join(root, rel, '..'), { recursive: true });
      writeFileSync(join(root, rel), text);
    };
    write('CLAUDE.md', '# Agent\n');
    write('.git/HEAD', 'ref: refs/heads/main\n');
    write('node_modules/dep/index.js', 'module.exports = 1;\n');
    write('lib/node_modules/x.js', 'x');
    write('lib/.git/config', '[core]');
    write('lib/ok.js', 'ok');
    symlinkSync('.git/HEAD', join(root, 'head'));
    symlinkSync('node_modules/dep', join(root, 'deps'));
    symlinkSync('../node_modules/dep/index.js', join(root, 'lib', 'dep.js'));
    symlinkSync('lib', join(root, 'liblink'));

    const skipped: Array<[string, string]> = [];
    const files = await readAgentFolder(root, { onSkip: (rel, reason) => skipped.push([rel, reason]) });
    expect(files.map((f) => f.path).sort()).toEqual(['CLAUDE.md', 'lib/ok.js', 'liblink/ok.js']);
    expect(skipped.sort()).toEqual([
      ['deps', 'symbolic link into .git or node_modules'],
      ['head', 'symbolic link into .git or node_modules'],
      ['lib/dep.js', 'symbolic link into .git or node_modules'],
      ['liblink/dep.js', 'symbolic link into .git or node_modules'],
    ]);
  });
});
