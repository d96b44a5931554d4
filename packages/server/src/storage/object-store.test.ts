import { createServer } from 'node:net';
import { Readable } from 'node:stream';
import { join } from 'node:path';
import { removeDir, startTestS3, tempDir, type TestS3 } from '@ash-ai/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalObjectStore } from './local-object-store.js';
import { type ObjectStore, StorageError, readAll } from './object-store.js';
import { S3ObjectStore } from './s3-object-store.js';

/**
 * The storage contract: one suite, run against every implementation (the local disk and a real
 * S3-compatible server).
 */
function contract(name: string, make: () => Promise<{ store: ObjectStore; done: () => Promise<void> }>) {
  describe(`object storage contract: ${name}`, () => {
    let store: ObjectStore;
    let done: () => Promise<void>;
    beforeAll(async () => {
      ({ store, done } = await make());
      await store.check();
    });
    afterAll(async () => {
      await store.close();
      await done();
    });

    it('puts and gets buffers and streams byte-identically, and overwrites', async () => {
      const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      expect(await store.put('c/one.bin', bytes)).toEqual({ size: 256 });
      expect(await readAll((await store.get('c/one.bin'))!)).toEqual(bytes);
      const big = Buffer.alloc(3 * 1024 * 1024 + 17, 0xab);
      const chunks = [big.subarray(0, 1000), big.subarray(1000, 2_000_000), big.subarray(2_000_000)];
      expect(
        await store.put('c/big.bin', Readable.from(chunks), { contentType: 'application/gzip' }),
      ).toEqual({
        size: big.length,
      });
      expect((await readAll((await store.get('c/big.bin'))!)).equals(big)).toBe(true);
      await store.put('c/one.bin', Buffer.from('replaced'));
      expect((await readAll((await store.get('c/one.bin'))!)).toString()).toBe('replaced');
    });

    it('reports missing keys as undefined/false, deletes idempotently', async () => {
      expect(await store.get('c/missing')).toBeUndefined();
      expect(await store.exists('c/missing')).toBe(false);
      await store.put('c/gone.txt', Buffer.from('x'));
      expect(await store.exists('c/gone.txt')).toBe(true);
      await store.delete('c/gone.txt');
      await store.delete('c/gone.txt');
      expect(await store.exists('c/gone.txt')).toBe(false);
      expect(await store.get('c/gone.txt')).toBeUndefined();
    });

    it('lists by prefix, sorted, with sizes', async () => {
      await store.put('l/a/1.txt', Buffer.from('1'));
      await store.put('l/a/2.txt', Buffer.from('22'));
      await store.put('l/ab/3.txt', Buffer.from('333'));
      await store.put('l/b.txt', Buffer.from('4444'));
      const all = await store.list('l/');
      expect(all.map((o) => [o.key, o.size])).toEqual([
        ['l/a/1.txt', 1],
        ['l/a/2.txt', 2],
        ['l/ab/3.txt', 3],
        ['l/b.txt', 4],
      ]);
      expect((await store.list('l/a/')).map((o) => o.key)).toEqual(['l/a/1.txt', 'l/a/2.txt']);
      expect((await store.list('l/a')).map((o) => o.key)).toEqual(['l/a/1.txt', 'l/a/2.txt', 'l/ab/3.txt']);
      expect(await store.list('nothing/')).toEqual([]);
      for (const o of all) expect(Date.parse(o.lastModified)).not.toBeNaN();
    });

    it('keeps the previous object when a streamed put fails', async () => {
      await store.put('c/atomic.txt', Buffer.from('old'));
      const failing = new Readable({
        read() {
          this.push(Buffer.from('partial'));
          this.destroy(new Error('source broke'));
        },
      });
      await expect(store.put('c/atomic.txt', failing)).rejects.toBeInstanceOf(StorageError);
      expect((await readAll((await store.get('c/atomic.txt'))!)).toString()).toBe('old');
    });

    it('refuses keys it did not build (no traversal through keys)', async () => {
      for (const bad of ['../x', 'a/../../x', '/abs', 'a//b', 'a/./b', 'sp ace', '']) {
        await expect(store.put(bad, Buffer.from('x'))).rejects.toThrow(/invalid storage key/);
      }
    });
  });
}

contract('local disk', async () => {
  const dir = tempDir('ash-store-');
  return { store: new LocalObjectStore(join(dir, 'storage')), done: async () => removeDir(dir) };
});

let s3: TestS3 | undefined;
contract('S3 (s3rver)', async () => {
  s3 = await startTestS3();
  const spool = tempDir('ash-spool-');
  return {
    store: new S3ObjectStore({
      bucket: s3.bucket,
      prefix: 'tenant-prefix',
      endpoint: s3.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      spoolDir: spool,
    }),
    done: async () => {
      await s3?.close();
      removeDir(spool);
    },
  };
});

describe('S3 failures', () => {
  it('bounds every operation against an endpoint that accepts connections and never answers', async () => {
    let connections = 0;
    const held: import('node:net').Socket[] = [];
    const hang = createServer((sock) => {
      connections++;
      held.push(sock);
      sock.resume();
      sock.on('error', () => undefined);
    });
    await new Promise<void>((r) => hang.listen(0, '127.0.0.1', r));
    const spool = tempDir('ash-spool-');
    const store = new S3ObjectStore({
      bucket: 'b',
      endpoint: `http://127.0.0.1:${(hang.address() as { port: number }).port}`,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      spoolDir: spool,
      timeoutMs: 200,
      maxAttempts: 2,
    });
    try {
      const ops: Array<[string, () => Promise<unknown>]> = [
        ['check', () => store.check()],
        ['put buffer', () => store.put('a/b', Buffer.from('x'))],
        ['put stream', () => store.put('a/c', Readable.from([Buffer.alloc(100_000, 1)]))],
        ['get', () => store.get('a/b')],
        ['exists', () => store.exists('a/b')],
        ['list', () => store.list('a/')],
        ['delete', () => store.delete('a/b')],
      ];
      for (const [name, op] of ops) {
        const before = connections;
        const start = Date.now();
        await expect(op(), name).rejects.toBeInstanceOf(StorageError);
        expect(Date.now() - start, name).toBeLessThan(2000);
        // Two attempts, each on a fresh connection (the held one never answers).
        expect(connections - before, name).toBeLessThanOrEqual(2);
      }
    } finally {
      await store.close();
      for (const s of held) s.destroy();
      await new Promise<void>((r) => hang.close(() => r()));
      removeDir(spool);
    }
  });

  it('turns an unreachable endpoint or a missing bucket into StorageError', async () => {
    const spool = tempDir('ash-spool-');
    const dead = new S3ObjectStore({
      bucket: 'nope',
      endpoint: 'http://127.0.0.1:9',
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      spoolDir: spool,
    });
    await expect(dead.check()).rejects.toBeInstanceOf(StorageError);
    await expect(dead.put('a', Buffer.from('x'))).rejects.toBeInstanceOf(StorageError);
    await dead.close();
    const real = await startTestS3();
    const missing = new S3ObjectStore({
      bucket: 'no-such-bucket',
      endpoint: real.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      spoolDir: spool,
    });
    await expect(missing.check()).rejects.toBeInstanceOf(StorageError);
    await missing.close();
    await real.close();
    removeDir(spool);
  });
});
