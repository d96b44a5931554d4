import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { BEARER_TOKEN_PATTERN, type ApiKey, type CreatedApiKeyResponse } from '@ash-ai/shared';
import { ConfigError } from '../../config.js';
import type { ApiKeyRecord, Repos } from '../../db/repos/index.js';
import { AppError, notFound } from '../../errors.js';
import type { SecretRegistry } from '../../logger.js';

/** The server's key configuration is unusable; the message says why. */
export class ApiKeyConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ApiKeyConfigError';
  }
}

/** The tenant of keys from `ASH_API_KEY` and of the first key created at start. */
export const DEFAULT_TENANT = 'default';
/** Id under which the `ASH_API_KEY` key is listed. */
export const ENV_KEY_ID = 'env';
/** File the first key is written to, in the data dir (mode 0600). */
export const INITIAL_KEY_FILE = 'initial-api-key';
/** File the generated hashing secret is kept in, in the data dir (mode 0600). */
export const KEY_HASH_SECRET_FILE = 'key-hash-secret';
/** `last_used_at` is written at most once per this interval per key, ms. */
export const LAST_USED_INTERVAL_MS = 60_000;
/** Characters of a key shown in lists (`ash_` + 4). */
const PREFIX_LENGTH = 8;
const MAX_TOKEN_LENGTH = 512;
const TOKEN_RE = new RegExp(BEARER_TOKEN_PATTERN);

/** A new random key: `ash_` + base64url of 24 random bytes (32 characters). */
export function generateApiKey(): string {
  return `ash_${randomBytes(24).toString('base64url')}`;
}

/**
 * The secret API keys are hashed with: `ASH_KEY_HASH_SECRET`, else the one kept in
 * `<dataDir>/key-hash-secret`, generated (32 random bytes) on first start. It is deliberately not
 * the credential master key: rotating that one must not invalidate every API key.
 * @throws ConfigError when the file exists but is damaged.
 */
export function loadKeyHashSecret(dataDir: string, fromEnv: string | undefined): string {
  if (fromEnv) return fromEnv;
  const file = join(dataDir, KEY_HASH_SECRET_FILE);
  if (existsSync(file)) {
    const s = readFileSync(file, 'utf8').trim();
    if (s.length >= 32) return s;
    // Replacing it would silently invalidate every stored key: refuse instead.
    throw new ConfigError(
      `${file} is damaged (shorter than 32 characters): restore it from a backup, or delete it to invalidate every stored API key`,
    );
  }
  const secret = randomBytes(32).toString('base64url');
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return secret;
}

/** Who a request acts for. */
export interface Principal {
  tenantId: string;
  /** The key's id (`env` for `ASH_API_KEY`). */
  keyId: string;
}

/** The outcome of parsing an `Authorization` header. */
export type ParsedAuthorization =
  | { ok: true; token: string }
  | { ok: false; reason: 'missing' | 'malformed' };

/**
 * Parses `Authorization: Bearer <token>` strictly: the scheme (case-insensitive, RFC 9110 §11.1),
 * exactly one space, then one RFC 6750 §2.1 b64token of at most 512 characters; nothing else.
 */
export function parseAuthorization(header: string | string[] | undefined): ParsedAuthorization {
  if (header === undefined || header === '') return { ok: false, reason: 'missing' };
  if (Array.isArray(header)) return { ok: false, reason: 'malformed' };
  const space = header.indexOf(' ');
  if (space <= 0) return { ok: false, reason: 'malformed' };
  const scheme = header.slice(0, space);
  const token = header.slice(space + 1);
  if (scheme.toLowerCase() !== 'bearer') return { ok: false, reason: 'malformed' };
  if (token.length === 0 || token.length > MAX_TOKEN_LENGTH || !TOKEN_RE.test(token))
    return { ok: false, reason: 'malformed' };
  return { ok: true, token };
}

export interface ApiKeyServiceDeps {
  repos: Repos;
  /** HMAC secret ({@link loadKeyHashSecret}). */
  hashSecret: string;
  /** `ASH_API_KEY`: a key of the default tenant, kept in memory only. */
  envKey: string | undefined;
  secrets: SecretRegistry;
  log: Logger;
}

/**
 * API keys: creation (plaintext returned once, only an HMAC stored), listing, revocation and
 * the per-request lookup. Valid keys are not cached: every request looks its key up by hash
 * (one indexed read), so a revocation by any server sharing the database applies to the very
 * next request.
 */
export class ApiKeyService {
  private readonly envKeyHash: Buffer | undefined;
  /** When this process last wrote `last_used_at` per key id (ms since epoch). */
  private readonly lastTouched = new Map<string, number>();

  constructor(private readonly deps: ApiKeyServiceDeps) {
    this.envKeyHash = deps.envKey ? Buffer.from(this.hash(deps.envKey), 'hex') : undefined;
    deps.secrets.add(deps.envKey);
    deps.secrets.add(deps.hashSecret);
  }

  /** HMAC-SHA256(key, server secret), lowercase hex: what the database stores. */
  hash(key: string): string {
    return createHmac('sha256', this.deps.hashSecret).update(key, 'utf8').digest('hex');
  }

