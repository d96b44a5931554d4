import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, b64, eventually, startTestServer, type TestServer } from './harness.js';

// Issue 10: deleting an agent while its warm sandboxes were starting answered 500 (ENOTEMPTY:
// the start and the delete both working on the spare's folder). Deleting and redeploying now
// stop the agent's warm sandboxes and wait for those still starting before touching folders.

const deploy = (t: TestServer, name: string, text: string) =>
  api(t.url, 'POST', '/api/agents', {
    name,
    files: [
      { path: 'CLAUDE.md', content: b64(`# ${text}\n`) },
      { path: 'knowledge/notes.txt', content: b64('n'.repeat(200_000)) },
    ],
  });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('deleting or redeploying an agent while its warm sandboxes start', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ env: { ASH_PREWARM_COUNT: '2', ASH_MAX_SANDBOXES: '8' } });
  });
  afterAll(async () => t?.close());

  const sessionDirs = () => {
    const dir = join(t.dataDir, 'sessions');
    return existsSync(dir) ? readdirSync(dir) : [];
  };

  it('never answers 500 and leaves no folder behind (repeated)', async () => {
    const statuses: string[] = [];
    // Delays put the delete at every stage of a spare's start: copying the folder, starting the
    // sandbox, warming the Claude process, ready.
    const delays = [0, 5, 30, 120, 400, 900, 1800, 3500];
    for (const [i, delay] of delays.entries()) {
      const name = `racer-${i % 2}`;
      const first = await deploy(t, name, `v1 ${i}`);
      statuses.push(`deploy ${first.status}`);
      expect(first.status, first.text).toBe(201);
      await sleep(delay);
      // Every other round redeploys first (its old spares are replaced while they start).
      if (i % 2 === 1) {
        const again = await deploy(t, name, `v2 ${i}`);
        expect(again.status, again.text).toBe(201);
        await sleep(delay / 2);
      }
      // Two deletes at once: one deletes, the other finds nothing — neither is a 500.
      const [a, b] = await Promise.all([
        api(t.url, 'DELETE', `/api/agents/${name}`),
        api(t.url, 'DELETE', `/api/agents/${name}`),
      ]);
      expect([a.status, b.status].sort(), `${a.text} ${b.text}`).toEqual([200, 404]);
      for (const r of [a, b]) if (r.status === 404) expect(r.body.code).toBe('agent_not_found');
      expect((await api(t.url, 'GET', `/api/agents/${name}`)).status).toBe(404);
    }
    // Once the deletes returned, nothing of the agents is left: no warm sandbox, no starting one,
    // no spare folder, no agent folder.
    const health = await api(t.url, 'GET', '/health');
    expect(health.body.pool.warm).toBe(0);
    expect(health.body.pool.starting).toBe(0);
    expect(health.body.activeSandboxes).toBe(0);
    expect(sessionDirs()).toEqual([]);
    const agentsDir = join(t.dataDir, 'agents');
    const left = existsSync(agentsDir)
      ? readdirSync(agentsDir).flatMap((tenant) => readdirSync(join(agentsDir, tenant)))
      : [];
    expect(left).toEqual([]);
    expect(t.logs()).not.toMatch(/"level":50/);
  }, 300_000);

  it('a redeployed agent gets fresh spares of the new version only', async () => {
    expect((await deploy(t, 'fresh', 'v1')).status).toBe(201);
    expect((await deploy(t, 'fresh', 'v2')).status).toBe(201);
    await eventually(
      async () => (await api(t.url, 'GET', '/health')).body.pool.warm === 2,
      60_000,
      'two spares',
    );
    expect(sessionDirs()).toHaveLength(2);
    expect((await api(t.url, 'DELETE', '/api/agents/fresh')).status).toBe(200);
    expect(sessionDirs()).toEqual([]);
  }, 120_000);
});
