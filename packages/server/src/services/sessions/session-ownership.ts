import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { Logger } from 'pino';
import type { Repos, SessionRecord } from '../../db/repos/index.js';
import { AppError, notFound } from '../../errors.js';
import type { SessionPaths } from './session-paths.js';
import type { WorkspaceSnapshots } from '../files/workspace-snapshots.js';

/**
 * True when another server owns the session and its lease is current: its sandbox may be running
 * there, so this server must neither run nor change the session.
 */
export function ownedElsewhere(s: SessionRecord, me: string, leaseMs: number, now = Date.now()): boolean {
  if (!s.ownerId || s.ownerId === me || !s.ownerHeartbeatAt) return false;
  return Date.parse(s.ownerHeartbeatAt) > now - leaseMs;
}

/** 409 `session_owned_elsewhere`, with `Retry-After` = when the owner's lease would run out. */
export function ownedElsewhereError(s: SessionRecord, leaseMs: number, now = Date.now()): AppError {
  const left = s.ownerHeartbeatAt ? Date.parse(s.ownerHeartbeatAt) + leaseMs - now : leaseMs;
  return new AppError(
    'session_owned_elsewhere',
    `session '${s.id}' is live on another server (${s.ownerId}); send the request to that server, or retry after it paused the session`,
    { headers: { 'Retry-After': String(Math.max(1, Math.ceil(left / 1000))) } },
  );
}

/**
 * Closes a turn whose server stopped (crashed, or its lease ran out) with `error` + `done`, so
 * clients and history see how it ended, and releases the turn slot.
 */
export async function closeInterruptedTurn(repos: Repos, s: SessionRecord, log: Logger): Promise<void> {
  if (!s.activeTurnId) return;
  const counters = await repos.history.maxSequences(s.id);
  const now = new Date().toISOString();
  const turnId = s.activeTurnId;
  // The slot is released first, reserving the two numbers, and only by one caller: two servers
  // (or requests) closing the same turn cannot both write its end.
  const won = await repos.sessions.releaseTurn(
    s.id,
    turnId,
    { lastEventSeq: counters.lastEventSeq + 2, lastMessageSeq: counters.lastMessageSeq },
    now,
  );
  if (!won) return;
  await repos.history.insertEvents(
    [
      { type: 'error', data: { error: 'the server stopped during the turn', code: 'sandbox_crashed' } },
      { type: 'done', data: { sessionId: s.id, turnId, outcome: 'error' } },
    ].map((e, i) => ({
      id: randomUUID(),
      tenantId: s.tenantId,
      sessionId: s.id,
      type: e.type,
      data: JSON.stringify(e.data),
      sequence: counters.lastEventSeq + 1 + i,
      turnId,
      createdAt: now,
    })),
  );
  log.warn({ sessionId: s.id, turnId }, 'closed a turn interrupted by a server stop');
}

export interface SessionOwnershipDeps {
  repos: Repos;
  /** This server's stable id. */
  ownerId: string;
  /** ASH_OWNER_LEASE_MS. */
  leaseMs: number;
  paths: SessionPaths;
  snapshots: WorkspaceSnapshots;
  log: Logger;
  /** Sessions with a sandbox, a start or a turn on this server. */
  localSessions: () => string[];
  /** Stops this server's sandbox of a session another server took over (or that ended elsewhere). */
  onLost: (sessionId: string) => Promise<void>;
  /** Stores the session's files where other servers find them (S3 snapshot); absent: nothing to do. */
  persist?: (session: SessionRecord) => Promise<void>;
  /**
   * Takes over the open turn of a session just claimed from a dead owner when its runner still
   * runs it (see SessionRuntime.adoptTurn); false: the turn is closed instead. Absent: always closed.
   */
  adoptTurn?: (session: SessionRecord) => Promise<boolean>;
}

/**
 * The single-owner rule of sessions when several servers share one database (and one bucket).
 *
 * A session has at most one owner: the server whose id is in `owner_id`. The owner renews its
 * lease (`owner_heartbeat_at`) every third of ASH_OWNER_LEASE_MS. Another server may run the
 * session only after claiming it with one conditional UPDATE, which succeeds only when the session
 * is released (no owner: paused, stopped, evicted, ended, or its server shut down) or the owner's
 * lease expired (the owner is dead). Claiming brings this server's copy of the files up to date
 * from the stored snapshot; with no files anywhere the claim is refused with 404
 * `workspace_not_found`, and nothing changes.
 */
export class SessionOwnership {
  private timer: NodeJS.Timeout | undefined;
  private renewing: Promise<void> | undefined;
  /** Sessions claimed within the lease: not yet running here, but about to (not released by renew). */
  private readonly recentClaims = new Map<string, number>();
  /** When the last scan for turns of dead owners ran (ms epoch). */
  private lastOrphanScan = 0;

  constructor(private readonly deps: SessionOwnershipDeps) {}

  get ownerId(): string {
    return this.deps.ownerId;
  }

  /** Records that this server just became the owner of a new session (created or forked here). */
  noteClaimed(sessionId: string): void {
    this.recentClaims.set(sessionId, Date.now());
  }

