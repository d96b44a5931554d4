import { describe, expect, it } from 'vitest';
import { CURRENT_KDF, CredentialCipher, CredentialDecryptError, parseKdf } from './credential-crypto.js';

describe('credential encryption', () => {
  it('round-trips with a fresh salt and IV per value, and never stores the plaintext', async () => {
    const c = new CredentialCipher('master-key-0123456789');
    const a = await c.seal('sk-secret-value', 'aad-1');
    const b = await c.seal('sk-secret-value', 'aad-1');
    expect(a.kdf).toBe(CURRENT_KDF);
    expect(a.salt).not.toBe(b.salt);
    expect(a.iv).not.toBe(b.iv);
    expect(a.ciphertext).not.toBe(b.ciphertext);
    expect(JSON.stringify(a)).not.toContain('sk-secret-value');
    expect(Buffer.from(a.salt, 'base64')).toHaveLength(16);
    expect(Buffer.from(a.iv, 'base64')).toHaveLength(12);
    expect(Buffer.from(a.authTag, 'base64')).toHaveLength(16);
    expect(await c.open(a, 'aad-1')).toBe('sk-secret-value');
    // A second cipher with the same master key (another process) opens it too.
    expect(await new CredentialCipher('master-key-0123456789').open(b, 'aad-1')).toBe('sk-secret-value');
  });

  it('refuses another master key, another row (AAD) and altered data', async () => {
    const c = new CredentialCipher('master-key-0123456789');
    const sealed = await c.seal('sk-secret-value', 'ash-credential:v1:t1:id1:openai');
    await expect(
      new CredentialCipher('another-master-key-xx').open(sealed, 'ash-credential:v1:t1:id1:openai'),
    ).rejects.toBeInstanceOf(CredentialDecryptError);
    await expect(c.open(sealed, 'ash-credential:v1:t2:id1:openai')).rejects.toBeInstanceOf(
      CredentialDecryptError,
    );
    const flipped = Buffer.from(sealed.ciphertext, 'base64');
    flipped[0]! ^= 1;
    await expect(
      c.open({ ...sealed, ciphertext: flipped.toString('base64') }, 'ash-credential:v1:t1:id1:openai'),
    ).rejects.toBeInstanceOf(CredentialDecryptError);
    await expect(c.open({ ...sealed, authTag: 'AAAA' }, 'ash-credential:v1:t1:id1:openai')).rejects.toThrow(
      /malformed/,
    );
  });

  it('reads the KDF parameters stored with a row, within bounds', async () => {
    expect(parseKdf('scrypt:N=16384,r=8,p=1')).toEqual({ N: 16384, r: 8, p: 1 });
    expect(() => parseKdf('pbkdf2:1000')).toThrow(CredentialDecryptError);
    expect(() => parseKdf('scrypt:N=1000,r=8,p=1')).toThrow(/out of bounds/);
    expect(() => parseKdf('scrypt:N=1073741824,r=8,p=1')).toThrow(/out of bounds/);
    // A row sealed with older (cheaper) parameters still opens.
    const c = new CredentialCipher('master-key-0123456789');
    const sealed = await c.seal('v', 'aad');
    const { scryptSync, createCipheriv, randomBytes } = await import('node:crypto');
    const salt = randomBytes(16);
    const key = scryptSync('master-key-0123456789', salt, 32, { N: 1024, r: 8, p: 1 });
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(Buffer.from('aad'));
    const ct = Buffer.concat([cipher.update('old-value'), cipher.final()]);
    const old = {
      ciphertext: ct.toString('base64'),
      iv: iv.toString('base64'),
      authTag: cipher.getAuthTag().toString('base64'),
      salt: salt.toString('base64'),
      kdf: 'scrypt:N=1024,r=8,p=1',
    };
    expect(await c.open(old, 'aad')).toBe('old-value');
    expect(await c.open(sealed, 'aad')).toBe('v');
  });
});
