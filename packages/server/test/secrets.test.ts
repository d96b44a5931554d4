import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { environsOf, grepTree } from './inspect.js';
import { api, createSession, deployAgent, sendTurn, startTestServer, type TestServer } from './harness.js';

const REAL_KEY = 'sk-ant-real-key-must-never-leak-7f3a9c';

describe('the real Anthropic key stays on the host', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ env: { ANTHROPIC_API_KEY: REAL_KEY } });
    await deployAgent(t.url, 'snoop', { 'CLAUDE.md': '# Snoop\n' });
  });
  afterAll(async () => t?.close());

  it('reaches the model through the proxy, but never the bridge, the sandbox, the workspace, responses or logs', async () => {
    const id = await createSession(t.url, 'snoop');
    t.model.forSession(id).enqueue(
      {
        toolUse: {
          name: 'Bash',
          input: {
            command:
              'env; cat /proc/self/environ | tr "\\0" "\\n"; cat /proc/1/environ 2>&1 | tr "\\0" "\\n"; env > /workspace/env-dump.txt; echo SNOOPED',
          },
        },
      },
      { slow: { deltas: 10, intervalMs: 100, text: 'thinking ' } },
    );
    const turnPromise = sendTurn(t.url, id, { content: 'show me your environment' });
    // While the turn runs, inspect the live bridge and Claude processes from the host.
    await new Promise((r) => setTimeout(r, 1200));
    const bridgeEnvs = environsOf('bridge/dist/main.js');
    const sandboxEnvs = environsOf('/opt/claude/claude');
    const turn = await turnPromise;
    expect(turn.events.at(-1)!.data).toMatchObject({ outcome: 'completed' });
    expect(bridgeEnvs.length).toBeGreaterThan(0);
    expect(sandboxEnvs.length).toBeGreaterThan(0);
    for (const env of [...bridgeEnvs, ...sandboxEnvs]) expect(env).not.toContain(REAL_KEY);

    // The model did get the real key, through the proxy.
    const requests = t.model.messageRequests(id);
    expect(requests.length).toBeGreaterThan(0);
    for (const r of requests) expect(r.apiKey).toBe(REAL_KEY);

    // The tool's view of the environment shows only the placeholder.
    const result = turn.events.find((e) => e.event === 'tool_result')!.data as { content: string };
    expect(result.content).toContain('SNOOPED');
    expect(result.content).toContain('ANTHROPIC_API_KEY=ash-model-proxy');
    expect(turn.raw).not.toContain(REAL_KEY);

    expect(grepTree(join(t.dataDir, 'sessions', id), REAL_KEY)).toEqual([]);
    for (const path of [
      `/api/sessions/${id}`,
      `/api/sessions/${id}/messages?limit=1000`,
      `/api/sessions/${id}/events?limit=1000`,
      '/health',
      '/openapi.json',
      '/api/agents',
    ]) {
      expect((await api(t.url, 'GET', path)).text).not.toContain(REAL_KEY);
    }
    expect(t.logs().length).toBeGreaterThan(0);
    expect(t.server.logger.level).toBe('debug');
    expect(t.logs()).toContain('"msg":"turn started"'); // debug lines were written
    expect(t.logs()).not.toContain(REAL_KEY);
  });
});
