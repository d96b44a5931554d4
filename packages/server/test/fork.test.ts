import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { removeDir, ScriptedModel, tempDir } from '@ash-ai/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  createSession,
  deployAgent,
  sendTurn,
  startTestServer,
  type TestServer,
  AUTH,
} from './harness.js';

const PRICES = {
  version: 'fork-test-prices',
  models: {
    'fork-model': { inputPerMTok: 2, outputPerMTok: 10, cacheWritePerMTok: 2.5, cacheReadPerMTok: 0.2 },
  },
};

describe('fork', () => {
  let model: ScriptedModel;
  let t: TestServer;
  let scratch: string;

  beforeAll(async () => {
    model = await ScriptedModel.start();
    scratch = tempDir('ash-fork-prices-');
    const pricesFile = join(scratch, 'prices.json');
    writeFileSync(pricesFile, JSON.stringify(PRICES));
    t = await startTestServer({
      model,
      env: { ASH_CREDENTIAL_KEY: 'fork-credential-master-key-0123456789', ASH_PRICES_FILE: pricesFile },
    });
    await deployAgent(t.url, 'forker', { 'CLAUDE.md': '# Forker\n' });
  });
  afterAll(async () => {
    await t?.close();
    await model?.close();
    removeDir(scratch);
  });

  it('carries the budget the parent spent: a fork cannot escape a session budget', async () => {
    const parent = await createSession(t.url, 'forker', { model: 'fork-model', budgetUsd: 0.1 });
    // 40k input tokens at $2/MTok = $0.08 of the $0.10 budget.
    model.forSession(parent).enqueue({ text: 'spent', usage: { input_tokens: 40_000 } });
    const first = await sendTurn(t.url, parent, { content: 'spend' });
    expect(first.events.at(-1)!.data).toMatchObject({ outcome: 'completed' });

    const fork = await api(t.url, 'POST', `/api/sessions/${parent}/fork`);
    expect(fork.status, fork.text).toBe(201);
    const child = fork.body.session;
    // What the parent had left: its budget minus the ledger's cost of its calls.
    const spent = (await api(t.url, 'GET', `/api/usage/stats?sessionId=${parent}`)).body.stats.totalCostUsd;
    expect(spent).toBeGreaterThan(0.08);
    expect(child.budgetUsd).toBeCloseTo(0.1 - spent, 9);
    // The fork's next expensive call reaches the carried budget; the one after is refused.
    // (A slow tool after the call: the host, not the turn's own end, must stop it.)
    model.forSession(child.id).enqueue(
      {
        toolUse: { name: 'Bash', input: { command: 'sleep 30; echo late' } },
        usage: { input_tokens: 40_000 },
      },
      { text: 'never reached' },
    );
    const over = await sendTurn(t.url, child.id, { content: 'spend again' });
    expect(over.events.at(-2)).toMatchObject({ event: 'error', data: { code: 'budget_exceeded' } });
    const refused = await sendTurn(t.url, child.id, { content: 'and again' });
    expect(refused.events.map((e) => e.event)).toEqual(['session_start', 'error', 'done']);
    expect(refused.events[1]!.data).toMatchObject({ code: 'budget_exceeded' });

    // A fork of a session that has used its whole budget starts with none left.
    const spentChild = await api(t.url, 'POST', `/api/sessions/${child.id}/fork`);
    expect(spentChild.body.session.budgetUsd).toBe(0);
    const none = await sendTurn(t.url, spentChild.body.session.id, { content: 'free turn?' });
    expect(none.events[1]!.data).toMatchObject({ code: 'budget_exceeded' });
    // Without a budget, a fork has none either.
    const free = await createSession(t.url, 'forker');
    expect((await api(t.url, 'POST', `/api/sessions/${free}/fork`)).body.session.budgetUsd).toBeNull();
    model.reset();
  });

  it('refuses with 400 invalid_credential to fork a session whose credential was deactivated or deleted', async () => {
    const cred = await api(t.url, 'POST', '/api/credentials', {
      type: 'custom',
      key: 'fork-secret-0123456789',
    });
    expect(cred.status, cred.text).toBe(201);
    const credId = cred.body.credential.id;
    const parent = await createSession(t.url, 'forker', { credentialId: credId });
    expect((await api(t.url, 'POST', `/api/sessions/${parent}/fork`)).status).toBe(201);

    expect((await api(t.url, 'PATCH', `/api/credentials/${credId}`, { active: false })).status).toBe(200);
    const inactive = await api(t.url, 'POST', `/api/sessions/${parent}/fork`);
    expect(inactive.status).toBe(400);
    expect(inactive.body.code).toBe('invalid_credential');
    expect(inactive.body.detail).toMatch(/inactive/);

    expect((await api(t.url, 'DELETE', `/api/credentials/${credId}`)).status).toBeLessThan(300);
    const deleted = await api(t.url, 'POST', `/api/sessions/${parent}/fork`);
    expect(deleted.status).toBe(400);
    expect(deleted.body.code).toBe('invalid_credential');
    // No half-made fork is left behind.
    const list = await api(t.url, 'GET', '/api/sessions?limit=200');
    expect(list.body.sessions.filter((s: any) => s.parentSessionId === parent)).toHaveLength(1);
  });

  it("copies the parent's attachments to the fork: listed, downloadable, independent", async () => {
    const parent = await createSession(t.url, 'forker');
    await sendTurn(t.url, parent, { content: 'a message to attach to' });
    const parentMessages = (await api(t.url, 'GET', `/api/sessions/${parent}/messages`)).body.messages;
    const names = ['notes "v2" 100%.txt', 'été.bin'];
    const made = [];
    for (const [i, filename] of names.entries()) {
      const r = await api(t.url, 'POST', `/api/sessions/${parent}/attachments`, {
        filename,
        content: Buffer.from(`attachment ${i}`).toString('base64'),
        ...(i === 1 ? { messageId: parentMessages[0].id } : {}),
      });
      expect(r.status, r.text).toBe(201);
      made.push(r.body.attachment);
    }
    const fork = await api(t.url, 'POST', `/api/sessions/${parent}/fork`);
    expect(fork.status, fork.text).toBe(201);
    const child = fork.body.session.id;

    const listed = (await api(t.url, 'GET', `/api/sessions/${child}/attachments`)).body.attachments;
    expect(listed).toHaveLength(2);
    // A message reference follows the message: the fork's copy of it (same sequence).
    const childMessages = (await api(t.url, 'GET', `/api/sessions/${child}/messages`)).body.messages;
    expect(listed[0].messageId).toBeNull();
    expect(listed[1].messageId).toBe(childMessages[0].id);
    expect(childMessages[0].sequence).toBe(parentMessages[0].sequence);
    for (const [i, a] of listed.entries()) {
      expect(a).toMatchObject({
        sessionId: child,
        filename: names[i],
        size: made[i].size,
        sha256: made[i].sha256,
        workspacePath: made[i].workspacePath,
        mimeType: made[i].mimeType,
      });
      expect(a.id).not.toBe(made[i].id);
      const res = await fetch(`${t.url}/api/attachments/${a.id}`, { headers: AUTH });
      expect(res.status).toBe(200);
      expect(Buffer.from(await res.arrayBuffer()).toString()).toBe(`attachment ${i}`);
    }
    // Independent: deleting the parent's attachment leaves the fork's, and the other way round.
    expect(
      (await fetch(`${t.url}/api/attachments/${made[0].id}`, { method: 'DELETE', headers: AUTH })).status,
    ).toBe(204);
    expect((await fetch(`${t.url}/api/attachments/${listed[0].id}`, { headers: AUTH })).status).toBe(200);
    expect(
      (await fetch(`${t.url}/api/attachments/${listed[1].id}`, { method: 'DELETE', headers: AUTH })).status,
    ).toBe(204);
    expect((await fetch(`${t.url}/api/attachments/${made[1].id}`, { headers: AUTH })).status).toBe(200);
    expect((await api(t.url, 'GET', `/api/sessions/${parent}/attachments`)).body.attachments).toHaveLength(1);
    expect((await api(t.url, 'GET', `/api/sessions/${child}/attachments`)).body.attachments).toHaveLength(1);
  });
});
