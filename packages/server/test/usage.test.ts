import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ScriptedModel, removeDir, runAsh, tempDir, type RecordedRequest } from '@ash-ai/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  createSession,
  deployAgent,
  sendTurn,
  startTestServer,
  TEST_API_KEY,
  type TestServer,
} from './harness.js';

/** The operator's price table for these tests (USD per million tokens). */
const PRICES = {
  version: 'test-prices-1',
  models: {
    'ledger-model': { inputPerMTok: 2, outputPerMTok: 10, cacheWritePerMTok: 2.5, cacheReadPerMTok: 0.2 },
    'other-model': { inputPerMTok: 1, outputPerMTok: 1, cacheWritePerMTok: 1, cacheReadPerMTok: 1 },
  },
};

const costOf = (model: string, u: NonNullable<RecordedRequest['reported']>['usage']) => {
  const p = PRICES.models[model as keyof typeof PRICES.models];
  return (
    (u.input_tokens * p.inputPerMTok +
      u.output_tokens * p.outputPerMTok +
      u.cache_creation_input_tokens * p.cacheWritePerMTok +
      u.cache_read_input_tokens * p.cacheReadPerMTok) /
    1e6
  );
};

/** Sums what the model reported for a set of requests. */
function reportedTotals(reqs: RecordedRequest[]) {
  const r = reqs.filter((x) => x.reported).map((x) => x.reported!);
  const sum = (k: keyof (typeof r)[number]['usage']) => r.reduce((a, x) => a + x.usage[k], 0);
  return {
    calls: r.length,
    ids: r.map((x) => x.id).sort(),
    input: sum('input_tokens'),
    output: sum('output_tokens'),
    cacheWrite: sum('cache_creation_input_tokens'),
    cacheRead: sum('cache_read_input_tokens'),
  };
}

async function stats(t: TestServer, query: string) {
  const r = await api(t.url, 'GET', `/api/usage/stats?${query}`);
  expect(r.status, r.text).toBe(200);
  return r.body;
}

