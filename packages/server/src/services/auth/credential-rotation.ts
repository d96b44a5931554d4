import { join } from 'node:path';
import { openDatabase } from '../../db/client.js';
import { createRepos, type Repos } from '../../db/repos/index.js';
import { CredentialCipher, CredentialDecryptError, credentialAad } from './credential-crypto.js';

/** What a key rotation did. */
export interface RotationReport {
  /** Credentials re-encrypted under the new key. */
  rotated: number;
  /** Credentials that already decrypted with the new key (e.g. a rotation run a second time). */
  alreadyRotated: number;
  /** Ids that decrypt with neither key, or changed while the rotation ran. */
  failed: string[];
}

/**
 * Re-encrypts every stored credential (all tenants) from `oldKey` to `newKey`, each with a fresh
 * salt and IV. Safe to re-run after an interruption: rows already under the new key are counted
 * and left alone. Each row is replaced with a compare-and-swap on its old ciphertext, so a
 * concurrent change is never overwritten (it is reported as failed; run the rotation again).
 * Servers must be restarted with `ASH_CREDENTIAL_KEY=<newKey>` afterwards.
 */
export async function rotateCredentialKey(
  repos: Repos,
  oldKey: string,
  newKey: string,
): Promise<RotationReport> {
  const from = new CredentialCipher(oldKey);
  const to = new CredentialCipher(newKey);
  const report: RotationReport = { rotated: 0, alreadyRotated: 0, failed: [] };
  for (const row of await repos.credentials.listAll()) {
    const aad = credentialAad(row);
    let value: string;
    try {
      value = await from.open(row, aad);
    } catch (err) {
      if (!(err instanceof CredentialDecryptError)) throw err;
      const underNew = await to.open(row, aad).then(
        () => true,
        () => false,
      );
      if (underNew) report.alreadyRotated++;
      else report.failed.push(row.id);
      continue;
    }
    const next = await to.seal(value, aad);
    if (await repos.credentials.reseal(row.id, row, next, new Date().toISOString())) report.rotated++;
    else report.failed.push(row.id);
  }
  return report;
}

/**
 * Opens the database a server uses (`databaseUrl`, else `<dataDir>/ash.db`), rotates the
 * credential master key ({@link rotateCredentialKey}) and closes it. For `ash credentials
 * rotate-key`, which runs next to the database, so the master keys never cross the network.
 */
export async function rotateCredentialKeyInDatabase(opts: {
  dataDir: string;
  databaseUrl: string | undefined;
  oldKey: string;
  newKey: string;
}): Promise<RotationReport> {
  const db = await openDatabase(
    opts.databaseUrl ? { postgresUrl: opts.databaseUrl } : { sqlitePath: join(opts.dataDir, 'ash.db') },
  );
  try {
    return await rotateCredentialKey(createRepos(db), opts.oldKey, opts.newKey);
  } finally {
    await db.close();
  }
}
