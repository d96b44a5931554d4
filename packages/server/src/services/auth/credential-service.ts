import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { Value } from '@sinclair/typebox/value';
import {
  BedrockKeySchema,
  type BedrockKey,
  type CreateCredentialBody,
  type Credential,
  type UpdateCredentialBody,
} from '@ash-ai/shared';
import type { CredentialRecord, Repos } from '../../db/repos/index.js';
import { AppError, invalidField, notFound } from '../../errors.js';
import type { SecretRegistry } from '../../logger.js';
import { CredentialCipher, CredentialDecryptError, credentialAad } from './credential-crypto.js';

/**
 * What a session gets from its credential. `anthropicKey` goes to the host-side model proxy only;
 * `env` becomes part of the agent's (sandbox-visible) environment.
 */
export interface ResolvedCredential {
  id: string;
  type: CredentialRecord['type'];
  anthropicKey?: string;
  env: Record<string, string>;
  /**
   * The raw value, for a credential bound to a host (the egress proxy's header; host side only).
   * Undefined for bedrock (JSON of several values).
   */
  secret?: string;
}

/** Resolves a session's credential (what SessionService and SessionRuntime depend on). */
export interface CredentialResolver {
  /**
   * @throws AppError 400 `invalid_credential` (unknown, inactive, deleted or another tenant's);
   * 503 `feature_unavailable` (no master key, or a value the master key cannot decrypt).
   */
  resolve(tenantId: string, id: string): Promise<ResolvedCredential>;
}

export interface CredentialServiceDeps {
  repos: Repos;
  /** `ASH_CREDENTIAL_KEY`; undefined switches credentials off (routes answer 503). */
  masterKey: string | undefined;
  secrets: SecretRegistry;
  log: Logger;
}

const DISABLED =
  'credentials are switched off on this server: set ASH_CREDENTIAL_KEY (e.g. the output of `openssl rand -base64 32`) and restart it';

/** The API view of a credential: never its value. */
export function credentialToApi(c: CredentialRecord): Credential {
  return {
    id: c.id,
    type: c.type,
    label: c.label,
    active: c.active,
    createdAt: c.createdAt,
    updatedAt: c.updatedAt,
    lastUsedAt: c.lastUsedAt,
  };
}

/**
 * Stored provider keys of a tenant. Values are encrypted before they reach the database
 * ({@link CredentialCipher}), registered with the log scrubber whenever they are in memory, and
 * never returned by any route.
 */
export class CredentialService implements CredentialResolver {
  private readonly cipher: CredentialCipher | undefined;

  constructor(private readonly deps: CredentialServiceDeps) {
    this.cipher = deps.masterKey ? new CredentialCipher(deps.masterKey) : undefined;
    deps.secrets.add(deps.masterKey);
  }

  get enabled(): boolean {
    return this.cipher !== undefined;
  }

  /**
   * Stores a credential. A `bedrock` key must be the JSON of {@link BedrockKeySchema}.
   * @throws AppError 503 `feature_unavailable`; 400 `validation_failed` for a bad bedrock key.
   */
  async create(tenantId: string, body: CreateCredentialBody): Promise<Credential> {
    const cipher = this.requireCipher();
    this.register(body.type, body.key);
    if (body.type === 'bedrock') parseBedrock(body.key);
    const id = randomUUID();
    const now = new Date().toISOString();
    const sealed = await cipher.seal(body.key, credentialAad({ tenantId, id, type: body.type }));
    const row = await this.deps.repos.credentials.insert({
      id,
      tenantId,
      type: body.type,
      label: body.label ?? null,
      ...sealed,
      active: true,
      createdAt: now,
      updatedAt: now,
    });
    this.deps.log.info({ tenantId, credentialId: id, type: body.type }, 'credential stored');
    return credentialToApi(row);
  }

  async list(tenantId: string): Promise<Credential[]> {
    this.requireCipher();
    return (await this.deps.repos.credentials.list(tenantId)).map(credentialToApi);
  }

  /** @throws AppError 404 `credential_not_found` (same for another tenant's id). */
  async get(tenantId: string, id: string): Promise<Credential> {
    this.requireCipher();
    const row = await this.deps.repos.credentials.get(tenantId, id);
    if (!row) throw notFound('credential_not_found', 'Credential', id);
    return credentialToApi(row);
  }

  private revoked: ((tenantId: string, id: string) => Promise<void>) | undefined;

  /**
   * Sets what happens to live sessions when a credential is deleted or deactivated (the runtime
   * pauses the sessions using it, so no process keeps a revoked key).
   */
  onRevoked(handler: (tenantId: string, id: string) => Promise<void>): void {
    this.revoked = handler;
  }

  /** Relabels or (de)activates. @throws AppError 404 `credential_not_found`. */
  async update(tenantId: string, id: string, body: UpdateCredentialBody): Promise<Credential> {
    this.requireCipher();
    const row = await this.deps.repos.credentials.update(tenantId, id, {
      ...(body.label !== undefined ? { label: body.label } : {}),
      ...(body.active !== undefined ? { active: body.active } : {}),
      now: new Date().toISOString(),
    });
    if (!row) throw notFound('credential_not_found', 'Credential', id);
    if (body.active === false) await this.revoked?.(tenantId, id);
    return credentialToApi(row);
  }

