import {
  createCipheriv,
  createDecipheriv,
  randomBytes,
  scrypt as scryptCb,
  type ScryptOptions,
} from 'node:crypto';
import type { SealedValue } from '../../db/repos/index.js';

/**
 * Key derivation for credentials: scrypt (RFC 7914) with N = 2^15, r = 8, p = 1 and a 16-byte
 * random salt per credential, giving a 32-byte AES-256 key. Memory cost 128·N·r = 32 MiB per
 * derivation (tens of milliseconds). The parameters are stored with each row (`kdf` column), so
 * they can be raised later without breaking existing rows.
 */
export const CURRENT_KDF = 'scrypt:N=32768,r=8,p=1';

const SALT_BYTES = 16;
/** 96-bit IV: the size GCM is specified for (NIST SP 800-38D §8.2). */
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
/** Bounds on parameters read back from the database. */
const MAX_N = 2 ** 20;
const MAX_R = 32;
const MAX_P = 16;
/** Derived keys kept in memory (per cipher), so a credential is not re-derived on every use. */
const CACHE_ENTRIES = 1024;

/** The value could not be decrypted: another master key, or tampered data. */
export class CredentialDecryptError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CredentialDecryptError';
  }
}

function scrypt(password: string, salt: Buffer, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scryptCb(password, salt, KEY_BYTES, opts, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

/**
 * Parses a `kdf` column (`scrypt:N=…,r=…,p=…`).
 * @throws CredentialDecryptError for an unknown KDF or parameters out of bounds.
 */
export function parseKdf(kdf: string): { N: number; r: number; p: number } {
  const m = /^scrypt:N=(\d+),r=(\d+),p=(\d+)$/.exec(kdf);
  if (!m) throw new CredentialDecryptError(`unknown key derivation '${kdf}'`);
  const [N, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const powerOfTwo = N > 1 && (N & (N - 1)) === 0;
  if (!powerOfTwo || N > MAX_N || r < 1 || r > MAX_R || p < 1 || p > MAX_P)
    throw new CredentialDecryptError(`key derivation parameters out of bounds in '${kdf}'`);
  return { N, r, p };
}

/**
 * AES-256-GCM encryption of credential values under keys derived from one master key
 * (`ASH_CREDENTIAL_KEY`). Each value gets its own random salt (so its own key) and IV; the
 * additional authenticated data binds a ciphertext to its row (tenant, id, type), so a value
 * copied into another row, tenant or type does not decrypt.
 */
export class CredentialCipher {
  private readonly cache = new Map<string, Buffer>();

  /** @param masterKey the master secret; any string (a random 32-byte base64 value is recommended). */
  constructor(private readonly masterKey: string) {}

  /** Encrypts `plaintext` (UTF-8) with a fresh salt and IV under {@link CURRENT_KDF}. */
  async seal(plaintext: string, aad: string): Promise<SealedValue> {
    const salt = randomBytes(SALT_BYTES);
    const key = await this.derive(CURRENT_KDF, salt);
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(aad, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return {
      ciphertext: ciphertext.toString('base64'),
      iv: iv.toString('base64'),
      authTag: cipher.getAuthTag().toString('base64'),
      salt: salt.toString('base64'),
      kdf: CURRENT_KDF,
    };
  }

  /**
   * Decrypts a sealed value.
   * @throws CredentialDecryptError when the master key is not the one it was sealed under, the
   * AAD differs, or the data was altered (GCM tag mismatch).
   */
  async open(sealed: SealedValue, aad: string): Promise<string> {
    const key = await this.derive(sealed.kdf, Buffer.from(sealed.salt, 'base64'));
    const iv = Buffer.from(sealed.iv, 'base64');
    const tag = Buffer.from(sealed.authTag, 'base64');
    if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES)
      throw new CredentialDecryptError('malformed IV or authentication tag');
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
      decipher.setAAD(Buffer.from(aad, 'utf8'));
      decipher.setAuthTag(tag);
      return Buffer.concat([
        decipher.update(Buffer.from(sealed.ciphertext, 'base64')),
        decipher.final(),
      ]).toString('utf8');
    } catch {
      throw new CredentialDecryptError(
        'the value does not decrypt: wrong master key (ASH_CREDENTIAL_KEY) or altered data',
      );
    }
  }

  private async derive(kdf: string, salt: Buffer): Promise<Buffer> {
    const cacheKey = `${kdf}|${salt.toString('base64')}`;
    const hit = this.cache.get(cacheKey);
    if (hit) return hit;
    const { N, r, p } = parseKdf(kdf);
    const key = await scrypt(this.masterKey, salt, { N, r, p, maxmem: 256 * N * r });
    if (this.cache.size >= CACHE_ENTRIES) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(cacheKey, key);
    return key;
  }
}

/** The additional authenticated data of a credential's value. */
export function credentialAad(c: { tenantId: string; id: string; type: string }): string {
  return `ash-credential:v1:${c.tenantId}:${c.id}:${c.type}`;
}
