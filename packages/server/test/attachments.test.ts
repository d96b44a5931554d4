import { ALL_BYTES, tinyPng } from '@ash-ai/testing';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
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

/** Parses a Content-Disposition the way an RFC 6266 client does (filename* wins). */
function dispositionName(h: string): { exact: string; fallback: string } {
  const star = /filename\*=UTF-8''([^;\s]+)/.exec(h);
  const plain = /filename="([^"]*)"/.exec(h);
  return { exact: decodeURIComponent(star?.[1] ?? ''), fallback: plain?.[1] ?? '' };
}

describe('attachments', () => {
  let t: TestServer;
  let sessionId: string;

  beforeAll(async () => {
    t = await startTestServer({ env: { ASH_ATTACHMENT_MAX_SIZE_MB: '1' } });
    await deployAgent(t.url, 'viewer', { 'CLAUDE.md': '# Viewer\n' });
    sessionId = await createSession(t.url, 'viewer');
  });
  afterAll(async () => t?.close());

  const names = [
    'rapport annuel – été 2026 (final).pdf',
    '写真 🌸.png',
    'he said "hi" \\ and \'bye\'.txt',
    `${'very-long-file-name-'.repeat(30)}end.bin`,
    '../../etc/passwd',
    '.hidden name .txt',
    'Q3 "final" 100% (sûr) – 50%25 done.txt',
  ];

  it('stores any name intact for display, sanitised on disk, and downloads with a valid header and the right bytes', async () => {
    // A name with control characters would display one way and download another: refused.
    for (const filename of ['.hidden\u0000name\r\n.txt', 'tab\tname.txt']) {
      const refused = await api(t.url, 'POST', `/api/sessions/${sessionId}/attachments`, {
        filename,
        content: b64('x'),
      });
      expect(refused.status, JSON.stringify(filename)).toBe(400);
      expect(refused.body.errors[0].path).toBe('/body/filename');
    }
    const ws = join(t.dataDir, 'sessions', sessionId, 'workspace');
    const seen = new Set<string>();
    for (const [i, filename] of names.entries()) {
      const bytes = i % 2 === 0 ? ALL_BYTES : Buffer.from(`content of ${i}`);
      const r = await api(t.url, 'POST', `/api/sessions/${sessionId}/attachments`, {
        filename,
        content: b64(bytes),
      });
      expect(r.status, filename).toBe(201);
      const a = r.body.attachment;
      expect(a).toMatchObject({ sessionId, filename, size: bytes.length, messageId: null });
      expect(a.workspacePath).toMatch(/^attachments\/[^/]+$/);
      // biome-ignore lint/suspicious/noControlCharactersInRegex: checking they are gone
      expect(a.workspacePath).not.toMatch(/\.\.|[\u0000-\u001f]/);
      expect(seen.has(a.workspacePath)).toBe(false);
      seen.add(a.workspacePath);
      // The agent can read it in its workspace.
      expect(readFileSync(join(ws, ...a.workspacePath.split('/'))).equals(bytes)).toBe(true);

      const res = await fetch(`${t.url}/api/attachments/${a.id}`, { headers: AUTH });
      expect(res.status).toBe(200);
      expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      const cd = res.headers.get('content-disposition')!;
      expect(cd).toMatch(
        /^attachment; filename="[\x20-\x7e]*"; filename\*=UTF-8''[A-Za-z0-9!#$&+\-.^_`|~%]+$/,
      );
      const parsed = dispositionName(cd);
      // biome-ignore lint/suspicious/noControlCharactersInRegex: the header drops them
      expect(parsed.exact).toBe(filename.replace(/[\u0000-\u001f\u007f]/g, ''));
      expect(parsed.fallback).not.toMatch(/["\\]/);
    }
    expect(existsSync('/etc/passwd.txt')).toBe(false);
    const list = await api(t.url, 'GET', `/api/sessions/${sessionId}/attachments`);
    expect(list.body.attachments.map((a: { filename: string }) => a.filename)).toEqual(names);
    // Types: given, or from the name.
    const pdf = list.body.attachments[0];
    expect(pdf.mimeType).toBe('application/pdf');
    const res = await fetch(`${t.url}/api/attachments/${pdf.id}`, { headers: AUTH });
    expect(res.headers.get('content-type')).toBe('application/pdf');
  });

  it('the model receives an attached image as an image block and text as a document', async () => {
    const png = tinyPng();
    const img = await api(t.url, 'POST', `/api/sessions/${sessionId}/attachments`, {
      filename: 'chart.png',
      content: b64(png),
      mimeType: 'image/png',
    });
    const txt = await api(t.url, 'POST', `/api/sessions/${sessionId}/attachments`, {
      filename: 'notes.md',
      content: b64('# Notes\nthe answer is 42\n'),
      mimeType: 'text/markdown',
    });
    t.model.forSession(sessionId).enqueue({ text: 'I see a tiny image.' });
    const turn = await sendTurn(t.url, sessionId, {
      content: [
        { type: 'text', text: 'What is in this picture and these notes?' },
        { type: 'image', source: { type: 'attachment', attachmentId: img.body.attachment.id } },
        { type: 'document', source: { type: 'attachment', attachmentId: txt.body.attachment.id } },
      ],
    });
    expect(turn.status).toBe(200);
    expect(turn.events.at(-1)).toMatchObject({ event: 'done', data: { outcome: 'completed' } });
    const req = t.model.messageRequests(sessionId).at(-1)!;
    const blocks = req.messages.flatMap((m) =>
      Array.isArray(m.content) ? (m.content as Array<Record<string, any>>) : [],
    );
    const image = blocks.find((b) => b.type === 'image');
    expect(image).toBeDefined();
    expect(image!.source).toMatchObject({ type: 'base64', media_type: 'image/png' });
    expect(Buffer.from(image!.source.data, 'base64').equals(png)).toBe(true);
    const doc = blocks.find((b) => b.type === 'document');
    expect(doc?.source).toMatchObject({
      type: 'text',
      media_type: 'text/plain',
      data: '# Notes\nthe answer is 42\n',
    });
    expect(doc?.title).toBe('notes.md');
  });

  it('refuses bad references, bad base64 and over-limit attachments; unknown ids are 404', async () => {
    const unknown = '00000000-0000-4000-8000-000000000000';
    const bad = await api(t.url, 'POST', `/api/sessions/${sessionId}/messages`, {
      content: [{ type: 'image', source: { type: 'attachment', attachmentId: unknown } }],
    });
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].path).toBe('/body/content/0/source/attachmentId');
    const txt = (await api(t.url, 'GET', `/api/sessions/${sessionId}/attachments`)).body.attachments.find(
      (a: { mimeType: string }) => a.mimeType === 'text/markdown',
    );
    const wrongType = await api(t.url, 'POST', `/api/sessions/${sessionId}/messages`, {
      content: [{ type: 'image', source: { type: 'attachment', attachmentId: txt.id } }],
    });
    expect(wrongType.status).toBe(400);
    expect(wrongType.body.detail).toMatch(/image\/png/);

    const big = await api(t.url, 'POST', `/api/sessions/${sessionId}/attachments`, {
      filename: 'big.bin',
      content: b64(Buffer.alloc(1024 * 1024 + 1)),
    });
    expect(big.status).toBe(413);
    expect(big.body.detail).toMatch(/ASH_ATTACHMENT_MAX_SIZE_MB/);
    const malformed = await api(t.url, 'POST', `/api/sessions/${sessionId}/attachments`, {
      filename: 'x.txt',
      content: '@@@@',
    });
    expect(malformed.status).toBe(400);
    expect(malformed.body.code).toBe('invalid_base64');
    const after = await api(t.url, 'GET', `/api/sessions/${sessionId}/attachments`);
    expect(after.body.attachments.map((a: { filename: string }) => a.filename)).not.toContain('big.bin');
    expect(existsSync(join(t.dataDir, 'sessions', sessionId, 'workspace', 'attachments', 'big.bin'))).toBe(
      false,
    );

    expect((await api(t.url, 'GET', `/api/attachments/${unknown}`)).body.code).toBe('attachment_not_found');
    expect((await api(t.url, 'GET', `/api/sessions/${unknown}/attachments`)).body.code).toBe(
      'session_not_found',
    );
    const first = after.body.attachments[0];
    const del = await fetch(`${t.url}/api/attachments/${first.id}`, { method: 'DELETE', headers: AUTH });
    expect(del.status).toBe(204);
    expect((await api(t.url, 'GET', `/api/attachments/${first.id}`)).status).toBe(404);
    expect((await api(t.url, 'DELETE', `/api/attachments/${first.id}`)).status).toBe(404);
  });

  it('documents the data routes in the OpenAPI document', async () => {
    const spec = await api(t.url, 'GET', '/openapi.json');
    const paths = Object.keys(spec.body.paths);
    for (const p of [
      '/api/sessions/{id}/files',
      '/api/sessions/{id}/files/{path}',
      '/api/sessions/{id}/workspace',
      '/api/sessions/{id}/workspace/snapshot',
      '/api/sessions/{id}/attachments',
      '/api/attachments/{id}',
      '/api/agents/{name}/files',
      '/api/agents/{name}/files/{path}',
    ])
      expect(paths).toContain(p);
    expect(spec.body.components.schemas).toHaveProperty('Attachment');
  });
});