  /** Deletes the credential: sessions using it are paused and can no longer start a sandbox. */
  async delete(tenantId: string, id: string): Promise<void> {
    this.requireCipher();
    if (!(await this.deps.repos.credentials.delete(tenantId, id)))
      throw notFound('credential_not_found', 'Credential', id);
    this.deps.log.info({ tenantId, credentialId: id }, 'credential deleted');
    await this.revoked?.(tenantId, id);
  }

  async resolve(tenantId: string, id: string): Promise<ResolvedCredential> {
    const cipher = this.requireCipher();
    const row = await this.deps.repos.credentials.get(tenantId, id);
    if (!row) throw new AppError('invalid_credential', `credential '${id}' does not exist`);
    if (!row.active)
      throw new AppError('invalid_credential', `credential '${id}' is inactive; activate it or use another`);
    let value: string;
    try {
      value = await cipher.open(row, credentialAad(row));
    } catch (err) {
      if (!(err instanceof CredentialDecryptError)) throw err;
      this.deps.log.error(
        { credentialId: id, err: err.message },
        'a stored credential does not decrypt with ASH_CREDENTIAL_KEY',
      );
      throw new AppError(
        'feature_unavailable',
        'the credential cannot be decrypted with the server’s current ASH_CREDENTIAL_KEY; the operator must restore the key it was stored under (or rotate it with `ash credentials rotate-key`)',
      );
    }
    this.register(row.type, value);
    void this.deps.repos.credentials
      .touch(tenantId, id, new Date().toISOString())
      .catch((err: unknown) => this.deps.log.warn({ err: String(err) }, 'could not record credential use'));
    const out = materialize(row, value);
    if (row.type !== 'bedrock') out.secret = value;
    return out;
  }

  /**
   * Start-up check: when credentials exist, tries to decrypt the newest one, so a wrong master
   * key is reported in the log at start rather than at the first session. Never throws.
   */
  async selfCheck(): Promise<void> {
    try {
      const all = await this.deps.repos.credentials.listAll();
      const newest = all.at(-1);
      if (!newest) return;
      if (!this.cipher) {
        this.deps.log.warn(
          { credentials: all.length },
          'credentials are stored but ASH_CREDENTIAL_KEY is unset: sessions cannot use them',
        );
        return;
      }
      const value = await this.cipher.open(newest, credentialAad(newest));
      this.register(newest.type, value);
    } catch (err) {
      this.deps.log.error(
        { err: err instanceof Error ? err.message : String(err) },
        'stored credentials do not decrypt with ASH_CREDENTIAL_KEY: it is not the key they were stored under',
      );
    }
  }

  private requireCipher(): CredentialCipher {
    if (!this.cipher) throw new AppError('feature_unavailable', DISABLED);
    return this.cipher;
  }

  /** Registers a value (and, for bedrock, each of its parts) with the log scrubber. */
  private register(type: CredentialRecord['type'], value: string): void {
    this.deps.secrets.add(value);
    if (type !== 'bedrock') return;
    try {
      const parsed = JSON.parse(value) as Record<string, unknown>;
      for (const v of Object.values(parsed)) if (typeof v === 'string') this.deps.secrets.add(v);
    } catch {
      // not JSON: rejected by parseBedrock
    }
  }
}

/** @throws AppError 400 `validation_failed` naming `/body/key`. */
function parseBedrock(key: string): BedrockKey {
  let parsed: unknown;
  try {
    parsed = JSON.parse(key);
  } catch {
    throw invalidField(
      '/body/key',
      'a bedrock key must be JSON {accessKeyId, secretAccessKey, region, sessionToken?}',
    );
  }
  if (!Value.Check(BedrockKeySchema, parsed)) {
    const first = [...Value.Errors(BedrockKeySchema, parsed)][0];
    throw invalidField(
      `/body/key${first?.path ?? ''}`,
      `a bedrock key must be JSON {accessKeyId, secretAccessKey, region, sessionToken?}${first ? `: ${first.message}` : ''}`,
    );
  }
  return parsed;
}

/** Maps a credential to what a session gets (upstream Ash's mapping; anthropic stays on the host). */
function materialize(row: CredentialRecord, value: string): ResolvedCredential {
  switch (row.type) {
    case 'anthropic':
      return { id: row.id, type: row.type, anthropicKey: value, env: {} };
    case 'openai':
      return { id: row.id, type: row.type, env: { OPENAI_API_KEY: value } };
    case 'custom':
      return { id: row.id, type: row.type, env: { ASH_CUSTOM_API_KEY: value } };
    case 'bedrock': {
      const b = JSON.parse(value) as BedrockKey;
      return {
        id: row.id,
        type: row.type,
        env: {
          CLAUDE_CODE_USE_BEDROCK: '1',
          AWS_ACCESS_KEY_ID: b.accessKeyId,
          AWS_SECRET_ACCESS_KEY: b.secretAccessKey,
          AWS_REGION: b.region,
          ...(b.sessionToken ? { AWS_SESSION_TOKEN: b.sessionToken } : {}),
        },
      };
    }
  }
}
