import type { CreateCredentialBody, Credential, CredentialType, UpdateCredentialBody } from '@ash-ai/shared';
import type { HttpClient } from '../core/http.js';
import { route } from '../internal/route.js';

/**
 * Stored provider keys: `client.credentials`. Values are write-only: no call returns them. Use
 * one with `client.sessions.create(agent, { credentialId })`.
 */
export class Credentials {
  constructor(private readonly http: HttpClient) {}

  /**
   * Stores a credential. `bedrock` keys are JSON `{accessKeyId, secretAccessKey, region, sessionToken?}`.
   * @throws ServiceUnavailableError (`feature_unavailable`) when the server has no ASH_CREDENTIAL_KEY.
   */
  async create(body: CreateCredentialBody): Promise<Credential> {
    return (await this.http.request<{ credential: Credential }>('POST', '/api/credentials', { body }))
      .credential;
  }

  async list(): Promise<Credential[]> {
    return (await this.http.request<{ credentials: Credential[] }>('GET', '/api/credentials')).credentials;
  }

  /** @throws NotFoundError */
  async get(id: string): Promise<Credential> {
    return (await this.http.request<{ credential: Credential }>('GET', route`/api/credentials/${id}`))
      .credential;
  }

  /** Relabels or switches a credential on/off. @throws NotFoundError */
  async update(id: string, body: UpdateCredentialBody): Promise<Credential> {
    return (
      await this.http.request<{ credential: Credential }>('PATCH', route`/api/credentials/${id}`, { body })
    ).credential;
  }

  /** @throws NotFoundError */
  async delete(id: string): Promise<void> {
    await this.http.request('DELETE', route`/api/credentials/${id}`);
  }

  /** Upstream-compatible shape of {@link create}. */
  store(type: CredentialType, key: string, label?: string): Promise<Credential> {
    return this.create({ type, key, ...(label ? { label } : {}) });
  }
}
