import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type AshDatabase } from '../../db/client.js';
import { createRepos, type Repos } from '../../db/repos/index.js';
import { TurnLog } from './turn-log.js';

// The turn log's single writer against a real SQLite database, whose writes complete without
// any I/O wait: the writer's loop then runs entirely in microtasks, which is where an event
// appended just as the loop ends could be left behind.
describe('TurnLog writer', () => {
  let dir: string;
  let db: AshDatabase;
  let repos: Repos;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ash-turnlog-'));
    db = await openDatabase({ sqlitePath: join(dir, 'ash.db') });
    repos = createRepos(db);
  });
  afterAll(async () => {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stores an event appended at any point of the writer finishing (0–60 microtasks later)', async () => {
    for (let gap = 0; gap <= 60; gap++) {
      const s = await repos.sessions.insert({
        id: randomUUID(),
        tenantId: 't',
        agentName: 'a',
        agentVersion: 1,
        status: 'active',
        parentSessionId: null,
        model: null,
        config: {},
        extraEnv: {},
        credentialId: null,
        lastEventSeq: 0,
        lastMessageSeq: 0,
        now: new Date().toISOString(),
      });
      const log = new TurnLog(
        s.id,
        't',
        'turn',
        { lastEventSeq: 0, lastMessageSeq: 0 },
        repos.history,
        pino({ level: 'silent' }),
      );
      log.emit({ event: 'turn_start', data: { turnId: 'turn' } } as never);
      for (let i = 0; i < gap; i++) await Promise.resolve();
      log.emitFinal({ event: 'done', data: { outcome: 'completed' } } as never);
      log.finish();
      // Subscribers see every event once stored; the stream ends after `done`.
      const seen: number[] = [];
      const reading = (async () => {
        for await (const ev of log.subscribe(0)) seen.push(ev.id);
      })();
      await Promise.race([reading, new Promise((r) => setTimeout(r, 2000))]);
      await log.flush();
      expect(seen, `gap ${gap}`).toEqual([1, 2]);
      expect(log.fullyStored, `gap ${gap}`).toBe(true);
      const stored = await repos.history.listEvents('t', s.id, { after: 0, limit: 10 });
      expect(
        stored.rows.map((e) => e.sequence),
        `gap ${gap}`,
      ).toEqual([1, 2]);
    }
  });
});
