import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import {
  GATEWAY_PATH,
  GENERATION_HEADER,
  RUNNER_API_PREFIX,
  type Manifest,
  type RunnerReport,
  type RunnerStartBody,
} from '@ash-ai/shared';
import {
  ENTRIES,
  ScriptedModel,
  removeDir,
  startRunnerProcess,
  tempDir,
  type RunnerProcess,
} from '@ash-ai/testing';
import Fastify, { type FastifyInstance } from 'fastify';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyDelta, diffManifests, packDelta, scanManifest } from '../src/workspace-sync.js';

const SECRET = 'runner-link-secret-for-tests-000001';
const PROVIDER_KEY = 'sk-ant-provider-key-never-on-a-runner-42';

/**
 * A coordinator stand-in: the internal routes a runner calls (register, heartbeat, deregister,
 * evicted, checkout, checkpoint, egress, drain), a workspace store per session, and the model
 * gateway proxying to the scripted model (where the provider key would be added).
 */
class TestCoordinator {
  readonly registered: Array<Record<string, unknown>> = [];
  readonly heartbeats: Array<{ runnerId: string; report: RunnerReport; at: number }> = [];
  readonly deregistered: string[] = [];
  readonly evicted: Array<Record<string, unknown>> = [];
  readonly checkpoints: Array<{ sessionId: string; generation: number; files: number; deleted: number }> = [];
  readonly gatewayKeys: string[] = [];
  readonly egress: Array<{
    sessionId: string;
    generation: number;
    host: string;
    port: number;
    allowed: boolean;
  }> = [];
  readonly known = new Set<string>();
  agentFilesServed = 0;
  readonly drainAsked = new Set<string>();
  /** Sessions whose writes are refused (their lease moved on). */
  readonly fenced = new Set<string>();
  /** Sessions heartbeats name as no longer the runner's. */
  readonly foreign = new Set<string>();
  url = '';
  private app: FastifyInstance;

  constructor(
    readonly storeRoot: string,
    model: ScriptedModel,
  ) {
    const app = Fastify();
    this.app = app;
    app.addContentTypeParser('application/x-tar', (_req, payload, done) => done(null, payload));
    app.addHook('onRequest', async (req, reply) => {
      if (req.url.startsWith(GATEWAY_PATH)) return;
      if (req.headers.authorization !== `Bearer ${SECRET}`)
        return reply.code(401).type('application/problem+json').send({ code: 'unauthorized' });
    });
    app.post('/api/internal/runners/register', async (req) => {
      const b = req.body as Record<string, unknown>;
      this.registered.push(b);
      this.known.add(String(b.runnerId));
      return { ok: true };
    });
    app.post('/api/internal/runners/heartbeat', async (req, reply) => {
      const b = req.body as { runnerId: string; report: RunnerReport };
      if (!this.known.has(b.runnerId)) return reply.code(404).send({ code: 'route_not_found' });
      this.heartbeats.push({ runnerId: b.runnerId, report: b.report, at: Date.now() });
      return {
        ok: true,
        foreign: b.report.sessions.map((x) => x.id).filter((id) => this.foreign.has(id)),
        drain: this.drainAsked.has(b.runnerId),
      };
    });
    app.post('/api/internal/runners/deregister', async (req) => {
      const b = req.body as { runnerId: string };
      this.deregistered.push(b.runnerId);
      this.known.delete(b.runnerId);
      return { ok: true };
    });
    app.post('/api/internal/runners/:name/drain', async (req, reply) => {
      const name = (req.params as { name: string }).name;
      if (!this.known.has(name)) return reply.code(404).send({ code: 'runner_not_found' });
      this.drainAsked.add(name);
      return reply.code(202).send({ draining: true });
    });
    app.post('/api/internal/runners/:name/evicted', async (req) => {
      this.evicted.push({ runner: (req.params as { name: string }).name, ...(req.body as object) });
      return { ok: true };
    });
    app.post('/api/internal/sessions/:id/checkout', async (req, reply) => {
      const id = (req.params as { id: string }).id;
      const b = req.body as { generation: number; manifest: Manifest };
      if (this.fenced.has(id))
        return reply.code(409).type('application/problem+json').send({ code: 'lease_lost', status: 409 });
      const roots = this.roots(id);
      const want = await scanManifest(roots);
      const delta = await packDelta(roots, want, diffManifests(b.manifest, want));
      return reply.type('application/x-tar').send(delta);
    });
    app.post('/api/internal/sessions/:id/checkpoint', async (req, reply) => {
      const id = (req.params as { id: string }).id;
      const generation = Number(req.headers[GENERATION_HEADER]);
      const body = req.body as Readable;
      if (this.fenced.has(id)) {
        body.resume();
        return reply.code(409).type('application/problem+json').send({ code: 'lease_lost', status: 409 });
      }
      const r = await applyDelta(this.roots(id), body, {});
      this.checkpoints.push({ sessionId: id, generation, files: r.files, deleted: r.deleted });
      return reply.code(204).send();
    });
    // An agent version's files (a warm spare's workspace): `<store>/agents/<agent>/<version>`.
    app.post('/api/internal/agents/files', async (req, reply) => {
      const b = req.body as { agent: string; version: number };
      const roots = {
        workspace: join(this.storeRoot, 'agents', b.agent, String(b.version)),
        claude: join(this.storeRoot, 'agents', '.no-claude'),
      };
      mkdirSync(roots.claude, { recursive: true });
      this.agentFilesServed++;
      const want = await scanManifest(roots);
      return reply.type('application/x-tar').send(packDelta(roots, want, diffManifests({}, want)));
    });
    app.post('/api/internal/sessions/:id/egress', async (req) => {
      const id = (req.params as { id: string }).id;
      const generation = Number(req.headers[GENERATION_HEADER]);
      for (const c of (req.body as { connections: Array<{ host: string; port: number; allowed: boolean }> })
        .connections)
        this.egress.push({ sessionId: id, generation, host: c.host, port: c.port, allowed: c.allowed });
      return { ok: true };
    });
    // The model gateway: checks the session's gateway token, then forwards to the scripted model.
    app.all(`${GATEWAY_PATH}/*`, async (req, reply) => {
      const key = String(req.headers['x-api-key'] ?? '');
      this.gatewayKeys.push(key);
      const path = req.url.slice(GATEWAY_PATH.length);
      const upstream = await request(`${model.url}${path}`, {
        method: req.method as 'POST',
        headers: {
          'content-type': 'application/json',
          'x-api-key': PROVIDER_KEY,
          ...(req.headers['x-claude-code-session-id']
            ? { 'x-claude-code-session-id': String(req.headers['x-claude-code-session-id']) }
            : {}),
        },
        body: JSON.stringify(req.body ?? {}),
      });
      reply.code(upstream.statusCode);
      const type = upstream.headers['content-type'];
      if (type) reply.type(String(type));
      return reply.send(upstream.body);
    });
  }

