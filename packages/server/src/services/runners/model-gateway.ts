import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createUpstreamDispatcher, handleModelCall, type UpstreamPool } from '@ash-ai/sandbox';
import type { ModelCallHooks } from '@ash-ai/runner';
import type { Logger } from 'pino';

interface GatewaySession {
  sessionId: string;
  hooks: ModelCallHooks;
}

/**
 * The model gateway of this coordinator: the model upstream of the sandboxes of the sessions it
 * placed on remote runners. A runner holds no key: each session's sandbox gets a random gateway
 * token (its `x-api-key`), and the gateway serves each call exactly as a local sandbox's model
 * proxy does (the same handler: Messages API only, admission/budgets, the real key added,
 * metering, tracing) with the session's {@link ModelCallHooks}, which stay here.
 */
export class ModelGateway {
  private readonly byToken = new Map<string, GatewaySession>();
  private readonly tokenOf = new Map<string, string>();
  private readonly dispatcher: UpstreamPool = createUpstreamDispatcher();

  constructor(private readonly opts: { upstreamUrl: string; log: Logger }) {}

  /** A fresh token for the session's sandbox (replacing its previous one). */
  register(sessionId: string, hooks: ModelCallHooks): string {
    this.unregister(sessionId);
    const token = `ash-gw-${randomBytes(32).toString('base64url')}`;
    this.byToken.set(token, { sessionId, hooks });
    this.tokenOf.set(sessionId, token);
    return token;
  }

  /** Revokes the session's token: its (old) sandbox's calls are refused from now on. */
  unregister(sessionId: string): void {
    const token = this.tokenOf.get(sessionId);
    if (token) this.byToken.delete(token);
    this.tokenOf.delete(sessionId);
  }

  /**
   * Serves one request under the gateway path. An unknown token gets an Anthropic-style 401
   * `authentication_error` (the session moved, ended, or the token is forged).
   * @param rawTarget the target after the gateway prefix (`/v1/messages?beta=true`).
   */
  async handle(req: IncomingMessage, res: ServerResponse, rawTarget: string): Promise<void> {
    const key = req.headers['x-api-key'];
    const session = typeof key === 'string' ? this.byToken.get(key) : undefined;
    if (!session) {
      req.resume();
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          type: 'error',
          error: { type: 'authentication_error', message: 'unknown or revoked gateway token' },
        }),
      );
      return;
    }
    const { hooks } = session;
    await handleModelCall(req, res, rawTarget, {
      upstreamUrl: this.opts.upstreamUrl,
      resolveApiKey: () => hooks.resolveApiKey(),
      ...(hooks.onUsage ? { onUsage: (u) => hooks.onUsage!(u) } : {}),
      ...(hooks.admit ? { admit: () => hooks.admit!() } : {}),
      ...(hooks.observe ? { observe: () => hooks.observe!() } : {}),
      dispatcher: this.dispatcher,
      log: this.opts.log,
    });
  }

  async close(): Promise<void> {
    await this.dispatcher.close().catch(() => undefined);
  }
}
