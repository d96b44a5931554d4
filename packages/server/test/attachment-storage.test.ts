import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ALL_BYTES, ScriptedModel, removeDir, startTestS3, tempDir, type TestS3 } from '@ash-ai/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

describe('attachments after the operator switches object storage', () => {
  let s3: TestS3;
  let model: ScriptedModel;
  let dataDir: string;
  let t: TestServer | undefined;

  beforeAll(async () => {
    s3 = await startTestS3();
    model = await ScriptedModel.start();
    dataDir = tempDir('ash-switch-');
  });
  afterAll(async () => {
    await t?.close();
    await model?.close();
    await s3?.close();
    removeDir(dataDir);
  });

  const restart = async (env: Record<string, string>) => {
    await t?.close();
    t = await startTestServer({ model, dataDir, env });
    return t;
  };
  const attach = async (url: string, id: string, filename: string, bytes: Buffer) => {
    const r = await api(url, 'POST', `/api/sessions/${id}/attachments`, { filename, content: b64(bytes) });
    expect(r.status).toBe(201);
    return r.body.attachment.id as string;
  };
  const download = (url: string, id: string) => fetch(`${url}/api/attachments/${id}`, { headers: AUTH });

  it('local → S3 → local: downloads from the intact workspace copy, else 410 attachment_gone, never 500', async () => {
    let s = await restart({});
    await deployAgent(s.url, 'switcher', { 'CLAUDE.md': '# Switcher\n' });
    const session = await createSession(s.url, 'switcher');
    const kept = await attach(s.url, session, 'kept.bin', ALL_BYTES);
    const edited = await attach(s.url, session, 'edited.txt', Buffer.from('original text\n'));
    const removed = await attach(s.url, session, 'removed.txt', Buffer.from('will be deleted\n'));
    const ws = join(dataDir, 'sessions', session, 'workspace', 'attachments');
    // The agent changed one copy and deleted another.
    writeFileSync(join(ws, 'edited.txt'), 'changed by the agent\n');
    rmSync(join(ws, 'removed.txt'));

    // Switch to S3: none of the attachments are in the bucket.
    s = await restart(s3.env);
    const a = await download(s.url, kept);
    expect(a.status).toBe(200);
    expect(Buffer.from(await a.arrayBuffer()).equals(ALL_BYTES)).toBe(true);
    for (const id of [edited, removed]) {
      const r = await api(s.url, 'GET', `/api/attachments/${id}`);
      expect(r.status, id).toBe(410);
      expect(r.body.code).toBe('attachment_gone');
      expect(r.headers.get('content-type')).toMatch(/problem\+json/);
    }
    // A message referencing a gone attachment is refused with the same code, nothing is sent.
    const turn = await api(s.url, 'POST', `/api/sessions/${session}/messages`, {
      content: [{ type: 'document', source: { type: 'attachment', attachmentId: edited } }],
    });
    expect(turn.status).toBe(410);
    expect(turn.body.code).toBe('attachment_gone');
    // A gone attachment can still be deleted.
    expect((await api(s.url, 'DELETE', `/api/attachments/${removed}`)).status).toBe(204);
    // New attachments go to S3; the one served from the workspace copy was stored there again.
    const onS3 = await attach(s.url, session, 'on-s3.txt', Buffer.from('stored in the bucket\n'));

    // Back to the local store (a different backend again): the S3 attachment is served from its copy.
    s = await restart({});
    const back = await download(s.url, onS3);
    expect(back.status).toBe(200);
    expect(await back.text()).toBe('stored in the bucket\n');
    const again = await download(s.url, kept);
    expect(again.status).toBe(200);

    // A different data dir on the same database is the same situation: the workspace is gone too.
    rmSync(join(dataDir, 'sessions', session, 'workspace', 'attachments', 'on-s3.txt'));
    const gone = await api(s.url, 'GET', `/api/attachments/${onS3}`);
    expect(gone.status).toBe(410);
    expect(gone.body.code).toBe('attachment_gone');
  });

  it('messageId must be a message of the same session: else 400 invalid_message_id and nothing is stored', async () => {
    const s = await restart({});
    await deployAgent(s.url, 'talker', { 'CLAUDE.md': '# Talker\n' });
    const one = await createSession(s.url, 'talker');
    const other = await createSession(s.url, 'talker');
    model.forSession(one).enqueue({ text: 'hello back' });
    const turn = await sendTurn(s.url, one, { content: 'hello' });
    expect(turn.status).toBe(200);
    const messages = (await api(s.url, 'GET', `/api/sessions/${one}/messages`)).body.messages;
    const messageId = messages[0].id as string;

    const ok = await api(s.url, 'POST', `/api/sessions/${one}/attachments`, {
      filename: 'linked.txt',
      content: b64('linked'),
      messageId,
    });
    expect(ok.status).toBe(201);
    expect(ok.body.attachment.messageId).toBe(messageId);

    for (const [target, id] of [
      [one, '00000000-0000-4000-8000-000000000000'],
      [other, messageId],
    ] as const) {
      const r = await api(s.url, 'POST', `/api/sessions/${target}/attachments`, {
        filename: 'bad.txt',
        content: b64('bad'),
        messageId: id,
      });
      expect(r.status).toBe(400);
      expect(r.body.code).toBe('invalid_message_id');
      expect(r.body.errors).toEqual([{ path: '/body/messageId', message: expect.any(String) }]);
    }
    const listed = (await api(s.url, 'GET', `/api/sessions/${other}/attachments`)).body.attachments;
    expect(listed).toEqual([]);
    const own = (await api(s.url, 'GET', `/api/sessions/${one}/attachments`)).body.attachments;
    expect(own.map((a: { filename: string }) => a.filename)).toEqual(['linked.txt']);
  });
});
