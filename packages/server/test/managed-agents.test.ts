import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { removeDir, ScriptedModel, tempDir } from '@ash-ai/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  createSession,
  deployAgent,
  startTestServer,
  TEST_API_KEY,
  type TestServer,
} from './harness.js';

type StreamEv = { type: string; id: string } & Record<string, unknown>;

/** Reads a stream iterator until `stop` matches (that event included). */
async function pull(it: AsyncIterator<unknown>, stop: (e: StreamEv) => boolean): Promise<StreamEv[]> {
  const out: StreamEv[] = [];
  for (;;) {
    const n = await it.next();
    if (n.done) throw new Error(`the stream ended; got ${out.map((e) => e.type).join(', ')}`);
    out.push(n.value as StreamEv);
    if (stop(n.value as StreamEv)) return out;
  }
}
const idleFor = (reason: string) => (e: StreamEv) =>
  e.type === 'session.status_idle' && (e.stop_reason as { type: string }).type === reason;

/** The `tool_result` blocks the model received in a session, by tool-use id, as JSON text. */
function toolResultsSeen(model: ScriptedModel, sessionId: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const r of model.messageRequests(sessionId))
    for (const m of r.messages)
      if (Array.isArray(m.content))
        for (const b of m.content as Array<Record<string, unknown>>)
          if (b.type === 'tool_result') out.set(String(b.tool_use_id), JSON.stringify(b));
  return out;
}

/** Every user text the model received in a session. */
function userTextsSeen(model: ScriptedModel, sessionId: string): string {
  return JSON.stringify(
    model.messageRequests(sessionId).map((r) => r.messages.filter((m) => m.role === 'user')),
  );
}

/**
 * The Managed Agents API (`/v1`) through the official TypeScript SDK, unchanged
 * (`@anthropic-ai/sdk` 1.10.0), against a real server with real sandboxes and the scripted model.
 */
