import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { requestText } from '@ash-ai/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, createSession, deployAgent, sendTurn, startTestServer, type TestServer } from './harness.js';

const ORDER = [
  'session_start',
  'sandbox_starting',
  'sandbox_ready',
  'text_delta',
  'thinking_delta',
  'tool_use',
  'tool_result',
  'message',
  'turn_complete',
  'error',
  'done',
];

describe('turns on the real SDK in a sandbox', () => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer();
    await deployAgent(t.url, 'worker', {
      'CLAUDE.md': '# Worker\nYou are the acceptance-test worker. Always answer in English.\n',
      '.claude/settings.json': JSON.stringify({ env: { WORKER_SETTING: 'from-settings' } }),
    });
  });
  afterAll(async () => t?.close());

  it('streams a turn that writes a file and runs Bash, in order, and persists exactly what it streamed', async () => {
    const id = await createSession(t.url, 'worker');
    t.model.forSession(id).enqueue(
      {
        toolUse: {
          name: 'Write',
          input: { file_path: '/workspace/note.txt', content: 'hello from Write\n' },
        },
      },
      {
        toolUse: {
          name: 'Bash',
          input: { command: 'cat note.txt && echo BASH-OK && echo $WORKER_SETTING' },
        },
      },
      { text: 'Finished the task.', thinking: 'Let me wrap up.' },
    );
    const turn = await sendTurn(t.url, id, { content: 'Write a note, then cat it.' });
    expect(turn.status).toBe(200);
    expect(turn.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(turn.headers.get('cache-control')).toBe('no-cache, no-transform');
    expect(turn.headers.get('x-accel-buffering')).toBe('no');

    const names = turn.events.map((e) => e.event);
    expect(names[0]).toBe('session_start');
    expect(names.at(-1)).toBe('done');
    expect(names.filter((n) => n === 'done')).toHaveLength(1);
    expect(turn.events.at(-1)!.data).toMatchObject({ sessionId: id, outcome: 'completed' });
    expect(turn.events[0]!.data).toMatchObject({ sessionId: id, version: expect.any(String) });
    for (const n of names) expect(ORDER).toContain(n);
    // ids strictly increase, and every frame carries one
    const ids = turn.events.map((e) => e.id);
    for (let i = 1; i < ids.length; i++) expect(ids[i]!).toBeGreaterThan(ids[i - 1]!);
    expect(
      turn.raw
        .split('\n\n')
        .filter((f) => f.trim() && !f.startsWith(':'))
        .every((f) => /^id: \d+\n/.test(f)),
    ).toBe(true);
    // causal order inside the turn
    const pos = (pred: (e: (typeof turn.events)[number]) => boolean) => turn.events.findIndex(pred);
    const writeUse = pos((e) => e.event === 'tool_use' && (e.data as { name: string }).name === 'Write');
    const bashUse = pos((e) => e.event === 'tool_use' && (e.data as { name: string }).name === 'Bash');
    const bashResult = turn.events.find((e, i) => i > bashUse && e.event === 'tool_result');
    expect(writeUse).toBeGreaterThan(0);
    expect(bashUse).toBeGreaterThan(writeUse);
    expect(bashResult).toBeDefined();
    expect((bashResult!.data as { content: string }).content).toContain('hello from Write');
    expect((bashResult!.data as { content: string }).content).toContain('BASH-OK');
    expect(pos((e) => e.event === 'thinking_delta')).toBeGreaterThan(bashUse);
    expect(pos((e) => e.event === 'turn_complete')).toBeLessThan(names.length - 1);
    const text = turn.events
      .filter((e) => e.event === 'text_delta')
      .map((e) => (e.data as { delta: string }).delta)
      .join('');
    expect(text).toBe('Finished the task.');

    // The file is in this session's workspace.
    expect(readFileSync(join(t.dataDir, 'sessions', id, 'workspace', 'note.txt'), 'utf8')).toBe(
      'hello from Write\n',
    );

    // Persisted events equal what was streamed.
    const persisted = await api(
      t.url,
      'GET',
      `/api/sessions/${id}/events?limit=1000&turnId=${(turn.events[0]!.data as { turnId: string }).turnId}`,
    );
    expect(persisted.status).toBe(200);
    expect(
      persisted.body.events.map((e: { sequence: number; type: string; data: string }) => ({
        id: e.sequence,
        event: e.type,
        data: JSON.parse(e.data),
      })),
    ).toEqual(turn.events);
    // The model saw CLAUDE.md.
    const first = t.model.messageRequests(id)[0]!;
    expect(requestText(first)).toContain('acceptance-test worker');
  });

  it('continues the conversation on the second message and keeps sessions apart', async () => {
    const id = await createSession(t.url, 'worker');
    t.model
      .forSession(id)
      .enqueue(
        { toolUse: { name: 'Bash', input: { command: 'echo secret-word-42 > memo.txt && echo stored' } } },
        { text: 'Stored it.' },
        { text: 'You asked me to store secret-word-42.' },
      );
    const first = await sendTurn(t.url, id, { content: 'Remember the word.' });
    expect(first.events.at(-1)!.data).toMatchObject({ outcome: 'completed' });
    const second = await sendTurn(t.url, id, { content: 'What did I ask before?' });
    expect(second.events.at(-1)!.data).toMatchObject({ outcome: 'completed' });
    expect(second.events[0]!.id).toBeGreaterThan(first.events.at(-1)!.id);
    const lastRequest = t.model.messageRequests(id).at(-1)!;
    const seen = requestText(lastRequest);
    expect(seen).toContain('Remember the word.');
    expect(seen).toContain('secret-word-42');
    expect(seen).toContain('What did I ask before?');

    const messages = await api(t.url, 'GET', `/api/sessions/${id}/messages?limit=100`);
    const texts = messages.body.messages.map((m: { text: string }) => m.text);
    expect(texts).toContain('Remember the word.');
    expect(texts).toContain('You asked me to store secret-word-42.');
    const seqs = messages.body.messages.map((m: { sequence: number }) => m.sequence);
    expect(seqs).toEqual([...seqs].sort((a: number, b: number) => a - b));

    // A second session of the same agent does not see the first one's files.
    const other = await createSession(t.url, 'worker');
    t.model
      .forSession(other)
      .enqueue(
        { toolUse: { name: 'Bash', input: { command: 'ls -a /workspace; cat /workspace/memo.txt' } } },
        { text: 'checked' },
      );
    const turn = await sendTurn(t.url, other, { content: 'look around' });
    const result = turn.events.find((e) => e.event === 'tool_result')!.data as { content: string };
    expect(result.content).not.toContain('secret-word-42');
    expect(result.content).toMatch(/No such file/);
    expect(existsSync(join(t.dataDir, 'sessions', other, 'workspace', 'memo.txt'))).toBe(false);
  });

  it('answers 409 to a message sent while a turn runs, and the turn still completes', async () => {
    const id = await createSession(t.url, 'worker');
    t.model.forSession(id).enqueue({ slow: { deltas: 15, intervalMs: 100, text: 'x' } });
    const running = sendTurn(t.url, id, { content: 'take your time' });
    await t.model.waitForRequests(t.model.messageRequests().length + 1);
    const busy = await api(t.url, 'POST', `/api/sessions/${id}/messages`, { content: 'me too' });
    expect(busy.status).toBe(409);
    expect(busy.body).toMatchObject({ code: 'session_busy', status: 409 });
    const done = await running;
    expect(done.events.at(-1)!.data).toMatchObject({ outcome: 'completed' });
    const after = await sendTurn(t.url, id, { content: 'now?' });
    expect(after.status).toBe(200);
  });

  it('ends the turn with error then done when the model API fails', async () => {
    const id = await createSession(t.url, 'worker');
    t.model
      .forSession(id)
      .enqueue({ error: { status: 529, type: 'overloaded_error', message: 'scripted overload' } });
    const turn = await sendTurn(t.url, id, { content: 'fail please' });
    const names = turn.events.map((e) => e.event);
    expect(names.at(-1)).toBe('done');
    expect(names.at(-2)).toBe('error');
    expect(turn.events.at(-1)!.data).toMatchObject({ outcome: 'error' });
    expect((turn.events.at(-2)!.data as { code: string }).code).toBe('model_error');
    // The session stays usable.
    const next = await sendTurn(t.url, id, { content: 'try again' });
    expect(next.events.at(-1)!.data).toMatchObject({ outcome: 'completed' });
  });
});
