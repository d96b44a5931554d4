import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import {
  createTestPostgresDatabase,
  requestText,
  ScriptedModel,
  startTestS3,
  removeDir,
  tempDir,
  type TestDatabase,
  type TestS3,
  ALL_BYTES,
} from '@ash-ai/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3ObjectStore } from '../src/storage/s3-object-store.js';
import {
  api,
  createSession,
  deployAgent,
  sendTurn,
  startTestServer,
  type TestServer,
  b64,
  AUTH,
} from './harness.js';

describe('agent folders never hold .git or node_modules (QA #9)', () => {
  let t: TestServer;
  let roots: string;
  beforeAll(async () => {
    roots = tempDir('ash-deploy-roots-');
    t = await startTestServer({ env: { ASH_DEPLOY_PATH_ROOTS: roots } });
  });
  afterAll(async () => {
    await t?.close();
    removeDir(roots);
  });

  const paths = (r: { body: { files: Array<{ path: string }> } }) => r.body.files.map((f) => f.path).sort();
  const walk = (dir: string): string[] =>
    readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((p) => p.split('\\').join('/'));

  it('a path deploy, the files API and new sessions leave them out, also behind links', async () => {
    const src = join(roots, 'agent');
    const write = (rel: string, text: string) => {
      mkdirSync(join(src, rel, '..'), { recursive: true });
      writeFileSync(join(src, rel), text);
    };
    write('CLAUDE.md', '# Git agent\n');
    write('docs/a.txt', 'doc\n');
    write('.git/HEAD', 'ref: refs/heads/main\n');
    write('.git/config', '[core]\n');
    write('node_modules/dep/index.js', 'module.exports = 1;\n');
    write('sub/node_modules/x.js', 'x\n');
    write('sub/.git/config', '[core]\n');
    symlinkSync('docs/a.txt', join(src, 'ok.txt'));
    symlinkSync('.git/HEAD', join(src, 'head'));
    symlinkSync('node_modules/dep/index.js', join(src, 'dep.js'));
    symlinkSync('../node_modules/dep', join(src, 'sub', 'deplink'));

    const deployed = await api(t.url, 'POST', '/api/agents', { name: 'gitty', path: src });
    expect(deployed.status).toBe(201);
    const list = await api(t.url, 'GET', '/api/agents/gitty/files');
    expect(list.status).toBe(200);
    expect(paths(list)).toEqual(['CLAUDE.md', 'docs/a.txt', 'ok.txt']);
    const id = await createSession(t.url, 'gitty');
    const ws = walk(join(t.dataDir, 'sessions', id, 'workspace'));
    expect(ws.filter((p) => /(^|\/)(\.git|node_modules)(\/|$)|^head$|^dep\.js$/.test(p))).toEqual([]);
    expect(ws).toContain('ok.txt');

    // Uploading into an agent: such paths are skipped (reported), never stored.
    const up = await api(t.url, 'POST', '/api/agents/gitty/files', {
      files: [
        { path: 'good.txt', content: b64('good') },
        { path: 'node_modules/evil.js', content: b64('evil') },
        { path: 'lib/.git/hooks/pre-commit', content: b64('#!/bin/sh') },
      ],
    });
    expect(up.status).toBe(200);
    expect(up.body.files).toEqual([
      { path: 'good.txt', written: true, size: 4 },
      { path: 'node_modules/evil.js', written: false, error: expect.stringMatching(/skipped/) },
      { path: 'lib/.git/hooks/pre-commit', written: false, error: expect.stringMatching(/skipped/) },
    ]);
    expect(paths(await api(t.url, 'GET', '/api/agents/gitty/files'))).toEqual([
      'CLAUDE.md',
      'docs/a.txt',
      'good.txt',
      'ok.txt',
    ]);
    const version = up.body.agent.version as number;
    const vdir = readdirSync(join(t.dataDir, 'agents'), { recursive: true, encoding: 'utf8' });
    expect(vdir.filter((p) => p.includes(`v${version}`) && /node_modules|\.git/.test(p))).toEqual([]);
    // Reading one by path: not found, like any file the agent does not have.
    for (const p of ['node_modules/evil.js', '.git/config'])
      expect((await api(t.url, 'GET', `/api/agents/gitty/files/${p}`)).status, p).toBe(404);

    // A files deploy skips them too.
    await deployAgent(t.url, 'gitty2', {
      'CLAUDE.md': '# G\n',
      '.git/config': '[core]\n',
      'a/node_modules/b.js': 'b',
    });
    expect(paths(await api(t.url, 'GET', '/api/agents/gitty2/files'))).toEqual(['CLAUDE.md']);
  });
});

