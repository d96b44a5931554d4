import { randomUUID } from 'node:crypto';
import { lastUserText, requestText, type RecordedRequest } from '@ash-ai/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, createSession, deployAgent, sendTurn, startTestServer, type TestServer } from './harness.js';

/** A minimal MCP server (stdio, newline-delimited JSON-RPC) the sandbox runs with `node`. */
const MCP_SERVER = `
const rl = require('node:readline').createInterface({ input: process.stdin });
const send = (m) => process.stdout.write(JSON.stringify(m) + '\\n');
rl.on('line', (line) => {
  let m;
  try { m = JSON.parse(line); } catch { return; }
  if (m.id === undefined) return;
  if (m.method === 'initialize')
    send({ jsonrpc: '2.0', id: m.id, result: { protocolVersion: m.params.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: 'demo', version: '1.0.0' } } });
  else if (m.method === 'tools/list')
    send({ jsonrpc: '2.0', id: m.id, result: { tools: [{ name: 'shout', description: 'Upper-cases text', inputSchema: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] } }] } });
  else if (m.method === 'tools/call')
    send({ jsonrpc: '2.0', id: m.id, result: { content: [{ type: 'text', text: String(m.params.arguments.text).toUpperCase() + ' ' + (process.env.MCP_MARK || '') }] } });
  else send({ jsonrpc: '2.0', id: m.id, error: { code: -32601, message: 'method not found' } });
});
`;

/** A 1×1 PNG. */
const PNG_1PX =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';

type Ev = { event: string; data: any; id: number };
const initOf = (events: Ev[]) =>
  events.find((e) => e.event === 'message' && e.data.type === 'system' && e.data.subtype === 'init')?.data;
const main = (reqs: RecordedRequest[]) => reqs.filter((r) => r.tools.length > 0);