  /** True when another live server owns the session. */
  isOwnedElsewhere(s: SessionRecord): boolean {
    return ownedElsewhere(s, this.deps.ownerId, this.deps.leaseMs);
  }

  /** @throws AppError 409 `session_owned_elsewhere`. */
  assertNotOwnedElsewhere(s: SessionRecord): void {
    if (this.isOwnedElsewhere(s)) throw ownedElsewhereError(s, this.deps.leaseMs);
  }

  /**
   * Makes this server the session's owner so it can run it: atomic, and the files are restored
   * from the stored snapshot when this server's copy is missing or older. A turn the previous
   * (dead) owner left open is closed. Returns the current row.
   * @throws AppError 409 `session_owned_elsewhere`, 404 `workspace_not_found`, 503 `storage_unavailable`.
   */
  async claim(s: SessionRecord): Promise<SessionRecord> {
    const { repos, ownerId, leaseMs, snapshots, paths } = this.deps;
    if (s.ownerId === ownerId) return s;
    this.assertNotOwnedElsewhere(s);
    const hasLocal = existsSync(paths.workspace(s.id));
    // A dead owner's turn on a runner: the runner holds the files (its checkpoint after the turn
    // brings this server's copy up to them), none need be here or stored.
    const adoptable = !!(s.ownerId && s.activeTurnId && s.runnerId && this.deps.adoptTurn);
    // Checked before claiming: a refused takeover changes nothing.
    if (!hasLocal && !s.snapshotKey && !adoptable) throw this.noWorkspace(s);
    const now = Date.now();
    // Before the claim: the lease renewal must not release (and snapshot) a session whose files
    // are still being restored here.
    this.recentClaims.set(s.id, now);
    const claimed = await repos.sessions.claimOwnership(
      s.tenantId,
      s.id,
      ownerId,
      new Date(now).toISOString(),
      new Date(now - leaseMs).toISOString(),
    );
    if (!claimed) {
      const current = await repos.sessions.get(s.tenantId, s.id);
      if (!current) throw notFound('session_not_found', 'Session', s.id);
      throw ownedElsewhereError(current, leaseMs);
    }
    let noFiles = false;
    try {
      const restored = await snapshots.restore(claimed, { replace: true });
      noFiles = !restored && !existsSync(paths.workspace(s.id));
      if (noFiles && !adoptable) throw this.noWorkspace(s);
      if (!restored && (await snapshots.localIsStale(claimed)))
        this.deps.log.warn({ sessionId: s.id }, 'the stored snapshot is missing: using the older local copy');
    } catch (err) {
      // Give the session back as it was (to its previous, dead owner or to nobody).
      await repos.sessions
        .releaseOwnership(s.id, ownerId, { ownerId: s.ownerId, ownerHeartbeatAt: s.ownerHeartbeatAt })
        .catch(() => undefined);
      throw err;
    }
    this.recentClaims.set(s.id, Date.now());
    if (s.ownerId) this.deps.log.info({ sessionId: s.id, from: s.ownerId }, 'session taken over');
    // A turn is only ever run by the owner: the one the previous (dead) owner left open is taken
    // over when its runner still runs it, else closed (not one this server started meanwhile:
    // its id differs).
    if (s.ownerId && s.activeTurnId && claimed.activeTurnId === s.activeTurnId) {
      const adopted = await (this.deps.adoptTurn?.(claimed) ?? Promise.resolve(false)).catch(
        (err: unknown) => {
          this.deps.log.warn({ err, sessionId: s.id }, 'could not take over the turn of a dead owner');
          return false;
        },
      );
      if (!adopted) {
        await closeInterruptedTurn(repos, claimed, this.deps.log);
        if (noFiles) {
          // Neither the runner nor storage has the files: give the session back as it was.
          await repos.sessions
            .releaseOwnership(s.id, ownerId, { ownerId: s.ownerId, ownerHeartbeatAt: s.ownerHeartbeatAt })
            .catch(() => undefined);
          throw this.noWorkspace(s);
        }
      }
    }
    return (await repos.sessions.get(s.tenantId, s.id)) ?? claimed;
  }

  /**
   * For an operation on the session's files that does not run it (file reads and writes, fork,
   * snapshot). Refuses when another live server owns it. Reads on a session this server does not
   * own see the latest stored files. A write claims the session for its duration: call the
   * returned `finish` when done; it stores the changed files (snapshot) and releases the claim.
   * @throws AppError 409 `session_owned_elsewhere`, 404 `workspace_not_found`, 503.
   */
  async forFiles(s: SessionRecord, intent: 'read' | 'write'): Promise<{ finish: () => Promise<void> }> {
    const none = { finish: async () => undefined };
    this.assertNotOwnedElsewhere(s);
    if (s.ownerId === this.deps.ownerId) return none;
    if (intent === 'read') {
      await this.deps.snapshots.restore(s, { replace: true });
      return none;
    }
    const claimed = await this.claim(s);
    return {
      finish: async () => {
        try {
          await this.deps.persist?.(claimed);
        } finally {
          // Unless the session started running here meanwhile.
          if (!this.deps.localSessions().includes(s.id))
            await this.deps.repos.sessions.releaseOwnership(s.id, this.deps.ownerId);
        }
      },
    };
  }

