import type { Readable } from 'node:stream';
import { Agent, request, type Dispatcher } from 'undici';
import {
  type AgentFilesBody,
  GENERATION_HEADER,
  RUNNER_HEADER,
  type CheckoutBody,
  type RunnerEgressReportBody,
  type RunnerEvictedBody,
  type RunnerHeartbeatAnswer,
  type RunnerReport,
} from '@ash-ai/shared';

/** A coordinator answered with an error (its problem `code` when it sent one), or could not be reached (status 0). */
export class CoordinatorError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = 'CoordinatorError';
  }

  /** The coordinator refused a write for a lease generation that is not the session's current one. */
  get leaseLost(): boolean {
    return this.status === 409 && this.code === 'lease_lost';
  }
}

/**
 * The runner's calls to coordinators (paths of `packages/shared/src/runner-link.ts`): each one
 * authenticated with the shared secret, named by the runner's id, and bounded by a timeout
 * (`requestTimeoutMs` for plain calls; `transferTimeoutMs` of silence for workspace deltas).
 */
export class CoordinatorLink {
  private readonly dispatcher: Dispatcher;

  constructor(
    private readonly opts: {
      runnerId: string;
      secret: string;
      requestTimeoutMs: number;
      transferTimeoutMs: number;
    },
  ) {
    this.dispatcher = new Agent({ keepAliveTimeout: 30_000, connect: { timeout: opts.requestTimeoutMs } });
  }

  /** `POST /api/internal/runners/register`. @throws CoordinatorError */
  async register(base: string, body: Record<string, unknown>): Promise<void> {
    await this.json(base, '/api/internal/runners/register', body);
  }

  /** `POST /api/internal/runners/heartbeat`. @throws CoordinatorError (404: register again) */
  async heartbeat(base: string, report: RunnerReport): Promise<RunnerHeartbeatAnswer> {
    const answer = (await this.json(base, '/api/internal/runners/heartbeat', {
      runnerId: this.opts.runnerId,
      activeCount: report.live,
      report,
    })) as Partial<RunnerHeartbeatAnswer> | undefined;
    return { ok: true, foreign: answer?.foreign ?? [], drain: answer?.drain ?? false };
  }

  /** `POST /api/internal/runners/deregister`. @throws CoordinatorError */
  async deregister(base: string): Promise<void> {
    await this.json(base, '/api/internal/runners/deregister', { runnerId: this.opts.runnerId });
  }

  /** `POST /api/internal/runners/:runnerId/evicted`. @throws CoordinatorError */
  async evicted(base: string, body: RunnerEvictedBody): Promise<void> {
    await this.json(base, `/api/internal/runners/${encodeURIComponent(this.opts.runnerId)}/evicted`, body);
  }

  /** `POST /api/internal/sessions/:id/egress`. @throws CoordinatorError */
  async egress(
    base: string,
    sessionId: string,
    generation: number,
    body: RunnerEgressReportBody,
  ): Promise<void> {
    await this.json(base, `/api/internal/sessions/${encodeURIComponent(sessionId)}/egress`, body, {
      [GENERATION_HEADER]: String(generation),
    });
  }

  /**
   * `POST /api/internal/sessions/:id/checkout`: the delta bringing `manifest` (the runner's copy)
   * up to the coordinator's. The caller must consume or destroy the returned stream.
   * @throws CoordinatorError (409 lease_lost)
   */
  async checkout(base: string, sessionId: string, body: CheckoutBody): Promise<Readable> {
    const res = await this.send(base, `/api/internal/sessions/${encodeURIComponent(sessionId)}/checkout`, {
      body: JSON.stringify(body),
      headers: { 'content-type': 'application/json', [GENERATION_HEADER]: String(body.generation) },
      transfer: true,
    });
    if (res.statusCode !== 200) throw await errorOf(res, 'checkout');
    return res.body;
  }

  /**
   * `POST /api/internal/agents/files`: an agent version's files as a workspace delta (a warm
   * spare's workspace). The caller must consume or destroy the returned stream.
   * @throws CoordinatorError (404 agent_not_found)
   */
  async agentFiles(base: string, body: AgentFilesBody): Promise<Readable> {
    const res = await this.send(base, '/api/internal/agents/files', {
      body: JSON.stringify(body),
      headers: { 'content-type': 'application/json' },
      transfer: true,
    });
    if (res.statusCode !== 200) throw await errorOf(res, 'agent files');
    return res.body;
  }

  /**
   * `POST /api/internal/sessions/:id/checkpoint` with a workspace delta.
   * @throws CoordinatorError (409 lease_lost: fenced)
   */
  async checkpoint(base: string, sessionId: string, generation: number, delta: Readable): Promise<void> {
    const res = await this.send(base, `/api/internal/sessions/${encodeURIComponent(sessionId)}/checkpoint`, {
      body: delta,
      headers: { 'content-type': 'application/x-tar', [GENERATION_HEADER]: String(generation) },
      transfer: true,
    });
    if (res.statusCode >= 300) throw await errorOf(res, 'checkpoint');
    await res.body.dump();
  }

  async close(): Promise<void> {
    await this.dispatcher.close().catch(() => undefined);
  }

  private async json(
    base: string,
    path: string,
    body: unknown,
    headers: Record<string, string> = {},
  ): Promise<unknown> {
    const res = await this.send(base, path, {
      body: JSON.stringify(body),
      headers: { 'content-type': 'application/json', ...headers },
      transfer: false,
    });
    if (res.statusCode >= 300) throw await errorOf(res, path);
    const text = await res.body.text();
    if (!text) return undefined;
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return undefined;
    }
  }

  private async send(
    base: string,
    path: string,
    opts: { body: string | Readable; headers: Record<string, string>; transfer: boolean },
  ): Promise<Dispatcher.ResponseData> {
    const timeout = opts.transfer ? this.opts.transferTimeoutMs : this.opts.requestTimeoutMs;
    try {
      return await request(`${base}${path}`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${this.opts.secret}`,
          [RUNNER_HEADER]: this.opts.runnerId,
          ...opts.headers,
        },
        body: opts.body,
        dispatcher: this.dispatcher,
        headersTimeout: timeout,
        bodyTimeout: timeout,
        // A plain call as a whole is bounded too (a coordinator that trickles bytes).
        ...(opts.transfer ? {} : { signal: AbortSignal.timeout(timeout) }),
      });
    } catch (err) {
      throw new CoordinatorError(
        `${base}${path}: ${err instanceof Error ? err.message : String(err)}`,
        0,
        undefined,
      );
    }
  }
}

async function errorOf(res: Dispatcher.ResponseData, what: string): Promise<CoordinatorError> {
  const text = await res.body.text().catch(() => '');
  let code: string | undefined;
  let detail = text.slice(0, 300);
  try {
    const p = JSON.parse(text) as { code?: string; detail?: string };
    code = p.code;
    detail = p.detail ?? detail;
  } catch {
    // not problem details
  }
  return new CoordinatorError(
    `${what}: ${res.statusCode} ${code ?? ''} ${detail}`.trim(),
    res.statusCode,
    code,
  );
}
