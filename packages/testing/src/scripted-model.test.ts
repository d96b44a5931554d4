import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deltaStampMs, deltaStampNow, ScriptedModel } from './scripted-model.js';

describe('scripted model: stamped slow deltas', () => {
  let model: ScriptedModel;
  beforeAll(async () => {
    model = await ScriptedModel.start();
  });
  afterAll(async () => model?.close());

  it('streams `deltas` deltas `intervalMs` apart, each carrying the time it was written', async () => {
    model.enqueue({ slow: { deltas: 4, intervalMs: 30, stamp: true } });
    const before = deltaStampNow();
    const res = await fetch(`${model.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': 'k' },
      body: JSON.stringify({
        model: 'm',
        max_tokens: 10,
        stream: true,
        tools: [{ name: 't', input_schema: { type: 'object' } }],
        messages: [{ role: 'user', content: 'go' }],
      }),
    });
    const text = await res.text();
    const stamps = [...text.matchAll(/"text_delta","text":"([^"]*)"/g)].map((m) => deltaStampMs(m[1]!));
    expect(stamps).toHaveLength(4);
    for (const s of stamps) expect(s).toBeGreaterThanOrEqual(before);
    // Spaced by the interval (timers fire no earlier than asked; a little slack for rounding).
    for (let i = 1; i < stamps.length; i++) expect(stamps[i]! - stamps[i - 1]!).toBeGreaterThanOrEqual(29);
    expect(deltaStampMs('no stamp here')).toBeUndefined();
  });
});

// `npm run model`: the README's way to try Ash without an Anthropic key.
describe('scripted model as a standalone server (npm run model)', () => {
  const entry = fileURLToPath(new URL('../dist/serve-model.js', import.meta.url));

  it('prints its URL, answers Messages API requests with an echo, and stops on SIGTERM', async () => {
    const child = spawn(process.execPath, [entry, '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      let out = '';
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
          if (m) resolve(m[1]!);
        });
        child.once('exit', () => reject(new Error(`exited before listening: ${out}`)));
      });
      const res = await fetch(`${url}/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': 'sk-ant-anything' },
        body: JSON.stringify({
          model: 'claude-sonnet-4-5',
          max_tokens: 100,
          messages: [{ role: 'user', content: 'hello there' }],
        }),
      });
      expect(res.status).toBe(200);
      expect(JSON.stringify(await res.json())).toContain('Echo: hello there');
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('refuses a bad port with its usage, exit 2', async () => {
    const child = spawn(process.execPath, [entry, 'abc'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    expect(await new Promise((resolve) => child.once('exit', (code) => resolve(code)))).toBe(2);
    expect(err).toMatch(/usage: npm run model/);
  });
});
