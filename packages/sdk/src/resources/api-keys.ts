import type { ApiKey, CreatedApiKeyResponse } from '@ash-ai/shared';
import type { HttpClient } from '../core/http.js';
import { route } from '../internal/route.js';

/** API keys: `client.apiKeys`. Keys belong to the tenant of the key the client uses. */
export class ApiKeys {
  constructor(private readonly http: HttpClient) {}

  /**
   * Creates a key for your tenant. The plaintext `key` is in this result only: store it now.
   * @example const { key } = await client.apiKeys.create({ label: 'ci' });
   */
  async create(opts: { label?: string } = {}): Promise<CreatedApiKeyResponse> {
    return this.http.request('POST', '/api/api-keys', { body: opts });
  }

  /** Your tenant's keys: prefix, label, created and last-used times; never the keys. */
  async list(): Promise<ApiKey[]> {
    return (await this.http.request<{ keys: ApiKey[] }>('GET', '/api/api-keys')).keys;
  }

  /** Revokes a key; the next request with it gets 401. @throws NotFoundError, ConflictError (the ASH_API_KEY entry). */
  async revoke(id: string): Promise<void> {
    await this.http.request('DELETE', route`/api/api-keys/${id}`);
  }

  /**
   * Operators: creates a key for any tenant through `POST /api/internal/api-keys` (this is how
   * tenants are provisioned). Authenticates with the server's `ASH_INTERNAL_SECRET` instead of
   * an API key (omit it for a loopback-only server started with `ASH_INTERNAL_OPEN=1`).
   * @throws AuthenticationError (wrong secret), PermissionDeniedError (internal routes switched off).
   */
  async createForTenant(
    tenantId: string,
    opts: { label?: string; internalSecret?: string } = {},
  ): Promise<CreatedApiKeyResponse> {
    return this.http.request('POST', '/api/internal/api-keys', {
      body: { tenantId, ...(opts.label ? { label: opts.label } : {}) },
      headers: { authorization: opts.internalSecret ? `Bearer ${opts.internalSecret}` : '' },
    });
  }
}