/** Waits until the ledger has `turns` turn records for the session. */
async function settle(t: TestServer, sessionId: string, turns: number) {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const s = (await stats(t, `sessionId=${sessionId}`)).stats;
    if (s.totalTurns >= turns) return s;
    if (Date.now() > deadline) throw new Error(`usage of ${sessionId} did not settle: ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('usage ledger', () => {
  let t: TestServer;
  let model: ScriptedModel;
  let dataDir: string;
  let env: Record<string, string>;
  let cgroups: boolean;

  beforeAll(async () => {
    model = await ScriptedModel.start();
    dataDir = tempDir('ash-usage-');
    const pricesFile = join(dataDir, 'prices.json');
    writeFileSync(pricesFile, JSON.stringify(PRICES));
    env = { ASH_PRICES_FILE: pricesFile };
    t = await startTestServer({ model, dataDir, env });
    cgroups = (await api(t.url, 'GET', '/health')).body.sandbox.limits !== 'none';
    await deployAgent(t.url, 'ledger', { 'CLAUDE.md': '# Ledger\n' });
    await deployAgent(t.url, 'ledger2', { 'CLAUDE.md': '# Ledger two\n' });
  });
  afterAll(async () => {
    await t?.close();
    await model?.close();
    removeDir(dataDir);
  });

  it('records a turn with two model calls exactly as the model reported them, once, priced by the table', async () => {
    const id = await createSession(t.url, 'ledger', { model: 'ledger-model' });
    model.forSession(id).enqueue(
      {
        toolUse: { name: 'Bash', input: { command: 'echo metered' } },
        usage: {
          input_tokens: 1200,
          output_tokens: 300,
          cache_creation_input_tokens: 400,
          cache_read_input_tokens: 800,
        },
      },
      { text: 'done', usage: { input_tokens: 1500, output_tokens: 120, cache_read_input_tokens: 1200 } },
    );
    const turn = await sendTurn(t.url, id, { content: 'meter me' });
    expect(turn.events.at(-1)!.data).toMatchObject({ outcome: 'completed' });
    const turnId = (turn.events[0]!.data as { turnId: string }).turnId;
    const s = await settle(t, id, 1);

    const reqs = model.messageRequests(id);
    const main = reqs.filter((r) => r.tools.length > 0);
    expect(main).toHaveLength(2);
    const want = reportedTotals(reqs);
    expect(s).toMatchObject({
      totalModelCalls: want.calls,
      totalMessages: want.calls,
      totalInputTokens: want.input,
      totalOutputTokens: want.output,
      totalCacheCreationTokens: want.cacheWrite,
      totalCacheReadTokens: want.cacheRead,
      totalToolCalls: 1,
      totalTurns: 1,
    });
    expect(want.input).toBeGreaterThanOrEqual(2700);
    const expectedCost = reqs
      .filter((r) => r.reported)
      .reduce((a, r) => a + costOf(r.model!, r.reported!.usage), 0);
    expect(s.totalCostUsd).toBeCloseTo(expectedCost, 12);

    const calls = (await api(t.url, 'GET', `/api/usage?sessionId=${id}&kind=model_call`)).body.records;
    expect(calls.map((c: { messageId: string }) => c.messageId).sort()).toEqual(want.ids);
    for (const c of calls) {
      expect(c).toMatchObject({
        agentName: 'ledger',
        turnId,
        model: 'ledger-model',
        priceVersion: 'test-prices-1',
      });
      const reported = reqs.find((r) => r.reported?.id === c.messageId)!.reported!.usage;
      expect(c.costUsd).toBeCloseTo(costOf('ledger-model', reported), 12);
    }
    // The SDK's own estimate, kept beside ours on the turn record.
    const complete = turn.events.find((e) => e.event === 'turn_complete')!.data as { totalCostUsd: number };
    const [turnRecord] = (await api(t.url, 'GET', `/api/usage?sessionId=${id}&kind=turn`)).body.records;
    expect(turnRecord).toMatchObject({ turnId, costUsd: 0 });
    expect(turnRecord.sdkCostUsd).toBeCloseTo(complete.totalCostUsd, 12);
    expect(turnRecord.sdkCostUsd).toBeGreaterThan(0);
    expect(s.totalSdkCostUsd).toBeCloseTo(complete.totalCostUsd, 12);
    // Sandbox compute: CPU seconds of the turn from the sandbox cgroup.
    const compute = (await api(t.url, 'GET', `/api/usage?sessionId=${id}&kind=compute`)).body.records;
    if (cgroups) {
      expect(compute).toHaveLength(1);
      expect(compute[0].computeSeconds).toBeGreaterThan(0);
      expect(s.totalComputeSeconds).toBe(compute[0].computeSeconds);
    } else expect(compute).toHaveLength(0);
  });

  it('never counts a call twice: reconnects, resumes, a restart, and a replayed message id', async () => {
    const id = await createSession(t.url, 'ledger', { model: 'ledger-model' });
    const first = await sendTurn(t.url, id, { content: 'one' });
    const firstTurnId = (first.events[0]!.data as { turnId: string }).turnId;
    const after1 = await settle(t, id, 1);
    const turn1Records = async () =>
      (await api(t.url, 'GET', `/api/usage?sessionId=${id}&limit=1000`)).body.records.filter(
        (r: { turnId: string }) => r.turnId === firstTurnId,
      );
    const records1 = await turn1Records();

    // A reconnect replays the whole stream: nothing is metered again.
    const replay = await fetch(`${t.url}/api/sessions/${id}/stream?after=0`);
    expect((await replay.text()).length).toBeGreaterThan(0);
    expect((await stats(t, `sessionId=${id}`)).stats).toEqual(after1);

    // New options restart the Claude process, which resumes the conversation from its transcript.
    await api(t.url, 'PATCH', `/api/sessions/${id}/config`, { systemPrompt: 'Be brief.' });
    const seenBefore = model.messageRequests(id).length;
    await sendTurn(t.url, id, { content: 'two' });
    const after2 = await settle(t, id, 2);
    const turn2 = reportedTotals(model.messageRequests(id).slice(seenBefore));
    expect(after2.totalModelCalls).toBe(after1.totalModelCalls + turn2.calls);
    expect(after2.totalInputTokens).toBe(after1.totalInputTokens + turn2.input);
    expect(await turn1Records()).toEqual(records1);

    // A server restart: the next message resumes the session in a new sandbox.
    await t.close();
    t = await startTestServer({ model, dataDir, env });
    const seenBefore3 = model.messageRequests(id).length;
    const third = await sendTurn(t.url, id, { content: 'three' });
    expect(third.events.at(-1)!.data).toMatchObject({ outcome: 'completed' });
    const after3 = await settle(t, id, 3);
    const turn3 = reportedTotals(model.messageRequests(id).slice(seenBefore3));
    expect(after3.totalModelCalls).toBe(after2.totalModelCalls + turn3.calls);
    expect(after3.totalOutputTokens).toBe(after2.totalOutputTokens + turn3.output);
    expect(await turn1Records()).toEqual(records1);
    // Everything the model ever answered for this session is in the ledger exactly once.
    const all = reportedTotals(model.messageRequests(id));
    const ids = (
      await api(t.url, 'GET', `/api/usage?sessionId=${id}&kind=model_call&limit=1000`)
    ).body.records
      .map((r: { messageId: string }) => r.messageId)
      .sort();
    expect(ids).toEqual(all.ids);
  });

  it('filters and groups stats by agent, session, model and day; lists records page by page', async () => {
    const s1 = await createSession(t.url, 'ledger2', { model: 'ledger-model' });
    const s2 = await createSession(t.url, 'ledger2', { model: 'ledger-model' });
    const testStart = new Date(Date.now() - 1000).toISOString();
    model.forSession(s1).enqueue({ toolUse: { name: 'Bash', input: { command: 'true' } } }, { text: 'ok' });
    await sendTurn(t.url, s1, { content: 'a' });
    await sendTurn(t.url, s2, { content: 'b' });
    await sendTurn(t.url, s2, { content: 'c', model: 'other-model' });
    await settle(t, s1, 1);
    await settle(t, s2, 2);

    const byAgent = await stats(t, 'groupBy=agent');
    const ledger2 = byAgent.groups.find((g: { key: string }) => g.key === 'ledger2').stats;
    expect(ledger2).toEqual((await stats(t, 'agentName=ledger2')).stats);
    const sumOf = (groups: Array<{ stats: Record<string, number> }>, k: string) =>
      groups.reduce((a, g) => a + g.stats[k]!, 0);
    for (const k of ['totalModelCalls', 'totalInputTokens', 'totalTurns', 'totalToolCalls'])
      expect(sumOf(byAgent.groups, k)).toBe(byAgent.stats[k]);
    expect(sumOf(byAgent.groups, 'totalCostUsd')).toBeCloseTo(byAgent.stats.totalCostUsd, 12);

    const bySession = await stats(t, 'agentName=ledger2&groupBy=session');
    expect(bySession.groups.map((g: { key: string }) => g.key).sort()).toEqual([s1, s2].sort());
    for (const g of bySession.groups) expect(g.stats).toEqual((await stats(t, `sessionId=${g.key}`)).stats);
    const s1Req = reportedTotals(model.messageRequests(s1));
    expect(bySession.groups.find((g: { key: string }) => g.key === s1).stats.totalInputTokens).toBe(
      s1Req.input,
    );

    const byModel = await stats(t, 'agentName=ledger2&groupBy=model');
    const modelGroup = (k: string | null) =>
      byModel.groups.find((g: { key: string | null }) => g.key === k)?.stats;
    const calls = (sid: string, m: string) =>
      model.messageRequests(sid).filter((r) => r.reported && r.model === m).length;
    expect(modelGroup('ledger-model').totalModelCalls).toBe(
      calls(s1, 'ledger-model') + calls(s2, 'ledger-model'),
    );
    expect(modelGroup('other-model').totalModelCalls).toBe(calls(s2, 'other-model'));
    expect(modelGroup('other-model').totalModelCalls).toBeGreaterThan(0);
    expect(modelGroup(null)).toMatchObject({ totalModelCalls: 0, totalTurns: 3, totalToolCalls: 1 });

    const byDay = await stats(t, 'agentName=ledger2&groupBy=day');
    expect(byDay.groups).toEqual([{ key: new Date().toISOString().slice(0, 10), stats: byDay.stats }]);

    const future = new Date(Date.now() + 3600_000).toISOString();
    expect((await stats(t, `agentName=ledger2&from=${future}`)).stats.totalModelCalls).toBe(0);
    expect((await stats(t, `agentName=ledger2&to=${testStart}`)).stats.totalModelCalls).toBe(0);
    expect((await stats(t, `agentName=ledger2&from=${testStart}&to=${future}`)).stats).toEqual(byDay.stats);

    const all = await api(t.url, 'GET', '/api/usage?agentName=ledger2&limit=1000');
    const n = all.body.total as number;
    expect(all.body.records).toHaveLength(n);
    const times = all.body.records.map((r: { createdAt: string }) => r.createdAt);
    expect(times).toEqual([...times].sort().reverse());
    const page1 = await api(t.url, 'GET', '/api/usage?agentName=ledger2&limit=2');
    expect(page1.body).toMatchObject({ total: n, hasMore: true });
    expect(page1.body.records).toEqual(all.body.records.slice(0, 2));
    const last = await api(t.url, 'GET', `/api/usage?agentName=ledger2&limit=2&offset=${n - 1}`);
    expect(last.body).toMatchObject({ total: n, hasMore: false });
    expect(last.body.records).toEqual(all.body.records.slice(n - 1));
    const tools = await api(t.url, 'GET', '/api/usage?agentName=ledger2&kind=tool_call');
    expect(tools.body.records).toHaveLength(1);

    const bad = await api(t.url, 'GET', `/api/usage/stats?from=${future}&to=${testStart}`);
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].path).toBe('/query/to');
    expect((await api(t.url, 'GET', '/api/usage/stats?groupBy=week')).body.errors[0].path).toBe(
      '/query/groupBy',
    );
    expect((await api(t.url, 'GET', '/api/usage?limit=0')).status).toBe(400);
  });

  it('maxBudgetUsd: a turn over its budget ends with budget_exceeded and the next turn works', async () => {
    const id = await createSession(t.url, 'ledger', { model: 'ledger-model' });
    model.forSession(id).enqueue(
      {
        toolUse: { name: 'Bash', input: { command: 'echo spend' } },
        usage: { input_tokens: 200_000, output_tokens: 2000 },
      },
      { text: 'never reached' },
    );
    const over = await sendTurn(t.url, id, { content: 'spend a lot', maxBudgetUsd: 0.01 });
    expect(over.events.find((e) => e.event === 'turn_complete')!.data).toMatchObject({
      subtype: 'error_max_budget_usd',
    });
    expect(over.events.at(-2)).toMatchObject({ event: 'error', data: { code: 'budget_exceeded' } });
    expect(over.events.at(-1)!.data).toMatchObject({ outcome: 'error' });
    model.reset();
    const next = await sendTurn(t.url, id, { content: 'small' });
    expect(next.events.at(-1)!.data).toMatchObject({ outcome: 'completed' });
    expect((await api(t.url, 'GET', `/api/sessions/${id}`)).body.session.status).toBe('active');
  });

  it('a session budget ends the turn that reaches it, refuses later turns, and lifts when raised', async () => {
    const id = await createSession(t.url, 'ledger', { model: 'ledger-model', budgetUsd: 0.05 });
    expect((await api(t.url, 'GET', `/api/sessions/${id}`)).body.session.budgetUsd).toBe(0.05);
    // 100k input tokens at $2/MTok = $0.20 on the first call: over the $0.05 budget.
    model.forSession(id).enqueue(
      {
        toolUse: { name: 'Bash', input: { command: 'sleep 30; echo late' } },
        usage: { input_tokens: 100_000 },
      },
      { text: 'never reached' },
    );
    const started = Date.now();
    const over = await sendTurn(t.url, id, { content: 'expensive' });
    expect(Date.now() - started).toBeLessThan(20_000); // ended by the host, not by the tool finishing
    expect(over.events.at(-2)).toMatchObject({ event: 'error', data: { code: 'budget_exceeded' } });
    expect((over.events.at(-2)!.data as { error: string }).error).toMatch(/session reached its budget/);
    expect(over.events.at(-1)!.data).toMatchObject({ outcome: 'error' });
    expect(model.messageRequests(id).filter((r) => r.tools.length > 0)).toHaveLength(1);

    const seen = model.messageRequests(id).length;
    const refused = await sendTurn(t.url, id, { content: 'more?' });
    expect(refused.events.map((e) => e.event)).toEqual(['session_start', 'error', 'done']);
    expect(refused.events[1]!.data).toMatchObject({ code: 'budget_exceeded' });
    expect(model.messageRequests(id).length).toBe(seen); // no model call at all

    const raised = await api(t.url, 'PATCH', `/api/sessions/${id}/config`, { budgetUsd: 10 });
    expect(raised.body.session.budgetUsd).toBe(10);
    model.reset();
    const ok = await sendTurn(t.url, id, { content: 'go on' });
    expect(ok.events.at(-1)!.data).toMatchObject({ outcome: 'completed' });
  });
});

describe('tenant budget', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
    await deployAgent(t.url, 'tb', { 'CLAUDE.md': '# Tenant budget\n' });
  });
  afterAll(async () => t?.close());

  it('bounds everything the tenant spends; removing it lets turns run again', async () => {
    const id = await createSession(t.url, 'tb', { model: 'claude-sonnet-4-5' });
    await sendTurn(t.url, id, { content: 'warm up' });
    await settle(t, id, 1);
    const before = (await api(t.url, 'GET', '/api/usage/budget')).body.budget;
    expect(before.budgetUsd).toBeNull();
    expect(before.spentUsd).toBeGreaterThan(0); // built-in prices: Sonnet 4.5 at $3/$15 per MTok
    const set = await api(t.url, 'PUT', '/api/usage/budget', { budgetUsd: before.spentUsd + 0.01 });
    expect(set.body.budget).toEqual({ budgetUsd: before.spentUsd + 0.01, spentUsd: before.spentUsd });

    // 10k input tokens at $3/MTok = $0.03: the first call reaches the budget.
    t.model
      .forSession(id)
      .enqueue(
        { toolUse: { name: 'Bash', input: { command: 'sleep 5' } }, usage: { input_tokens: 10_000 } },
        { text: 'never reached' },
      );
    const over = await sendTurn(t.url, id, { content: 'spend' });
    expect(over.events.at(-2)).toMatchObject({ event: 'error', data: { code: 'budget_exceeded' } });
    expect((over.events.at(-2)!.data as { error: string }).error).toMatch(/tenant reached its budget/);
    // Another session of the tenant is refused too.
    const other = await createSession(t.url, 'tb');
    const refused = await sendTurn(t.url, other, { content: 'hello' });
    expect(refused.events[1]).toMatchObject({ event: 'error', data: { code: 'budget_exceeded' } });

    expect(
      (await api(t.url, 'PUT', '/api/usage/budget', { budgetUsd: null })).body.budget.budgetUsd,
    ).toBeNull();
    t.model.reset();
    const ok = await sendTurn(t.url, other, { content: 'hello again' });
    expect(ok.events.at(-1)!.data).toMatchObject({ outcome: 'completed' });
    expect((await api(t.url, 'PUT', '/api/usage/budget', { budgetUsd: -1 })).status).toBe(400);
  });

  it("prices the SDK's own models as the SDK does, a newer model at the dearest rate of its family, and `ash usage` says so (issue 16)", async () => {
    const u = {
      input_tokens: 1000,
      output_tokens: 100,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
    };
    // claude-opus-5-5 (what the bundled Claude Code asks for): priced exactly, same figure as the SDK's.
    const known = await createSession(t.url, 'tb', { model: 'claude-opus-5-5' });
    t.model.forSession(known).enqueue({ text: 'priced', usage: u });
    await sendTurn(t.url, known, { content: 'what does this cost' });
    const knownStats = await settle(t, known, 1);
    const knownCalls = (await api(t.url, 'GET', `/api/usage?sessionId=${known}&kind=model_call`)).body
      .records;
    const opus55 = knownCalls.filter((c: { model: string }) => c.model === 'claude-opus-5-5');
    expect(opus55.length).toBeGreaterThan(0);
    for (const c of opus55) {
      expect(c.priceVersion).toBe('anthropic-list-2026-06');
      expect(c.costUsd).toBeCloseTo((c.inputTokens * 4 + c.outputTokens * 20) / 1e6, 12);
    }
    expect(knownStats.fallbackPricedCalls).toBe(0);
    expect(knownStats.totalSdkCostUsd).toBeGreaterThan(0);
    // Ours and the SDK's own total_cost_usd agree for the model calls the SDK made with this model.
    const opusCost = opus55.reduce((n: number, c: { costUsd: number }) => n + c.costUsd, 0);
    expect(knownStats.totalSdkCostUsd).toBeGreaterThanOrEqual(opusCost - 1e-9);
    expect(knownStats.totalCostUsd).toBeCloseTo(knownStats.totalSdkCostUsd, 9);

    // A model the table does not know: the dearest known rate of its family, marked as a fallback.
    const id = await createSession(t.url, 'tb', { model: 'claude-opus-6' });
    t.model.forSession(id).enqueue({ text: 'priced', usage: u });
    await sendTurn(t.url, id, { content: 'what does this cost' });
    await settle(t, id, 1);
    const calls = (await api(t.url, 'GET', `/api/usage?sessionId=${id}&kind=model_call`)).body.records;
    const opus = calls.filter((c: { model: string }) => c.model === 'claude-opus-6');
    expect(opus.length).toBeGreaterThan(0);
    for (const c of opus) {
      expect(c.priceVersion).toBe('anthropic-list-2026-06;fallback=opus');
      // Opus 4.1's $15 in / $75 out per MTok, not a cheaper default.
      const want =
        (c.inputTokens * 15 + c.outputTokens * 75 + c.cacheCreationTokens * 18.75 + c.cacheReadTokens * 1.5) /
        1e6;
      expect(c.costUsd).toBeCloseTo(want, 12);
      expect(c.costUsd).toBeGreaterThan(0);
    }
    expect(t.logs()).toMatch(/priced at a fallback rate/);
    const s = (await stats(t, `sessionId=${id}`)).stats;
    expect(s.fallbackPricedCalls).toBe(opus.length);

    // `ash usage` names both figures and their source, and flags the fallback.
    const cli = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: t.dataDir,
      ASH_SERVER_URL: t.url,
      ASH_API_KEY: TEST_API_KEY,
    };
    const plain = await runAsh(['usage', '--session', known], cli);
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout).toMatch(/sdk_usd: the Claude SDK's own total_cost_usd/);
    expect(plain.stdout).not.toMatch(/fallback/);
    const flagged = await runAsh(['usage', '--session', id, '--group-by', 'model'], cli);
    expect(flagged.code, flagged.stderr).toBe(0);
    expect(flagged.stdout).toMatch(/^claude-opus-6 .*fallback \(\d+ calls\)$/m);
    expect(flagged.stdout).toMatch(
      /note: \d+ model calls? had no price of (its|their) own and (was|were) priced at a fallback rate/,
    );
  });
});
