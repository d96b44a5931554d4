import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ScriptedModel } from '@ash-ai/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  createSession,
  deployAgent,
  eventually,
  sendTurn,
  startTestServer,
  TEST_API_KEY,
  type TestServer,
} from './harness.js';

/** One span as the OTLP/HTTP JSON exporter sends it. */
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: Array<{ key: string; value: Record<string, unknown> }>;
  status?: { code?: number };
}

/** A local OTLP/HTTP receiver: keeps every span posted to /v1/traces (JSON encoding). */
class OtlpReceiver {
  readonly spans: OtlpSpan[] = [];
  readonly requests: string[] = [];
  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<OtlpReceiver> {
    let receiver!: OtlpReceiver;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        receiver.requests.push(`${req.method} ${req.url} ${req.headers['content-type']}`);
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
          resourceSpans?: Array<{ scopeSpans?: Array<{ spans?: OtlpSpan[] }> }>;
        };
        for (const rs of body.resourceSpans ?? [])
          for (const ss of rs.scopeSpans ?? []) receiver.spans.push(...(ss.spans ?? []));
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    receiver = new OtlpReceiver(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    return receiver;
  }

  close(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}

const attr = (s: OtlpSpan, key: string): unknown => {
  const v = s.attributes.find((a) => a.key === key)?.value;
  return v && Object.values(v)[0];
};

/** The value of one sample of the Prometheus text exposition (0 when absent). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

async function scrape(t: TestServer): Promise<string> {
  const r = await api(t.url, 'GET', '/metrics');
  expect(r.status).toBe(200);
  return r.text;
}

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_SPAN = '00f067aa0ba902b7';

describe('OpenTelemetry traces (OTEL_EXPORTER_OTLP_ENDPOINT)', () => {
  let receiver: OtlpReceiver;
  let model: ScriptedModel;
  let t: TestServer | undefined;

  beforeAll(async () => {
    receiver = await OtlpReceiver.start();
    model = await ScriptedModel.start();
  });
  afterAll(async () => {
    await t?.close();
    await model.close();
    await receiver.close();
  });

  it('exports the span tree of a turn with a tool call, joined to the client trace and passed to the model', async () => {
    t = await startTestServer({ model, env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url } });
    await deployAgent(t.url, 'traced', { 'CLAUDE.md': '# Traced\n' });
    const id = await createSession(t.url, 'traced');
    model
      .forSession(id)
      .enqueue({ toolUse: { name: 'Bash', input: { command: 'echo traced' } } }, { text: 'all done' });
    const res = await fetch(`${t.url}/api/sessions/${id}/messages`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${TEST_API_KEY}`,
        traceparent: `00-${TRACE_ID}-${CLIENT_SPAN}-01`,
      },
      body: JSON.stringify({ content: 'run the tool' }),
    });
    const raw = await res.text();
    expect(raw).toContain('"outcome":"completed"');
    const logs = t.logs();
    // Closing the server flushes the batch of spans.
    await t.close();
    t = undefined;
    expect(receiver.requests.every((r) => r.startsWith('POST /v1/traces application/json'))).toBe(true);

    const trace = receiver.spans.filter((s) => s.traceId === TRACE_ID);
    const one = (name: string) => {
      const found = trace.filter((s) => s.name === name);
      expect(found, `${name} in ${trace.map((s) => s.name).join(', ')}`).toHaveLength(1);
      return found[0]!;
    };
    const http = one('POST /api/sessions/:id/messages');
    expect(http.parentSpanId).toBe(CLIENT_SPAN);
    expect(http.kind).toBe(2); // SERVER
    expect(attr(http, 'http.response.status_code')).toBe(200);
    const turn = one('ash.turn');
    expect(turn.parentSpanId).toBe(http.spanId);
    expect(attr(turn, 'ash.session_id')).toBe(id);
    expect(attr(turn, 'ash.outcome')).toBe('completed');
    const children = (name: string) => trace.filter((s) => s.name === name && s.parentSpanId === turn.spanId);

    const calls = children('ash.model.request');
    expect(calls.length).toBeGreaterThanOrEqual(2); // the tool call, then the answer
    for (const c of calls) {
      expect(c.kind).toBe(3); // CLIENT
      expect(typeof attr(c, 'gen_ai.request.model')).toBe('string');
      expect(Number(attr(c, 'gen_ai.usage.input_tokens'))).toBeGreaterThan(0);
      expect(Number(attr(c, 'gen_ai.usage.output_tokens'))).toBeGreaterThan(0);
      expect(Number(attr(c, 'ash.model.time_to_first_token_ms'))).toBeGreaterThan(0);
    }
    const [tool] = children('ash.tool');
    expect(tool && attr(tool, 'gen_ai.tool.name')).toBe('Bash');
    expect(attr(tool!, 'ash.tool.status')).toBe('ok');
    expect(Number(attr(tool!, 'ash.tool.duration_ms'))).toBeGreaterThanOrEqual(0);
    expect(children('ash.persist')).toHaveLength(1);

    // The sandbox started under the session's creation (its prewarm) or under the turn.
    const start = receiver.spans.find(
      (s) => s.name === 'ash.sandbox.start' && attr(s, 'ash.session_id') === id,
    );
    expect(start).toBeDefined();
    const startParent = receiver.spans.find((s) => s.spanId === start!.parentSpanId);
    expect(['POST /api/sessions', 'ash.turn']).toContain(startParent?.name);

    // W3C trace context reached the model: each call carried the traceparent of its span.
    const seen = model
      .messageRequests(id)
      .map((r) => String(r.headers.traceparent ?? ''))
      .filter(Boolean);
    expect(seen.length).toBeGreaterThanOrEqual(2);
    for (const tp of seen) expect(tp).toMatch(new RegExp(`^00-${TRACE_ID}-[0-9a-f]{16}-01$`));
    expect(seen.map((tp) => tp.split('-')[2]).sort()).toEqual(calls.map((c) => c.spanId).sort());

    // Log lines of the turn carry its ids and the trace id.
    const finished = logs
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.msg === 'turn finished' && l.sessionId === id);
    expect(finished).toMatchObject({ sessionId: id, tenantId: 'default', traceId: TRACE_ID });
    expect(typeof finished?.turnId).toBe('string');
  });

  it('exports nothing when the variable is unset', async () => {
    const before = receiver.requests.length;
    t = await startTestServer({ model });
    await deployAgent(t.url, 'untraced', { 'CLAUDE.md': '# Untraced\n' });
    const id = await createSession(t.url, 'untraced');
    model
      .forSession(id)
      .enqueue({ toolUse: { name: 'Bash', input: { command: 'echo quiet' } } }, { text: 'quiet' });
    const r = await sendTurn(t.url, id, { content: 'run the tool' });
    expect(r.events.at(-1)!.data).toMatchObject({ outcome: 'completed' });
    await t.close();
    t = undefined;
    expect(receiver.requests.length).toBe(before);
    for (const req of model.messageRequests(id)) expect(req.headers.traceparent).toBeUndefined();
  });
});

describe('Prometheus metrics (/metrics)', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
    await deployAgent(t.url, 'metered', { 'CLAUDE.md': '# Metered\n' });
  });
  afterAll(async () => t?.close());

  it('has process metrics and histograms, and a turn with a tool call moves them', async () => {
    const before = await scrape(t);
    for (const name of [
      'process_cpu_user_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_heap_size_used_bytes',
    ])
      expect(before).toMatch(new RegExp(`^${name}`, 'm'));
    for (const h of [
      'ash_turn_time_to_first_event_seconds',
      'ash_model_time_to_first_token_seconds',
      'ash_turn_duration_seconds',
      'ash_model_request_duration_seconds',
      'ash_tool_duration_seconds',
      'ash_queue_wait_seconds',
      'ash_sandbox_start_seconds',
    ])
      expect(before).toContain(`# TYPE ${h} histogram`);
    for (const c of [
      'ash_turns_total',
      'ash_errors_total',
      'ash_model_tokens_total',
      'ash_model_cost_usd_total',
    ])
      expect(before).toContain(`# TYPE ${c} counter`);

    const id = await createSession(t.url, 'metered');
    t.model
      .forSession(id)
      .enqueue({ toolUse: { name: 'Bash', input: { command: 'echo metered' } } }, { text: 'metered' });
    const r = await sendTurn(t.url, id, { content: 'run the tool' });
    expect(r.events.at(-1)!.data).toMatchObject({ outcome: 'completed' });
    expect((await api(t.url, 'GET', '/api/sessions/00000000-0000-4000-8000-000000000000')).status).toBe(404);
    const queued = await api(t.url, 'POST', '/api/queue', { agentName: 'metered', prompt: 'from the queue' });
    expect(queued.status).toBe(201);
    await eventually(
      async () =>
        (await api(t.url, 'GET', `/api/queue/${queued.body.item.id}`)).body.item.status === 'completed',
      60_000,
      'the queue item to complete',
    );
    // Tokens and cost are counted when the ledger records the calls (just after each turn).
    let after = '';
    await eventually(
      async () => {
        after = await scrape(t);
        return (
          sample(after, 'ash_model_tokens_total', { type: 'input' }) -
            sample(before, 'ash_model_tokens_total', { type: 'input' }) >
            0 &&
          sample(after, 'ash_model_cost_usd_total') > sample(before, 'ash_model_cost_usd_total') &&
          sample(after, 'ash_turns_total', { outcome: 'completed' }) -
            sample(before, 'ash_turns_total', { outcome: 'completed' }) >=
            2
        );
      },
      15_000,
      'the turn metrics',
    );
    const moved = (name: string, labels: Record<string, string> = {}, by = 1) =>
      expect(sample(after, name, labels) - sample(before, name, labels), name).toBeGreaterThanOrEqual(by);
    moved('ash_turns_total', { outcome: 'completed' }, 2);
    moved('ash_turn_duration_seconds_count', { outcome: 'completed' }, 2);
    moved('ash_turn_time_to_first_event_seconds_count', {}, 2);
    moved('ash_model_request_duration_seconds_count', { status: '200' }, 3);
    moved('ash_model_time_to_first_token_seconds_count', {}, 3);
    moved('ash_tool_duration_seconds_count', { tool: 'Bash', status: 'ok' });
    moved('ash_sandbox_start_seconds_count', { kind: 'session', outcome: 'ok' }, 2);
    moved('ash_queue_wait_seconds_count');
    moved('ash_errors_total', { code: 'session_not_found', source: 'http' });
    moved('ash_model_tokens_total', { type: 'input' }, 3);
    moved('ash_model_tokens_total', { type: 'output' }, 3);
    expect(sample(after, 'ash_turn_duration_seconds_sum')).toBeGreaterThan(
      sample(before, 'ash_turn_duration_seconds_sum'),
    );
  });
});