describe('session and turn options reach the SDK', () => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer();
    await deployAgent(t.url, 'opts', {
      'CLAUDE.md': '# Options agent\n',
      'mcp.js': MCP_SERVER,
      '.claude/agents/reviewer.md':
        '---\nname: reviewer\ndescription: Reviews things\n---\nYou are REVIEWER-PROMPT.\n',
    });
    await deployAgent(t.url, 'layered', {
      'CLAUDE.md': '# Layered agent\n',
      '.claude/settings.json': JSON.stringify({
        model: 'folder-model',
        permissions: { defaultMode: 'dontAsk', allow: ['Bash'] },
      }),
    });
  });
  afterAll(async () => t?.close());

  it('applies every session option: model, system prompt, tools, permission mode, betas, subagents, MCP servers, env', async () => {
    const config = {
      model: 'claude-sonnet-4-5',
      systemPrompt: 'SESSION-SYSTEM-PROMPT-7731',
      permissionMode: 'dontAsk',
      allowedTools: ['Bash', 'mcp__demo__shout'],
      disallowedTools: ['WebFetch'],
      betas: ['context-1m-2025-08-07'],
      subagents: { helper: { description: 'Helps with chores', prompt: 'You are HELPER-PROMPT.' } },
      mcpServers: { demo: { command: 'node', args: ['/workspace/mcp.js'], env: { MCP_MARK: 'via-mcp' } } },
    };
    const created = await api(t.url, 'POST', '/api/sessions', {
      agent: 'opts',
      extraEnv: { SESSION_ONLY_VAR: 'env-from-session' },
      ...config,
    });
    expect(created.status).toBe(201);
    // MCP env and header values are write-only: responses redact them.
    const shown = {
      ...config,
      mcpServers: { demo: { ...config.mcpServers.demo, env: { MCP_MARK: '***' } } },
    };
    expect(created.body.session.config).toEqual(shown);
    expect(created.body.session.model).toBe('claude-sonnet-4-5');
    const id = created.body.session.id as string;
    expect((await api(t.url, 'GET', `/api/sessions/${id}`)).body.session.config).toEqual(shown);

    t.model
      .forSession(id)
      .enqueue(
        { toolUse: { name: 'Bash', input: { command: 'echo "var=$SESSION_ONLY_VAR"' } } },
        { toolUse: { name: 'Write', input: { file_path: '/workspace/denied.txt', content: 'x' } } },
        { toolUse: { name: 'mcp__demo__shout', input: { text: 'hello' } } },
        { text: 'all done' },
      );
    const turn = await sendTurn(t.url, id, { content: 'use your tools' });
    expect(turn.events.at(-1)!.data).toMatchObject({ outcome: 'completed' });
    const reqs = main(t.model.messageRequests(id));
    expect(reqs.length).toBe(4);
    for (const r of reqs) {
      expect(r.model).toBe('claude-sonnet-4-5');
      expect(r.systemText).toContain('SESSION-SYSTEM-PROMPT-7731');
      expect(r.tools).toContain('Bash');
      expect(r.tools).not.toContain('WebFetch');
      expect(String(r.headers['anthropic-beta']).split(',')).toContain('context-1m-2025-08-07');
    }
    // The SDK's own view of its options.
    const init = initOf(turn.events as Ev[]);
    expect(init.permissionMode).toBe('dontAsk');
    expect(init.agents).toContain('helper');
    expect(init.agents).toContain('reviewer'); // the folder's agent file, still there
    expect(init.mcp_servers).toEqual([expect.objectContaining({ name: 'demo', status: 'connected' })]);
    expect(init.tools).toContain('mcp__demo__shout'); // offered through tool search (deferred)
    expect(init.tools).not.toContain('WebFetch');
    expect(init.betas).toEqual(['context-1m-2025-08-07']);
    // Tools as the permission mode and allowedTools decide: Bash and the MCP tool run, Write is denied.
    const results = turn.events.filter((e) => e.event === 'tool_result').map((e) => e.data as any);
    expect(results[0]).toMatchObject({ is_error: false, content: 'var=env-from-session' });
    expect(results[1].content).toMatch(/denied/i);
    expect(results[2]).toMatchObject({ is_error: false, content: 'HELLO via-mcp' });
  });

  it('starts the session as its initialAgent (a subagent) when no system prompt is set', async () => {
    const id = await createSession(t.url, 'opts', {
      subagents: { helper: { description: 'Helps with chores', prompt: 'You are HELPER-PROMPT-5521.' } },
      initialAgent: 'helper',
    });
    const turn = await sendTurn(t.url, id, { content: 'who are you?' });
    expect(turn.events.at(-1)!.data).toMatchObject({ outcome: 'completed' });
    expect(main(t.model.messageRequests(id))[0]!.systemText).toContain('HELPER-PROMPT-5521');
    // A folder agent can be the initial agent too.
    const other = await createSession(t.url, 'opts', { initialAgent: 'reviewer' });
    await sendTurn(t.url, other, { content: 'review' });
    expect(main(t.model.messageRequests(other))[0]!.systemText).toContain('REVIEWER-PROMPT');
  });

  it('applies every turn option for that turn only: model, thinking budget, effort, maxTurns', async () => {
    const id = await createSession(t.url, 'opts', { model: 'session-model-a' });
    // A budgeted thinking config is sent as such to models with fixed budgets (Sonnet 4.5)...
    const turn = await sendTurn(t.url, id, {
      content: 'think hard',
      model: 'claude-sonnet-4-5',
      thinking: { type: 'enabled', budgetTokens: 2048 },
    });
    expect(turn.events.at(-1)!.data).toMatchObject({ outcome: 'completed' });
    const first = main(t.model.messageRequests(id))[0]!;
    expect(first.model).toBe('claude-sonnet-4-5');
    expect(first.body.thinking).toMatchObject({ type: 'enabled', budget_tokens: 2048 });
    // ...and effort goes out as output_config.effort (with its beta) to models that take it.
    await sendTurn(t.url, id, { content: 'effort', model: 'effort-model', effort: 'low' });
    const effortReq = main(t.model.messageRequests(id)).at(-1)!;
    expect(effortReq.model).toBe('effort-model');
    expect(effortReq.body.output_config).toMatchObject({ effort: 'low' });
    expect(String(effortReq.headers['anthropic-beta']).split(',')).toContain('effort-2025-11-24');

    // The next turn without options is back on the session's settings.
    await sendTurn(t.url, id, { content: 'plain again' });
    const second = main(t.model.messageRequests(id)).at(-1)!;
    expect(lastUserText(second)).toBe('plain again');
    expect(second.model).toBe('session-model-a');
    expect(second.body.thinking).not.toMatchObject({ type: 'enabled', budget_tokens: 2048 });
    expect((second.body.output_config as { effort?: string } | undefined)?.effort).not.toBe('low');

    // maxTurns: the SDK stops after that many model turns.
    const before = main(t.model.messageRequests(id)).length;
    t.model
      .forSession(id)
      .enqueue(
        { toolUse: { name: 'Bash', input: { command: 'echo one' } } },
        { toolUse: { name: 'Bash', input: { command: 'echo two' } } },
        { toolUse: { name: 'Bash', input: { command: 'echo three' } } },
      );
    const limited = await sendTurn(t.url, id, { content: 'loop', maxTurns: 2 });
    expect(main(t.model.messageRequests(id)).length - before).toBe(2);
    expect(limited.events.find((e) => e.event === 'turn_complete')!.data).toMatchObject({
      subtype: 'error_max_turns',
    });
    expect(limited.events.at(-2)).toMatchObject({ event: 'error', data: { code: 'turn_failed' } });
    expect((limited.events.at(-2)!.data as { error: string }).error).toMatch(/maximum number of turns \(2\)/);
    t.model.reset();
  });

  it('layers options: turn > session > agent config > folder settings', async () => {
    // Folder only: the SDK reads .claude/settings.json itself.
    const s1 = await createSession(t.url, 'layered');
    const t1 = await sendTurn(t.url, s1, { content: 'folder' });
    expect(main(t.model.messageRequests(s1)).at(-1)!.model).toBe('folder-model');
    expect(initOf(t1.events as Ev[]).permissionMode).toBe('dontAsk');

    // Agent config beats the folder, for later turns of existing sessions too.
    const patched = await api(t.url, 'PATCH', '/api/agents/layered', {
      config: { model: 'agent-model', permissionMode: 'acceptEdits' },
    });
    expect(patched.status).toBe(200);
    expect(patched.body.agent.config).toMatchObject({ model: 'agent-model' });
    await sendTurn(t.url, s1, { content: 'agent' });
    expect(main(t.model.messageRequests(s1)).at(-1)!.model).toBe('agent-model');
    const s2 = await createSession(t.url, 'layered');
    const t2 = await sendTurn(t.url, s2, { content: 'agent default' });
    expect(main(t.model.messageRequests(s2)).at(-1)!.model).toBe('agent-model');
    expect(initOf(t2.events as Ev[]).permissionMode).toBe('acceptEdits');

    // Session beats agent.
    const s3 = await createSession(t.url, 'layered', { model: 'session-model', permissionMode: 'plan' });
    const t3 = await sendTurn(t.url, s3, { content: 'session' });
    expect(main(t.model.messageRequests(s3)).at(-1)!.model).toBe('session-model');
    expect(initOf(t3.events as Ev[]).permissionMode).toBe('plan');

    // Turn beats session, for that turn only.
    await sendTurn(t.url, s3, { content: 'turn', model: 'turn-model' });
    expect(main(t.model.messageRequests(s3)).at(-1)!.model).toBe('turn-model');
    await sendTurn(t.url, s3, { content: 'session again' });
    expect(main(t.model.messageRequests(s3)).at(-1)!.model).toBe('session-model');

    // Removing the session's model (merge patch null) falls back to the agent's.
    const cleared = await api(t.url, 'PATCH', `/api/sessions/${s3}/config`, { model: null });
    expect(cleared.status).toBe(200);
    expect(cleared.body.session.config.model).toBeUndefined();
    await sendTurn(t.url, s3, { content: 'agent again' });
    expect(main(t.model.messageRequests(s3)).at(-1)!.model).toBe('agent-model');
    const reset = await api(t.url, 'PATCH', '/api/agents/layered', {
      config: { model: null, permissionMode: null },
    });
    expect(reset.status).toBe(200);
    expect(reset.body.agent.config).toEqual({});
  });

  it('a per-turn model applies to that turn only when neither session nor agent sets one (QA #6)', async () => {
    // Nothing sets a model: the SDK default applies, learnt from a first plain turn.
    const plain = await createSession(t.url, 'opts');
    await sendTurn(t.url, plain, { content: 'default' });
    const defaultModel = main(t.model.messageRequests(plain)).at(-1)!.model;
    expect(defaultModel).toBeTruthy();
    expect(defaultModel).not.toBe('turn-only-model');

    const id = await createSession(t.url, 'opts');
    await sendTurn(t.url, id, { content: 'one', model: 'turn-only-model' });
    expect(main(t.model.messageRequests(id)).at(-1)!.model).toBe('turn-only-model');
    await sendTurn(t.url, id, { content: 'two' });
    const second = main(t.model.messageRequests(id)).at(-1)!;
    expect(lastUserText(second)).toBe('two');
    expect(second.model).toBe(defaultModel);

    // Also when the next turn needs a new Claude process, which resumes the conversation (its
    // transcript remembers the last turn's model).
    await sendTurn(t.url, id, { content: 'three', model: 'turn-only-model' });
    const patched = await api(t.url, 'PATCH', `/api/sessions/${id}/config`, { systemPrompt: 'RESTARTED' });
    expect(patched.status).toBe(200);
    await sendTurn(t.url, id, { content: 'four' });
    const fourth = main(t.model.messageRequests(id)).at(-1)!;
    expect(fourth.systemText).toContain('RESTARTED');
    expect(fourth.model).toBe(defaultModel);

    // With a model from the agent folder's settings, the next turn is back on it.
    const layered = await createSession(t.url, 'layered');
    await sendTurn(t.url, layered, { content: 'one', model: 'turn-only-model' });
    expect(main(t.model.messageRequests(layered)).at(-1)!.model).toBe('turn-only-model');
    await sendTurn(t.url, layered, { content: 'two' });
    expect(main(t.model.messageRequests(layered)).at(-1)!.model).toBe('folder-model');
  });

  it('PATCH /config changes later turns only, never the running one', async () => {
    const id = await createSession(t.url, 'opts', { model: 'model-before', systemPrompt: 'PROMPT-BEFORE' });
    t.model
      .forSession(id)
      .enqueue(
        { toolUse: { name: 'Bash', input: { command: 'sleep 1.5; echo slept' } } },
        { text: 'first done' },
      );
    const running = sendTurn(t.url, id, { content: 'first' });
    const deadline = Date.now() + 30_000;
    while (main(t.model.messageRequests(id)).length < 1 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    const patched = await api(t.url, 'PATCH', `/api/sessions/${id}/config`, {
      model: 'model-after',
      systemPrompt: 'PROMPT-AFTER',
      allowedTools: ['Bash'],
    });
    expect(patched.status).toBe(200);
    expect(patched.body.session.config).toEqual({
      model: 'model-after',
      systemPrompt: 'PROMPT-AFTER',
      allowedTools: ['Bash'],
    });
    expect((await running).events.at(-1)!.data).toMatchObject({ outcome: 'completed' });
    const firstTurn = main(t.model.messageRequests(id));
    expect(firstTurn).toHaveLength(2);
    for (const r of firstTurn) {
      expect(r.model).toBe('model-before');
      expect(r.systemText).toContain('PROMPT-BEFORE');
    }
    const next = await sendTurn(t.url, id, { content: 'second' });
    expect(next.events.at(-1)!.data).toMatchObject({ outcome: 'completed' });
    const later = main(t.model.messageRequests(id)).at(-1)!;
    expect(later.model).toBe('model-after');
    expect(later.systemText).toContain('PROMPT-AFTER');
    expect(later.systemText).not.toContain('PROMPT-BEFORE');
    // The conversation went on across the restart the new options needed.
    expect(requestText(later)).toContain('first');
  });

  it('a fork inherits the whole config (and continues the conversation)', async () => {
    const config = {
      model: 'fork-parent-model',
      systemPrompt: 'FORK-PARENT-PROMPT',
      disallowedTools: ['Write'],
    };
    const parent = await createSession(t.url, 'opts', { ...config, extraEnv: { FORK_VAR: 'inherited' } });
    await sendTurn(t.url, parent, { content: 'remember the parrot' });
    await settle(t, parent, 1);
    const parentUsage = (await api(t.url, 'GET', `/api/usage/stats?sessionId=${parent}`)).body.stats;

    const forked = await api(t.url, 'POST', `/api/sessions/${parent}/fork`);
    expect(forked.status).toBe(201);
    const child = forked.body.session.id as string;
    const got = await api(t.url, 'GET', `/api/sessions/${child}`);
    expect(got.body.session).toMatchObject({ parentSessionId: parent, config, model: 'fork-parent-model' });
    t.model
      .forSession(child)
      .enqueue({ toolUse: { name: 'Bash', input: { command: 'echo $FORK_VAR' } } }, { text: 'ok' });
    const turn = await sendTurn(t.url, child, { content: 'what did I say?' });
    expect(turn.events.at(-1)!.data).toMatchObject({ outcome: 'completed' });
    expect(turn.events.find((e) => e.event === 'tool_result')!.data).toMatchObject({ content: 'inherited' });
    const req = main(t.model.messageRequests(child))[0]!;
    expect(req.model).toBe('fork-parent-model');
    expect(req.systemText).toContain('FORK-PARENT-PROMPT');
    expect(req.tools).not.toContain('Write');
    expect(requestText(req)).toContain('remember the parrot');
    // Forking (and the child's turn) leaves the parent's usage as it was.
    await settle(t, child, 1);
    expect((await api(t.url, 'GET', `/api/usage/stats?sessionId=${parent}`)).body.stats).toEqual(parentUsage);
    const childStats = (await api(t.url, 'GET', `/api/usage/stats?sessionId=${child}`)).body.stats;
    expect(childStats.totalModelCalls).toBe(main(t.model.messageRequests(child)).length);
  });

  it('returns the structured result of outputFormat in turn_complete and in the history', async () => {
    const id = await createSession(t.url, 'opts');
    const schema = {
      type: 'object',
      properties: { city: { type: 'string' }, population: { type: 'integer' } },
      required: ['city', 'population'],
    };
    // The SDK offers a StructuredOutput tool whose input schema is ours; the model answers by calling it.
    t.model
      .forSession(id)
      .enqueue({ toolUse: { name: 'StructuredOutput', input: { city: 'Lyon', population: 522250 } } });
    const turn = await sendTurn(t.url, id, {
      content: 'Biggest city?',
      outputFormat: { type: 'json_schema', schema },
    });
    expect(turn.events.at(-1)!.data).toMatchObject({ outcome: 'completed' });
    const offered = (
      main(t.model.messageRequests(id))[0]!.body.tools as Array<{ name: string; input_schema: unknown }>
    ).find((x) => x.name === 'StructuredOutput');
    expect(offered?.input_schema).toEqual(schema);
    const complete = turn.events.find((e) => e.event === 'turn_complete')!.data as {
      structuredOutput: unknown;
    };
    expect(complete.structuredOutput).toEqual({ city: 'Lyon', population: 522250 });

    const history = await api(t.url, 'GET', `/api/sessions/${id}/messages`);
    const result = history.body.messages.find((m: { type: string }) => m.type === 'result');
    expect(JSON.parse(result.content).structured_output).toEqual({ city: 'Lyon', population: 522250 });
    const events = await api(t.url, 'GET', `/api/sessions/${id}/events?type=turn_complete`);
    expect(JSON.parse(events.body.events[0].data).structuredOutput).toEqual({
      city: 'Lyon',
      population: 522250,
    });
  });

  it('sends image and document content blocks to the model as such and keeps the blocks in the history', async () => {
    const id = await createSession(t.url, 'opts');
    const content = [
      { type: 'text', text: 'What is in this picture?' },
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG_1PX } },
      {
        type: 'document',
        source: { type: 'text', media_type: 'text/plain', data: 'DOC-BODY-3141' },
        title: 'notes.txt',
      },
    ];
    const turn = await sendTurn(t.url, id, { content });
    expect(turn.events.at(-1)!.data).toMatchObject({ outcome: 'completed' });
    const req = main(t.model.messageRequests(id))[0]!;
    const user = req.messages.filter((m) => m.role === 'user').at(-1)!;
    expect(user.content).toEqual(
      expect.arrayContaining([
        { type: 'text', text: 'What is in this picture?' },
        { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG_1PX } },
        expect.objectContaining({
          type: 'document',
          source: { type: 'text', media_type: 'text/plain', data: 'DOC-BODY-3141' },
        }),
      ]),
    );
    const history = await api(t.url, 'GET', `/api/sessions/${id}/messages`);
    const first = history.body.messages[0];
    expect(first).toMatchObject({ role: 'user', type: 'user', text: 'What is in this picture?' });
    expect(JSON.parse(first.content).message.content).toEqual(content);
  });

  it('answers 400 naming the field for invalid options', async () => {
    const id = await createSession(t.url, 'opts');
    const field = async (method: string, path: string, body: unknown) => {
      const r = await api(t.url, method, path, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.code).toBe('validation_failed');
      return r.body.errors[0].path as string;
    };
    const create = (extra: Record<string, unknown>) =>
      field('POST', '/api/sessions', { agent: 'opts', ...extra });
    expect(await create({ permissionMode: 'yolo' })).toBe('/body/permissionMode');
    expect(await create({ model: '' })).toBe('/body/model');
    expect(await create({ allowedTools: ['Bash'], disallowedTools: ['Read', 'Bash'] })).toBe(
      '/body/disallowedTools/1',
    );
    expect(await create({ initialAgent: 'nobody' })).toBe('/body/initialAgent');
    expect(await create({ subagents: { x: { description: 'no prompt' } } })).toBe('/body/subagents/x/prompt');
    expect(await create({ mcpServers: { m: { type: 'sse' } } })).toMatch(/^\/body\/mcpServers\/m/);
    expect(await create({ budgetUsd: -1 })).toBe('/body/budgetUsd');
    expect(await create({ extraEnv: { 'BAD NAME': 'x' } })).toMatch(/^\/body\/extraEnv/);

    const send = (extra: Record<string, unknown>) =>
      field('POST', `/api/sessions/${id}/messages`, { content: 'x', ...extra });
    expect(await send({ effort: 'extreme' })).toBe('/body/effort');
    expect(await send({ maxTurns: 0 })).toBe('/body/maxTurns');
    expect(await send({ maxBudgetUsd: 0 })).toBe('/body/maxBudgetUsd');
    expect(await send({ thinking: { type: 'enabled', budgetTokens: 10 } })).toMatch(/^\/body\/thinking/);
    expect(await send({ onBusy: 'maybe' })).toBe('/body/onBusy');
    expect(await send({ outputFormat: { type: 'json_schema', schema: { type: 'string' } } })).toBe(
      '/body/outputFormat/schema',
    );
    expect(
      await send({
        outputFormat: {
          type: 'json_schema',
          schema: { type: 'object', properties: { a: { type: 'nope' } } },
        },
      }),
    ).toBe('/body/outputFormat/schema');
    expect(await send({ content: [{ type: 'image', source: { type: 'url', url: 'http://x' } }] })).toMatch(
      /^\/body\/content/,
    );

    const patch = (body: unknown) => field('PATCH', `/api/sessions/${id}/config`, body);
    expect(await patch({ permissionMode: 'yolo' })).toBe('/body/permissionMode');
    expect(await patch({ colour: 'blue' })).toBe('/body/colour');
    expect(await patch({ initialAgent: 'nobody' })).toBe('/body/initialAgent');
    expect(await patch({})).toBe('/body');
    expect(await field('PATCH', '/api/agents/opts', { config: { maxTurns: 'many' } })).toBe(
      '/body/config/maxTurns',
    );

    // Nothing was changed by the rejected requests.
    expect((await api(t.url, 'GET', `/api/sessions/${id}`)).body.session.config).toEqual({});
    // Unknown and ended sessions answer as usual.
    expect((await api(t.url, 'PATCH', `/api/sessions/${randomUUID()}/config`, { model: 'm' })).status).toBe(
      404,
    );
    await api(t.url, 'DELETE', `/api/sessions/${id}`);
    const ended = await api(t.url, 'PATCH', `/api/sessions/${id}/config`, { model: 'm' });
    expect(ended.status).toBe(410);
    expect(ended.body.code).toBe('session_ended');
  });
});

/** Waits until the ledger has at least `calls` model calls and a turn record for the session. */
export async function settle(t: TestServer, sessionId: string, turns: number): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const s = (await api(t.url, 'GET', `/api/usage/stats?sessionId=${sessionId}`)).body.stats;
    if (s.totalTurns >= turns) return;
    if (Date.now() > deadline) throw new Error(`usage of ${sessionId} did not settle: ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Forks a session the way `POST /api/sessions/:id/fork` (issue 3) does, through the same helper:
 * a new row with {@link inheritedSessionSettings}, the history copied, and the workspace and SDK
 * transcript copied; the child's first turn resumes the parent's conversation as a fork.
 */
