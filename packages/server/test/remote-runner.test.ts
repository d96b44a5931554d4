import Database from 'better-sqlite3';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import {
  removeDir,
  requestText,
  runAsh,
  ScriptedModel,
  startTestS3,
  type TestS3,
  TEST_API_KEY,
  startRunnerProcess,
  tempDir,
  type RunnerProcess,
} from '@ash-ai/testing';
import { GATEWAY_PATH, GENERATION_HEADER, RUNNER_API_PREFIX, RUNNER_HEADER } from '@ash-ai/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HttpRunnerClient } from '../src/services/runners/http-runner-client.js';
import {
  api,
  createSession,
  deployAgent,
  eventually,
  sendTurn,
  startTestServer,
  type TestServer,
  filesUnder,
} from './harness.js';

const SECRET = 'coordinator-runner-secret-0000000001';
const INTERNAL = { authorization: `Bearer ${SECRET}` };
/** The provider key the coordinator holds (serverEnv's); no runner ever sees it. */
const PROVIDER_KEY = 'sk-ant-test-0123456789abcdef';

/**
 * A coordinator with no sandboxes of its own (ASH_LOCAL_RUNNER=off) and two `ash runner`
 * processes (the real bin, real sandboxes): placement, the NDJSON turn link, checkout and
 * checkpoints of the coordinator's copy, the model gateway (key added, usage metered here),
 * runnerLabels, runner loss mid-turn (`runner_lost` + `done`, the next message on the other
 * runner with the whole conversation), and /health listing the runners.
 */