  roots(id: string) {
    const r = {
      workspace: join(this.storeRoot, id, 'workspace'),
      claude: join(this.storeRoot, id, 'claude'),
    };
    mkdirSync(r.workspace, { recursive: true });
    mkdirSync(r.claude, { recursive: true });
    return r;
  }

  async start(): Promise<void> {
    await this.app.listen({ port: 0, host: '127.0.0.1' });
    this.url = `http://127.0.0.1:${(this.app.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    await this.app.close();
  }
}

async function eventually(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function call(
  base: string,
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  body?: unknown,
  /** '' sends no Authorization header. */
  secret = SECRET,
): Promise<{ status: number; headers: Record<string, unknown>; text: string; json: () => any }> {
  const res = await request(`${base}${path}`, {
    method,
    headers: {
      ...(secret ? { authorization: `Bearer ${secret}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text, json: () => JSON.parse(text) };
}

/** Runs a turn through the runner's API and returns its NDJSON lines, parsed. */
async function turnLines(
  base: string,
  id: string,
  opts: { prompt: string; checkout?: boolean },
): Promise<Array<{ ev: string; outcome?: string; checkpoint?: string }>> {
  const res = await request(`${base}${RUNNER_API_PREFIX}/sessions/${id}/turns`, {
    method: 'POST',
    headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      turnId: randomUUID(),
      prompt: opts.prompt,
      options: {},
      conversation: { sessionId: id },
      ...(opts.checkout ? { checkout: true } : {}),
    }),
  });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`turn answered ${res.statusCode}: ${text}`);
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { ev: string; outcome?: string; checkpoint?: string });
}

function startBody(coordinator: TestCoordinator, gatewayToken: string, extra: Partial<RunnerStartBody> = {}) {
  return {
    generation: 1,
    tenantId: 'default',
    coordinatorUrl: coordinator.url,
    gatewayToken,
    env: { RUNNER_TEST: 'yes' },
    ...extra,
  } satisfies RunnerStartBody;
}

/**
 * `ash runner` as a real process against a coordinator stand-in: registration and heartbeats,
 * the authenticated API, a session checked out, a turn streamed as NDJSON whose checkpoint
 * reaches the coordinator, capacity refusals, drain, SIGTERM, and no provider key on the runner.
 */
