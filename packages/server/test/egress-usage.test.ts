import { lookup } from 'node:dns/promises';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { removeDir, runAsh, ScriptedModel, tempDir } from '@ash-ai/testing';
import type { EgressData, StreamEvent } from '@ash-ai/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  createSession,
  deployAgent,
  eventually,
  expectOutcome,
  sendTurn,
  startTestServer,
  TEST_API_KEY,
  type TestServer,
} from './harness.js';

const bash = (command: string) => ({ toolUse: { name: 'Bash', input: { command } } });

interface EgressTotals {
  totalEgressAllowed: number;
  totalEgressDenied: number;
  totalEgressBytesUp: number;
  totalEgressBytesDown: number;
}

/** The session's egress totals from `GET /api/usage/stats?sessionId=`. */
async function egressStats(url: string, session: string): Promise<EgressTotals> {
  const r = await api(url, 'GET', `/api/usage/stats?sessionId=${session}`);
  expect(r.status).toBe(200);
  const s = r.body.stats as EgressTotals;
  return {
    totalEgressAllowed: s.totalEgressAllowed,
    totalEgressDenied: s.totalEgressDenied,
    totalEgressBytesUp: s.totalEgressBytesUp,
    totalEgressBytesDown: s.totalEgressBytesDown,
  };
}

describe('egress counters in the usage ledger', () => {
  const dataDir = tempDir('ash-egress-usage-');
  let model: ScriptedModel;
  let host: Server;
  let port = 0;
  let t: TestServer | undefined;
  const env = () => ({ ASH_EGRESS_ALLOW_CIDRS: '127.0.0.1/32' });

  beforeAll(async () => {
    // `vm` and `runsc` resolve to 127.0.0.1 on the test host (see egress.test.ts).
    expect((await lookup('vm')).address).toBe('127.0.0.1');
    host = createServer((req, res) => res.end(`usage host ${req.url}\n`));
    host.listen(0, '127.0.0.1');
    await once(host, 'listening');
    port = (host.address() as AddressInfo).port;
    model = await ScriptedModel.start();
    t = await startTestServer({ env: env(), model, dataDir });
    await deployAgent(
      t.url,
      'metered',
      { 'CLAUDE.md': '# Metered\n' },
      { config: { network: { allow: [`vm:${port}`] } } },
    );
  }, 120_000);
  afterAll(async () => {
    await t?.close();
    await model?.close();
    host?.closeAllConnections();
    host?.close();
    removeDir(dataDir);
  });

  it('a turn with allowed and denied connections shows them in the session usage, and they survive a restart', async () => {
    let server = t!;
    const s = await createSession(server.url, 'metered');
    model
      .forSession(s)
      .enqueue(
        bash(`curl -sS -m 10 http://vm:${port}/one 2>&1`),
        bash(`curl -sS -m 10 http://vm:${port}/two 2>&1`),
        bash(`curl -sS -m 10 http://runsc:${port}/refused 2>&1`),
        { text: 'metered' },
      );
    const turn = await sendTurn(server.url, s, { content: 'use the network' });
    expectOutcome(turn, 'completed');
    const events = turn.events
      .filter((e: StreamEvent) => e.event === 'egress')
      .map((e) => e.data as EgressData);
    expect(events.map((e) => e.allowed)).toEqual([true, true, false]);
    const up = events.reduce((n, e) => n + e.bytesUp, 0);
    const down = events.reduce((n, e) => n + e.bytesDown, 0);
    expect(up).toBeGreaterThan(0);
    expect(down).toBeGreaterThan(0);

    // The ledger matches the events (the record is written when the connection ended).
    const expected = {
      totalEgressAllowed: 2,
      totalEgressDenied: 1,
      totalEgressBytesUp: up,
      totalEgressBytesDown: down,
    };
    await eventually(
      async () => JSON.stringify(await egressStats(server.url, s)) === JSON.stringify(expected),
      10_000,
      'the egress usage of the session',
    );
    const records = await api(server.url, 'GET', `/api/usage?sessionId=${s}&kind=egress`);
    expect(records.status).toBe(200);
    expect(records.body.total).toBe(3);
    // One record per connection, each of this turn.
    const turnIds = new Set(records.body.records.map((r: { turnId: string | null }) => r.turnId));
    expect(turnIds.size).toBe(1);
    expect([...turnIds][0]).toEqual(expect.any(String));
    for (const r of records.body.records) expect(r.egressAllowed + r.egressDenied).toBe(1);
    // Upstream-shaped rows carry the egress metrics too.
    const types = new Set(records.body.events.map((e: { eventType: string }) => e.eventType));
    expect([...types].sort()).toEqual([
      'egress_allowed',
      'egress_bytes_down',
      'egress_bytes_up',
      'egress_denied',
    ]);
    // Grouped by session, as every other usage total.
    const grouped = await api(server.url, 'GET', '/api/usage/stats?groupBy=session');
    expect(grouped.body.groups.find((g: { key: string }) => g.key === s).stats).toMatchObject(expected);

    // `ash usage --session` shows them.
    const cli = await runAsh(['usage', '--session', s], {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: server.dataDir,
      ASH_SERVER_URL: server.url,
      ASH_API_KEY: TEST_API_KEY,
    });
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toMatch(/NET ALLOWED\/DENIED +NET BYTES UP\/DOWN/);
    expect(cli.stdout).toMatch(new RegExp(`^TOTAL .* 2/1 +${up}/${down}$`, 'm'));

    // A restart on the same data dir: the counters are stored, not in memory.
    await server.close();
    t = undefined;
    server = await startTestServer({ env: env(), model, dataDir });
    t = server;
    expect(await egressStats(server.url, s)).toEqual(expected);
  }, 240_000);
});