describe('agent files (knowledge files) and agent folders in storage', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(async () => t?.close());

  it('lists, reads, adds and deletes agent files; each change is a new version, earlier sessions keep theirs', async () => {
    await deployAgent(t.url, 'kb', { 'CLAUDE.md': '# KB\n', 'docs/a.txt': 'first doc\n' });
    const list = await api(t.url, 'GET', '/api/agents/kb/files');
    expect(list.status).toBe(200);
    expect(list.body.version).toBe(1);
    expect(list.body.files.map((f: { path: string }) => f.path).sort()).toEqual(['CLAUDE.md', 'docs/a.txt']);
    const before = await createSession(t.url, 'kb');

    const up = await api(t.url, 'POST', '/api/agents/kb/files', {
      files: [
        { path: 'knowledge/all.bin', content: b64(ALL_BYTES) },
        { path: 'knowledge/facts.md', content: b64('# Facts\nThe sky is blue.\n') },
      ],
    });
    expect(up.status).toBe(200);
    expect(up.body.agent).toMatchObject({ name: 'kb', version: 2, fileCount: 4 });
    expect(up.body.files).toEqual([
      { path: 'knowledge/all.bin', written: true, size: 256 },
      { path: 'knowledge/facts.md', written: true, size: 25 },
    ]);
    const raw = await fetch(`${t.url}/api/agents/kb/files/knowledge/all.bin`, { headers: AUTH });
    expect(raw.headers.get('x-ash-agent-version')).toBe('2');
    expect(Buffer.from(await raw.arrayBuffer()).equals(ALL_BYTES)).toBe(true);
    const json = await api(t.url, 'GET', '/api/agents/kb/files/knowledge/facts.md?format=json');
    expect(json.body).toMatchObject({ content: '# Facts\nThe sky is blue.\n', encoding: 'utf8', version: 2 });

    const after = await createSession(t.url, 'kb');
    const ws = (id: string) => join(t.dataDir, 'sessions', id, 'workspace');
    expect(existsSync(join(ws(before), 'knowledge'))).toBe(false);
    expect(readFileSync(join(ws(after), 'knowledge', 'all.bin')).equals(ALL_BYTES)).toBe(true);
    expect((await api(t.url, 'GET', `/api/sessions/${before}`)).body.session.agentVersion).toBe(1);
    expect((await api(t.url, 'GET', `/api/sessions/${after}`)).body.session.agentVersion).toBe(2);

    const del = await api(t.url, 'DELETE', '/api/agents/kb/files/docs/a.txt');
    expect(del.status).toBe(200);
    expect(del.body.agent.version).toBe(3);
    expect((await api(t.url, 'GET', '/api/agents/kb/files/docs/a.txt')).status).toBe(404);
    expect((await api(t.url, 'DELETE', '/api/agents/kb/files/CLAUDE.md')).body.code).toBe(
      'invalid_agent_folder',
    );
    expect((await api(t.url, 'DELETE', '/api/agents/kb/files/nope.txt')).status).toBe(404);
    for (const p of ['../x.txt', '/etc/passwd', 'a/../../x']) {
      const r = await api(t.url, 'POST', '/api/agents/kb/files', { files: [{ path: p, content: b64('x') }] });
      expect(r.status, p).toBe(400);
      expect(r.body.code).toBe('invalid_path');
    }
    expect((await api(t.url, 'GET', '/api/agents/kb/files/..%2f..%2fash.db')).status).toBe(400);
    expect((await api(t.url, 'GET', '/api/agents/kb')).body.agent.version).toBe(3);
    expect((await api(t.url, 'GET', '/api/agents/nope/files')).body.code).toBe('agent_not_found');
  });

  it('restores a deleted agent folder from storage when a session is created', async () => {
    await deployAgent(t.url, 'phoenix', { 'CLAUDE.md': '# Phoenix\n', 'data/x.bin': 'bytes' });
    rmSync(join(t.dataDir, 'agents'), { recursive: true, force: true });
    const id = await createSession(t.url, 'phoenix');
    expect(readFileSync(join(t.dataDir, 'sessions', id, 'workspace', 'data', 'x.bin'), 'utf8')).toBe('bytes');
    // Gone from disk and from storage: 422.
    await deployAgent(t.url, 'lost', { 'CLAUDE.md': '# Lost\n' });
    rmSync(join(t.dataDir, 'agents'), { recursive: true, force: true });
    rmSync(join(t.dataDir, 'storage', 'agents'), { recursive: true, force: true });
    const r = await api(t.url, 'POST', '/api/sessions', { agent: 'lost' });
    expect(r.status).toBe(422);
    expect(r.body.code).toBe('agent_folder_missing');
  });

  it('a session on an older agent version resumes after a redeploy even when no folder is on disk', async () => {
    await deployAgent(t.url, 'versioned', { 'CLAUDE.md': '# v1\n' });
    const id = await createSession(t.url, 'versioned');
    expect((await api(t.url, 'POST', `/api/sessions/${id}/pause`)).status).toBe(200);
    await deployAgent(t.url, 'versioned', { 'CLAUDE.md': '# v2\n' });
    rmSync(join(t.dataDir, 'agents'), { recursive: true, force: true });
    const resumed = await api(t.url, 'POST', `/api/sessions/${id}/resume`);
    expect(resumed.status).toBe(200);
    expect(resumed.body.session).toMatchObject({ status: 'active', agentVersion: 1 });
    expect(readFileSync(join(t.dataDir, 'agents', 'default', 'versioned', 'v1', 'CLAUDE.md'), 'utf8')).toBe(
      '# v1\n',
    );
    const files = await api(t.url, 'GET', '/api/agents/versioned/files/CLAUDE.md?format=json');
    expect(files.body).toMatchObject({ content: '# v2\n', version: 2 });
  });
});