describe('sessions on runners in other processes', () => {
  let model: ScriptedModel;
  let t: TestServer;
  let root: string;
  let s3: TestS3;
  const runners: Record<string, RunnerProcess> = {};
  const runnerEnv = {
    ASH_INTERNAL_SECRET: SECRET,
    ASH_RUNNER_HEARTBEAT_MS: '300',
    ASH_SPARE_BRIDGES: '0',
    ASH_MODEL_MAX_RETRIES: '0',
    ASH_LOG_LEVEL: 'info',
    // `vm` and `runsc` resolve to 127.0.0.1 on the test host (see egress.test.ts).
    ASH_EGRESS_ALLOW_CIDRS: '127.0.0.1/32',
  };

  const healthRunners = async () =>
    (await api(t.url, 'GET', '/health')).body.runners as Array<{
      name: string;
      state: string;
      labels: Record<string, string>;
      liveSessions: number;
      warm: number;
      capacity: { max: number };
      lastHeartbeat: string | null;
    }>;
  const runnerOf = async (id: string) =>
    (await api(t.url, 'GET', `/api/sessions/${id}`)).body.session.runnerId;

  beforeAll(async () => {
    model = await ScriptedModel.start();
    root = tempDir('ash-remote-runner-');
    s3 = await startTestS3();
    t = await startTestServer({
      model,
      env: {
        ...s3.env,
        ASH_LOCAL_RUNNER: 'off',
        ASH_INTERNAL_SECRET: SECRET,
        ASH_RUNNER_TIMEOUT_MS: '4000',
        ASH_CREDENTIAL_KEY: 'coordinator-master-key-0123456789',
        ASH_TURN_IDLE_TIMEOUT_MS: '60000',
      },
    });
    await deployAgent(t.url, 'remote', { 'CLAUDE.md': '# Remote\n' });
  }, 120_000);

  afterAll(async () => {
    for (const r of Object.values(runners)) await r.kill().catch(() => undefined);
    await t?.close();
    await model?.close();
    await s3?.close();
    if (root) removeDir(root);
  });

  it('without any runner, creating a session is 503 capacity_reached with Retry-After', async () => {
    const r = await api(t.url, 'POST', '/api/sessions', { agent: 'remote' });
    expect(r.status).toBe(503);
    expect(r.body.code).toBe('capacity_reached');
    expect(r.headers.get('retry-after')).toBeTruthy();
    expect(r.body.detail).toContain('no runner');
  });

  it('runners register and /health lists them with labels, capacity and heartbeat', async () => {
    for (const [name, zone] of [
      ['r1', 'a'],
      ['r2', 'b'],
    ] as const)
      runners[name] = await startRunnerProcess({
        name,
        coordinators: [t.url],
        dataDir: join(root, name),
        env: runnerEnv,
        labels: { zone },
      });
    await eventually(
      async () => (await healthRunners()).filter((r) => r.state === 'ok').length === 2,
      20_000,
      'both runners live',
    );
    const list = await healthRunners();
    expect(list.map((r) => r.name).sort()).toEqual(['r1', 'r2']);
    expect(list.find((r) => r.name === 'r2')!.labels).toEqual({ zone: 'b' });
    expect(list[0]!.capacity.max).toBeGreaterThan(0);
    expect(Date.parse(list[0]!.lastHeartbeat!)).toBeGreaterThan(Date.now() - 10_000);
    const metrics = (await api(t.url, 'GET', '/metrics')).text;
    expect(metrics).toMatch(/ash_runner_up\{runner="r1"\} 1/);
    // `ash status` prints them (through the SDK's health()).
    const status = await runAsh(['status', '--server', t.url], {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: root,
    });
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/runners:\n/);
    expect(status.stdout).toMatch(
      / {2}r1 \[zone=a\]: ok, \d+\/\d+ sandboxes, \d+ live sessions, last heartbeat \d+s ago \(http:\/\/127\.0\.0\.1:\d+\)/,
    );
    expect(status.stdout).toContain('r2 [zone=b]: ok');
  }, 90_000);

  it('a turn runs on a runner: events stream, files are checkpointed here, the gateway adds the key and meters', async () => {
    const id = await createSession(t.url, 'remote');
    model
      .forSession(id)
      .enqueue(
        { toolUse: { name: 'Bash', input: { command: 'echo pears > fruit.txt && echo stored' } } },
        { text: 'Stored pears.' },
      );
    const turn = await sendTurn(t.url, id, { content: 'store pears' });
    expect(turn.status).toBe(200);
    expect(turn.events.at(-1)).toMatchObject({ event: 'done', data: { outcome: 'completed' } });
    expect(turn.events.find((e) => e.event === 'tool_result')?.data).toMatchObject({ content: 'stored' });
    expect(['r1', 'r2']).toContain(await runnerOf(id));
    // The coordinator's copy (the authoritative one at rest) has the turn's files.
    expect(readFileSync(join(t.dataDir, 'sessions', id, 'workspace', 'fruit.txt'), 'utf8')).toBe('pears\n');
    expect(existsSync(join(t.dataDir, 'sessions', id, 'claude'))).toBe(true);
    // With S3, each checkpoint is also stored as the session's snapshot (what another server restores).
    await eventually(
      () => {
        const db = new Database(join(t.dataDir, 'ash.db'), { readonly: true });
        try {
          const row = db.prepare('SELECT snapshot_key FROM sessions WHERE id = ?').get(id) as
            | { snapshot_key: string | null }
            | undefined;
          return !!row?.snapshot_key;
        } finally {
          db.close();
        }
      },
      15_000,
      'the checkpoint stored as an S3 snapshot',
    );
    // Every model call went through this server's gateway, which added the provider key.
    const calls = model.messageRequests(id);
    expect(calls.length).toBeGreaterThanOrEqual(2);
    for (const c of calls) expect(c.apiKey).toBe(PROVIDER_KEY);
    const usage = await api(t.url, 'GET', `/api/usage?sessionId=${id}&kind=model_call`);
    expect(usage.status).toBe(200);
    expect(usage.body.records.length).toBeGreaterThanOrEqual(2);
    // The files API reads the checkpointed copy; a write reaches the runner before the next turn.
    const w = await api(t.url, 'POST', `/api/sessions/${id}/files`, {
      files: [{ path: 'note.txt', content: Buffer.from('from the API\n').toString('base64') }],
    });
    expect(w.status).toBeLessThan(300);
    model
      .forSession(id)
      .enqueue(
        { toolUse: { name: 'Bash', input: { command: 'cat note.txt fruit.txt' } } },
        { text: 'Read.' },
      );
    const second = await sendTurn(t.url, id, { content: 'read the notes' });
    expect(second.events.at(-1)).toMatchObject({ event: 'done', data: { outcome: 'completed' } });
    expect((second.events.find((e) => e.event === 'tool_result')!.data as { content: string }).content).toBe(
      'from the API\npears',
    );
  }, 180_000);

  it('exec runs in the runner sandbox and is checkpointed; pause checkpoints and stops it there; the next message places it again', async () => {
    const id = await createSession(t.url, 'remote');
    model.forSession(id).enqueue({ text: 'Ready.' });
    expect((await sendTurn(t.url, id, { content: 'start' })).events.at(-1)!.data).toMatchObject({
      outcome: 'completed',
    });
    const on = (await runnerOf(id)) as string;
    const exec = await api(t.url, 'POST', `/api/sessions/${id}/exec`, {
      command: 'echo from-exec > exec.txt && cat exec.txt',
    });
    expect(exec.status).toBe(200);
    expect(exec.body).toMatchObject({ exitCode: 0, stdout: 'from-exec\n' });
    // The sandbox's output lives on the runner: the logs route asks it (the first call included).
    const logs = await api(t.url, 'GET', `/api/sessions/${id}/logs`);
    expect(logs.status).toBe(200);
    const lines = (logs.body.logs as Array<{ text: string; index: number }>).map((l) => l.text);
    expect(lines).toContain('sandbox started');
    expect(lines).toContain('$ echo from-exec > exec.txt && cat exec.txt');
    expect(lines).toContain('from-exec');
    const last = (logs.body.logs as Array<{ index: number }>).at(-1)!.index;
    const after = await api(t.url, 'GET', `/api/sessions/${id}/logs?after=${last}`);
    expect(after.body.logs).toEqual([]);
    const local = join(t.dataDir, 'sessions', id, 'workspace', 'exec.txt');
    await eventually(() => existsSync(local), 10_000, 'the exec checkpoint reached the coordinator');
    const hosted = async () => {
      const r = await fetch(`${runners[on]!.url}${RUNNER_API_PREFIX}/state`, { headers: INTERNAL });
      return ((await r.json()) as { sessions: Array<{ id: string }> }).sessions.some((x) => x.id === id);
    };
    expect(await hosted()).toBe(true);
    const paused = await api(t.url, 'POST', `/api/sessions/${id}/pause`);
    expect(paused.status).toBe(200);
    expect(paused.body.session.status).toBe('paused');
    expect(await hosted()).toBe(false);
    expect(t.server.router.runnerOf(id)).toBeUndefined();
    model
      .forSession(id)
      .enqueue({ toolUse: { name: 'Bash', input: { command: 'cat exec.txt' } } }, { text: 'Back.' });
    const back = await sendTurn(t.url, id, { content: 'again' });
    expect(back.events.at(-1)).toMatchObject({ event: 'done', data: { outcome: 'completed' } });
    expect((back.events.find((e) => e.event === 'tool_result')!.data as { content: string }).content).toBe(
      'from-exec',
    );
  }, 120_000);

  it("a runner sandbox's connections are the session's egress events and usage, decided by the session's policy", async () => {
    const host = createServer((req, res) => res.end(`net host ${req.url}\n`));
    host.listen(0, '127.0.0.1');
    await once(host, 'listening');
    const port = (host.address() as AddressInfo).port;
    try {
      await deployAgent(
        t.url,
        'net',
        { 'CLAUDE.md': '# Net\n' },
        { config: { network: { allow: [`vm:${port}`] } } },
      );
      const id = await createSession(t.url, 'net');
      const bash = (command: string) => ({ toolUse: { name: 'Bash', input: { command } } });
      model
        .forSession(id)
        .enqueue(
          bash(`curl -sS -m 10 http://vm:${port}/yes 2>&1`),
          bash(`curl -sS -m 10 http://runsc:${port}/no 2>&1`),
          { text: 'networked' },
        );
      const turn = await sendTurn(t.url, id, { content: 'use the network' });
      expect(turn.events.at(-1)).toMatchObject({ event: 'done', data: { outcome: 'completed' } });
      expect(turn.events.find((e) => e.event === 'tool_result')!.data).toMatchObject({
        content: 'net host /yes',
      });
      const egress = turn.events
        .filter((e) => e.event === 'egress')
        .map((e) => e.data as { allowed: boolean; host: string });
      expect(egress.map((e) => [e.host, e.allowed])).toEqual([
        ['vm', true],
        ['runsc', false],
      ]);
      await eventually(
        async () => {
          const st = (await api(t.url, 'GET', `/api/usage/stats?sessionId=${id}`)).body.stats;
          return st.totalEgressAllowed === 1 && st.totalEgressDenied === 1;
        },
        10_000,
        'the egress usage of the session',
      );
    } finally {
      host.closeAllConnections();
      host.close();
    }
  }, 120_000);

  it('budgets hold through the gateway: the call that reaches the budget ends the turn, the next is refused', async () => {
    const id = await createSession(t.url, 'remote', { model: 'claude-sonnet-5-5', budgetUsd: 0.05 });
    // 100k input tokens at $2/MTok = $0.20 on the first call: over the $0.05 budget.
    model.forSession(id).enqueue(
      {
        toolUse: { name: 'Bash', input: { command: 'timeout 30 tail -f /dev/null; echo late' } },
        usage: { input_tokens: 100_000 },
      },
      { text: 'never reached' },
    );
    const started = Date.now();
    const over = await sendTurn(t.url, id, { content: 'expensive' });
    expect(Date.now() - started).toBeLessThan(25_000);
    expect(over.events.find((e) => e.event === 'error')?.data).toMatchObject({ code: 'budget_exceeded' });
    expect(over.events.at(-1)!.data).toMatchObject({ outcome: 'error' });
    const seen = model.messageRequests(id).length;
    const refused = await sendTurn(t.url, id, { content: 'more?' });
    expect(refused.events.map((e) => e.event)).toEqual(['session_start', 'error', 'done']);
    expect(refused.events[1]!.data).toMatchObject({ code: 'budget_exceeded' });
    expect(model.messageRequests(id).length).toBe(seen);
    const spent = (await api(t.url, 'GET', `/api/usage/stats?sessionId=${id}`)).body.stats;
    expect(spent.totalInputTokens).toBe(100_000);
  }, 120_000);

  it('fencing: writes with a stale lease generation are refused; heartbeats name foreign sessions; a forged gateway token gets nothing', async () => {
    const id = await createSession(t.url, 'remote');
    model.forSession(id).enqueue({ text: 'Placed.' });
    expect((await sendTurn(t.url, id, { content: 'place me' })).events.at(-1)!.data).toMatchObject({
      outcome: 'completed',
    });
    const placed = t.server.router.runnerOf(id)!;
    const gen = (placed.client as HttpRunnerClient).generationOf(id)!;
    expect(gen).toBeGreaterThan(0);
    const stale = { ...INTERNAL, [GENERATION_HEADER]: String(gen - 1), [RUNNER_HEADER]: placed.id };
    const checkpoint = await fetch(`${t.url}/api/internal/sessions/${id}/checkpoint`, {
      method: 'POST',
      headers: { ...stale, 'content-type': 'application/x-tar' },
      body: Buffer.alloc(1024),
    });
    expect(checkpoint.status).toBe(409);
    expect(((await checkpoint.json()) as { code: string }).code).toBe('lease_lost');
    const egress = await api(
      t.url,
      'POST',
      `/api/internal/sessions/${id}/egress`,
      { connections: [] },
      stale,
    );
    expect(egress.status).toBe(409);
    expect(egress.body.code).toBe('lease_lost');
    const checkout = await api(
      t.url,
      'POST',
      `/api/internal/sessions/${id}/checkout`,
      { generation: gen - 1, manifest: {} },
      stale,
    );
    expect(checkout.body.code).toBe('lease_lost');
    const evicted = await api(
      t.url,
      'POST',
      `/api/internal/runners/${placed.id}/evicted`,
      { sessionId: id, reason: 'idle', generation: gen - 1 },
      INTERNAL,
    );
    expect(evicted.body.code).toBe('lease_lost');
    // Nothing of that reached the session: it still runs there.
    expect(t.server.router.runnerOf(id)?.id).toBe(placed.id);

    // A heartbeat from an unknown runner: 404 (register again).
    const ghost = await api(
      t.url,
      'POST',
      '/api/internal/runners/heartbeat',
      { runnerId: 'ghost', activeCount: 0 },
      INTERNAL,
    );
    expect(ghost.status).toBe(404);
    // The runner's own report, with a stale generation and an unknown session: both foreign.
    const state = await fetch(`${runners[placed.id]!.url}${RUNNER_API_PREFIX}/state`, { headers: INTERNAL });
    const report = (await state.json()) as { sessions: Array<{ id: string; generation: number }> };
    const own = report.sessions.find((x) => x.id === id)!;
    expect(own.generation).toBe(gen);
    const beat = await api(
      t.url,
      'POST',
      '/api/internal/runners/heartbeat',
      {
        runnerId: placed.id,
        activeCount: 1,
        report: {
          ...report,
          sessions: [
            ...report.sessions.filter((x) => x.id !== id),
            { ...own, generation: gen - 1 },
            { ...own, id: 'not-a-session' },
          ],
        },
      },
      INTERNAL,
    );
    expect(beat.status).toBe(200);
    expect(beat.body.foreign.sort()).toEqual([id, 'not-a-session'].sort());
    expect(beat.body.drain).toBe(false);

    // The gateway serves only live gateway tokens (never an API key, never nothing).
    for (const key of ['ash-gw-forged', TEST_API_KEY, undefined]) {
      const r = await fetch(`${t.url}${GATEWAY_PATH}/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(key ? { 'x-api-key': key } : {}) },
        body: JSON.stringify({ model: 'x', max_tokens: 1, messages: [] }),
      });
      expect(r.status).toBe(401);
      expect(((await r.json()) as { error: { type: string } }).error.type).toBe('authentication_error');
    }
  }, 120_000);

  it('runnerLabels place a session only on a runner carrying them; no such runner → 503', async () => {
    const onB = await createSession(t.url, 'remote', { runnerLabels: { zone: 'b' } });
    model.forSession(onB).enqueue({ text: 'On b.' });
    const turn = await sendTurn(t.url, onB, { content: 'where?' });
    expect(turn.events.at(-1)).toMatchObject({ event: 'done', data: { outcome: 'completed' } });
    expect(await runnerOf(onB)).toBe('r2');

    const nowhere = await createSession(t.url, 'remote', { runnerLabels: { zone: 'mars' } });
    const r = await api(t.url, 'POST', `/api/sessions/${nowhere}/messages`, { content: 'hi' });
    expect(r.status).toBe(503);
    expect(r.body.code).toBe('capacity_reached');
    expect(r.body.detail).toContain('zone=mars');

    const bad = await api(t.url, 'POST', '/api/sessions', {
      agent: 'remote',
      runnerLabels: { 'bad key!': 'x' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('validation_failed');
  }, 120_000);

  it("warm spares on runners: one runner keeps the agent's spare and reports it; a new session is placed there (though more loaded) and its first turn runs in the spare, no sandbox boot; no key reaches the runner", async () => {
    type Report = {
      live: number;
      reserved: number;
      sessions: Array<{ id: string }>;
      spares?: Array<{ tenantId: string; agent: string; version: number; ready: number }>;
    };
    const state = async (name: string) =>
      (await (
        await fetch(`${runners[name]!.url}${RUNNER_API_PREFIX}/state`, { headers: INTERNAL })
      ).json()) as Report;
    const ready = (r: Report) =>
      (r.spares ?? []).filter((x) => x.agent === 'warmed').reduce((n, x) => n + x.ready, 0);
    const counter = async (name: string, metric: string, label: string) => {
      const text = await (await fetch(`${runners[name]!.url}/metrics`)).text();
      const m = text.match(new RegExp(`^${metric}\\{${label}\\} (\\d+)`, 'm'));
      return m ? Number(m[1]) : 0;
    };
    // The agent asks for one warm sandbox (ASH_PREWARM_COUNT is 0 here): deploying it asks a runner.
    await deployAgent(t.url, 'warmed', { 'CLAUDE.md': '# Warmed\n' }, { config: { preWarmCount: 1 } });
    let holder = '';
    await eventually(
      async () => {
        const counts = await Promise.all(['r1', 'r2'].map(async (n) => [n, ready(await state(n))] as const));
        const with1 = counts.filter(([, n]) => n > 0);
        if (with1.length !== 1) return false;
        holder = with1[0]![0];
        return true;
      },
      60_000,
      'one runner reports a ready warm spare of the agent',
    );
    const other = holder === 'r1' ? 'r2' : 'r1';
    expect(ready(await state(other))).toBe(0);
    // Its /health, the coordinator's /health and /metrics and `ash status` show it.
    expect(((await (await fetch(`${runners[holder]!.url}/health`)).json()) as { warm: number }).warm).toBe(1);
    await eventually(
      async () => (await healthRunners()).find((r) => r.name === holder)?.warm === 1,
      10_000,
      "the coordinator's /health lists the warm spare",
    );
    expect((await api(t.url, 'GET', '/metrics')).text).toMatch(
      new RegExp(`ash_runner_warm_sandboxes\\{runner="${holder}"\\} 1`),
    );
    const status = await runAsh(['status', '--server', t.url], {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: root,
    });
    expect(status.stdout).toMatch(
      new RegExp(`${holder} \\[zone=\\w\\]: ok, \\d+/\\d+ sandboxes, \\d+ live sessions, 1 warm`),
    );

    // Make the holder the more loaded runner: least loaded alone would pick the other one.
    const zone = holder === 'r1' ? 'a' : 'b';
    for (let i = 0; i < 4; i++) {
      const [h, o] = await Promise.all([state(holder), state(other)]);
      if (h.live + h.reserved > o.live + o.reserved) break;
      const filler = await createSession(t.url, 'remote', { runnerLabels: { zone } });
      model.forSession(filler).enqueue({ text: 'Filler.' });
      expect((await sendTurn(t.url, filler, { content: 'fill' })).events.at(-1)!.data).toMatchObject({
        outcome: 'completed',
      });
    }
    const [h, o] = await Promise.all([state(holder), state(other)]);
    expect(h.live + h.reserved).toBeGreaterThan(o.live + o.reserved);

    const spareStarts = await counter(holder, 'ash_runner_session_starts_total', 'kind="spare"');
    const coldStarts = await counter(holder, 'ash_runner_session_starts_total', 'kind="cold"');
    const id = await createSession(t.url, 'warmed');
    model
      .forSession(id)
      .enqueue(
        { toolUse: { name: 'Bash', input: { command: 'echo warm > w.txt && cat CLAUDE.md' } } },
        { text: 'Warm start.' },
      );
    const turn = await sendTurn(t.url, id, { content: 'first' });
    expect(turn.events.at(-1)).toMatchObject({ event: 'done', data: { outcome: 'completed' } });
    expect(turn.events.find((e) => e.event === 'tool_result')!.data).toMatchObject({ content: '# Warmed' });
    expect(await runnerOf(id)).toBe(holder);
    // The session's start on the runner adopted the spare: no new sandbox was started for it.
    expect(await counter(holder, 'ash_runner_session_starts_total', 'kind="spare"')).toBe(spareStarts + 1);
    expect(await counter(holder, 'ash_runner_session_starts_total', 'kind="cold"')).toBe(coldStarts);
    expect((await state(holder)).sessions.map((x) => x.id)).toContain(id);
    const events = await api(t.url, 'GET', `/api/sessions/${id}/events?limit=100`);
    const created = (events.body.events as Array<{ type: string; data: unknown }>).find(
      (e) => e.type === 'lifecycle',
    )!.data;
    expect(typeof created === 'string' ? JSON.parse(created) : created).toMatchObject({
      action: 'created',
      prewarmed: true,
    });
    // Its model calls carried the session's gateway token: this server's gateway added the key.
    for (const c of model.messageRequests(id)) expect(c.apiKey).toBe(PROVIDER_KEY);
    // The first checkpoint brought the spare's files (the agent's and the turn's) here.
    const ws = join(t.dataDir, 'sessions', id, 'workspace');
    await eventually(() => existsSync(join(ws, 'w.txt')), 10_000, 'the checkpoint of the first turn');
    expect(readFileSync(join(ws, 'CLAUDE.md'), 'utf8')).toBe('# Warmed\n');

    // No provider key on the runner that held the spare: environment, arguments, logs, files.
    const proc = runners[holder]!;
    expect(readFileSync(`/proc/${proc.pid}/environ`, 'utf8')).not.toContain(PROVIDER_KEY);
    expect(readFileSync(`/proc/${proc.pid}/cmdline`, 'utf8')).not.toContain(PROVIDER_KEY);
    expect(proc.output()).not.toContain(PROVIDER_KEY);
    for (const f of filesUnder(join(root, holder), 64 * 1024 * 1024))
      expect(readFileSync(f).includes(PROVIDER_KEY), f).toBe(false);

    // Deleting the agent drops its spares on every runner.
    expect((await api(t.url, 'DELETE', '/api/agents/warmed')).status).toBeLessThan(300);
    await eventually(
      async () => ready(await state('r1')) + ready(await state('r2')) === 0,
      30_000,
      'the spares of the deleted agent are gone',
    );
  }, 240_000);

  it('a session with credential bindings never goes to a runner: without a local runner its message is 503', async () => {
    const cred = await api(t.url, 'POST', '/api/credentials', {
      type: 'custom',
      key: 'bound-secret-value-0001',
    });
    expect(cred.status).toBe(201);
    const credentialId = cred.body.credential?.id ?? cred.body.id;
    await deployAgent(
      t.url,
      'inj',
      { 'CLAUDE.md': '# Inj\n' },
      { config: { network: { allow: ['example.com'] } } },
    );
    const id = await createSession(t.url, 'inj', {
      network: {
        allow: ['example.com'],
        inject: [{ host: 'example.com', credentialId, header: 'x-api-key' }],
      },
    });
    const r = await api(t.url, 'POST', `/api/sessions/${id}/messages`, { content: 'hi' });
    expect(r.status).toBe(503);
    expect(r.body.code).toBe('capacity_reached');
    expect(r.body.detail).toContain('credential bindings');
    expect(t.server.router.runnerOf(id)).toBeUndefined();
  }, 60_000);

  it('SIGKILL of the runner mid-turn: error runner_lost + done; the next message runs on the other runner with the whole conversation', async () => {
    const id = await createSession(t.url, 'remote');
    model
      .forSession(id)
      .enqueue(
        { toolUse: { name: 'Bash', input: { command: 'echo kept > kept.txt && echo first' } } },
        { text: 'First done.' },
      );
    expect((await sendTurn(t.url, id, { content: 'first turn' })).events.at(-1)!.data).toMatchObject({
      outcome: 'completed',
    });
    const first = (await runnerOf(id)) as 'r1' | 'r2';
    const other = first === 'r1' ? 'r2' : 'r1';
    // Only the tool call: the turn never gets past it.
    model
      .forSession(id)
      .enqueue({ toolUse: { name: 'Bash', input: { command: 'timeout 60 tail -f /dev/null' } } });
    const before = model.messageRequests(id).length;
    const streaming = sendTurn(t.url, id, { content: 'second turn, slow' });
    await eventually(
      () => model.messageRequests(id).length > before,
      30_000,
      'the slow turn reached the model',
    );
    await new Promise((r) => setTimeout(r, 1500));
    const killedAt = Date.now();
    await runners[first]!.kill();
    const lost = await streaming;
    expect(Date.now() - killedAt).toBeLessThan(10_000);
    expect(lost.events.find((e) => e.event === 'error')?.data).toMatchObject({ code: 'runner_lost' });
    expect(lost.events.at(-1)).toMatchObject({ event: 'done', data: { outcome: 'error' } });
    await eventually(
      async () => (await healthRunners()).find((r) => r.name === first)?.state === 'lost',
      15_000,
      'the killed runner listed as lost',
    );

    model
      .forSession(id)
      .enqueue({ toolUse: { name: 'Bash', input: { command: 'cat kept.txt' } } }, { text: 'Still here.' });
    const next = await sendTurn(t.url, id, { content: 'third turn' });
    expect(next.events.at(-1)).toMatchObject({ event: 'done', data: { outcome: 'completed' } });
    expect(await runnerOf(id)).toBe(other);
    expect((next.events.find((e) => e.event === 'tool_result')!.data as { content: string }).content).toBe(
      'kept',
    );
    // The model saw the earlier turn, its tool call included (the transcript came with the checkpoint).
    const seen = requestText(model.messageRequests(id).at(-1)!);
    for (const text of ['first turn', 'echo kept > kept.txt', 'First done.', 'third turn'])
      expect(seen).toContain(text);
  }, 240_000);

  it('a runner silent past ASH_RUNNER_TIMEOUT_MS (SIGSTOP) is lost: its session moves; after SIGCONT its old sandbox is stopped (foreign)', async () => {
    runners.r3 = await startRunnerProcess({
      name: 'r3',
      coordinators: [t.url],
      dataDir: join(root, 'r3'),
      env: runnerEnv,
      labels: { zone: 'c' },
    });
    await eventually(
      async () => (await healthRunners()).find((r) => r.name === 'r3')?.state === 'ok',
      20_000,
      'r3 live',
    );
    const id = await createSession(t.url, 'remote', { runnerLabels: { zone: 'c' } });
    model
      .forSession(id)
      .enqueue(
        { toolUse: { name: 'Bash', input: { command: 'echo c > c.txt && echo ok' } } },
        { text: 'On c.' },
      );
    expect((await sendTurn(t.url, id, { content: 'on c' })).events.at(-1)!.data).toMatchObject({
      outcome: 'completed',
    });
    expect(await runnerOf(id)).toBe('r3');
    const r3 = runners.r3;
    process.kill(r3.pid, 'SIGSTOP');
    try {
      await eventually(
        async () => (await healthRunners()).find((r) => r.name === 'r3')?.state === 'lost',
        20_000,
        'r3 lost after its heartbeats stopped',
      );
      expect(t.server.router.runnerOf(id)).toBeUndefined();
      // Its labels pin it to zone c: another zone-c runner joins, and the next message goes there.
      runners.r4 = await startRunnerProcess({
        name: 'r4',
        coordinators: [t.url],
        dataDir: join(root, 'r4'),
        env: runnerEnv,
        labels: { zone: 'c' },
      });
      await eventually(
        async () => (await healthRunners()).find((r) => r.name === 'r4')?.state === 'ok',
        20_000,
        'r4 live',
      );
      model
        .forSession(id)
        .enqueue({ toolUse: { name: 'Bash', input: { command: 'cat c.txt' } } }, { text: 'Moved.' });
      const moved = await sendTurn(t.url, id, { content: 'after the stop' });
      expect(moved.events.at(-1)).toMatchObject({ event: 'done', data: { outcome: 'completed' } });
      expect((moved.events.find((e) => e.event === 'tool_result')!.data as { content: string }).content).toBe(
        'c',
      );
      expect(await runnerOf(id)).toBe('r4');
    } finally {
      process.kill(r3.pid, 'SIGCONT');
    }
    // Back: its heartbeat names the session foreign, and it stops that sandbox.
    await eventually(
      async () => {
        const r = await fetch(`${r3.url}${RUNNER_API_PREFIX}/state`, { headers: INTERNAL });
        return !((await r.json()) as { sessions: Array<{ id: string }> }).sessions.some((x) => x.id === id);
      },
      20_000,
      'the stale runner stopped its foreign sandbox',
    );
    await r3.kill();
  }, 180_000);

  it('SIGKILL of the runner between turns: the very next message runs on another runner (before the loss is noticed)', async () => {
    runners.r5 = await startRunnerProcess({
      name: 'r5',
      coordinators: [t.url],
      dataDir: join(root, 'r5'),
      env: runnerEnv,
    });
    await eventually(
      async () => (await healthRunners()).find((r) => r.name === 'r5')?.state === 'ok',
      20_000,
      'r5 live',
    );
    const id = await createSession(t.url, 'remote');
    model
      .forSession(id)
      .enqueue(
        { toolUse: { name: 'Bash', input: { command: 'echo between > b.txt && echo one' } } },
        { text: 'One.' },
      );
    expect((await sendTurn(t.url, id, { content: 'turn one' })).events.at(-1)!.data).toMatchObject({
      outcome: 'completed',
    });
    const first = (await runnerOf(id)) as string;
    await runners[first]!.kill();
    // At once: the coordinator has not seen a missed heartbeat yet.
    model
      .forSession(id)
      .enqueue({ toolUse: { name: 'Bash', input: { command: 'cat b.txt' } } }, { text: 'Two.' });
    const next = await sendTurn(t.url, id, { content: 'turn two' });
    expect(next.events.at(-1)).toMatchObject({ event: 'done', data: { outcome: 'completed' } });
    expect(next.events.some((e) => e.event === 'error')).toBe(false);
    expect((next.events.find((e) => e.event === 'tool_result')!.data as { content: string }).content).toBe(
      'between',
    );
    const now = (await runnerOf(id)) as string;
    expect(now).not.toBe(first);
    expect(t.logs()).toContain('the runner did not answer the turn: the session was placed again');
    const seen = requestText(model.messageRequests(id).at(-1)!);
    for (const text of ['turn one', 'echo between > b.txt', 'One.', 'turn two']) expect(seen).toContain(text);
  }, 180_000);

  it('drain: the runner releases its sessions (paused), takes no new ones, and exits 0', async () => {
    const id = await createSession(t.url, 'remote');
    model.forSession(id).enqueue({ text: 'Before the drain.' });
    expect((await sendTurn(t.url, id, { content: 'hi' })).events.at(-1)!.data).toMatchObject({
      outcome: 'completed',
    });
    const name = (await runnerOf(id)) as string;
    const proc = runners[name]!;
    const exited = new Promise<number | null>((r) => proc.child.once('exit', (code) => r(code)));
    // `ash runner drain <name>` (the SDK's runners.drain → POST /api/internal/runners/:name/drain).
    const d = await runAsh(['runner', 'drain', name, '--server', t.url], {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: root,
      ASH_INTERNAL_SECRET: SECRET,
    });
    expect(d.code, d.stderr).toBe(0);
    expect(d.stdout).toContain(`runner ${name} is draining`);
    // From now on no new session goes there.
    const fresh = await createSession(t.url, 'remote');
    model.forSession(fresh).enqueue({ text: 'Elsewhere.' });
    expect((await sendTurn(t.url, fresh, { content: 'new' })).events.at(-1)!.data).toMatchObject({
      outcome: 'completed',
    });
    expect(await runnerOf(fresh)).not.toBe(name);
    expect(await exited).toBe(0);
    await eventually(
      async () => (await api(t.url, 'GET', `/api/sessions/${id}`)).body.session.status === 'paused',
      15_000,
      'the drained session is paused',
    );
    expect((await api(t.url, 'POST', '/api/internal/runners/nope/drain', undefined, INTERNAL)).status).toBe(
      404,
    );
  }, 120_000);
});
