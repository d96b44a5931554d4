import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { SerializerSelector } from '@fastify/fast-json-stringify-compiler';
import { HealthSchema, PoolStatsSchema, type Health } from '@ash-ai/shared';
import { findNul, projectingSerializer, type SerializerFactory } from './validation.js';

describe('findNul (the NUL refusal of every request part)', () => {
  it('names the first string or key holding a NUL as a JSON pointer', () => {
    expect(findNul({ a: 'x', env: { TOKEN: 'v\u0000' } })).toBe('/env/TOKEN');
    expect(findNul({ files: [{ path: 'ok' }, { path: 'a\u0000' }] })).toBe('/files/1/path');
    expect(findNul({ 'a/b~c': { 'k\u0000': 1 } })).toBe('/a~1b~0c/k\u0000');
    expect(findNul('top\u0000')).toBe('/');
    expect(findNul({ a: ['x', 1, null, true, { b: 'fine' }] })).toBeUndefined();
    // Objects with a null prototype, or a prototype of their own without one (query strings).
    const bare = Object.assign(Object.create(null), { q: 'a\u0000' });
    function Empty() {}
    Empty.prototype = Object.create(null);
    const query = Object.assign(Object.create(Empty.prototype), { path: 'a\u0000b' });
    expect(findNul(bare)).toBe('/q');
    expect(findNul(query)).toBe('/path');
  });

  it('walks only parsed JSON: a raw body stream or a Buffer is not walked (and cannot hang it)', () => {
    const stream = new PassThrough();
    const started = Date.now();
    expect(findNul(stream)).toBeUndefined();
    expect(findNul({ body: stream })).toBeUndefined();
    expect(findNul(Buffer.from([0, 0, 0]))).toBeUndefined();
    expect(Date.now() - started).toBeLessThan(100);
    stream.destroy();
  });
});

describe('projectingSerializer (/health without a compiled serializer)', () => {
  it('writes a health answer exactly as Fastify’s compiled serializer does, extra fields dropped', () => {
    const health: Health & Record<string, unknown> = {
      status: 'degraded',
      reasons: ['the data disk has 10 MB free'],
      version: '1.2.3',
      uptime: 12.7,
      activeSessions: 2,
      activeSandboxes: 1,
      coordinatorId: 'host-42',
      runners: [
        {
          name: 'local',
          local: true,
          url: null,
          labels: {},
          state: 'ok',
          capacity: { max: 4, active: 1, available: 3 },
          liveSessions: 1,
          warm: 0,
          lastHeartbeat: null,
        },
        {
          name: 'r1',
          local: false,
          url: 'http://r1:4200',
          labels: { zone: 'a' },
          state: 'lost',
          capacity: { max: 2, active: 0, available: 0, extra: 1 } as never,
          liveSessions: 0,
          warm: 0,
          lastHeartbeat: '2026-12-03T10:00:00.000Z',
        },
      ],
      pool: {
        ...Object.fromEntries(Object.keys(PoolStatsSchema.properties).map((k, i) => [k, i])),
        internalOnly: 7,
      } as never,
      sandbox: { mode: 'bwrap', limits: 'cgroup-v2', disk: 'poll', warnings: [], more: true } as never,
      warnings: ['ANTHROPIC_API_KEY is not set'],
      uploadLimits: {
        agentBytes: 1,
        messageBytes: 2,
        fileBytes: 3,
        fileBatchBytes: 4,
        attachmentBytes: 5,
        bundleBytes: 6,
      },
      notInTheSchema: 'x',
    };
    const compiled = (SerializerSelector() as SerializerFactory)(
      undefined,
      {},
    )({
      schema: HealthSchema,
      method: 'GET',
      url: '/health',
      httpStatus: '200',
    });
    const written = projectingSerializer(HealthSchema)(health);
    expect(written).toBe(compiled(health));
    expect(JSON.parse(written)).not.toHaveProperty('notInTheSchema');
  });
});
