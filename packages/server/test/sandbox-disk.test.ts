import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DISK_IMAGE_NAME, diskImageBytes } from '@ash-ai/sandbox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  createSession,
  deployAgent,
  eventually,
  expectOutcome,
  sendTurn,
  startTestServer,
  type TestServer,
} from './harness.js';

const MiB = 1024 * 1024;
const LIMIT_MB = 50;

function toolOutput(turn: { events: Array<{ event: string; data: unknown }> }): string {
  return turn.events
    .filter((e) => e.event === 'tool_result')
    .map((e) => (e.data as { content: string }).content)
    .join('\n');
}

/**
 * Issue 10: the disk limit is a file system of fixed size per sandbox (a loop-mounted ext4
 * image) holding every path the sandbox can write, so the kernel stops a write at the limit —
 * in the foreground, from a background process that outlives the turn, in $HOME, the config
 * dir, /tmp and /workspace alike.
 */
describe('kernel-enforced sandbox disk limit', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ env: { ASH_SANDBOX_DISK_MB: String(LIMIT_MB) } });
    await deployAgent(t.url, 'disk', { 'CLAUDE.md': '# Disk\n' });
  });
  afterAll(async () => t?.close());

  /** Host bytes the session's files take: the image (sparse: its allocated blocks) and the host folders. */
  const hostUsage = (id: string) => {
    const image = join(t.dataDir, 'sessions', id, DISK_IMAGE_NAME);
    return existsSync(image) ? statSync(image).blocks * 512 : 0;
  };
  const slack = diskImageBytes(LIMIT_MB * MiB) - LIMIT_MB * MiB;

  it('reports the mechanism in /health', async () => {
    const health = await api(t.url, 'GET', '/health');
    expect(health.body.sandbox.disk).toBe('filesystem');
  });

  it('stops foreground writes to $HOME, $CLAUDE_CONFIG_DIR, /tmp and /workspace at the limit; the next message works', async () => {
    const id = await createSession(t.url, 'disk');
    for (const target of ['$HOME', '$CLAUDE_CONFIG_DIR', '/tmp', '/workspace']) {
      const fill = `dd if=/dev/zero of=${target}/fill bs=1M count=200 2>&1 | tail -1; echo rc=$?`;
      t.model.forSession(id).enqueue({ toolUse: { name: 'Bash', input: { command: fill } } });
      const turn = await sendTurn(t.url, id, { content: `fill ${target}` });
      const done = turn.events.at(-1)?.data as { outcome?: string };
      expect(done?.outcome, `${target}: ${toolOutput(turn)}`).toBe('error');
      const err = turn.events.find((e) => e.event === 'error')!.data as {
        code: string;
        limit?: string;
        error: string;
      };
      expect(err, target).toMatchObject({ code: 'limit_exceeded', limit: 'disk' });
      expect(err.error).toMatch(/disk limit \(50 MiB/);
      expect(hostUsage(id), target).toBeGreaterThan(40 * MiB);
      expect(hostUsage(id), target).toBeLessThanOrEqual(LIMIT_MB * MiB + slack);

      // Deleting the file makes room: the next message works.
      t.model
        .forSession(id)
        .enqueue(
          { toolUse: { name: 'Bash', input: { command: `rm -f ${target}/fill; echo freed` } } },
          { text: 'freed' },
        );
      const next = await sendTurn(t.url, id, { content: 'free it' });
      expectOutcome(next, 'completed');
      expect(toolOutput(next)).toContain('freed');
    }
  }, 240_000);

  it('stops a background writer that outlives the turn; the next message works', async () => {
    const id = await createSession(t.url, 'disk');
    const bg =
      "nohup sh -c 'sleep 2; dd if=/dev/zero of=/workspace/bg bs=1M count=200 2>/workspace/bg.err; echo $? > /workspace/bg.rc' >/dev/null 2>&1 & echo started";
    t.model
      .forSession(id)
      .enqueue({ toolUse: { name: 'Bash', input: { command: bg } } }, { text: 'started it' });
    const turn = await sendTurn(t.url, id, { content: 'start a writer' });
    expectOutcome(turn, 'completed');
    const ws = join(t.dataDir, 'sessions', id, 'workspace');
    await eventually(() => existsSync(join(ws, 'bg.rc')), 60_000, 'the background dd to finish');
    expect(readFileSync(join(ws, 'bg.rc'), 'utf8').trim()).not.toBe('0');
    expect(readFileSync(join(ws, 'bg.err'), 'utf8')).toMatch(/No space left on device/);
    expect(statSync(join(ws, 'bg')).size).toBeLessThanOrEqual(LIMIT_MB * MiB);
    expect(hostUsage(id)).toBeLessThanOrEqual(LIMIT_MB * MiB + slack);

    t.model
      .forSession(id)
      .enqueue(
        { toolUse: { name: 'Bash', input: { command: 'rm -f /workspace/bg; echo cleaned' } } },
        { text: 'cleaned' },
      );
    const next = await sendTurn(t.url, id, { content: 'clean up' });
    expectOutcome(next, 'completed');
    expect(toolOutput(next)).toContain('cleaned');

    // Pausing copies the files back to the host folder and removes the image; resuming brings them back.
    t.model
      .forSession(id)
      .enqueue(
        { toolUse: { name: 'Bash', input: { command: 'echo kept > /workspace/kept.txt' } } },
        { text: 'ok' },
      );
    expectOutcome(await sendTurn(t.url, id, { content: 'write' }), 'completed');
    expect((await api(t.url, 'POST', `/api/sessions/${id}/pause`)).status).toBe(200);
    expect(existsSync(join(t.dataDir, 'sessions', id, DISK_IMAGE_NAME))).toBe(false);
    expect(readFileSync(join(ws, 'kept.txt'), 'utf8')).toBe('kept\n');
    t.model
      .forSession(id)
      .enqueue({ toolUse: { name: 'Bash', input: { command: 'cat /workspace/kept.txt' } } }, { text: 'ok' });
    const after = await sendTurn(t.url, id, { content: 'read' });
    expectOutcome(after, 'completed');
    expect(toolOutput(after)).toContain('kept');
  }, 240_000);
});