  /**
   * Closes the turn a dead owner left open on a session this server changes without claiming it
   * (pause, end).
   */
  async closeDeadOwnersTurn(s: SessionRecord): Promise<void> {
    if (s.activeTurnId && s.ownerId !== this.deps.ownerId && !this.isOwnedElsewhere(s))
      await closeInterruptedTurn(this.deps.repos, s, this.deps.log);
  }

  /**
   * For a stream reading a turn a dead owner left open (its lease ran out): claims the session,
   * which takes the turn over when its runner still runs it, else closes it (`error` + `done`).
   * A claim refused (another server was faster, no files anywhere) closes it as before.
   */
  async takeOverDeadOwnersTurn(s: SessionRecord): Promise<void> {
    if (!s.activeTurnId || s.ownerId === this.deps.ownerId || this.isOwnedElsewhere(s)) return;
    if (s.ownerId && s.runnerId && this.deps.adoptTurn) {
      try {
        await this.claim(s);
        return;
      } catch (err) {
        this.deps.log.debug({ err, sessionId: s.id }, 'no takeover of a dead owner’s turn here');
        const current = await this.deps.repos.sessions.get(s.tenantId, s.id);
        if (!current || this.isOwnedElsewhere(current) || current.ownerId === this.deps.ownerId) return;
      }
    }
    await closeInterruptedTurn(this.deps.repos, s, this.deps.log);
  }

  /**
   * Takes over turns left running on runners by servers that died (their lease ran out), with no
   * client asking: at most every lease, a few at a time (see {@link takeOverDeadOwnersTurn}).
   */
  private async adoptOrphans(): Promise<void> {
    const now = Date.now();
    if (!this.deps.adoptTurn || now - this.lastOrphanScan < this.deps.leaseMs) return;
    this.lastOrphanScan = now;
    const rows = await this.deps.repos.sessions.listOrphanedTurns(
      new Date(now - this.deps.leaseMs).toISOString(),
      20,
    );
    for (const s of rows) {
      if (s.ownerId === this.deps.ownerId) continue;
      await this.takeOverDeadOwnersTurn(s).catch((err: unknown) =>
        this.deps.log.warn({ err, sessionId: s.id }, 'could not take over an orphaned turn'),
      );
    }
  }

  /** Starts renewing the lease of the sessions this server owns. */
  start(): void {
    const every = Math.max(100, Math.floor(this.deps.leaseMs / 3));
    this.timer = setInterval(() => {
      this.renewing ??= this.renew()
        .then(() => this.adoptOrphans())
        .catch((err: unknown) => this.deps.log.warn({ err }, 'could not renew session leases'))
        .finally(() => {
          this.renewing = undefined;
        });
    }, every);
    this.timer.unref();
  }

  /** Stops renewing (shutdown). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.renewing;
  }

  /**
   * Renews this server's leases. A session running here that this server no longer owns (ended
   * on another server, or taken over after this server missed its lease) has its sandbox stopped.
   */
  async renew(): Promise<void> {
    const { repos, ownerId, log } = this.deps;
    const local = this.deps.localSessions();
    const rows = await repos.sessions.renewOwnership(ownerId, new Date().toISOString());
    const owned = new Set(rows.map((r) => r.id));
    for (const id of local) {
      if (owned.has(id)) continue;
      // Read again: the session may have been released and claimed again here meanwhile.
      if ((await repos.sessions.getInternal(id))?.ownerId === ownerId) continue;
      log.warn({ sessionId: id }, 'this server no longer owns the session: stopping its sandbox');
      await this.deps.onLost(id).catch((err: unknown) => log.warn({ err, sessionId: id }, 'stop failed'));
    }
    // Owned but not running here (a claim whose request then failed, a release whose snapshot
    // failed): store the files and release, so the session does not stay locked to this server.
    const now = Date.now();
    for (const [id, at] of this.recentClaims) if (now - at > this.deps.leaseMs) this.recentClaims.delete(id);
    const current = new Set(this.deps.localSessions());
    for (const r of rows) {
      if (current.has(r.id) || this.recentClaims.has(r.id)) continue;
      const s = await repos.sessions.get(r.tenantId, r.id);
      if (!s || s.ownerId !== ownerId || s.activeTurnId) continue;
      try {
        if (existsSync(this.deps.paths.workspace(s.id))) await this.deps.persist?.(s);
        await repos.sessions.releaseOwnership(s.id, ownerId);
        log.info({ sessionId: s.id }, 'released a session not running on this server');
      } catch (err) {
        log.warn({ err, sessionId: s.id }, 'could not store the files of an idle owned session; keeping it');
      }
    }
  }

  private noWorkspace(s: SessionRecord): AppError {
    return new AppError(
      'workspace_not_found',
      `session '${s.id}' has no workspace on this server and no snapshot in storage: the server that ran it stopped without storing one`,
    );
  }
}
