import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { SseDecoder, type StreamEvent } from '@ash-ai/shared';
import { ScriptedModel, removeDir, tempDir } from '@ash-ai/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AUTH,
  api,
  b64,
  createSession,
  deployAgent,
  eventually,
  expectOutcome,
  sendTurn,
  startTestServer,
  type TestServer,
} from './harness.js';

const isRoot = process.getuid?.() === 0;

/** Fills the file system holding `dir` until a write fails with ENOSPC. */
function fill(dir: string): string {
  const path = join(dir, 'filler');
  const fd = openSync(path, 'w');
  const chunks = [Buffer.alloc(1024 * 1024, 1), Buffer.alloc(4096, 1), Buffer.alloc(512, 1)];
  try {
    for (const chunk of chunks) {
      for (;;) {
        try {
          writeSync(fd, chunk);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw err;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return path;
}

/** Reads a turn's SSE stream, calling `onEvent` for each event as it arrives. */
async function streamTurn(
  url: string,
  sessionId: string,
  body: Record<string, unknown>,
  onEvent: (ev: StreamEvent, all: StreamEvent[]) => void,
): Promise<{ status: number; events: StreamEvent[] }> {
  const res = await fetch(`${url}/api/sessions/${sessionId}/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...AUTH },
    body: JSON.stringify(body),
  });
  const events: StreamEvent[] = [];
  const decoder = new SseDecoder();
  const reader = res.body!.getReader();
  const text = new TextDecoder();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    for (const f of decoder.push(text.decode(value, { stream: true }))) {
      const ev = { id: Number(f.id), event: f.event, data: JSON.parse(f.data) } as StreamEvent;
      events.push(ev);
      onEvent(ev, events);
    }
  }
  return { status: res.status, events };
}

/** Every stored event of a session (all pages). */
async function storedEvents(url: string, id: string): Promise<Array<{ sequence: number; type: string }>> {
  const out: Array<{ sequence: number; type: string }> = [];
  let after = 0;
  for (;;) {
    const r = await api(url, 'GET', `/api/sessions/${id}/events?after=${after}&limit=1000`);
    expect(r.status).toBe(200);
    const page = r.body.events as Array<{ sequence: number; type: string }>;
    out.push(...page);
    if (page.length < 1000) return out;
    after = page.at(-1)!.sequence;
  }
}

describe.skipIf(!isRoot)('a full data disk', () => {
  let root: string;
  let mnt: string;
  let model: ScriptedModel;
  let t: TestServer | undefined;
  const statuses: Array<{ what: string; status: number }> = [];
  const call = async (what: string, method: string, path: string, body?: unknown) => {
    const r = await api(t!.url, method, path, body);
    statuses.push({ what, status: r.status });
    return r;
  };

  beforeAll(async () => {
    root = tempDir('ash-fulldisk-');
    const img = join(root, 'data.img');
    mnt = join(root, 'mnt');
    mkdirSync(mnt);
    execFileSync('truncate', ['-s', '64M', img]);
    execFileSync('mkfs.ext4', ['-q', '-m', '0', img]);
    execFileSync('mount', ['-o', 'loop', img, mnt]);
    model = await ScriptedModel.start();
  });
  afterAll(async () => {
    await t?.close();
    await model?.close();
    if (mnt) execFileSync('umount', ['-l', mnt]);
    if (root) removeDir(root);
  });

  it('ends the turn with error + done, stores every event the client saw, refuses new work with 507, and recovers without a restart', async () => {
    const dataDir = join(mnt, 'data');
    const env = { ASH_MIN_FREE_DISK_MB: '8', ASH_SANDBOX_DISK_MB: '0' };
    t = await startTestServer({ model, dataDir, env });
    await deployAgent(t.url, 'fill', { 'CLAUDE.md': '# Fill\n' });
    const id = await createSession(t.url, 'fill');
    model.forSession(id).enqueue({ text: 'ready' });
    expectOutcome(await sendTurn(t.url, id, { content: 'warm up' }), 'completed');

    // A turn that streams a lot (each delta is an event); the disk fills while it runs.
    model.forSession(id).enqueue({ slow: { deltas: 1500, intervalMs: 5, text: 'x'.repeat(2000) } });
    let filler: string | undefined;
    const turn = await streamTurn(
      t.url,
      id,
      { content: 'write a lot', includePartialMessages: true },
      (_ev, all) => {
        if (!filler && all.length === 20) filler = fill(mnt);
      },
    );
    expect(filler).toBeDefined();
    expect(turn.status).toBe(200);
    // The turn ended, saying why.
    expectOutcome(turn, 'error');
    const errors = turn.events.filter((e) => e.event === 'error');
    expect(errors.length).toBeGreaterThanOrEqual(1);
    expect(['insufficient_storage', 'storage_unavailable', 'turn_failed', 'sandbox_crashed']).toContain(
      (errors.at(-1)!.data as { code: string }).code,
    );
    const ids = turn.events.map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);

    // While full: degraded, new work refused with 507 before it starts; nothing answers 500.
    const h = await call('health', 'GET', '/health');
    expect(h.body.status).toBe('degraded');
    expect(h.body.reasons.join(' ')).toContain('ASH_MIN_FREE_DISK_MB');
    const create = await call('create session', 'POST', '/api/sessions', { agent: 'fill' });
    expect(create.status).toBe(507);
    expect(create.body.code).toBe('insufficient_storage');
    const msg = await call('message', 'POST', `/api/sessions/${id}/messages`, { content: 'more' });
    expect(msg.status).toBe(507);
    const upload = await call('upload', 'POST', `/api/sessions/${id}/files`, {
      files: [{ path: 'a.txt', content: b64('a') }],
    });
    expect(upload.status).toBe(507);
    const attach = await call('attachment', 'POST', `/api/sessions/${id}/attachments`, {
      filename: 'a.txt',
      content: b64('a'),
    });
    expect(attach.status).toBe(507);
    // Routes that are not refused up front still never answer 500 when their write fails.
    await call('api key', 'POST', '/api/api-keys', { label: 'while full' });
    await call('session config', 'PATCH', `/api/sessions/${id}/config`, { model: 'claude-x' });
    await call('pause', 'POST', `/api/sessions/${id}/pause`);
    expect(statuses.filter((s) => s.status === 500)).toEqual([]);

    // Space back: the session takes the next message without a restart.
    rmSync(filler!);
    await eventually(async () => (await api(t!.url, 'GET', '/health')).body.status === 'ok', 10_000, 'ok');
    // Every event the client received is stored, under the same id and type.
    await eventually(
      async () => {
        const stored = new Map((await storedEvents(t!.url, id)).map((e) => [e.sequence, e.type]));
        return turn.events.every((e) => stored.get(e.id) === e.event);
      },
      15_000,
      'the events the client saw to be stored',
    );
    model.forSession(id).enqueue({ text: 'space is back' });
    const next = await sendTurn(t.url, id, { content: 'again' });
    expect(next.status).toBe(200);
    expectOutcome(next, 'completed');
    const seenMax = Math.max(...ids);
    expect(Math.min(...next.events.map((e) => e.id))).toBeGreaterThan(seenMax);

    // Across a restart, ids continue after everything handed out.
    const before = Math.max(...next.events.map((e) => e.id));
    await t.close();
    t = await startTestServer({ model, dataDir, env });
    model.forSession(id).enqueue({ text: 'after restart' });
    const after = await sendTurn(t.url, id, { content: 'after restart' });
    expectOutcome(after, 'completed');
    expect(Math.min(...after.events.map((e) => e.id))).toBeGreaterThan(before);
    const all = await storedEvents(t.url, id);
    const seqs = all.map((e) => e.sequence);
    expect(new Set(seqs).size).toBe(seqs.length);
    for (const e of [...turn.events, ...next.events, ...after.events])
      expect(all.find((s) => s.sequence === e.id)?.type).toBe(e.event);
  }, 300_000);
});
