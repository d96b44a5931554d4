import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AshClient, type StreamEvent } from '@ash-ai/sdk';
import {
  ScriptedModel,
  TEST_API_KEY,
  lastUserText,
  removeDir,
  serverEnv,
  startAshProcess,
  tempDir,
  type AshProcess,
} from '@ash-ai/testing';
import { zipSync } from 'fflate';
import { type BrowserContext, type Page, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The web console end to end: Debian's Chromium (headless, driven by playwright-core, no browser
 * download) against a real `ash-server` process and the scripted model. The tests run in order
 * and share one signed-in tab.
 */

const ARTIFACTS = fileURLToPath(new URL('../test-artifacts/', import.meta.url));
const INTERNAL_SECRET = 'internal-secret-for-console-tests-0123456789';
const CHROMIUM = process.env.ASH_TEST_CHROMIUM ?? '/usr/bin/chromium';
const SLOW_DELTAS = 16;

let model: ScriptedModel;
let server: AshProcess;
let dataDir: string;
let profileDir: string;
let context: BrowserContext;
let page: Page;
let sessionId = '';
const browserErrors: string[] = [];

/** A fresh tab that records console errors (CSP violations show up there). */
async function newTab(): Promise<Page> {
  const p = await context.newPage();
  p.on('console', (m) => {
    if (m.type() === 'error') browserErrors.push(m.text());
  });
  p.on('pageerror', (e) => browserErrors.push(String(e)));
  p.on('response', (r) => {
    if (r.status() >= 500) browserErrors.push(`${r.status()} ${r.request().method()} ${r.url()}`);
  });
  return p;
}

async function signIn(p: Page, key: string): Promise<void> {
  await p.goto(`${server.url}/console/`);
  await p.getByLabel('API key').fill(key);
  await p.getByRole('button', { name: 'Sign in' }).click();
  await p.getByRole('heading', { name: 'Agents', level: 1 }).waitFor();
}

async function go(p: Page, hash: string, heading: string | RegExp): Promise<void> {
  await p.evaluate((h) => {
    window.location.hash = h;
  }, hash);
  await p.getByRole('heading', { name: heading, level: 1 }).waitFor();
}

async function shot(p: Page, name: string): Promise<void> {
  await p.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/**
 * Serious and critical axe-core violations of the page as it is (all rules, or only `rules`).
 * axe-core is injected through the DevTools protocol, which the page's CSP does not govern.
 */
async function axeProblems(p: Page, rules?: string[]): Promise<string[]> {
  if (!(await p.evaluate(() => 'axe' in window))) await p.evaluate(AXE_SOURCE);
  type Result = { violations: Array<{ id: string; impact?: string; nodes: Array<{ target: string[] }> }> };
  const r: Result = await p.evaluate(
    (only) =>
      (window as unknown as { axe: { run: (ctx: Document, o: object) => Promise<Result> } }).axe.run(
        document,
        {
          resultTypes: ['violations'],
          ...(only ? { runOnly: { type: 'rule', values: only } } : {}),
        },
      ),
    rules,
  );
  return r.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

const sdk = () => new AshClient({ serverUrl: server.url, apiKey: TEST_API_KEY });

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  model = await ScriptedModel.start();
  // Markers in the prompt choose the reply: TOOL:Bash runs a command that writes a file; SLOW
  // streams SLOW_DELTAS deltas 400 ms apart; SLOWER streams for a minute (interrupt target).
  model.onRequest((rec) => {
    const text = lastUserText(rec);
    if (text.includes('TOOL:Bash'))
      return {
        text: 'Writing the notes.',
        toolUse: {
          name: 'Bash',
          input: { command: 'echo hello > notes.txt && seq 1 3000 && echo wrote notes' },
        },
      };
    if (text.includes('SLOWER')) return { slow: { deltas: 200, intervalMs: 300, text: 'wait ' } };
    if (text.includes('SLOW')) return { slow: { deltas: SLOW_DELTAS, intervalMs: 400, text: 'tick ' } };
    return undefined;
  });
  dataDir = tempDir('ash-console-');
  server = await startAshProcess(
    serverEnv({
      dataDir,
      modelUrl: model.url,
      extra: {
        ASH_PREWARM_COUNT: '0',
        ASH_INTERNAL_SECRET: INTERNAL_SECRET,
        ASH_CREDENTIAL_KEY: 'console-test-master-key-0123456789',
      },
    }),
  );
  profileDir = tempDir('ash-chromium-');
  context = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    acceptDownloads: true,
    viewport: { width: 1280, height: 860 },
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  page = await newTab();
}, 90_000);