  /**
   * Finds who a bearer token belongs to; undefined when it is no valid key (unknown or revoked).
   * Records the use at most once a minute per key.
   */
  async authenticate(token: string): Promise<Principal | undefined> {
    const h = this.hash(token);
    if (this.envKeyHash && timingSafeEqual(Buffer.from(h, 'hex'), this.envKeyHash))
      return { tenantId: DEFAULT_TENANT, keyId: ENV_KEY_ID };
    const row = await this.deps.repos.apiKeys.findActiveByHash(h);
    if (!row) return undefined;
    this.deps.secrets.add(token);
    this.touch(row);
    return { tenantId: row.tenantId, keyId: row.id };
  }

  /** Creates a key for a tenant. The plaintext is in the result and nowhere else. */
  async create(tenantId: string, label: string | undefined): Promise<CreatedApiKeyResponse> {
    const key = generateApiKey();
    this.deps.secrets.add(key);
    const record = await this.deps.repos.apiKeys.insert({
      id: randomUUID(),
      tenantId,
      keyHash: this.hash(key),
      prefix: key.slice(0, PREFIX_LENGTH),
      label: label ?? null,
      createdAt: new Date().toISOString(),
    });
    this.deps.log.info({ tenantId, keyId: record.id }, 'API key created');
    return { id: record.id, tenantId, key, apiKey: toApi(record) };
  }

  /** The tenant's keys (never the keys themselves); the default tenant also sees the `ASH_API_KEY` entry. */
  async list(tenantId: string): Promise<ApiKey[]> {
    const rows = (await this.deps.repos.apiKeys.list(tenantId)).map(toApi);
    if (tenantId === DEFAULT_TENANT && this.deps.envKey) {
      rows.unshift({
        id: ENV_KEY_ID,
        tenantId,
        keyPrefix: this.deps.envKey.slice(
          0,
          Math.min(PREFIX_LENGTH, Math.floor(this.deps.envKey.length / 4)),
        ),
        label: 'ASH_API_KEY',
        createdAt: null,
        lastUsedAt: null,
      });
    }
    return rows;
  }

  /**
   * Revokes one of the tenant's keys; the next request with it is refused.
   * @throws AppError 404 `api_key_not_found` (unknown, revoked or another tenant's: same answer);
   * 409 `conflict` for the `ASH_API_KEY` entry (unset the variable instead).
   */
  async revoke(tenantId: string, id: string): Promise<void> {
    if (id === ENV_KEY_ID && tenantId === DEFAULT_TENANT && this.deps.envKey)
      throw new AppError(
        'conflict',
        'this key comes from the ASH_API_KEY environment variable; unset it and restart the server to revoke it',
      );
    const done = await this.deps.repos.apiKeys.revoke(tenantId, id, new Date().toISOString());
    if (!done) throw notFound('api_key_not_found', 'API key', id);
    this.lastTouched.delete(id);
    this.deps.log.info({ tenantId, keyId: id }, 'API key revoked');
  }

  /**
   * First start: when no key can reach the default tenant (no `ASH_API_KEY`, no unrevoked key in
   * the database), creates one and writes it to `<dataDir>/initial-api-key` (0600). Logs the
   * file's path, never the key. Returns the path when a key was created.
   */
  async bootstrap(dataDir: string): Promise<string | undefined> {
    if (this.deps.envKey) {
      // A key created through the API (maybe another tenant's, maybe revoked) must not become the
      // default tenant's key just because it sits in the server's environment.
      const existing = await this.deps.repos.apiKeys.findAnyByHash(this.hash(this.deps.envKey));
      if (existing) {
        throw new ApiKeyConfigError(
          'ASH_API_KEY holds a key that was created through the API (a client key, possibly revoked or of another tenant); give the server a key of its own or unset ASH_API_KEY',
        );
      }
      return undefined;
    }
    if (await this.deps.repos.apiKeys.hasActive(DEFAULT_TENANT)) return undefined;
    const created = await this.create(DEFAULT_TENANT, 'initial');
    const file = join(dataDir, INITIAL_KEY_FILE);
    writeFileSync(file, `${created.key}\n`, { mode: 0o600 });
    chmodSync(file, 0o600);
    this.deps.log.info(
      { path: file },
      'created the first API key and wrote it to this file (ash start saves it for the CLI)',
    );
    return file;
  }

  private touch(row: ApiKeyRecord): void {
    const now = Date.now();
    const last = this.lastTouched.get(row.id) ?? (row.lastUsedAt ? Date.parse(row.lastUsedAt) : 0);
    if (now - last < LAST_USED_INTERVAL_MS) return;
    this.lastTouched.set(row.id, now);
    if (this.lastTouched.size > 10_000) this.lastTouched.delete(this.lastTouched.keys().next().value!);
    void this.deps.repos.apiKeys
      .touch(row.id, new Date(now).toISOString(), new Date(now - LAST_USED_INTERVAL_MS).toISOString())
      .catch((err: unknown) =>
        this.deps.log.warn({ keyId: row.id, err: String(err) }, 'could not record API key use'),
      );
  }
}

function toApi(r: ApiKeyRecord): ApiKey {
  return {
    id: r.id,
    tenantId: r.tenantId,
    keyPrefix: r.prefix,
    label: r.label,
    createdAt: r.createdAt,
    lastUsedAt: r.lastUsedAt,
  };
}
