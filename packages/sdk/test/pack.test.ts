import { execFile } from 'node:child_process';
import { lstatSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  removeDir,
  ScriptedModel,
  serverEnv,
  startAshProcess,
  tempDir,
  TEST_API_KEY,
  type AshProcess,
} from '@ash-ai/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const SDK_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
const REPO = join(SDK_DIR, '..', '..');

describe('@ash-ai/sdk as a real package', () => {
  let model: ScriptedModel;
  let dataDir: string;
  let proc: AshProcess;
  let project: string;

  beforeAll(async () => {
    model = await ScriptedModel.start();
    dataDir = tempDir('ash-sdk-pack-');
    proc = await startAshProcess(serverEnv({ dataDir, modelUrl: model.url }), 120_000);
    // An empty project outside the repository (os tmpdir): no workspace, no links.
    project = tempDir('ash-sdk-consumer-');
  }, 180_000);
  afterAll(async () => {
    await proc?.stop();
    await model?.close();
    removeDir(dataDir);
    if (project) removeDir(project);
  });

  it('packs a tarball that installs into an empty project and runs a session there', async () => {
    const { stdout } = await run(process.execPath, [join(SDK_DIR, 'scripts', 'pack.mjs'), '--out', project]);
    const tarball = stdout.trim();
    expect(tarball).toMatch(/ash-ai-sdk-.*\.tgz$/);
    const { stdout: list } = await run('tar', ['tzf', tarball]);
    const files = list.split('\n');
    expect(files).toContain('package/README.md');
    expect(files).toContain('package/dist/index.d.ts');
    expect(files).toContain('package/node_modules/@ash-ai/shared/dist/index.js');
    expect(files.some((f) => f.includes('/src/'))).toBe(false);

    writeFileSync(
      join(project, 'package.json'),
      JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
    );
    await run('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', tarball], {
      cwd: project,
      timeout: 300_000,
    });
    // Real directories, not links into the repository.
    for (const p of ['node_modules/@ash-ai/sdk', 'node_modules/@ash-ai/sdk/node_modules/@ash-ai/shared'])
      expect(lstatSync(join(project, p)).isSymbolicLink(), p).toBe(false);
    const pkg = (await import(join(project, 'node_modules/@ash-ai/sdk/package.json'), {
      with: { type: 'json' },
    })) as { default: { exports: Record<string, Record<string, string>> } };
    expect(JSON.stringify(pkg.default.exports)).not.toContain('source');

    // Types: a TypeScript program against the installed package type-checks.
    mkdirSync(join(project, 'src'));
    writeFileSync(
      join(project, 'src', 'check.ts'),
      `import { AshClient, NotFoundError, type Session, type StreamEvent } from '@ash-ai/sdk';
export async function check(url: string, key: string): Promise<number> {
  const client = new AshClient({ serverUrl: url, apiKey: key });
  const session: Session = await client.createSession('packed');
  const events: StreamEvent[] = [];
  for await (const ev of client.sendMessageStream(session.id, 'hi')) events.push(ev);
  const err: unknown = await client.getSession('nope').catch((e: unknown) => e);
  return events.length + (err instanceof NotFoundError ? 1 : 0);
}
`,
    );
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          lib: ['ES2023', 'DOM'],
          types: [],
        },
        include: ['src'],
      }),
    );
    await run(process.execPath, [join(REPO, 'node_modules/typescript/bin/tsc'), '-p', project], {
      cwd: project,
    });

    // Runtime: deploy, create, stream a turn with the scripted model, read the history.
    writeFileSync(
      join(project, 'main.mjs'),
      `import { AshClient } from '@ash-ai/sdk';
const client = new AshClient({ serverUrl: process.env.ASH_URL, apiKey: process.env.ASH_KEY });
await client.agents.deploy({ name: 'packed', files: [{ path: 'CLAUDE.md', content: Buffer.from('# packed').toString('base64') }] });
const session = await client.createSession('packed');
let text = '';
const names = [];
for await (const ev of client.sendMessageStream(session.id, 'Say hello')) {
  names.push(ev.event);
  if (ev.event === 'text_delta') text += ev.data.delta;
}
const messages = await client.listMessages(session.id);
console.log(JSON.stringify({ text, first: names[0], last: names.at(-1), messages: messages.length }));
`,
    );
    model.enqueue({ text: 'Hello from the package.' });
    const { stdout: out } = await run(process.execPath, ['main.mjs'], {
      cwd: project,
      env: { ...process.env, ASH_URL: proc.url, ASH_KEY: TEST_API_KEY },
      timeout: 300_000,
    });
    const result = JSON.parse(out.trim().split('\n').at(-1)!);
    expect(result).toMatchObject({ text: 'Hello from the package.', first: 'session_start', last: 'done' });
    expect(result.messages).toBeGreaterThanOrEqual(2);
  }, 600_000);
});