afterAll(async () => {
  await context?.close();
  await server?.stop();
  await model?.close();
  if (profileDir) removeDir(profileDir);
  if (dataDir) removeDir(dataDir);
});

describe('web console', { timeout: 60_000 }, () => {
  it('is served at /console/ with a strict Content-Security-Policy', async () => {
    const res = await fetch(`${server.url}/console/`);
    expect(res.status).toBe(200);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).not.toContain('unsafe');
    const html = await res.text();
    const asset = /src="(\/console\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(asset).toBeDefined();
    const js = await fetch(server.url + asset);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toMatch(/javascript/);
    const bare = await fetch(`${server.url}/console`, { redirect: 'manual' });
    expect(bare.status).toBe(302);
    expect(bare.headers.get('location')).toBe('/console/');
    // The API itself keeps its own policy and still wants a key.
    expect((await fetch(`${server.url}/api/agents`)).status).toBe(401);
  });

  it('signs in with a key kept in session storage only', async () => {
    await page.goto(`${server.url}/console/`);
    expect(await axeProblems(page)).toEqual([]);
    // The check does find problems: an unlabelled field is reported.
    await page.evaluate(() =>
      document.body.append(Object.assign(document.createElement('input'), { id: 'probe' })),
    );
    expect((await axeProblems(page)).some((p) => p.startsWith('label (critical)'))).toBe(true);
    await page.evaluate(() => document.getElementById('probe')?.remove());
    await shot(page, 'sign-in');
    await page.getByLabel('API key').fill('ash_not-a-real-key-000000000000');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toMatch(/401/);
    await signIn(page, TEST_API_KEY);
    expect(await page.evaluate(() => sessionStorage.getItem('ash.console.apiKey'))).toBe(TEST_API_KEY);
    expect(await page.evaluate(() => JSON.stringify(localStorage))).not.toContain(TEST_API_KEY);
    expect(page.url()).not.toContain(TEST_API_KEY);
  });

  it('deploys an agent from a zip and from a folder, and shows its files and CLAUDE.md', async () => {
    const zip = zipSync({
      'helper/CLAUDE.md': new TextEncoder().encode(
        '# Helper\n\nYou **help** people.\n\n<script>alert(1)</script>\n',
      ),
      'helper/.claude/settings.json': new TextEncoder().encode('{"permissions":{"allow":["Bash"]}}'),
      'helper/docs/guide.md': new TextEncoder().encode('a guide'),
    });
    await page.getByLabel('Agent name').fill('helper');
    await page
      .getByLabel('or a zip file')
      .setInputFiles({ name: 'helper.zip', mimeType: 'application/zip', buffer: Buffer.from(zip) });
    await page.getByRole('button', { name: 'Deploy' }).click();
    await page.getByText('Deployed helper version 1.').waitFor();

    const folder = tempDir('ash-agent-folder-');
    mkdirSync(join(folder, 'skills'));
    writeFileSync(join(folder, 'CLAUDE.md'), '# Folder agent\n');
    writeFileSync(join(folder, 'skills', 'x.md'), 'skill');
    await page.getByLabel('Agent name').fill('folder-agent');
    await page.getByLabel('or a zip file').setInputFiles([]);
    await page.getByLabel('Folder').setInputFiles(folder);
    await page.getByRole('button', { name: 'Deploy' }).click();
    await page.getByText('Deployed folder-agent version 1.').waitFor();
    removeDir(folder);
    expect((await sdk().agents.files.list('folder-agent')).files.map((f) => f.path).sort()).toEqual([
      'CLAUDE.md',
      'skills/x.md',
    ]);
    await shot(page, 'agents');

    await page.getByRole('link', { name: 'helper', exact: true }).click();
    await page.getByRole('heading', { name: 'Agent helper' }).waitFor();
    const md = page.locator('.markdown');
    await expect(md.locator('strong').textContent()).resolves.toBe('help');
    await expect(md.locator('script').count()).resolves.toBe(0); // raw HTML is shown as text
    await expect(md.textContent()).resolves.toContain('<script>alert(1)</script>');
    await expect(page.locator('.tree').textContent()).resolves.toContain('guide.md');
    await expect(page.getByText('"allow":["Bash"]').count()).resolves.toBe(1);
    await shot(page, 'agent-detail');

    // Delete (two steps) the folder agent.
    await go(page, '#/agents/folder-agent', 'Agent folder-agent');
    await page.getByRole('button', { name: 'Delete agent' }).click();
    await page.getByRole('button', { name: 'Confirm delete' }).click();
    await page.getByRole('heading', { name: 'Agents', level: 1 }).waitFor();
    await expect(sdk().agents.get('folder-agent')).rejects.toMatchObject({ status: 404 });
  });

  it('starts a playground session and shows streamed text and a tool call as they happen', async () => {
    await go(page, '#/playground?agent=helper', 'Playground');
    await page.getByLabel('Agent').selectOption('helper');
    await page.getByRole('button', { name: 'Start session' }).click();
    await page.waitForURL(/#\/playground\/[0-9a-f-]{36}$/);
    sessionId = /playground\/([0-9a-f-]{36})/.exec(page.url())![1]!;

    await page.getByRole('textbox', { name: 'Message' }).fill('Please take notes TOOL:Bash');
    await page.getByRole('button', { name: 'Send' }).click();
    const tool = page.locator('details.tool[data-tool="Bash"]');
    await tool.waitFor();
    await page.locator('.bubble.agent', { hasText: 'Done.' }).waitFor();
    await page.getByText('Turn completed').waitFor();
    await tool.locator('summary').click();
    await expect(tool.getByLabel('Bash input').textContent()).resolves.toContain('echo hello > notes.txt');
    // The long output (3000 lines) is cut until "show all".
    await expect(tool.getByLabel('Bash result').textContent()).resolves.not.toContain('wrote notes');
    await tool.getByRole('button', { name: /show all/ }).click();
    await expect(tool.getByLabel('Bash result').textContent()).resolves.toContain('2999\n3000\nwrote notes');
    await expect(page.locator('.bubble.user').first().textContent()).resolves.toContain('Please take notes');
    const timeline = await page.locator('.timeline summary').allTextContents();
    expect(timeline.some((t) => t.includes('text_delta'))).toBe(true);
    expect(timeline.some((t) => t.includes('tool_use'))).toBe(true);
    expect(timeline.some((t) => t.includes('tool_result'))).toBe(true);
    await shot(page, 'playground');
  });

  it('interrupts a slow turn', async () => {
    await page.getByRole('textbox', { name: 'Message' }).fill('SLOWER please');
    await page.getByRole('button', { name: 'Send' }).click();
    await page.locator('.bubble.agent', { hasText: 'wait' }).last().waitFor();
    const started = Date.now();
    await page.getByRole('button', { name: 'Interrupt' }).click();
    await page.getByText('Turn interrupted').waitFor({ timeout: 20_000 });
    expect(Date.now() - started).toBeLessThan(20_000); // the reply would have run for a minute
    await page.getByRole('button', { name: 'Send' }).isDisabled();
  });

  it('reconnects after a reload mid-turn and shows every event exactly once', async () => {
    await page.getByRole('textbox', { name: 'Message' }).fill('SLOW and steady');
    await page.getByRole('button', { name: 'Send' }).click();
    await page.locator('.bubble.agent', { hasText: 'tick' }).last().waitFor();
    await page.reload();
    await page.getByRole('heading', { name: 'Playground', level: 1 }).waitFor();
    // The turn still runs on the server: the page rejoins its stream and sees it finish.
    await page.locator('.turn').nth(2).getByText('Turn completed').waitFor({ timeout: 30_000 });
    const ids = (await page
      .locator('.timeline li')
      .evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-event-id'))))) as number[];
    expect(new Set(ids).size).toBe(ids.length);
    const server: StreamEvent[] = [];
    for await (const ev of sdk().sessions.stream(sessionId, { after: 0 })) server.push(ev);
    expect(ids).toEqual(server.map((e) => e.id));
    const lastTurn = (await page.locator('.turn').nth(2).locator('.msg-text').allTextContents()).join('');
    expect(lastTurn.match(/tick/g)?.length).toBe(SLOW_DELTAS);
    await expect(page.locator('.turn').count()).resolves.toBe(3);
  });

  it('browses, views, downloads, uploads and deletes workspace files', async () => {
    await go(page, `#/workspace/${sessionId}`, /Workspace of/);
    const row = page.locator('tr[data-path="notes.txt"]');
    await row.waitFor();
    await row.getByRole('button', { name: 'View notes.txt' }).click();
    await expect(page.getByLabel('Contents of notes.txt').textContent()).resolves.toBe('hello\n');
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      row.getByRole('button', { name: 'Download notes.txt' }).click(),
    ]);
    expect(download.suggestedFilename()).toBe('notes.txt');
    expect(readFileSync((await download.path())!, 'utf8')).toBe('hello\n');

    await page
      .getByLabel('Upload files', { exact: true })
      .setInputFiles({ name: 'upload.txt', mimeType: 'text/plain', buffer: Buffer.from('from the browser') });
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    await page.locator('tr[data-path="upload.txt"]').waitFor();
    expect(new TextDecoder().decode(await sdk().sessions.files.read(sessionId, 'upload.txt'))).toBe(
      'from the browser',
    );
    await shot(page, 'workspace');
    await page.getByRole('button', { name: 'Delete upload.txt' }).click();
    await page.locator('tr[data-path="upload.txt"]').waitFor({ state: 'detached' });
    await expect(sdk().sessions.files.read(sessionId, 'upload.txt')).rejects.toMatchObject({ status: 404 });
  });

  it('lists sessions with filters and shows a session with its conversation and timeline', async () => {
    await go(page, '#/sessions', 'Sessions');
    await page.getByLabel('Agent').selectOption('helper');
    await page.getByRole('link', { name: sessionId.slice(0, 8) }).waitFor();
    await page.getByLabel('Status').selectOption('ended');
    await page.getByText('No sessions match.').waitFor();
    await page.getByLabel('Status').selectOption('');
    await page.getByRole('link', { name: sessionId.slice(0, 8) }).click();
    await page.locator('details.tool[data-tool="Bash"]').waitFor();
    await page.locator('.timeline li').first().waitFor();
    await expect(page.getByText('Turn interrupted').count()).resolves.toBe(1);
    await shot(page, 'session-detail');
  });

  it('charts usage per agent with the table behind', async () => {
    await go(page, '#/usage', 'Usage');
    await page.getByRole('img', { name: /tokens over time per agent/ }).waitFor();
    const row = page.locator('tbody tr', { has: page.getByRole('rowheader', { name: 'helper' }) });
    await row.waitFor();
    const calls = Number(await row.locator('td').nth(3).textContent());
    expect(calls).toBeGreaterThan(0);
    // The canvas has been drawn on (not blank).
    const painted = await page.locator('canvas').evaluate((c: HTMLCanvasElement) =>
      c
        .getContext('2d')!
        .getImageData(0, 0, c.width, c.height)
        .data.some((v) => v !== 0),
    );
    expect(painted).toBe(true);
    await page.getByLabel('Per', { exact: true }).selectOption('model');
    await page.getByRole('img', { name: /per model/ }).waitFor();
    await shot(page, 'usage');
  });

  it('creates an API key that is shown once, and revokes it; lists credentials without values', async () => {
    const secret = 'sk-ant-console-secret-value-0000000000';
    await sdk().credentials.create({ type: 'anthropic', key: secret, label: 'team-anthropic' });
    await go(page, '#/operations', 'Operations');
    await page.getByText('Sandbox pool').waitFor();
    await page.getByRole('cell', { name: 'team-anthropic' }).waitFor();
    expect(await page.content()).not.toContain(secret);
    await page.getByLabel('Label').fill('console-test-key');
    await page.getByRole('button', { name: 'Create key' }).click();
    const key = await page.getByLabel('New API key').inputValue();
    expect(key).toMatch(/^ash_/);
    expect(
      (await fetch(`${server.url}/api/agents`, { headers: { authorization: `Bearer ${key}` } })).status,
    ).toBe(200);
    await shot(page, 'operations');
    await page.getByRole('button', { name: 'I have copied it' }).click();
    await expect(page.getByText(key).count()).resolves.toBe(0);
    await page.getByRole('button', { name: 'Revoke key console-test-key' }).click();
    await page.getByRole('button', { name: 'Confirm revoke' }).click();
    await page.getByRole('button', { name: 'Revoke key console-test-key' }).waitFor({ state: 'detached' });
    expect(
      (await fetch(`${server.url}/api/agents`, { headers: { authorization: `Bearer ${key}` } })).status,
    ).toBe(401);
  });

  it("shows a second tenant none of the first tenant's data in any view", async () => {
    const res = await fetch(`${server.url}/api/internal/api-keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${INTERNAL_SECRET}`, 'content-type': 'application/json' },
      body: JSON.stringify({ tenantId: 'tenant-b', label: 'b' }),
    });
    expect(res.status).toBe(201);
    const otherKey = ((await res.json()) as { key: string }).key;
    const other = await newTab();
    await signIn(other, otherKey);
    const leaks = async () => {
      // Headings echo the id typed into the address (#/sessions/<id>): that is not data.
      const text = await other.evaluate(() => {
        const copy = document.body.cloneNode(true) as HTMLElement;
        copy.querySelectorAll('h1').forEach((h) => {
          h.remove();
        });
        return copy.textContent ?? '';
      });
      return [
        'helper',
        sessionId.slice(0, 8),
        'wrote notes',
        'tick',
        'console-test-key',
        'team-anthropic',
      ].filter((s) => text.includes(s));
    };
    await other.getByText('No agents yet.').waitFor();
    expect(await leaks()).toEqual([]);
    await go(other, '#/sessions', 'Sessions');
    await other.getByText('No sessions match.').waitFor();
    expect(await leaks()).toEqual([]);
    for (const [hash, heading] of [
      [`#/sessions/${sessionId}`, /Session/],
      [`#/playground/${sessionId}`, 'Playground'],
      [`#/workspace/${sessionId}`, /Workspace of/],
      ['#/agents/helper', 'Agent helper'],
    ] as const) {
      await go(other, hash, heading);
      await other.getByRole('alert').first().waitFor();
      await expect(other.getByRole('alert').first().textContent()).resolves.toMatch(/404/);
      // The 404 names the id or name that was asked for; nothing else of tenant A's shows.
      expect((await leaks()).filter((l) => l !== sessionId.slice(0, 8) && l !== 'helper')).toEqual([]);
      await expect(other.locator('.timeline li').count()).resolves.toBe(0);
      await expect(other.locator('.turn').count()).resolves.toBe(0);
      await expect(other.locator('tr[data-path]').count()).resolves.toBe(0);
    }
    await go(other, '#/workspace', 'Workspace');
    await other.getByText('No running or paused sessions.').waitFor();
    await go(other, '#/usage', 'Usage');
    await other.getByText('No model calls in this window.').waitFor();
    expect(await leaks()).toEqual([]);
    await go(other, '#/operations', 'Operations');
    await other.getByText('Sandbox pool').waitFor();
    await other.locator('tr[data-key-id]').first().waitFor();
    expect(await leaks()).toEqual([]);
    await other.close();
  });

  it('has no serious or critical accessibility violation on any main view, light and dark', async () => {
    const views: Array<[string, string | RegExp]> = [
      ['#/agents', 'Agents'],
      ['#/agents/helper', 'Agent helper'],
      ['#/sessions', 'Sessions'],
      [`#/sessions/${sessionId}`, /Session/],
      [`#/playground/${sessionId}`, 'Playground'],
      [`#/workspace/${sessionId}`, /Workspace of/],
      ['#/usage', 'Usage'],
      ['#/operations', 'Operations'],
    ];
    const problems: string[] = [];
    // Every rule in the light theme; the dark theme changes only colours, so it is checked for
    // contrast (and the rules colours can break).
    for (const theme of ['light', 'dark'] as const) {
      await page.evaluate((t) => localStorage.setItem('ash.console.theme', t), theme);
      await page.reload();
      for (const [hash, heading] of views) {
        await go(page, hash, heading);
        await page.waitForFunction(() => !document.querySelector('main')?.textContent?.includes('Loading'));
        const rules = theme === 'dark' ? ['color-contrast', 'link-in-text-block'] : undefined;
        for (const p of await axeProblems(page, rules)) problems.push(`${theme} ${hash}: ${p}`);
      }
      await shot(page, `operations-${theme}`);
    }
    expect(problems).toEqual([]);
  }, 180_000);

  it('fits half a laptop screen without sideways scrolling', async () => {
    await page.setViewportSize({ width: 720, height: 860 });
    for (const [hash, heading] of [
      [`#/playground/${sessionId}`, 'Playground'],
      ['#/usage', 'Usage'],
      ['#/agents', 'Agents'],
    ] as const) {
      await go(page, hash, heading);
      const overflow = await page.evaluate(
        () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
      );
      expect(overflow, hash).toBeLessThanOrEqual(0);
    }
    await shot(page, 'agents-half-screen');
    await page.setViewportSize({ width: 1280, height: 860 });
  });

  it('ran without a CSP violation or a script error in the browser', () => {
    expect(browserErrors.filter((e) => !/status of (401|404)/.test(e))).toEqual([]);
  });
});
