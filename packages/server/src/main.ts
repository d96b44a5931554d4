/**
 * `ash-server`: runs the server in the foreground, configured by ASH_* environment variables.
 *
 * `ash-server rotate-credential-key` instead re-encrypts the stored credentials from
 * ASH_CREDENTIAL_KEY to ASH_NEW_CREDENTIAL_KEY in the database of ASH_DATABASE_URL (else
 * ASH_DATA_DIR/ash.db) and prints the report as JSON (what `ash credentials rotate-key` runs: the
 * CLI never loads the server's code, and the keys travel in the environment, not in arguments).
 */
import { rotateCredentialKeyInDatabase } from './services/auth/credential-rotation.js';
import { runServer, startupErrorMessage } from './run.js';

async function rotateCredentialKey(env: NodeJS.ProcessEnv): Promise<void> {
  const oldKey = env.ASH_CREDENTIAL_KEY;
  const newKey = env.ASH_NEW_CREDENTIAL_KEY;
  const dataDir = env.ASH_DATA_DIR;
  if (!oldKey || !newKey || !dataDir)
    throw new Error('set ASH_CREDENTIAL_KEY, ASH_NEW_CREDENTIAL_KEY and ASH_DATA_DIR (or ASH_DATABASE_URL)');
  const report = await rotateCredentialKeyInDatabase({
    dataDir,
    databaseUrl: env.ASH_DATABASE_URL || undefined,
    oldKey,
    newKey,
  });
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

const command = process.argv[2];
if (command === 'rotate-credential-key') {
  rotateCredentialKey(process.env).catch((err: unknown) => {
    process.stderr.write(`ash-server: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
} else if (command !== undefined) {
  process.stderr.write(`ash-server: unknown command '${command}' (known: rotate-credential-key)\n`);
  process.exit(2);
} else {
  runServer().catch((err: unknown) => {
    process.stderr.write(`ash-server: ${startupErrorMessage(err)}\n`);
    process.exit(1);
  });
}