describe('two servers sharing Postgres and an S3 bucket', () => {
  let s3: TestS3;
  let db: TestDatabase;
  let model: ScriptedModel;
  let a: TestServer | undefined;
  let b: TestServer | undefined;
  let env: Record<string, string>;

  beforeAll(async () => {
    s3 = await startTestS3();
    db = await createTestPostgresDatabase('ash_storage');
    model = await ScriptedModel.start();
    env = { ...s3.env, ASH_DATABASE_URL: db.url };
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await model?.close();
    await db?.drop();
    await s3?.close();
  });

  it('restores agent folders from S3; a session paused on A resumes on B, files and conversation intact', async () => {
    a = await startTestServer({ model, env });
    await deployAgent(a.url, 'traveller', { 'CLAUDE.md': '# Traveller\nRemember what you are told.\n' });
    // Delete the agent folder from disk: creating a session restores it from S3.
    rmSync(join(a.dataDir, 'agents'), { recursive: true, force: true });
    const x = await createSession(a.url, 'traveller');
    const y = await createSession(a.url, 'traveller');
    expect(existsSync(join(a.dataDir, 'sessions', x, 'workspace', 'CLAUDE.md'))).toBe(true);

    for (const [id, word] of [
      [x, 'kumquat'],
      [y, 'persimmon'],
    ] as const) {
      model
        .forSession(id)
        .enqueue(
          { toolUse: { name: 'Bash', input: { command: `echo ${word} > memory.txt && echo SAVED` } } },
          { text: `I will remember ${word}.` },
        );
      const turn = await sendTurn(a.url, id, { content: `Remember the word ${word}.` });
      expect(turn.events.at(-1)).toMatchObject({ event: 'done', data: { outcome: 'completed' } });
    }
    const up = await api(a.url, 'POST', `/api/sessions/${x}/files`, {
      files: [{ path: 'bin/all.bin', content: b64(ALL_BYTES) }],
    });
    expect(up.status).toBe(200);
    // x: paused on A (pausing stores the snapshot in S3); y: an explicit snapshot.
    const paused = await api(a.url, 'POST', `/api/sessions/${x}/pause`);
    expect(paused.status).toBe(200);
    expect(paused.body.session.status).toBe('paused');
    const snap = await api(a.url, 'POST', `/api/sessions/${y}/workspace/snapshot`);
    expect(snap.status).toBe(201);
    expect(snap.body.snapshot).toMatchObject({ sessionId: y, size: expect.any(Number) });

    const objects = new S3ObjectStore({
      bucket: s3.bucket,
      endpoint: s3.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      spoolDir: tempDir('ash-spool-'),
    });
    const keys = (await objects.list('')).map((o) => o.key);
    await objects.close();
    // Incremental checkpoints: a manifest and one blob per distinct file content.
    expect(keys).toContain(`sessions/default/${x}/checkpoint/manifest.json.gz`);
    expect(keys.some((k) => k.startsWith(`sessions/default/${x}/checkpoint/blobs/`))).toBe(true);
    expect(keys).not.toContain(`sessions/default/${x}/snapshot.tar.gz`);
    expect(keys.some((k) => /^agents\/default\/traveller\/[0-9a-f-]+\.tar\.gz$/.test(k))).toBe(true);

    await a.close();
    a = undefined;
    b = await startTestServer({ model, env });

    // B has none of A's files: resuming restores the snapshot A stored when it paused.
    expect(existsSync(join(b.dataDir, 'sessions', x))).toBe(false);
    const resumed = await api(b.url, 'POST', `/api/sessions/${x}/resume`);
    expect(resumed.status).toBe(200);
    expect(resumed.body.session.status).toBe('active');
    expect(existsSync(join(b.dataDir, 'sessions', x, 'workspace', 'memory.txt'))).toBe(true);
    const mem = await fetch(`${b.url}/api/sessions/${x}/files/memory.txt`, { headers: AUTH });
    expect(mem.status).toBe(200);
    expect(mem.headers.get('x-ash-source')).toMatch(/^(live|stored)$/);
    expect(await mem.text()).toBe('kumquat\n');
    const bin = await fetch(`${b.url}/api/sessions/${x}/files/bin/all.bin`, { headers: AUTH });
    expect(Buffer.from(await bin.arrayBuffer()).equals(ALL_BYTES)).toBe(true);

    // The conversation continues on B: the model receives the earlier turn.
    model.forSession(x).enqueue({ text: 'The word was kumquat.' });
    const turn = await sendTurn(b.url, x, { content: 'Which word did I ask you to remember?' });
    expect(turn.events.at(-1)).toMatchObject({ event: 'done', data: { outcome: 'completed' } });
    const seen = requestText(model.messageRequests(x).at(-1)!);
    expect(seen).toContain('Remember the word kumquat.');
    expect(seen).toContain('I will remember kumquat.');
    expect(seen).toContain('Which word did I ask you to remember?');

    // y was never resumed: the first message on B restores it, and the agent sees its files.
    model
      .forSession(y)
      .enqueue(
        { toolUse: { name: 'Bash', input: { command: 'cat memory.txt' } } },
        { text: 'It was persimmon.' },
      );
    const turnY = await sendTurn(b.url, y, { content: 'Read your memory file.' });
    expect(JSON.stringify(turnY.events.filter((e) => e.event === 'tool_result'))).toContain('persimmon');
    expect(requestText(model.messageRequests(y).at(-1)!)).toContain('Remember the word persimmon.');

    // A new session on B: the agent folder is restored from S3 onto B's disk.
    const z = await createSession(b.url, 'traveller');
    expect(readFileSync(join(b.dataDir, 'sessions', z, 'workspace', 'CLAUDE.md'), 'utf8')).toContain(
      'Traveller',
    );
  });
});
