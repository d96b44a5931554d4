import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { SseDecoder } from '@ash-ai/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH, api, createSession, deployAgent, startTestServer, type TestServer } from './harness.js';

type Ev = { event: string; data: Record<string, unknown> };

/** An `/api` turn's SSE stream, read event by event while it stays open. */
async function openTurn(url: string, sessionId: string, text: string) {
  const res = await fetch(`${url}/api/sessions/${sessionId}/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...AUTH },
    body: JSON.stringify({ content: text }),
  });
  expect(res.status).toBe(200);
  const reader = res.body!.getReader();
  const decoder = new SseDecoder();
  const utf8 = new TextDecoder();
  const queue: Ev[] = [];
  const seen: Ev[] = [];
  /** Reads until an event named `name` (included); returns the events read since the last call. */
  async function until(name: string): Promise<Ev[]> {
    const out: Ev[] = [];
    for (;;) {
      const e = queue.shift();
      if (e) {
        out.push(e);
        seen.push(e);
        if (e.event === name) return out;
        continue;
      }
      const r = await reader.read();
      if (r.done)
        throw new Error(`the stream ended before ${name}; got ${seen.map((x) => x.event).join(', ')}`);
      for (const f of decoder.push(utf8.decode(r.value, { stream: true })))
        if (f.event) queue.push({ event: f.event, data: JSON.parse(f.data) });
    }
  }
  return { until };
}

/** Every `tool_result` block the model received in a session, by tool-use id, as JSON text. */
function toolResultsSeen(t: TestServer, sessionId: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const r of t.model.messageRequests(sessionId))
    for (const m of r.messages)
      if (Array.isArray(m.content))
        for (const b of m.content as Array<Record<string, unknown>>)
          if (b.type === 'tool_result') out.set(String(b.tool_use_id), JSON.stringify(b));
  return out;
}

/**
 * `POST /api/sessions/:id/tool-answers` answers `permission_request` (askTools) and
 * `custom_tool_use` (customTools) events of an `/api` turn, through `/api` only: real server,
 * real sandbox, the scripted model.
 */
describe('tool answers on /api', () => {
  let t: TestServer;
  let sessionId: string;
  let workspace: string;

  beforeAll(async () => {
    t = await startTestServer();
    await deployAgent(t.url, 'asker', { 'CLAUDE.md': 'You ask before running Bash.' });
    sessionId = await createSession(t.url, 'asker', {
      askTools: ['Bash'],
      customTools: [
        {
          name: 'get_weather',
          description: 'The weather of a city, from the client.',
          inputSchema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
        },
      ],
    });
    workspace = join(t.dataDir, 'sessions', sessionId, 'workspace');
  }, 120_000);
  afterAll(async () => t?.close());

  const answer = (body: unknown, id = sessionId) =>
    api(t.url, 'POST', `/api/sessions/${id}/tool-answers`, body);

  it('allow runs the waiting Bash call; bad answers are 4xx problems meanwhile', async () => {
    t.model
      .forSession(sessionId)
      .enqueue({ toolUse: { name: 'Bash', input: { command: 'touch allowed.txt' } } }, { text: 'Created.' });
    const turn = await openTurn(t.url, sessionId, 'Create the file.');
    const asked = await turn.until('permission_request');
    const req = asked.at(-1)!.data;
    expect(req).toMatchObject({ name: 'Bash', input: { command: 'touch allowed.txt' } });
    const id = String(req.id);
    expect(existsSync(join(workspace, 'allowed.txt'))).toBe(false);

    // Bad inputs, while the call waits.
    const unknownId = await answer({ id: 'toolu_nope', result: 'allow' });
    expect(unknownId.status).toBe(400);
    expect(unknownId.headers.get('content-type')).toContain('application/problem+json');
    expect(unknownId.body).toMatchObject({ code: 'validation_failed' });
    expect(unknownId.body.errors[0].path).toBe('/body/id');
    const wrongKind = await answer({ id, result: 'result', content: [{ type: 'text', text: 'x' }] });
    expect(wrongKind.status).toBe(400);
    expect(wrongKind.body.code).toBe('validation_failed');
    for (const bad of [
      { id, result: 'maybe' },
      { result: 'allow' },
      { id, result: 'allow', extra: 1 },
      { id, result: 'result', content: [{ type: 'video' }] },
    ]) {
      const r = await answer(bad);
      expect(r.status, JSON.stringify(bad)).toBe(400);
      expect(r.body.code).toBe('validation_failed');
    }
    const notJson = await answer('not json');
    expect(notJson.status).toBe(400);
    expect(notJson.body.code).toBe('invalid_json');
    const noSession = await answer({ id, result: 'allow' }, '00000000-0000-4000-8000-000000000000');
    expect(noSession.status).toBe(404);
    expect(noSession.body.code).toBe('session_not_found');
    expect(existsSync(join(workspace, 'allowed.txt'))).toBe(false);

    const ok = await answer({ id, result: 'allow' });
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ answer: { id, kind: 'permission', result: 'allow' }, outcome: 'delivered' });
    const rest = await turn.until('done');
    expect(rest.map((e) => e.event)).toEqual(expect.arrayContaining(['tool_answer', 'tool_result']));
    expect(rest.at(-1)!.data.outcome).toBe('completed');
    expect(existsSync(join(workspace, 'allowed.txt'))).toBe(true);

    const again = await answer({ id, result: 'allow' });
    expect(again.status).toBe(400);
    expect(again.body.code).toBe('validation_failed');
    expect(again.body.detail).toContain('already answered');
  }, 180_000);

  it('deny: the call does not run and the model receives the message', async () => {
    t.model
      .forSession(sessionId)
      .enqueue(
        { toolUse: { name: 'Bash', input: { command: 'touch denied.txt' } } },
        { text: 'Understood.' },
      );
    const turn = await openTurn(t.url, sessionId, 'Create the other file.');
    const id = String((await turn.until('permission_request')).at(-1)!.data.id);
    const r = await answer({ id, result: 'deny', denyMessage: 'NOT-THAT-FILE' });
    expect(r.status).toBe(200);
    expect(r.body.answer).toEqual({ id, kind: 'permission', result: 'deny', denyMessage: 'NOT-THAT-FILE' });
    const rest = await turn.until('done');
    expect(rest.find((e) => e.event === 'tool_answer')!.data).toMatchObject({ id, result: 'deny' });
    expect(toolResultsSeen(t, sessionId).get(id)).toContain('NOT-THAT-FILE');
    expect(existsSync(join(workspace, 'denied.txt'))).toBe(false);
  }, 180_000);

  it('custom tool: the client result reaches the model', async () => {
    t.model
      .forSession(sessionId)
      .enqueue(
        { toolUse: { name: 'mcp__ash_custom__get_weather', input: { city: 'Paris' } } },
        { text: 'Sunny.' },
      );
    const turn = await openTurn(t.url, sessionId, 'Weather in Paris?');
    const use = (await turn.until('custom_tool_use')).at(-1)!.data;
    expect(use).toMatchObject({ name: 'get_weather', input: { city: 'Paris' } });
    const id = String(use.id);
    const wrongKind = await answer({ id, result: 'allow' });
    expect(wrongKind.status).toBe(400);
    const r = await answer({ id, result: 'result', content: [{ type: 'text', text: 'SUNNY-42C' }] });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      answer: { id, kind: 'custom_tool', result: 'result' },
      outcome: 'delivered',
    });
    const rest = await turn.until('done');
    expect(rest.at(-1)!.data.outcome).toBe('completed');
    expect(toolResultsSeen(t, sessionId).get(id)).toContain('SUNNY-42C');
  }, 180_000);
  it('a call whose turn was interrupted: the answer is accepted and resumes; an ended session is 410', async () => {
    t.model
      .forSession(sessionId)
      .enqueue(
        { toolUse: { name: 'Bash', input: { command: 'touch never.txt' } } },
        { text: 'Stopped.' },
        { text: 'Told about it.' },
      );
    const turn = await openTurn(t.url, sessionId, 'Try once more.');
    const id = String((await turn.until('permission_request')).at(-1)!.data.id);
    expect((await api(t.url, 'POST', `/api/sessions/${sessionId}/interrupt`)).status).toBe(200);
    expect((await turn.until('done')).at(-1)!.data.outcome).toBe('interrupted');
    const r = await answer({ id, result: 'deny', denyMessage: 'TOO-LATE-NO' });
    expect(r.status).toBe(200);
    expect(r.body.outcome).toBe('resumed');
    // The resumed turn tells the model the outcome.
    const deadline = Date.now() + 90_000;
    while (
      !JSON.stringify(t.model.messageRequests(sessionId).at(-1)?.messages ?? []).includes('TOO-LATE-NO')
    ) {
      if (Date.now() > deadline) throw new Error('the model never heard of the denial');
      await new Promise((res) => setTimeout(res, 200));
    }
    expect(existsSync(join(workspace, 'never.txt'))).toBe(false);

    const other = await createSession(t.url, 'asker', { askTools: ['Bash'] });
    expect((await api(t.url, 'DELETE', `/api/sessions/${other}`)).status).toBeLessThan(300);
    const gone = await answer({ id: 'toolu_x', result: 'allow' }, other);
    expect(gone.status).toBe(410);
    expect(gone.body.code).toBe('session_ended');
  }, 180_000);
});
