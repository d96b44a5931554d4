import type { Readable } from 'node:stream';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AgentFilesBody, CheckoutBody, RunnerEgressReportBody } from '@ash-ai/shared';
import {
  applyDelta,
  DeltaError,
  diffManifests,
  packDelta,
  scanManifest,
  type SyncRoots,
} from '@ash-ai/runner';
import type { Logger } from 'pino';
import type { Repos, SessionRecord } from '../../db/repos/index.js';
import { AppError, notFound } from '../../errors.js';
import type { SessionPaths } from '../sessions/session-paths.js';
import type { RunnerFleet } from './runner-fleet.js';

export interface RunnerLinkDeps {
  repos: Repos;
  paths: SessionPaths;
  fleet: RunnerFleet;
  /** This server's id (the owner of the sessions it placed). */
  ownerId: string;
  /** Largest checkpoint delta accepted, bytes (the session's disk limit is the sandbox's). */
  maxCheckpointBytes: number;
  /**
   * After a checkpoint was applied to this server's copy: store the session's files where other
   * servers find them (S3 snapshot), in the background; absent without S3.
   */
  persist?: (session: SessionRecord) => Promise<void>;
  /** The folder of an agent version here (restored from object storage when needed); undefined when gone. */
  agentDir?: (tenantId: string, name: string, version: number) => Promise<string | undefined>;
  log: Logger;
}

/**
 * The coordinator's side of a runner's writes for its sessions (internal routes): workspace
 * checkout and checkpoints against this server's copy of the session's files (the authoritative
 * copy at rest), and its sandbox's egress reports. Every write is fenced: it must carry the
 * session's current lease generation, from the runner the session is placed on, for a session
 * this server owns — else 409 `lease_lost` and nothing is stored.
 */
export class RunnerLinkService {
  /** Background snapshot stores per session (one at a time; the latest checkpoint wins). */
  private readonly persisting = new Map<string, { running: Promise<void>; again: boolean }>();

  constructor(private readonly deps: RunnerLinkDeps) {}

  private roots(sessionId: string): SyncRoots {
    return {
      workspace: this.deps.paths.workspace(sessionId),
      claude: this.deps.paths.claudeConfig(sessionId),
    };
  }

  /**
   * The session, when `generation` is its current lease from `runnerId` (when named) and this
   * server owns it. @throws AppError 404 `session_not_found`, 409 `lease_lost`.
   */
  private async leased(
    sessionId: string,
    generation: number,
    runnerId: string | undefined,
  ): Promise<SessionRecord> {
    const s = await this.deps.repos.sessions.getInternal(sessionId);
    if (!s) throw notFound('session_not_found', 'Session', sessionId);
    if (
      s.leaseGeneration !== generation ||
      s.ownerId !== this.deps.ownerId ||
      (runnerId !== undefined && s.runnerId !== runnerId) ||
      s.status === 'ended'
    )
      throw new AppError(
        'lease_lost',
        `the lease of session '${sessionId}' moved on (generation ${s.leaseGeneration}, not ${generation}); nothing was stored`,
      );
    return s;
  }

  /**
   * A workspace delta bringing the runner's copy (its manifest) up to this server's.
   * @throws AppError 404, 409 `lease_lost`.
   */
  async checkout(sessionId: string, body: CheckoutBody, runnerId: string | undefined): Promise<Readable> {
    await this.leased(sessionId, body.generation, runnerId);
    const roots = this.roots(sessionId);
    const want = await scanManifest(roots);
    return packDelta(roots, want, diffManifests(body.manifest, want));
  }

  /**
   * The files of an agent version as a workspace delta (every file, `workspace/<rel>`): what a
   * runner fills a warm spare's workspace with.
   * @throws AppError 404 `agent_not_found` when that version is not here (nor in object storage).
   */
  async agentFiles(body: AgentFilesBody): Promise<Readable> {
    const dir = await this.deps.agentDir?.(body.tenantId, body.agent, body.version);
    if (!dir) throw notFound('agent_not_found', 'Agent', body.agent);
    // An agent has no CLAUDE_CONFIG_DIR of its own: an empty folder stands for it.
    const empty = await mkdtemp(join(tmpdir(), 'ash-agent-files-'));
    const roots: SyncRoots = { workspace: dir, claude: empty };
    try {
      const want = await scanManifest(roots);
      const delta = packDelta(roots, want, diffManifests({}, want));
      delta.once('close', () => void rm(empty, { recursive: true, force: true }));
      return delta;
    } catch (err) {
      await rm(empty, { recursive: true, force: true });
      throw err;
    }
  }

  /**
   * Applies a checkpoint delta to this server's copy of the session's files, then (with S3)
   * stores the snapshot in the background.
   * @throws AppError 409 `lease_lost`, 400 `validation_failed` (a malformed or unsafe delta).
   */
  async checkpoint(
    sessionId: string,
    generation: number,
    runnerId: string | undefined,
    body: Readable,
  ): Promise<{ files: number; deleted: number; bytes: number }> {
    const session = await this.leased(sessionId, generation, runnerId);
    let applied: { files: number; deleted: number; bytes: number };
    try {
      applied = await applyDelta(this.roots(sessionId), body, { maxBytes: this.deps.maxCheckpointBytes });
    } catch (err) {
      body.resume();
      if (err instanceof DeltaError)
        throw new AppError('validation_failed', `the checkpoint was refused: ${err.message}`);
      throw err;
    }
    this.deps.log.debug({ sessionId, ...applied }, 'checkpoint applied');
    this.persistSoon(session);
    return applied;
  }

  /**
   * Connections the session's sandbox made on its runner: they become the session's egress
   * events, metrics and usage exactly like a local sandbox's.
   * @throws AppError 409 `lease_lost` (also when this server no longer tracks the placement).
   */
  async egress(
    sessionId: string,
    generation: number,
    runnerId: string | undefined,
    body: RunnerEgressReportBody,
  ): Promise<void> {
    const session = await this.leased(sessionId, generation, runnerId);
    const client = session.runnerId ? this.deps.fleet.client(session.runnerId) : undefined;
    if (
      !client ||
      client.generationOf(sessionId) !== generation ||
      !client.reportEgress(sessionId, body.connections)
    )
      throw new AppError('lease_lost', `session '${sessionId}' is not placed on this runner by this server`);
  }

  private persistSoon(session: SessionRecord): void {
    const persist = this.deps.persist;
    if (!persist) return;
    const current = this.persisting.get(session.id);
    if (current) {
      current.again = true;
      return;
    }
    const entry = { running: Promise.resolve(), again: false };
    entry.running = (async () => {
      do {
        entry.again = false;
        const fresh = (await this.deps.repos.sessions.getInternal(session.id)) ?? session;
        await persist(fresh).catch((err: unknown) =>
          this.deps.log.warn({ err, sessionId: session.id }, 'could not store the snapshot of a checkpoint'),
        );
      } while (entry.again);
    })().finally(() => this.persisting.delete(session.id));
    this.persisting.set(session.id, entry);
  }

  /** Waits for the background snapshot stores (shutdown). */
  async settled(): Promise<void> {
    await Promise.all([...this.persisting.values()].map((e) => e.running));
  }
}
