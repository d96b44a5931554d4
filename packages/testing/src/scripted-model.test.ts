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
