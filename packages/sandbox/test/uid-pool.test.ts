import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { removeDir, tempDir } from '@ash-ai/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { KeyedLock } from '../src/keyed-lock.js';
import { UidPool } from '../src/uid-pool.js';

describe('UidPool', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) removeDir(dir);
    dir = undefined;
  });

  it('hands out distinct uids, shares the range with another pool through lock files, and takes back a dead server’s', async () => {
    dir = tempDir('ash-uids-');
    const a = new UidPool({ first: 300_000, last: 300_003 }, dir);
    const b = new UidPool({ first: 300_000, last: 300_003 }, dir);
    const taken = [a.acquire(), a.acquire(), b.acquire(), b.acquire()];
    expect(new Set(taken).size).toBe(4);
    for (const uid of taken) expect(readFileSync(join(dir, String(uid)), 'utf8')).toBe(String(process.pid));
    expect(() => a.acquire()).toThrow(/no free sandbox uid/);
    // Released uids are free again, for the other pool too.
    a.release(taken[0]!);
    expect(existsSync(join(dir, String(taken[0])))).toBe(false);
    expect(b.acquire()).toBe(taken[0]);
    // A uid whose server died (its pid is gone) is taken over.
    const dead = spawn('true');
    await new Promise((r) => dead.once('exit', r));
    b.release(taken[3]!);
    writeFileSync(join(dir, String(taken[3])), String(dead.pid));
    expect(a.acquire()).toBe(taken[3]);
    a.releaseAll();
    b.releaseAll();
  });
});

describe('KeyedLock', () => {
  it('runs holders of one key one after the other, other keys freely', async () => {
    const lock = new KeyedLock();
    const order: string[] = [];
    const slow = lock.run('a', async () => {
      order.push('a1 start');
      await new Promise((r) => setTimeout(r, 50));
      order.push('a1 end');
    });
    const other = lock.run('b', async () => void order.push('b'));
    const second = lock.run('a', async () => void order.push('a2'));
    await Promise.all([slow, other, second]);
    expect(order).toEqual(['a1 start', 'b', 'a1 end', 'a2']);
  });
});