describe('Managed Agents API with the official TS SDK', () => {
  let t: TestServer;
  let client: Anthropic;
  let environmentId: string;
  let agentId: string;

  type Ev = { type: string; id: string } & Record<string, unknown>;

  /** Reads the stream until a `session.status_idle` (or `max` ms). */
  async function untilIdle(stream: AsyncIterable<unknown>, max = 90_000): Promise<Ev[]> {
    const seen: Ev[] = [];
    const timer = setTimeout(() => undefined, max);
    try {
      for await (const e of stream) {
        seen.push(e as Ev);
        if ((e as Ev).type === 'session.status_idle') break;
      }
    } finally {
      clearTimeout(timer);
    }
    return seen;
  }

  beforeAll(async () => {
    t = await startTestServer({ env: { ASH_SSE_HEARTBEAT_MS: '300' } });
    client = new Anthropic({ baseURL: t.url, apiKey: TEST_API_KEY, maxRetries: 0 });
    const env = await client.beta.environments.create({
      name: 'test-env',
      config: { type: 'cloud', networking: { type: 'unrestricted' } },
    });
    environmentId = env.id;
    const agent = await client.beta.agents.create({
      name: 'Bash worker',
      model: 'claude-sonnet-4-5',
      system: 'You are the managed-agents acceptance worker.',
      tools: [
        { type: 'agent_toolset_20260401', default_config: { permission_policy: { type: 'always_allow' } } },
      ],
    });
    agentId = agent.id;
  }, 120_000);
  afterAll(async () => t?.close());

  it('acceptance 1: agent with Bash, environment, session; events.send → stream and list show the turn in order', async () => {
    const got = await client.beta.agents.retrieve(agentId);
    expect(got).toMatchObject({
      type: 'agent',
      id: agentId,
      name: 'Bash worker',
      version: 1,
      model: { id: 'claude-sonnet-4-5' },
    });
    expect(got.system).toBe('You are the managed-agents acceptance worker.');
    const env = await client.beta.environments.retrieve(environmentId);
    expect(env).toMatchObject({ type: 'environment', id: environmentId, name: 'test-env' });

    const session = await client.beta.sessions.create({
      agent: agentId,
      environment_id: environmentId,
      title: 'acceptance 1',
    });
    expect(session).toMatchObject({
      type: 'session',
      status: 'idle',
      environment_id: environmentId,
      title: 'acceptance 1',
    });
    expect(session.agent).toMatchObject({ id: agentId, version: 1 });

    t.model
      .forSession(session.id)
      .enqueue(
        { toolUse: { name: 'Bash', input: { command: 'echo MANAGED-BASH-OK' } } },
        { text: 'The command printed MANAGED-BASH-OK.' },
      );
    const sent = await client.beta.sessions.events.send(session.id, {
      events: [{ type: 'user.message', content: [{ type: 'text', text: 'Run echo in Bash.' }] }],
    });
    expect(sent.data).toHaveLength(1);
    const sentEvents = sent.data!;
    expect(sentEvents[0]).toMatchObject({
      type: 'user.message',
      content: [{ type: 'text', text: 'Run echo in Bash.' }],
    });

    const stream = await client.beta.sessions.events.stream(session.id);
    const seen = await untilIdle(stream);
    const types = seen.map((e) => e.type);
    const core = types.filter((x) =>
      [
        'session.status_running',
        'agent.tool_use',
        'agent.tool_result',
        'agent.message',
        'session.status_idle',
      ].includes(x),
    );
    expect(core).toEqual([
      'session.status_running',
      'agent.tool_use',
      'agent.tool_result',
      'agent.message',
      'session.status_idle',
    ]);
    const use = seen.find((e) => e.type === 'agent.tool_use')!;
    expect(use).toMatchObject({
      name: 'Bash',
      input: { command: 'echo MANAGED-BASH-OK' },
      evaluated_permission: 'allow',
    });
    const result = seen.find((e) => e.type === 'agent.tool_result')!;
    expect(result.tool_use_id).toBe(use.id);
    expect(JSON.stringify(result.content)).toContain('MANAGED-BASH-OK');
    expect(seen.find((e) => e.type === 'agent.message')).toMatchObject({
      content: [{ type: 'text', text: 'The command printed MANAGED-BASH-OK.' }],
    });
    expect(seen.at(-1)).toMatchObject({ type: 'session.status_idle', stop_reason: { type: 'end_turn' } });
    for (const e of seen) expect(typeof e.processed_at).toBe('string');

    // events.list: the same events, in the same order (after the user.message that started the turn).
    const listed: Ev[] = [];
    for await (const e of client.beta.sessions.events.list(session.id, { limit: 3 })) listed.push(e as Ev);
    expect(listed[0]).toMatchObject({ type: 'user.message', id: sentEvents[0]!.id });
    const from = listed.findIndex((e) => e.id === seen[0]!.id);
    expect(from).toBeGreaterThan(-1);
    expect(listed.slice(from).map((e) => [e.type, e.id])).toEqual(seen.map((e) => [e.type, e.id]));
    const filtered = await client.beta.sessions.events.list(session.id, { types: ['agent.tool_use'] });
    expect(filtered.data.map((e) => e.type)).toEqual(['agent.tool_use']);

    expect((await client.beta.sessions.retrieve(session.id)).status).toBe('idle');
  }, 180_000);

  it('acceptance 4: custom tool → agent.custom_tool_use, requires_action; user.custom_tool_result → the model receives it', async () => {
    const agent = await client.beta.agents.create({
      name: 'Custom tool worker',
      model: 'claude-sonnet-4-5',
      tools: [
        {
          type: 'custom',
          name: 'get_weather',
          description: 'The weather of a city, from the client.',
          input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
        },
      ],
    });
    expect(agent.tools).toContainEqual(
      expect.objectContaining({ type: 'custom', name: 'get_weather', input_schema: expect.any(Object) }),
    );
    const session = await client.beta.sessions.create({ agent: agent.id, environment_id: environmentId });
    t.model
      .forSession(session.id)
      .enqueue(
        { toolUse: { name: 'mcp__ash_custom__get_weather', input: { city: 'Paris' } } },
        { text: 'It is sunny in Paris.' },
      );
    const stream = await client.beta.sessions.events.stream(session.id);
    const it = stream[Symbol.asyncIterator]();
    await client.beta.sessions.events.send(session.id, {
      events: [{ type: 'user.message', content: [{ type: 'text', text: 'Weather in Paris?' }] }],
    });
    const first = await pull(it, idleFor('requires_action'));
    // The model was offered the tool with its schema.
    const offered = (
      t.model.messageRequests(session.id)[0]!.body.tools as Array<Record<string, unknown>>
    ).find((x) => x.name === 'mcp__ash_custom__get_weather');
    expect(offered?.input_schema).toMatchObject({ properties: { city: { type: 'string' } } });
    const use = first.find((e) => e.type === 'agent.custom_tool_use')!;
    expect(use).toMatchObject({ name: 'get_weather', input: { city: 'Paris' } });
    expect(use.id).toMatch(/^toolu_/);
    expect(first.some((e) => e.type === 'agent.mcp_tool_use' || e.type === 'agent.tool_use')).toBe(false);
    expect(first.at(-1)!.stop_reason).toEqual({ type: 'requires_action', event_ids: [use.id] });
    expect((await client.beta.sessions.retrieve(session.id)).status).toBe('idle');

    // A wrong id is a 400; nothing is delivered.
    await expect(
      client.beta.sessions.events.send(session.id, {
        events: [
          {
            type: 'user.custom_tool_result',
            custom_tool_use_id: 'toolu_nope',
            content: [{ type: 'text', text: 'x' }],
          },
        ],
      }),
    ).rejects.toBeInstanceOf(Anthropic.BadRequestError);

    const sent = await client.beta.sessions.events.send(session.id, {
      events: [
        {
          type: 'user.custom_tool_result',
          custom_tool_use_id: use.id,
          content: [{ type: 'text', text: 'SUNNY-22C' }],
        },
      ],
    });
    expect(sent.data![0]).toMatchObject({ type: 'user.custom_tool_result', custom_tool_use_id: use.id });
    const rest = await pull(it, idleFor('end_turn'));
    await it.return?.();
    const types = rest.map((e) => e.type);
    expect(types.indexOf('user.custom_tool_result')).toBeGreaterThan(-1);
    expect(types.indexOf('session.status_running')).toBeGreaterThan(types.indexOf('user.custom_tool_result'));
    expect(rest.find((e) => e.type === 'agent.message')).toMatchObject({
      content: [{ type: 'text', text: 'It is sunny in Paris.' }],
    });
    // The model received the client's result as the tool's result.
    expect(toolResultsSeen(t.model, session.id).get(use.id)).toContain('SUNNY-22C');
    // Answered once: a second answer is a 400.
    await expect(
      client.beta.sessions.events.send(session.id, {
        events: [{ type: 'user.custom_tool_result', custom_tool_use_id: use.id, content: [] }],
      }),
    ).rejects.toBeInstanceOf(Anthropic.BadRequestError);
    // The listed history has the same story.
    const listed = (await client.beta.sessions.events.list(session.id, { limit: 1000 })).data.map(
      (e) => e.type,
    );
    expect(listed).toEqual(
      expect.arrayContaining(['agent.custom_tool_use', 'user.custom_tool_result', 'agent.message']),
    );
    // The echo of the answer is the listed event (same id), and the stream showed it too.
    const listedResult = (await client.beta.sessions.events.list(session.id, { limit: 1000 })).data.find(
      (e) => e.type === 'user.custom_tool_result',
    );
    expect(listedResult?.id).toBe(sent.data![0]!.id);
    expect(rest.find((e) => e.type === 'user.custom_tool_result')?.id).toBe(sent.data![0]!.id);
  }, 180_000);

  it('always_ask in a live turn: evaluated_permission ask, requires_action; allow runs the tool, deny gives the model the message', async () => {
    const agent = await client.beta.agents.create({
      name: 'Careful worker',
      model: 'claude-sonnet-4-5',
      tools: [
        {
          type: 'agent_toolset_20260401',
          configs: [
            { name: 'bash', permission_policy: { type: 'always_ask' } },
            { name: 'read', permission_policy: { type: 'always_ask' } },
          ],
        },
      ],
    });
    const session = await client.beta.sessions.create({ agent: agent.id, environment_id: environmentId });
    const workspace = join(t.dataDir, 'sessions', session.id, 'workspace');
    t.model
      .forSession(session.id)
      .enqueue(
        { toolUse: { name: 'Bash', input: { command: 'touch live-allowed.txt' } } },
        { text: 'Created it.' },
        { toolUse: { name: 'Bash', input: { command: 'touch live-denied.txt' } } },
        { text: 'Understood.' },
        { toolUse: { name: 'Read', input: { file_path: '/workspace/live-allowed.txt' } } },
        { text: 'Read it.' },
      );
    const stream = await client.beta.sessions.events.stream(session.id);
    const it = stream[Symbol.asyncIterator]();
    await client.beta.sessions.events.send(session.id, {
      events: [{ type: 'user.message', content: [{ type: 'text', text: 'Create the file.' }] }],
    });
    const asked = await pull(it, idleFor('requires_action'));
    const use = asked.find((e) => e.type === 'agent.tool_use')!;
    expect(use).toMatchObject({
      name: 'Bash',
      evaluated_permission: 'ask',
      evaluation: { type: 'always_ask' },
    });
    expect(asked.at(-1)!.stop_reason).toEqual({ type: 'requires_action', event_ids: [use.id] });
    expect(existsSync(join(workspace, 'live-allowed.txt'))).toBe(false);
    await client.beta.sessions.events.send(session.id, {
      events: [{ type: 'user.tool_confirmation', tool_use_id: use.id, result: 'allow' }],
    });
    const ran = await pull(it, idleFor('end_turn'));
    expect(ran.map((e) => e.type)).toEqual(
      expect.arrayContaining(['user.tool_confirmation', 'session.status_running', 'agent.tool_result']),
    );
    expect(existsSync(join(workspace, 'live-allowed.txt'))).toBe(true);

    await client.beta.sessions.events.send(session.id, {
      events: [{ type: 'user.message', content: [{ type: 'text', text: 'And the other one.' }] }],
    });
    const asked2 = await pull(it, idleFor('requires_action'));
    const use2 = asked2.find((e) => e.type === 'agent.tool_use')!;
    await client.beta.sessions.events.send(session.id, {
      events: [
        {
          type: 'user.tool_confirmation',
          tool_use_id: use2.id,
          result: 'deny',
          deny_message: 'NOT-THAT-FILE',
        },
      ],
    });
    const denied = await pull(it, idleFor('end_turn'));
    expect(denied.find((e) => e.type === 'user.tool_confirmation')).toMatchObject({
      tool_use_id: use2.id,
      result: 'deny',
      deny_message: 'NOT-THAT-FILE',
    });
    expect(toolResultsSeen(t.model, session.id).get(use2.id)).toContain('NOT-THAT-FILE');
    expect(existsSync(join(workspace, 'live-denied.txt'))).toBe(false);

    // A read-only tool asks too (Claude Code would run it unasked in `default` mode).
    await client.beta.sessions.events.send(session.id, {
      events: [{ type: 'user.message', content: [{ type: 'text', text: 'Read it back.' }] }],
    });
    const asked3 = await pull(it, idleFor('requires_action'));
    const use3 = asked3.find((e) => e.type === 'agent.tool_use')!;
    expect(use3).toMatchObject({ name: 'Read', evaluated_permission: 'ask' });
    await client.beta.sessions.events.send(session.id, {
      events: [{ type: 'user.tool_confirmation', tool_use_id: use3.id, result: 'allow' }],
    });
    const read = await pull(it, idleFor('end_turn'));
    await it.return?.();
    expect(read.find((e) => e.type === 'agent.tool_result')).toMatchObject({
      tool_use_id: use3.id,
      is_error: false,
    });
  }, 180_000);

  it('user.interrupt ends a call waiting for the client; a late answer resumes the conversation', async () => {
    const agent = await client.beta.agents.create({
      name: 'Waiting worker',
      model: 'claude-sonnet-4-5',
      tools: [
        { type: 'custom', name: 'ask_human', description: 'Ask a human.', input_schema: { type: 'object' } },
      ],
    });
    const session = await client.beta.sessions.create({ agent: agent.id, environment_id: environmentId });
    t.model
      .forSession(session.id)
      .enqueue(
        { toolUse: { name: 'mcp__ash_custom__ask_human', input: {} } },
        { text: 'Got the late answer.' },
      );
    const stream = await client.beta.sessions.events.stream(session.id);
    const it = stream[Symbol.asyncIterator]();
    await client.beta.sessions.events.send(session.id, {
      events: [{ type: 'user.message', content: [{ type: 'text', text: 'Ask.' }] }],
    });
    const asked = await pull(it, idleFor('requires_action'));
    const use = asked.find((e) => e.type === 'agent.custom_tool_use')!;
    const t0 = Date.now();
    await client.beta.sessions.events.send(session.id, { events: [{ type: 'user.interrupt' }] });
    await pull(it, idleFor('end_turn'));
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect((await client.beta.sessions.retrieve(session.id)).status).toBe('idle');
    // The answer still counts: a new turn tells the model the result.
    await client.beta.sessions.events.send(session.id, {
      events: [
        {
          type: 'user.custom_tool_result',
          custom_tool_use_id: use.id,
          content: [{ type: 'text', text: 'LATE-42' }],
        },
      ],
    });
    const resumed = await pull(it, idleFor('end_turn'));
    await it.return?.();
    expect(resumed.find((e) => e.type === 'agent.message')).toMatchObject({
      content: [{ type: 'text', text: 'Got the late answer.' }],
    });
    expect(userTextsSeen(t.model, session.id)).toContain('LATE-42');
  }, 180_000);

  it('acceptance 5: user.interrupt idles a slow turn within 5 s; the next user.message works', async () => {
    const session = await client.beta.sessions.create({ agent: agentId, environment_id: environmentId });
    t.model
      .forSession(session.id)
      .enqueue({ slow: { deltas: 600, intervalMs: 100, text: 'slow ' } }, { text: 'After the interrupt.' });
    const stream = await client.beta.sessions.events.stream(session.id);
    const it = stream[Symbol.asyncIterator]();
    await client.beta.sessions.events.send(session.id, {
      events: [{ type: 'user.message', content: [{ type: 'text', text: 'Say a lot, slowly.' }] }],
    });
    // Running: the model request has started.
    for (;;) {
      const n = await it.next();
      if (n.done) throw new Error('stream ended');
      if ((n.value as Ev).type === 'session.status_running') break;
    }
    // …and the model is streaming this session's slow answer.
    const deadline = Date.now() + 60_000;
    while (t.model.messageRequests(session.id).length === 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    expect(t.model.messageRequests(session.id).length).toBeGreaterThan(0);
    const t0 = Date.now();
    await client.beta.sessions.events.send(session.id, { events: [{ type: 'user.interrupt' }] });
    let idle: Ev | undefined;
    for (;;) {
      const n = await it.next();
      if (n.done) throw new Error('stream ended');
      if ((n.value as Ev).type === 'session.status_idle') {
        idle = n.value as Ev;
        break;
      }
    }
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(idle.stop_reason).toMatchObject({ type: 'end_turn' });

    await client.beta.sessions.events.send(session.id, {
      events: [{ type: 'user.message', content: [{ type: 'text', text: 'Now answer briefly.' }] }],
    });
    const next: Ev[] = [];
    for (;;) {
      const n = await it.next();
      if (n.done) throw new Error('stream ended');
      next.push(n.value as Ev);
      if ((n.value as Ev).type === 'session.status_idle') break;
    }
    await it.return?.();
    expect(next.map((e) => e.type)).toContain('session.status_running');
    expect(next.find((e) => e.type === 'agent.message')).toMatchObject({
      content: [{ type: 'text', text: 'After the interrupt.' }],
    });
    expect(next.at(-1)).toMatchObject({ stop_reason: { type: 'end_turn' } });
  }, 180_000);

  it('acceptance 6: 404, 400 and 401 arrive as the SDK’s typed errors, in the Anthropic envelope', async () => {
    const missing = await client.beta.sessions
      .retrieve('00000000-0000-4000-8000-000000000000')
      .catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(Anthropic.NotFoundError);
    expect((missing as InstanceType<typeof Anthropic.NotFoundError>).requestID).toMatch(/^req_/);
    expect((missing as InstanceType<typeof Anthropic.NotFoundError>).error).toMatchObject({
      type: 'error',
      error: { type: 'not_found_error', details: { error_code: 'session_not_found' } },
    });

    const badBody = await client.beta.sessions
      .create({ agent: agentId } as unknown as Anthropic.Beta.Sessions.SessionCreateParams)
      .catch((e: unknown) => e);
    expect(badBody).toBeInstanceOf(Anthropic.BadRequestError);
    expect((badBody as InstanceType<typeof Anthropic.BadRequestError>).message).toContain('environment_id');

    const unsupported = await client.beta.agents
      .create({
        name: 'skilled',
        model: 'claude-sonnet-4-5',
        skills: [{ type: 'anthropic', skill_id: 'xlsx' }],
      })
      .catch((e: unknown) => e);
    expect(unsupported).toBeInstanceOf(Anthropic.BadRequestError);
    expect((unsupported as InstanceType<typeof Anthropic.BadRequestError>).error).toMatchObject({
      error: { details: { error_code: 'not_yet_supported' } },
    });

    const stranger = new Anthropic({ baseURL: t.url, apiKey: 'ash_not-a-key', maxRetries: 0 });
    const unauth = await stranger.beta.agents.list().catch((e: unknown) => e);
    expect(unauth).toBeInstanceOf(Anthropic.AuthenticationError);

    // The Python SDK's header (`x-api-key`) authenticates too; every /v1 answer has a request-id.
    const viaHeader = await api(t.url, 'GET', '/v1/environments', undefined, {
      authorization: '',
      'x-api-key': TEST_API_KEY,
    });
    expect(viaHeader.status).toBe(200);
    expect(viaHeader.headers.get('request-id')).toMatch(/^req_/);
    expect(viaHeader.body.data.map((e: { id: string }) => e.id)).toContain(environmentId);
    const noRoute = await api(t.url, 'GET', '/v1/vaults');
    expect(noRoute.status).toBe(404);
    expect(noRoute.body).toMatchObject({
      type: 'error',
      error: { type: 'not_found_error' },
      request_id: noRoute.headers.get('request-id'),
    });
  }, 60_000);

  it('bad input on /v1 is a 4xx in the envelope, never a 500', async () => {
    const session = await client.beta.sessions.create({ agent: agentId, environment_id: environmentId });
    const cases: Array<[string, string, unknown, number, string]> = [
      ['POST', '/v1/agents', '{not json', 400, 'invalid_json'],
      ['POST', '/v1/agents', { name: 'x' }, 400, 'validation_failed'],
      [
        'POST',
        '/v1/agents',
        { name: 'x', model: 'm', tools: [{ type: 'custom', name: 'c', input_schema: { type: 'object' } }] },
        400,
        'validation_failed',
      ],
      ['GET', '/v1/agents?limit=abc', undefined, 400, 'validation_failed'],
      ['GET', '/v1/agents?page=zz', undefined, 400, 'validation_failed'],
      ['GET', '/v1/agents/nope', undefined, 404, 'agent_not_found'],
      ['POST', '/v1/environments', { name: 'e', config: { type: 'mars' } }, 400, 'validation_failed'],
      ['GET', '/v1/environments/env_nope', undefined, 404, 'environment_not_found'],
      ['POST', '/v1/sessions', { agent: agentId, environment_id: 'env_nope' }, 404, 'environment_not_found'],
      [
        'POST',
        '/v1/sessions',
        { agent: agentId, environment_id: environmentId, vault_ids: ['vlt_1'] },
        400,
        'not_yet_supported',
      ],
      ['POST', `/v1/sessions/${session.id}/events`, { events: [] }, 400, 'validation_failed'],
      [
        'POST',
        `/v1/sessions/${session.id}/events`,
        { events: [{ type: 'user.message', content: 'text' }] },
        400,
        'validation_failed',
      ],
      [
        'POST',
        `/v1/sessions/${session.id}/events`,
        { events: [{ type: 'user.tool_confirmation', tool_use_id: 'x', result: 'allow' }] },
        400,
        'validation_failed',
      ],
      [
        'POST',
        `/v1/sessions/${session.id}/events`,
        { events: [{ type: 'user.custom_tool_result', custom_tool_use_id: 'x' }] },
        400,
        'validation_failed',
      ],
      [
        'POST',
        `/v1/sessions/${session.id}/events`,
        { events: [{ type: 'user.tool_confirmation', tool_use_id: 'x', result: 'maybe' }] },
        400,
        'validation_failed',
      ],
      [
        'GET',
        '/v1/sessions/00000000-0000-4000-8000-000000000000/events/stream',
        undefined,
        404,
        'session_not_found',
      ],
      ['GET', `/v1/sessions/${session.id}/events?order=desc`, undefined, 400, 'not_yet_supported'],
      ['POST', '/v1/vaults', { display_name: 'v' }, 404, 'route_not_found'],
      ['POST', '/v1/files', {}, 404, 'route_not_found'],
    ];
    for (const [method, path, body, status, code] of cases) {
      const r = await api(t.url, method, path, body);
      expect([path, r.status]).toEqual([path, status]);
      expect(r.body).toMatchObject({
        type: 'error',
        error: { details: { error_code: code } },
        request_id: expect.stringMatching(/^req_/),
      });
      expect(r.headers.get('request-id')).toBe(r.body.request_id);
    }
    // An agent with no system prompt and no tools is fine (an empty CLAUDE.md).
    const bare = await client.beta.agents.create({ name: 'bare', model: { id: 'claude-sonnet-4-5' } });
    expect(bare).toMatchObject({ system: null, tools: [], version: 1, model: { id: 'claude-sonnet-4-5' } });
    // No user.message was recorded for the refused sends.
    expect((await client.beta.sessions.events.list(session.id)).data).toEqual([]);
  }, 60_000);

  it('the event stream: headers at once, event: ping keep-alives while idle, frames named by type, open across turns', async () => {
    const session = await client.beta.sessions.create({ agent: agentId, environment_id: environmentId });
    const abort = new AbortController();
    const res = await fetch(`${t.url}/v1/sessions/${session.id}/events/stream`, {
      headers: { 'x-api-key': TEST_API_KEY, accept: 'application/json' },
      signal: abort.signal,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(res.headers.get('request-id')).toMatch(/^req_/);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    const readUntil = async (pred: (s: string) => boolean) => {
      const deadline = Date.now() + 60_000;
      while (!pred(text) && Date.now() < deadline) {
        const { value, done } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
      }
    };
    await readUntil((s) => s.includes('event: ping'));
    expect(text).toContain('event: ping\ndata: {}\n\n');
    for (const n of [1, 2]) {
      t.model.forSession(session.id).enqueue({ text: `answer ${n}` });
      await client.beta.sessions.events.send(session.id, {
        events: [{ type: 'user.message', content: [{ type: 'text', text: `question ${n}` }] }],
      });
      await readUntil((s) => s.split('event: session.status_idle').length > n);
    }
    abort.abort();
    const frames = text.split('\n\n').filter((f) => f.startsWith('event: ') && !f.startsWith('event: ping'));
    for (const f of frames) {
      const [ev, data] = f.split('\n');
      expect(JSON.parse(data!.slice('data: '.length)).type).toBe(ev!.slice('event: '.length));
    }
    const messages = frames
      .filter((f) => f.startsWith('event: agent.message'))
      .map((f) => JSON.parse(f.split('\n')[1]!.slice(6)).content[0].text);
    expect(messages).toEqual(['answer 1', 'answer 2']);
  }, 120_000);

  it('acceptance 7: a /v1 session is visible through /api, and an /api session through /v1', async () => {
    const v1 = await client.beta.sessions.create({ agent: agentId, environment_id: environmentId });
    const viaApi = await api(t.url, 'GET', `/api/sessions/${v1.id}`);
    expect(viaApi.status).toBe(200);
    expect(viaApi.body.session).toMatchObject({ id: v1.id, agentName: agentId });
    const apiList = await api(t.url, 'GET', '/api/sessions?limit=100');
    expect(apiList.body.sessions.map((s: { id: string }) => s.id)).toContain(v1.id);

    await deployAgent(t.url, 'folder-agent', { 'CLAUDE.md': '# Folder agent\n' });
    const apiId = await createSession(t.url, 'folder-agent');
    const viaV1 = await client.beta.sessions.retrieve(apiId);
    expect(viaV1).toMatchObject({
      type: 'session',
      id: apiId,
      status: 'idle',
      agent: { id: 'folder-agent' },
    });
    const ids: string[] = [];
    for await (const s of client.beta.sessions.list({ limit: 2 })) ids.push(s.id);
    expect(ids).toEqual(expect.arrayContaining([apiId, v1.id]));
    // Folder-deployed agents are agents on /v1 too.
    const agents: string[] = [];
    for await (const a of client.beta.agents.list()) agents.push(a.id);
    expect(agents).toEqual(expect.arrayContaining([agentId, 'folder-agent']));
  }, 60_000);

  it('agents version on update and archive; environments update, archive and delete; sessions update and delete', async () => {
    const updated = await client.beta.agents.update(agentId, { version: 1, system: 'Version two.' });
    expect(updated).toMatchObject({ version: 2, system: 'Version two.', name: 'Bash worker' });
    const stale = await client.beta.agents
      .update(agentId, { version: 1, system: 'x' })
      .catch((e: unknown) => e);
    expect(stale).toBeInstanceOf(Anthropic.ConflictError);
    const versions = await client.beta.agents.versions.list(agentId);
    expect(versions.data.map((v) => [v.version, v.system])).toEqual([
      [1, 'You are the managed-agents acceptance worker.'],
      [2, 'Version two.'],
    ]);
    expect((await client.beta.agents.retrieve(agentId, { version: 1 })).system).toBe(
      'You are the managed-agents acceptance worker.',
    );

    const env = await client.beta.environments.create({ name: 'temp' });
    expect(
      (await client.beta.environments.update(env.id, { name: 'renamed', metadata: { a: '1' } })).name,
    ).toBe('renamed');
    expect((await client.beta.environments.archive(env.id)).archived_at).toEqual(expect.any(String));
    const archivedUse = await client.beta.sessions
      .create({ agent: agentId, environment_id: env.id })
      .catch((e: unknown) => e);
    expect(archivedUse).toBeInstanceOf(Anthropic.BadRequestError);
    expect(await client.beta.environments.delete(env.id)).toEqual({
      id: env.id,
      type: 'environment_deleted',
    });
    expect(await client.beta.environments.retrieve(env.id).catch((e: unknown) => e)).toBeInstanceOf(
      Anthropic.NotFoundError,
    );

    const s = await client.beta.sessions.create({ agent: agentId, environment_id: environmentId });
    expect((await client.beta.sessions.update(s.id, { title: 'named', metadata: { k: 'v' } })).title).toBe(
      'named',
    );
    expect(await client.beta.sessions.delete(s.id)).toEqual({ id: s.id, type: 'session_deleted' });
    expect(await client.beta.sessions.retrieve(s.id).catch((e: unknown) => e)).toBeInstanceOf(
      Anthropic.NotFoundError,
    );
    const archived = await client.beta.agents.archive(agentId);
    expect(archived.archived_at).toEqual(expect.any(String));
  }, 120_000);
});

/**
 * Acceptance 3: an `always_ask` approval survives a server restart. Two sessions stop on
 * `requires_action`; the server is closed (sandboxes and Claude processes gone) and a new one
 * starts on the same data dir; one call is allowed, the other denied.
 */
describe('Managed Agents API: always_ask approvals across a server restart', () => {
  let model: ScriptedModel;
  let dataDir: string;
  let t: TestServer | undefined;

  afterAll(async () => {
    await t?.close();
    await model?.close();
    if (dataDir) removeDir(dataDir);
  });

  it('acceptance 3: requires_action; restart; allow runs the tool and the turn completes; deny reaches the model and the tool never ran', async () => {
    dataDir = tempDir('ash-approval-');
    model = await ScriptedModel.start();
    // A short idle watchdog: a call that waits for the client must outlive it.
    const env = { ASH_TURN_IDLE_TIMEOUT_MS: '15000' };
    t = await startTestServer({ dataDir, model, env });
    let client = new Anthropic({ baseURL: t.url, apiKey: TEST_API_KEY, maxRetries: 0 });
    const environment = await client.beta.environments.create({ name: 'approvals' });
    const agent = await client.beta.agents.create({
      name: 'Approval worker',
      model: 'claude-sonnet-4-5',
      tools: [
        { type: 'agent_toolset_20260401', default_config: { permission_policy: { type: 'always_ask' } } },
      ],
    });
    const allowS = await client.beta.sessions.create({ agent: agent.id, environment_id: environment.id });
    const denyS = await client.beta.sessions.create({ agent: agent.id, environment_id: environment.id });
    const allowCall = { name: 'Bash', input: { command: 'touch approved.txt' } };
    // Before the restart: the call. After it: the same call again (the model is told it was allowed), then text.
    model
      .forSession(allowS.id)
      .enqueue({ toolUse: allowCall }, { toolUse: allowCall }, { text: 'Created approved.txt.' });
    model
      .forSession(denyS.id)
      .enqueue(
        { toolUse: { name: 'Bash', input: { command: 'touch denied.txt' } } },
        { text: 'I will not create it.' },
      );

    const waiting = new Map<string, string>();
    for (const s of [allowS, denyS]) {
      const stream = await client.beta.sessions.events.stream(s.id);
      const it = stream[Symbol.asyncIterator]();
      await client.beta.sessions.events.send(s.id, {
        events: [{ type: 'user.message', content: [{ type: 'text', text: 'Create the file.' }] }],
      });
      const asked = await pull(it, idleFor('requires_action'));
      await it.return?.();
      const use = asked.find((e) => e.type === 'agent.tool_use')!;
      expect(use).toMatchObject({ name: 'Bash', evaluated_permission: 'ask' });
      expect(asked.at(-1)!.stop_reason).toEqual({ type: 'requires_action', event_ids: [use.id] });
      waiting.set(s.id, use.id);
    }

    // Waiting longer than the turn idle watchdog does not end the calls.
    await new Promise((r) => setTimeout(r, 17_000));
    for (const s of [allowS, denyS]) {
      expect((await client.beta.sessions.retrieve(s.id)).status).toBe('idle');
      const listed = (await client.beta.sessions.events.list(s.id, { limit: 1000 })).data as StreamEv[];
      expect(listed.at(-1)).toMatchObject({
        type: 'session.status_idle',
        stop_reason: { type: 'requires_action' },
      });
    }

    // Restart: the old server (its sandboxes, bridges, Claude processes) goes away.
    await t.close();
    t = await startTestServer({ dataDir, model, env });
    client = new Anthropic({ baseURL: t.url, apiKey: TEST_API_KEY, maxRetries: 0 });
    const ws = (id: string) => join(dataDir, 'sessions', id, 'workspace');
    expect(existsSync(join(ws(allowS.id), 'approved.txt'))).toBe(false);

    // Allow: the tool runs and the turn completes.
    const allowStream = await client.beta.sessions.events.stream(allowS.id);
    const ai = allowStream[Symbol.asyncIterator]();
    const echo = await client.beta.sessions.events.send(allowS.id, {
      events: [{ type: 'user.tool_confirmation', tool_use_id: waiting.get(allowS.id)!, result: 'allow' }],
    });
    expect(echo.data![0]).toMatchObject({ type: 'user.tool_confirmation', result: 'allow' });
    const allowed = await pull(ai, idleFor('end_turn'));
    await ai.return?.();
    const result = allowed.find((e) => e.type === 'agent.tool_result');
    expect(result).toMatchObject({ is_error: false });
    expect(allowed.find((e) => e.type === 'agent.message')).toMatchObject({
      content: [{ type: 'text', text: 'Created approved.txt.' }],
    });
    expect(existsSync(join(ws(allowS.id), 'approved.txt'))).toBe(true);
    // The repeated call ran on the recorded approval: no second requires_action.
    expect(allowed.some(idleFor('requires_action'))).toBe(false);
    expect(userTextsSeen(model, allowS.id)).toContain('The user has now allowed it');

    // Deny: the model receives the denial message; the tool never ran.
    const denyStream = await client.beta.sessions.events.stream(denyS.id);
    const di = denyStream[Symbol.asyncIterator]();
    await client.beta.sessions.events.send(denyS.id, {
      events: [
        {
          type: 'user.tool_confirmation',
          tool_use_id: waiting.get(denyS.id)!,
          result: 'deny',
          deny_message: 'DENIED-AFTER-RESTART',
        },
      ],
    });
    const denied = await pull(di, idleFor('end_turn'));
    await di.return?.();
    expect(denied.find((e) => e.type === 'agent.message')).toMatchObject({
      content: [{ type: 'text', text: 'I will not create it.' }],
    });
    expect(userTextsSeen(model, denyS.id)).toContain('DENIED-AFTER-RESTART');
    expect(existsSync(join(ws(denyS.id), 'denied.txt'))).toBe(false);
    // Answered: a second confirmation is a 400.
    await expect(
      client.beta.sessions.events.send(denyS.id, {
        events: [{ type: 'user.tool_confirmation', tool_use_id: waiting.get(denyS.id)!, result: 'allow' }],
      }),
    ).rejects.toBeInstanceOf(Anthropic.BadRequestError);
  }, 300_000);
});
