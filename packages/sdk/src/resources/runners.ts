import type { HttpClient } from '../core/http.js';
import { route } from '../internal/route.js';

/** Runners (`ash runner` processes) of a coordinator: `client.runners`. Operators only. */
export class Runners {
  constructor(private readonly http: HttpClient) {}

  /**
   * Asks a runner to drain through its coordinator (`POST /api/internal/runners/:name/drain`):
   * it takes no new session, checkpoints and releases its sessions, and exits once empty.
   * Authenticates with the server's `ASH_INTERNAL_SECRET` instead of an API key.
   * @throws AuthenticationError (wrong secret), NotFoundError (no such runner).
   */
  async drain(name: string, opts: { internalSecret?: string } = {}): Promise<void> {
    await this.http.request('POST', route`/api/internal/runners/${name}/drain`, {
      headers: { authorization: opts.internalSecret ? `Bearer ${opts.internalSecret}` : '' },
    });
  }
}