describe('ash runner (the runner process)', () => {
  let model: ScriptedModel;
  let coordinator: TestCoordinator;
  let root: string;
  let runner: RunnerProcess;
  const env = {
    ASH_INTERNAL_SECRET: SECRET,
    ASH_RUNNER_HEARTBEAT_MS: '200',
    ASH_MAX_SANDBOXES: '1',
    ASH_SPARE_BRIDGES: '0',
    ASH_MODEL_MAX_RETRIES: '0',
    ASH_LOG_LEVEL: 'info',
    // The test's own HTTP server is on loopback (`vm` in this machine's /etc/hosts): a private
    // address egress must be allowed to reach (127.0.0.1 itself bypasses the proxy: NO_PROXY).
    ASH_EGRESS_ALLOW_CIDRS: '127.0.0.1/32',
    // A turn whose coordinator stream closes waits this long for another coordinator.
    ASH_RUNNER_TURN_HOLD_MS: '5000',
  };
  /** Another runner process registered with `coordinators` (default: the stand-in), `extra` env on top. */
  const startOtherRunner = (name: string, extra: Record<string, string> = {}, coordinators?: string[]) =>
    startRunnerProcess({
      name,
      coordinators: coordinators ?? [coordinator.url],
      dataDir: join(root, name),
      env: { ...env, ...extra },
    });

  beforeAll(async () => {
    model = await ScriptedModel.start();
    root = tempDir('ash-runner-host-');
    coordinator = new TestCoordinator(join(root, 'store'), model);
    await coordinator.start();
    runner = await startRunnerProcess({
      name: 'r1',
      coordinators: [coordinator.url],
      dataDir: join(root, 'r1'),
      env,
      labels: { zone: 'a' },
    });
  }, 90_000);

  afterAll(async () => {
    await runner?.kill();
    await coordinator?.close();
    await model?.close();
    if (root) removeDir(root);
  });

  it('registers and heartbeats with its report; /health lists the coordinator', async () => {
    await eventually(
      () => coordinator.heartbeats.filter((h) => h.runnerId === 'r1').length >= 2,
      20_000,
      'heartbeats',
    );
    // Its output is its log and its "listening" line: no deprecation warnings of its libraries.
    expect(runner.output()).not.toMatch(/FastifyDeprecation|FSTDEP/);
    expect(coordinator.registered[0]).toMatchObject({
      runnerId: 'r1',
      url: runner.url,
      labels: { zone: 'a' },
    });
    const report = coordinator.heartbeats.at(-1)!.report;
    expect(report).toMatchObject({
      runnerId: 'r1',
      url: runner.url,
      maxSandboxes: 1,
      draining: false,
      sessions: [],
    });
    const health = await call(runner.url, 'GET', '/health', undefined, '');
    expect(health.status).toBe(200);
    expect(health.json()).toMatchObject({
      status: 'ok',
      runnerId: 'r1',
      labels: { zone: 'a' },
      capacity: { max: 1 },
    });
    expect(health.json().coordinators[0].url).toBe(coordinator.url);
    expect(health.json().coordinators[0].lastHeartbeatAt).toMatch(/^\d{4}-/);
    const metrics = await call(runner.url, 'GET', '/metrics', undefined, '');
    expect(metrics.status).toBe(200);
    expect(metrics.text).toContain('ash_runner_heartbeats_total');
  }, 30_000);

  it('registers again when a heartbeat is answered 404 (a coordinator restart)', async () => {
    const before = coordinator.registered.length;
    coordinator.known.delete('r1');
    await eventually(() => coordinator.registered.length > before, 10_000, 're-registration');
    expect(coordinator.known.has('r1')).toBe(true);
  }, 20_000);

  it('refuses calls without the secret: 401 problem+json', async () => {
    for (const secret of ['', 'wrong-secret-wrong-secret-00']) {
      const res = await call(runner.url, 'GET', `${RUNNER_API_PREFIX}/state`, undefined, secret);
      expect(res.status).toBe(401);
      expect(String(res.headers['content-type'])).toContain('application/problem+json');
      expect(res.json()).toMatchObject({ code: 'unauthorized', status: 401 });
    }
    const ok = await call(runner.url, 'GET', `${RUNNER_API_PREFIX}/state`);
    expect(ok.status).toBe(200);
    expect(ok.json()).toMatchObject({ runnerId: 'r1' });
  });

  it('a runner whose secret the coordinator refuses says so plainly (not as an outage) and is not registered', async () => {
    const bad = await startOtherRunner('r-badsecret', {
      ASH_INTERNAL_SECRET: 'not-the-coordinators-secret-01',
    });
    try {
      await eventually(
        () => bad.output().includes("the coordinator refused this runner's secret (401)"),
        15_000,
        'the refusal is logged',
      );
      expect(bad.output()).toContain('ASH_INTERNAL_SECRET must be the coordinators');
      expect(coordinator.known.has('r-badsecret')).toBe(false);
    } finally {
      await bad.kill();
    }
  }, 30_000);

  it('answers unknown sessions with 404 session_not_found and bad bodies with validation_failed', async () => {
    const id = randomUUID();
    const turn = await call(runner.url, 'POST', `${RUNNER_API_PREFIX}/sessions/${id}/turns`, {
      turnId: randomUUID(),
      prompt: 'hi',
      options: {},
      conversation: { sessionId: id },
    });
    expect(turn.status).toBe(404);
    expect(turn.json().code).toBe('session_not_found');
    const bad = await call(runner.url, 'POST', `${RUNNER_API_PREFIX}/sessions/${id}/sandbox`, {
      generation: -1,
    });
    expect(bad.status).toBe(400);
    expect(bad.json().code).toBe('validation_failed');
    expect(bad.json().errors.length).toBeGreaterThan(0);
  });

  it('starts a session from the checked-out workspace, streams a turn as NDJSON with a trailer, and checkpoints what the tool wrote', async () => {
    const id = randomUUID();
    const token = `gw-token-${randomUUID()}`;
    const store = coordinator.roots(id);
    writeFileSync(join(store.workspace, 'CLAUDE.md'), '# Runner host test\n');
    writeFileSync(join(store.workspace, 'input.txt'), 'from the coordinator\n');
    const started = await call(
      runner.url,
      'POST',
      `${RUNNER_API_PREFIX}/sessions/${id}/sandbox`,
      startBody(coordinator, token),
    );
    expect(started.status, started.text).toBe(200);
    expect(started.json().seconds).toBeGreaterThan(0);
    const local = join(root, 'r1', 'sessions', id, 'workspace');
    expect(readFileSync(join(local, 'input.txt'), 'utf8')).toBe('from the coordinator\n');
    const state = (await call(runner.url, 'GET', `${RUNNER_API_PREFIX}/state`)).json() as RunnerReport;
    expect(state.sessions).toEqual([expect.objectContaining({ id, state: 'ready', generation: 1 })]);

    model.forSession(id).enqueue(
      {
        toolUse: {
          name: 'Write',
          input: { file_path: '/workspace/out.txt', content: 'written on the runner\n' },
        },
      },
      { text: 'Wrote out.txt.' },
    );
    const checkpointsBefore = coordinator.checkpoints.length;
    const res = await request(`${runner.url}${RUNNER_API_PREFIX}/sessions/${id}/turns`, {
      method: 'POST',
      headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        turnId: randomUUID(),
        prompt: 'write out.txt',
        options: {},
        conversation: { sessionId: id },
      }),
    });
    expect(res.statusCode).toBe(200);
    expect(String(res.headers['content-type'])).toContain('application/x-ndjson');
    const lines = (await res.body.text())
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { ev: string; outcome?: string; checkpoint?: string });
    const trailer = lines.at(-1)!;
    expect(trailer).toMatchObject({ ev: 'trailer', checkpoint: 'stored' });
    expect(lines.at(-2)).toMatchObject({ ev: 'turn_end', outcome: 'completed' });
    expect(lines.some((l) => l.ev === 'message')).toBe(true);
    // The checkpoint reached the coordinator with the file the model's tool wrote.
    expect(coordinator.checkpoints.length).toBeGreaterThan(checkpointsBefore);
    expect(coordinator.checkpoints.at(-1)).toMatchObject({ sessionId: id, generation: 1 });
    expect(readFileSync(join(store.workspace, 'out.txt'), 'utf8')).toBe('written on the runner\n');
    // SDK transcripts travel too (the claude/ side of the delta).
    expect(readdirSync(store.claude).length).toBeGreaterThan(0);
    // The model calls went through the gateway with the session's token, never a provider key.
    expect(coordinator.gatewayKeys.length).toBeGreaterThan(0);
    expect(new Set(coordinator.gatewayKeys)).toEqual(new Set([token]));

    // A file written on the coordinator's side (files API) is checked out before a turn that says so,
    // into the running sandbox, readable by its user.
    writeFileSync(join(store.workspace, 'later.txt'), 'changed through the files API\n');
    model.forSession(id).enqueue({ text: 'ok' });
    const second = await request(`${runner.url}${RUNNER_API_PREFIX}/sessions/${id}/turns`, {
      method: 'POST',
      headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        turnId: randomUUID(),
        prompt: 'hello again',
        options: {},
        conversation: { sessionId: id },
        checkout: true,
      }),
    });
    expect(second.statusCode).toBe(200);
    expect((await second.body.text()).trim().split('\n').at(-1)).toContain('"checkpoint":"stored"');
    const exec = await call(runner.url, 'POST', `${RUNNER_API_PREFIX}/sessions/${id}/exec`, {
      command: 'cat /workspace/later.txt /workspace/out.txt && echo "$RUNNER_TEST"',
      timeoutMs: 10_000,
      maxOutputBytes: 4096,
    });
    expect(exec.status, exec.text).toBe(200);
    expect(exec.json()).toMatchObject({
      exitCode: 0,
      stdout: 'changed through the files API\nwritten on the runner\nyes\n',
    });
  }, 120_000);

  it('capacity: a full runner evicts the idle session (checkpoint, evicted), then answers 503 capacity_reached with Retry-After', async () => {
    const evictedBefore = coordinator.evicted.length;
    const first = await call(runner.url, 'POST', `${RUNNER_API_PREFIX}/reservations`);
    expect(first.status, first.text).toBe(201);
    expect(first.json().reservationId).toBeTruthy();
    // The idle session made room: checkpointed, then reported to its coordinator.
    expect(coordinator.evicted.length).toBe(evictedBefore + 1);
    expect(coordinator.evicted.at(-1)).toMatchObject({ runner: 'r1', reason: 'capacity', generation: 1 });
    const second = await call(runner.url, 'POST', `${RUNNER_API_PREFIX}/reservations`);
    expect(second.status).toBe(503);
    expect(second.json()).toMatchObject({ code: 'capacity_reached', status: 503 });
    expect(Number(second.headers['retry-after'])).toBeGreaterThan(0);
    const released = await call(
      runner.url,
      'DELETE',
      `${RUNNER_API_PREFIX}/reservations/${first.json().reservationId}`,
    );
    expect(released.status).toBe(204);
    const third = await call(runner.url, 'POST', `${RUNNER_API_PREFIX}/reservations`);
    expect(third.status).toBe(201);
    await call(runner.url, 'DELETE', `${RUNNER_API_PREFIX}/reservations/${third.json().reservationId}`);
  }, 60_000);

  it('fencing: a checkpoint refused with lease_lost ends the turn with checkpoint "fenced" and stops the sandbox', async () => {
    const id = randomUUID();
    writeFileSync(join(coordinator.roots(id).workspace, 'CLAUDE.md'), '# fenced\n');
    const started = await call(
      runner.url,
      'POST',
      `${RUNNER_API_PREFIX}/sessions/${id}/sandbox`,
      startBody(coordinator, `gw-${randomUUID()}`, { generation: 3 }),
    );
    expect(started.status, started.text).toBe(200);
    coordinator.fenced.add(id);
    const lines = await turnLines(runner.url, id, { prompt: 'hi' });
    const logged = () =>
      runner
        .output()
        .split('\n')
        .filter((l) => /checkpoint/.test(l))
        .join('\n');
    expect(lines.at(-1), logged()).toMatchObject({ ev: 'trailer', checkpoint: 'fenced' });
    expect(coordinator.checkpoints.filter((c) => c.sessionId === id)).toEqual([]);
    const state = (await call(runner.url, 'GET', `${RUNNER_API_PREFIX}/state`)).json() as RunnerReport;
    expect(state.sessions.map((x) => x.id)).not.toContain(id);
    expect(state.live).toBe(0);
    const again = await call(runner.url, 'POST', `${RUNNER_API_PREFIX}/sessions/${id}/checkpoint`);
    expect(again.status).toBe(404);
    expect(again.json().code).toBe('session_not_found');
    // A start whose checkout is refused answers 409 lease_lost and leaves nothing behind.
    const refused = await call(
      runner.url,
      'POST',
      `${RUNNER_API_PREFIX}/sessions/${id}/sandbox`,
      startBody(coordinator, `gw-${randomUUID()}`, { generation: 3 }),
    );
    expect(refused.status).toBe(409);
    expect(refused.json().code).toBe('lease_lost');
    // A turn whose checkout is refused: 409 before any stream, and the sandbox is stopped.
    coordinator.fenced.delete(id);
    const restarted = await call(
      runner.url,
      'POST',
      `${RUNNER_API_PREFIX}/sessions/${id}/sandbox`,
      startBody(coordinator, `gw-${randomUUID()}`, { generation: 4 }),
    );
    expect(restarted.status, restarted.text).toBe(200);
    coordinator.fenced.add(id);
    await expect(turnLines(runner.url, id, { prompt: 'hi', checkout: true })).rejects.toThrow(
      /409.*lease_lost/,
    );
    const after = (await call(runner.url, 'GET', `${RUNNER_API_PREFIX}/state`)).json() as RunnerReport;
    expect(after.sessions.map((x) => x.id)).not.toContain(id);
    expect(after.live).toBe(0);
  }, 60_000);

  it('a heartbeat naming a session foreign stops its sandbox without a checkpoint', async () => {
    const id = randomUUID();
    writeFileSync(join(coordinator.roots(id).workspace, 'CLAUDE.md'), '# foreign\n');
    const started = await call(
      runner.url,
      'POST',
      `${RUNNER_API_PREFIX}/sessions/${id}/sandbox`,
      startBody(coordinator, `gw-${randomUUID()}`),
    );
    expect(started.status, started.text).toBe(200);
    coordinator.foreign.add(id);
    await eventually(
      () => coordinator.heartbeats.at(-1)!.report.sessions.every((x) => x.id !== id),
      10_000,
      'the sandbox stopped',
    );
    expect(coordinator.checkpoints.filter((c) => c.sessionId === id)).toEqual([]);
    expect(coordinator.evicted.filter((e) => e.sessionId === id)).toEqual([]);
    expect(((await call(runner.url, 'GET', `${RUNNER_API_PREFIX}/state`)).json() as RunnerReport).live).toBe(
      0,
    );
  }, 60_000);

  it('a turn whose stream closes runs on detached (model calls held); a newer generation attaches from an event number, gets the rest and the trailer, and the checkpoint carries it', async () => {
    const id = randomUUID();
    writeFileSync(join(coordinator.roots(id).workspace, 'CLAUDE.md'), '# takeover\n');
    const first = `gw-first-${randomUUID()}`;
    const second = `gw-second-${randomUUID()}`;
    const started = await call(
      runner.url,
      'POST',
      `${RUNNER_API_PREFIX}/sessions/${id}/sandbox`,
      startBody(coordinator, first),
    );
    expect(started.status, started.text).toBe(200);
    model
      .forSession(id)
      .enqueue(
        { toolUse: { name: 'Bash', input: { command: 'sleep 1; echo slept > slept.txt; echo SLEPT' } } },
        { slow: { deltas: 10, intervalMs: 50, text: 'tock ' } },
      );
    const turnId = randomUUID();
    const ac = new AbortController();
    const res = await request(`${runner.url}${RUNNER_API_PREFIX}/sessions/${id}/turns`, {
      method: 'POST',
      headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        turnId,
        prompt: 'sleep, then talk',
        options: {},
        conversation: { sessionId: id },
      }),
      signal: ac.signal,
    });
    expect(res.statusCode).toBe(200);
    // Read until the tool call is under way, then the coordinator "dies".
    const before: string[] = [];
    let buf = '';
    try {
      for await (const chunk of res.body) {
        buf += Buffer.from(chunk as Buffer).toString();
        let i = buf.indexOf('\n');
        while (i >= 0) {
          before.push(buf.slice(0, i));
          buf = buf.slice(i + 1);
          i = buf.indexOf('\n');
        }
        if (before.some((l) => l.includes('"tool_use"'))) break;
      }
    } finally {
      ac.abort();
    }
    await res.body.text().catch(() => undefined);
    // The tool ends (1 s); the next model call waits for a coordinator to take over (hold: 5 s).
    await new Promise((r) => setTimeout(r, 3000));
    expect(model.messageRequests(id).length, 'the model call after the tool is held').toBe(1);
    const attach = (b: Record<string, unknown>, turn = turnId) =>
      call(runner.url, 'POST', `${RUNNER_API_PREFIX}/sessions/${id}/turns/${turn}/attach`, {
        coordinatorUrl: coordinator.url,
        gatewayToken: second,
        // The new coordinator's copy as it stands: the checkpoint after the turn is relative to it.
        manifest: {},
        ...b,
      });
    const stale = await attach({ generation: 0, from: 0 });
    expect(stale.status, stale.text).toBe(409);
    expect(stale.json().code).toBe('lease_lost');
    const unknown = await attach({ generation: 2, from: 0 }, randomUUID());
    expect(unknown.status, unknown.text).toBe(404);
    expect(unknown.json().code).toBe('session_not_found');
    // Attach from an event number inside what was already received: the overlap is identical.
    const from = Math.max(0, before.length - 2);
    const checkpointsBefore = coordinator.checkpoints.length;
    const rest = await attach({ generation: 2, from });
    expect(rest.status, rest.text).toBe(200);
    const after = rest.text.split('\n').filter(Boolean);
    expect(after.slice(0, before.length - from)).toEqual(before.slice(from));
    const all = [...before.slice(0, from), ...after].map(
      (l) => JSON.parse(l) as { ev: string; outcome?: string },
    );
    expect(all.at(-1)).toMatchObject({ ev: 'trailer', checkpoint: 'stored' });
    expect(all.at(-2)).toMatchObject({ ev: 'turn_end', outcome: 'completed' });
    const text = after.join('');
    expect(
      text.match(/tock /g)?.length,
      'every delta of the answer after the takeover',
    ).toBeGreaterThanOrEqual(10);
    // The held call went to the gateway with the new token; the checkpoint with the new generation.
    expect(model.messageRequests(id).length).toBe(2);
    expect(coordinator.gatewayKeys.at(-1)).toBe(second);
    expect(coordinator.checkpoints.length).toBeGreaterThan(checkpointsBefore);
    expect(coordinator.checkpoints.at(-1)).toMatchObject({ sessionId: id, generation: 2 });
    expect(readFileSync(join(coordinator.roots(id).workspace, 'slept.txt'), 'utf8')).toBe('slept\n');
    const state = (await call(runner.url, 'GET', `${RUNNER_API_PREFIX}/state`)).json() as RunnerReport;
    expect(state.sessions.find((x) => x.id === id)).toMatchObject({ state: 'ready', generation: 2 });
    const stopped = await call(runner.url, 'DELETE', `${RUNNER_API_PREFIX}/sessions/${id}?checkpoint=0`);
    expect(stopped.status).toBe(204);
  }, 90_000);

  it('closing a turn stream with no coordinator taking it over aborts the turn after the hold; its checkpoint is still stored and the next turn runs', async () => {
    const id = randomUUID();
    writeFileSync(join(coordinator.roots(id).workspace, 'CLAUDE.md'), '# disconnect\n');
    const started = await call(
      runner.url,
      'POST',
      `${RUNNER_API_PREFIX}/sessions/${id}/sandbox`,
      startBody(coordinator, `gw-${randomUUID()}`),
    );
    expect(started.status, started.text).toBe(200);
    model.forSession(id).enqueue({ slow: { deltas: 600, intervalMs: 100 } }, { text: 'after the abort' });
    const ac = new AbortController();
    const res = await request(`${runner.url}${RUNNER_API_PREFIX}/sessions/${id}/turns`, {
      method: 'POST',
      headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        turnId: randomUUID(),
        prompt: 'a long answer',
        options: {},
        conversation: { sessionId: id },
      }),
      signal: ac.signal,
    });
    expect(res.statusCode).toBe(200);
    // Wait for the slow stream to be under way, then hang up.
    await eventually(() => model.messageRequests(id).length >= 1, 30_000, 'the model call');
    const t0 = Date.now();
    ac.abort();
    await res.body.text().catch(() => undefined);
    const checkpointed = () => coordinator.checkpoints.some((c) => c.sessionId === id);
    await eventually(checkpointed, 20_000, 'the checkpoint after the aborted turn');
    // After the hold (5 s), far sooner than the 60 s the slow reply would take.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(4500);
    expect(Date.now() - t0).toBeLessThan(20_000);
    await eventually(
      () => coordinator.heartbeats.at(-1)!.report.sessions.some((x) => x.id === id && x.state === 'ready'),
      10_000,
      'the session ready again',
    );
    const lines = await turnLines(runner.url, id, { prompt: 'again' });
    expect(lines.at(-2)).toMatchObject({ ev: 'turn_end', outcome: 'completed' });
    expect(lines.at(-1)).toMatchObject({ ev: 'trailer', checkpoint: 'stored' });
    const stopped = await call(runner.url, 'DELETE', `${RUNNER_API_PREFIX}/sessions/${id}?checkpoint=1`);
    expect(stopped.status).toBe(204);
    expect(((await call(runner.url, 'GET', `${RUNNER_API_PREFIX}/state`)).json() as RunnerReport).live).toBe(
      0,
    );
  }, 90_000);

  it('egress: the rules sent with the start decide connections, which are reported to the coordinator', async () => {
    const target = createServer((_req, res) => res.end('hello egress\n'));
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
    const port = (target.address() as AddressInfo).port;
    try {
      const id = randomUUID();
      writeFileSync(join(coordinator.roots(id).workspace, 'CLAUDE.md'), '# egress\n');
      const started = await call(
        runner.url,
        'POST',
        `${RUNNER_API_PREFIX}/sessions/${id}/sandbox`,
        startBody(coordinator, `gw-${randomUUID()}`, {
          generation: 7,
          egress: {
            enabled: true,
            layers: [{ name: 'agent', policy: { allow: [`vm:${port}`] } }],
            implicit: [],
          },
        }),
      );
      expect(started.status, started.text).toBe(200);
      const exec = await call(runner.url, 'POST', `${RUNNER_API_PREFIX}/sessions/${id}/exec`, {
        command: `curl -sS -m 10 http://vm:${port}/ok; curl -fsS -m 5 http://vm:${port + 1}/no >/dev/null 2>&1; echo refused=$?`,
        timeoutMs: 30_000,
        maxOutputBytes: 4096,
      });
      expect(exec.status, exec.text).toBe(200);
      expect(exec.json().stdout).toMatch(/^hello egress\nrefused=[1-9]/);
      await eventually(
        () => coordinator.egress.filter((e) => e.sessionId === id).length >= 2,
        10_000,
        'egress reports',
      );
      expect(coordinator.egress.filter((e) => e.sessionId === id)).toEqual(
        expect.arrayContaining([
          { sessionId: id, generation: 7, host: 'vm', port, allowed: true },
          { sessionId: id, generation: 7, host: 'vm', port: port + 1, allowed: false },
        ]),
      );
      expect(
        (await call(runner.url, 'DELETE', `${RUNNER_API_PREFIX}/sessions/${id}?checkpoint=0`)).status,
      ).toBe(204);
    } finally {
      target.close();
    }
  }, 60_000);

  it('the small routes: logs, pin/unpin, sweep, interrupt, abort and tool answers between turns', async () => {
    const id = randomUUID();
    writeFileSync(join(coordinator.roots(id).workspace, 'CLAUDE.md'), '# small routes\n');
    const started = await call(
      runner.url,
      'POST',
      `${RUNNER_API_PREFIX}/sessions/${id}/sandbox`,
      startBody(coordinator, `gw-${randomUUID()}`),
    );
    expect(started.status, started.text).toBe(200);
    const P = `${RUNNER_API_PREFIX}/sessions/${id}`;
    const exec = await call(runner.url, 'POST', `${P}/exec`, {
      command: 'echo appended >> /workspace/CLAUDE.md && echo logged',
      timeoutMs: 10_000,
      maxOutputBytes: 4096,
    });
    expect(exec.json()).toMatchObject({ exitCode: 0, stdout: 'logged\n' });
    // The checked-out file is the sandbox user's: it could write to it, and the exec's checkpoint carried it.
    expect(readFileSync(join(coordinator.roots(id).workspace, 'CLAUDE.md'), 'utf8')).toBe(
      '# small routes\nappended\n',
    );
    const logs = await call(runner.url, 'GET', `${P}/logs?after=0`);
    expect(logs.status).toBe(200);
    expect(JSON.stringify(logs.json().logs)).toContain('logged');
    // -1 = from the start (what the coordinator sends first); below that is refused.
    expect((await call(runner.url, 'GET', `${P}/logs?after=-1`)).status).toBe(200);
    expect((await call(runner.url, 'GET', `${P}/logs?after=-2`)).json().code).toBe('validation_failed');
    expect((await call(runner.url, 'POST', `${P}/pin`)).status).toBe(204);
    expect((await call(runner.url, 'POST', `${RUNNER_API_PREFIX}/sweep`)).json()).toEqual({ stopped: 0 });
    expect((await call(runner.url, 'POST', `${P}/unpin`)).status).toBe(204);
    expect((await call(runner.url, 'POST', `${P}/interrupt`, { turnId: randomUUID() })).status).toBe(204);
    expect(
      (
        await call(runner.url, 'POST', `${P}/abort`, {
          turnId: randomUUID(),
          error: { message: 'no turn runs', code: 'turn_interrupted' },
        })
      ).status,
    ).toBe(204);
    expect(
      (
        await call(runner.url, 'POST', `${P}/tool-answers`, {
          requestId: 'none',
          answer: { behavior: 'allow' },
        })
      ).status,
    ).toBe(204);
    expect((await call(runner.url, 'POST', `${P}/checkpoint`)).status).toBe(204);
    expect((await call(runner.url, 'DELETE', `${P}?checkpoint=maybe`)).json().code).toBe('validation_failed');
    expect((await call(runner.url, 'DELETE', P)).status).toBe(204);
    expect((await call(runner.url, 'POST', `${P}/pin`)).json().code).toBe('session_not_found');
  }, 60_000);

  it('drain: refuses new reservations and starts (503 capacity_reached), lets the running turn finish, releases, exits 0', async () => {
    const r4 = await startOtherRunner('r4');
    try {
      const id = randomUUID();
      writeFileSync(join(coordinator.roots(id).workspace, 'CLAUDE.md'), '# drain\n');
      const started = await call(
        r4.url,
        'POST',
        `${RUNNER_API_PREFIX}/sessions/${id}/sandbox`,
        startBody(coordinator, `gw-${randomUUID()}`),
      );
      expect(started.status, started.text).toBe(200);
      model.forSession(id).enqueue({ slow: { deltas: 30, intervalMs: 100 } });
      const turn = turnLines(r4.url, id, { prompt: 'a slow answer' });
      await eventually(() => model.messageRequests(id).length >= 1, 30_000, 'the model call');
      const exit = new Promise<number | null>((resolve) => r4.child.once('exit', (code) => resolve(code)));
      expect((await call(r4.url, 'POST', `${RUNNER_API_PREFIX}/drain`)).status).toBe(202);
      expect((await call(r4.url, 'GET', '/health', undefined, '')).json().status).toBe('draining');
      const reserve = await call(r4.url, 'POST', `${RUNNER_API_PREFIX}/reservations`);
      expect(reserve.status).toBe(503);
      expect(reserve.json().code).toBe('capacity_reached');
      expect(Number(reserve.headers['retry-after'])).toBeGreaterThan(0);
      const other = await call(
        r4.url,
        'POST',
        `${RUNNER_API_PREFIX}/sessions/${randomUUID()}/sandbox`,
        startBody(coordinator, `gw-${randomUUID()}`),
      );
      expect(other.status).toBe(503);
      expect(other.json().code).toBe('capacity_reached');
      const lines = await turn;
      expect(lines.at(-2)).toMatchObject({ ev: 'turn_end', outcome: 'completed' });
      expect(lines.at(-1)).toMatchObject({ ev: 'trailer', checkpoint: 'stored' });
      expect(await exit).toBe(0);
      expect(coordinator.evicted).toContainEqual(
        expect.objectContaining({ runner: 'r4', sessionId: id, reason: 'drain' }),
      );
      expect(coordinator.deregistered).toContain('r4');
    } finally {
      await r4.kill();
    }
  }, 90_000);

  it('a coordinator gone: checkpoints and model calls of its sessions go to another coordinator', async () => {
    // Two coordinators over one store (as servers share a database and a bucket).
    const a = new TestCoordinator(join(root, 'store'), model);
    await a.start();
    const r5 = await startOtherRunner('r5', {}, [a.url, coordinator.url]);
    try {
      await eventually(
        () => a.known.has('r5') && coordinator.known.has('r5'),
        10_000,
        'r5 registered with both',
      );
      const id = randomUUID();
      const token = `gw-${randomUUID()}`;
      writeFileSync(join(a.roots(id).workspace, 'CLAUDE.md'), '# two coordinators\n');
      const started = await call(
        r5.url,
        'POST',
        `${RUNNER_API_PREFIX}/sessions/${id}/sandbox`,
        startBody(a, token),
      );
      expect(started.status, started.text).toBe(200);
      await a.close();
      const failedHeartbeats = async () =>
        /ash_runner_heartbeats_total\{result="failed"\} [1-9]/.test(
          (await call(r5.url, 'GET', '/metrics', undefined, '')).text,
        );
      const deadline = Date.now() + 10_000;
      while (!(await failedHeartbeats())) {
        if (Date.now() > deadline) throw new Error('no failed heartbeat to the closed coordinator');
        await new Promise((r) => setTimeout(r, 100));
      }
      model.forSession(id).enqueue(
        {
          toolUse: {
            name: 'Write',
            input: { file_path: '/workspace/after.txt', content: 'placed by a, stored by b\n' },
          },
        },
        { text: 'done' },
      );
      const lines = await turnLines(r5.url, id, { prompt: 'write after.txt' });
      expect(lines.at(-2)).toMatchObject({ ev: 'turn_end', outcome: 'completed' });
      expect(lines.at(-1)).toMatchObject({ ev: 'trailer', checkpoint: 'stored' });
      expect(coordinator.gatewayKeys).toContain(token);
      expect(coordinator.checkpoints).toContainEqual(expect.objectContaining({ sessionId: id }));
      expect(readFileSync(join(coordinator.roots(id).workspace, 'after.txt'), 'utf8')).toBe(
        'placed by a, stored by b\n',
      );
    } finally {
      await r5.kill();
      await a.close().catch(() => undefined);
    }
  }, 90_000);

  it('idle eviction by the pool: checkpoint, then evicted (reason idle) to the coordinator', async () => {
    const r6 = await startOtherRunner('r6', { ASH_IDLE_TIMEOUT_MS: '1000' });
    try {
      const id = randomUUID();
      writeFileSync(join(coordinator.roots(id).workspace, 'CLAUDE.md'), '# idle\n');
      const started = await call(
        r6.url,
        'POST',
        `${RUNNER_API_PREFIX}/sessions/${id}/sandbox`,
        startBody(coordinator, `gw-${randomUUID()}`),
      );
      expect(started.status, started.text).toBe(200);
      await eventually(
        () => coordinator.evicted.some((e) => e.sessionId === id),
        20_000,
        'the idle eviction',
      );
      expect(coordinator.evicted.find((e) => e.sessionId === id)).toMatchObject({
        runner: 'r6',
        reason: 'idle',
        generation: 1,
      });
      expect(coordinator.checkpoints).toContainEqual(expect.objectContaining({ sessionId: id }));
      const state = (await call(r6.url, 'GET', `${RUNNER_API_PREFIX}/state`)).json() as RunnerReport;
      expect(state).toMatchObject({ live: 0, sessions: [] });
    } finally {
      await r6.kill();
    }
  }, 60_000);

  it('SIGTERM: checkpoints and stops its sessions, deregisters, exits 0', async () => {
    const r2 = await startOtherRunner('r2');
    try {
      await eventually(() => coordinator.known.has('r2'), 10_000, 'r2 registered');
      const id = randomUUID();
      writeFileSync(join(coordinator.roots(id).workspace, 'CLAUDE.md'), '# r2\n');
      const started = await call(
        r2.url,
        'POST',
        `${RUNNER_API_PREFIX}/sessions/${id}/sandbox`,
        startBody(coordinator, `gw-${randomUUID()}`),
      );
      expect(started.status, started.text).toBe(200);
      const checkpointsBefore = coordinator.checkpoints.filter((c) => c.sessionId === id).length;
      const exit = new Promise<number | null>((resolve) => r2.child.once('exit', (code) => resolve(code)));
      r2.child.kill('SIGTERM');
      expect(await exit).toBe(0);
      expect(coordinator.deregistered).toContain('r2');
      expect(coordinator.checkpoints.filter((c) => c.sessionId === id).length).toBeGreaterThan(
        checkpointsBefore,
      );
      expect(coordinator.evicted).toContainEqual(expect.objectContaining({ sessionId: id, reason: 'drain' }));
    } finally {
      await r2.kill();
    }
  }, 90_000);

  it('`ash runner` keeps provider keys out of the runner process; `ash runner drain` makes it release and exit 0', async () => {
    const cli = spawn(
      process.execPath,
      [
        ENTRIES.cli,
        'runner',
        '--coordinator',
        coordinator.url,
        '--name',
        'r3',
        '--port',
        '0',
        '--data-dir',
        join(root, 'r3'),
      ],
      {
        env: {
          ...process.env,
          ...env,
          ANTHROPIC_API_KEY: PROVIDER_KEY,
          ASH_CREDENTIAL_KEY: 'credential-master-key-000000',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    cli.stdout.on('data', (d: Buffer) => (out += d.toString()));
    cli.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exit = new Promise<number | null>((resolve) => cli.once('exit', (code) => resolve(code)));
    try {
      await eventually(() => /listening on http/.test(out), 60_000, 'the runner started by the CLI');
      const children = readFileSync(`/proc/${cli.pid}/task/${cli.pid}/children`, 'utf8').trim().split(/\s+/);
      expect(children.length).toBe(1);
      const environ = readFileSync(`/proc/${children[0]}/environ`, 'utf8');
      expect(environ).toContain('ASH_INTERNAL_SECRET=');
      expect(environ).not.toContain('ANTHROPIC_API_KEY');
      expect(environ).not.toContain(PROVIDER_KEY);
      expect(environ).not.toContain('ASH_CREDENTIAL_KEY');
      expect(readFileSync(`/proc/${children[0]}/cmdline`, 'utf8')).not.toContain(SECRET);
      await eventually(() => coordinator.known.has('r3'), 10_000, 'r3 registered');
      const drain = spawn(
        process.execPath,
        [ENTRIES.cli, '--server', coordinator.url, 'runner', 'drain', 'r3'],
        {
          env: { ...process.env, ASH_INTERNAL_SECRET: SECRET },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let drainOut = '';
      drain.stdout.on('data', (d: Buffer) => (drainOut += d.toString()));
      drain.stderr.on('data', (d: Buffer) => (drainOut += d.toString()));
      expect(await new Promise((r) => drain.once('exit', r)), drainOut).toBe(0);
      expect(drainOut).toContain('draining');
      expect(await exit).toBe(0);
      expect(coordinator.deregistered).toContain('r3');
      expect(out).not.toContain(SECRET);
    } finally {
      if (cli.exitCode === null) cli.kill('SIGKILL');
    }
  }, 90_000);
});

/**
 * Warm spares on a runner: kept when a coordinator asks (files pulled from it), reported, a claim
 * no start uses lapses, a claimed spare becomes the session's sandbox at its start (no boot, its
 * model calls with the session's gateway token), a start naming an unclaimed spare is a cold one.
 */
describe('ash runner warm spares', () => {
  let model: ScriptedModel;
  let coordinator: TestCoordinator;
  let root: string;
  let runner: RunnerProcess;

  beforeAll(async () => {
    model = await ScriptedModel.start();
    root = tempDir('ash-runner-spares-');
    coordinator = new TestCoordinator(join(root, 'store'), model);
    await coordinator.start();
    const agentDir = join(root, 'store', 'agents', 'helper', '1');
    mkdirSync(agentDir, { recursive: true });
    writeFileSync(join(agentDir, 'CLAUDE.md'), '# Helper\n');
    runner = await startRunnerProcess({
      name: 'rs',
      coordinators: [coordinator.url],
      dataDir: join(root, 'rs'),
      env: {
        ASH_INTERNAL_SECRET: SECRET,
        ASH_RUNNER_HEARTBEAT_MS: '200',
        ASH_MAX_SANDBOXES: '2',
        ASH_SPARE_BRIDGES: '0',
        ASH_MODEL_MAX_RETRIES: '0',
        ASH_RUNNER_RESERVATION_TTL_MS: '1500',
        ASH_LOG_LEVEL: 'info',
      },
    });
  }, 90_000);

  afterAll(async () => {
    await runner?.kill();
    await coordinator?.close();
    await model?.close();
    if (root) removeDir(root);
  });

  const state = async () =>
    (await call(runner.url, 'GET', `${RUNNER_API_PREFIX}/state`)).json() as RunnerReport;
  const ready = async () => ((await state()).spares ?? []).reduce((n, s) => n + s.ready, 0);
  const metric = async (name: string, label: string) => {
    const text = (await call(runner.url, 'GET', '/metrics', undefined, '')).text;
    const m = text.match(new RegExp(`^${name}\\{${label}\\} (\\d+)`, 'm'));
    return m ? Number(m[1]) : 0;
  };
  const keep = () =>
    call(runner.url, 'POST', `${RUNNER_API_PREFIX}/spares`, {
      tenantId: 'default',
      agent: 'helper',
      version: 1,
      count: 1,
      coordinatorUrl: coordinator.url,
      env: { SPARE_TEST: 'yes' },
      warmOptions: {},
    });
  const claim = async () =>
    (
      await call(runner.url, 'POST', `${RUNNER_API_PREFIX}/spares/claim`, {
        tenantId: 'default',
        agent: 'helper',
        version: 1,
      })
    ).json() as { id: string | null };
  const waitReady = async () => {
    const deadline = Date.now() + 60_000;
    while ((await ready()) < 1) {
      if (Date.now() > deadline) throw new Error('timed out waiting for a ready spare');
      await new Promise((r) => setTimeout(r, 200));
    }
  };

  it('keeps, reports, lapses and adopts spares; an unclaimed spare start is a cold one', async () => {
    expect((await keep()).status).toBe(202);
    await waitReady();
    expect(coordinator.agentFilesServed).toBeGreaterThanOrEqual(1);
    expect((await state()).spares).toEqual([
      { tenantId: 'default', agent: 'helper', version: 1, ready: 1, starting: 0 },
    ]);
    expect((await call(runner.url, 'GET', '/health', undefined, '')).json().warm).toBe(1);
    const bad = await call(runner.url, 'POST', `${RUNNER_API_PREFIX}/spares`, { agent: 'x' });
    expect(bad.status).toBe(400);
    expect(bad.json().code).toBe('validation_failed');

    // A claim no start uses lapses: the spare is discarded, folder and all.
    const lapsed = (await claim()).id!;
    expect(lapsed).toBeTruthy();
    expect(await ready()).toBe(0);
    expect((await claim()).id).toBeNull();
    await eventually(
      () => !existsSync(join(root, 'rs', 'sessions', lapsed)),
      15_000,
      'the lapsed spare gone',
    );
    expect(await metric('ash_runner_spare_claims_total', 'result="lapsed"')).toBe(1);

    // A claimed spare becomes the session's sandbox at its start: no boot, no checkout.
    expect((await keep()).status).toBe(202);
    await waitReady();
    const id = (await claim()).id!;
    const started = await call(
      runner.url,
      'POST',
      `${RUNNER_API_PREFIX}/sessions/${id}/sandbox`,
      startBody(coordinator, `gw-spare-${id}`, { spare: true }),
    );
    expect(started.status, started.text).toBe(200);
    expect(await metric('ash_runner_session_starts_total', 'kind="spare"')).toBe(1);
    expect(await metric('ash_runner_session_starts_total', 'kind="cold"')).toBe(0);
    expect((await state()).sessions).toEqual([expect.objectContaining({ id, state: 'ready' })]);
    model
      .forSession(id)
      .enqueue({ toolUse: { name: 'Bash', input: { command: 'cat CLAUDE.md' } } }, { text: 'Read it.' });
    const lines = await turnLines(runner.url, id, { prompt: 'read' });
    expect(lines.at(-1)).toMatchObject({ ev: 'trailer', checkpoint: 'stored' });
    // Its model calls carried the session's gateway token (never a provider key).
    expect(coordinator.gatewayKeys.filter((k) => k === `gw-spare-${id}`).length).toBeGreaterThanOrEqual(2);
    // Its first checkpoint sent every file, the agent's included.
    expect(readFileSync(join(root, 'store', id, 'workspace', 'CLAUDE.md'), 'utf8')).toBe('# Helper\n');

    // A start naming a spare nobody claimed is a plain (cold) start from the checkout.
    const cold = randomUUID();
    writeFileSync(join(coordinator.roots(cold).workspace, 'CLAUDE.md'), '# Cold\n');
    const coldStart = await call(
      runner.url,
      'POST',
      `${RUNNER_API_PREFIX}/sessions/${cold}/sandbox`,
      startBody(coordinator, `gw-cold-${cold}`, { spare: true }),
    );
    expect(coldStart.status, coldStart.text).toBe(200);
    expect(await metric('ash_runner_session_starts_total', 'kind="cold"')).toBe(1);
    expect(readFileSync(join(root, 'rs', 'sessions', cold, 'workspace', 'CLAUDE.md'), 'utf8')).toBe(
      '# Cold\n',
    );

    // Dropping the agent's spares (delete, redeploy) answers 204.
    const drop = await call(
      runner.url,
      'DELETE',
      `${RUNNER_API_PREFIX}/spares?tenantId=default&agent=helper`,
    );
    expect(drop.status).toBe(204);
  }, 180_000);
});
