import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { CredentialType } from '@ash-ai/sdk';
import { ashHome } from '../config.js';
import { CliError, printJson, printTable, withInternalSecret } from '../output.js';
import { runServerCommand } from '../server-bin.js';
import type { GlobalOptions } from '../program.js';

const CREDENTIAL_TYPES: CredentialType[] = ['anthropic', 'openai', 'bedrock', 'custom'];

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The secret value of `ash credentials add`: `--key-env NAME` (read from that variable),
 * `--key VALUE`, or standard input when it is not a terminal. Trailing newlines are dropped.
 */
async function credentialValue(opts: { key?: string; keyEnv?: string }): Promise<string> {
  let value: string | undefined;
  if (opts.keyEnv) {
    value = process.env[opts.keyEnv];
    if (!value) throw new CliError(`the environment variable ${opts.keyEnv} is empty or unset`);
  } else if (opts.key !== undefined) {
    value = opts.key;
  } else if (!process.stdin.isTTY) {
    value = await readStdin();
  } else {
    throw new CliError('give the credential value with --key-env NAME, --key VALUE or on standard input');
  }
  value = value.replace(/[\r\n]+$/, '');
  if (!value) throw new CliError('the credential value is empty');
  return value;
}

/** `ash api-key …` and `ash credentials …`. */
export function registerAuthCommands(program: Command, globals: () => GlobalOptions): void {
  const apiKey = program.command('api-key').description("manage your tenant's API keys");

  apiKey
    .command('create')
    .description('create an API key and print it (shown this once)')
    .option('-l, --label <label>', 'a label to recognise the key by')
    .option(
      '-t, --tenant <tenantId>',
      'create the key for this tenant through the internal route (needs ASH_INTERNAL_SECRET)',
    )
    .option('--json', 'print JSON')
    .action(async (opts: { label?: string; tenant?: string; json?: boolean }) => {
      const keys = globals().client().apiKeys;
      const created = opts.tenant
        ? await withInternalSecret(
            keys.createForTenant(opts.tenant, {
              ...(opts.label ? { label: opts.label } : {}),
              ...(process.env.ASH_INTERNAL_SECRET ? { internalSecret: process.env.ASH_INTERNAL_SECRET } : {}),
            }),
          )
        : await keys.create(opts.label ? { label: opts.label } : {});
      if (opts.json) printJson(created);
      else {
        process.stdout.write(`${created.key}\n`);
        process.stderr.write(
          `API key ${created.id} for tenant ${created.tenantId}: store it now, it is not shown again\n`,
        );
      }
    });

  apiKey
    .command('list')
    .description("list your tenant's keys (never the keys themselves)")
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const keys = await globals().client().apiKeys.list();
      if (opts.json) return printJson({ keys });
      printTable(
        keys.map((k) => ({
          id: k.id,
          prefix: `${k.keyPrefix}…`,
          label: k.label,
          created: k.createdAt,
          'last used': k.lastUsedAt,
        })),
        ['id', 'prefix', 'label', 'created', 'last used'],
      );
    });

  apiKey
    .command('revoke <id>')
    .description('revoke a key: the next request with it is refused')
    .action(async (id: string) => {
      await globals().client().apiKeys.revoke(id);
      process.stdout.write(`revoked ${id}\n`);
    });

  const creds = program
    .command('credentials')
    .alias('credential')
    .description('stored provider keys sessions can use (needs ASH_CREDENTIAL_KEY on the server)');

  creds
    .command('add')
    .description('store a credential and print its id (the value is read from --key-env, --key or stdin)')
    .requiredOption('--type <type>', `one of ${CREDENTIAL_TYPES.join(', ')}`)
    .option('-l, --label <label>', 'a label')
    .option('--key-env <NAME>', 'read the value from this environment variable')
    .option('--key <value>', 'the value (visible in your shell history; prefer --key-env or stdin)')
    .option('--json', 'print JSON')
    .action(async (opts: { type: string; label?: string; key?: string; keyEnv?: string; json?: boolean }) => {
      if (!CREDENTIAL_TYPES.includes(opts.type as CredentialType))
        throw new CliError(`--type must be one of ${CREDENTIAL_TYPES.join(', ')}`);
      const key = await credentialValue(opts);
      const c = await globals()
        .client()
        .credentials.create({
          type: opts.type as CredentialType,
          key,
          ...(opts.label ? { label: opts.label } : {}),
        });
      if (opts.json) printJson({ credential: c });
      else process.stdout.write(`${c.id}\n`);
    });

  creds
    .command('list')
    .description('list credentials (never their values)')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const list = await globals().client().credentials.list();
      if (opts.json) return printJson({ credentials: list });
      printTable(
        list.map((c) => ({
          id: c.id,
          type: c.type,
          label: c.label,
          active: c.active ? 'yes' : 'no',
          created: c.createdAt,
          'last used': c.lastUsedAt,
        })),
        ['id', 'type', 'label', 'active', 'created', 'last used'],
      );
    });

  creds
    .command('delete <id>')
    .description('delete a credential')
    .action(async (id: string) => {
      await globals().client().credentials.delete(id);
      process.stdout.write(`deleted ${id}\n`);
    });

  creds
    .command('rotate-key')
    .description(
      're-encrypt every stored credential from ASH_CREDENTIAL_KEY to ASH_NEW_CREDENTIAL_KEY, directly in the database (run it where the server runs, then restart the server with the new key)',
    )
    .option('--data-dir <dir>', 'the server data dir holding ash.db (default: $ASH_DATA_DIR or ~/.ash)')
    .option('--database-url <url>', 'a postgres:// database instead (default: $ASH_DATABASE_URL)')
    .option('--json', 'print JSON')
    .action(async (opts: { dataDir?: string; databaseUrl?: string; json?: boolean }) => {
      const oldKey = process.env.ASH_CREDENTIAL_KEY;
      const newKey = process.env.ASH_NEW_CREDENTIAL_KEY;
      if (!oldKey || !newKey)
        throw new CliError(
          'set ASH_CREDENTIAL_KEY to the current master key and ASH_NEW_CREDENTIAL_KEY to the new one',
        );
      if (newKey.length < 16) throw new CliError('ASH_NEW_CREDENTIAL_KEY must be at least 16 characters');
      if (oldKey === newKey) throw new CliError('ASH_NEW_CREDENTIAL_KEY is the same as ASH_CREDENTIAL_KEY');
      const databaseUrl = opts.databaseUrl ?? process.env.ASH_DATABASE_URL;
      if (databaseUrl && !/^postgres(ql)?:\/\//i.test(databaseUrl))
        throw new CliError('the database URL must be a postgres:// URL');
      const dataDir = opts.dataDir ?? ashHome();
      if (!databaseUrl && !existsSync(join(dataDir, 'ash.db')))
        throw new CliError(`no database at ${join(dataDir, 'ash.db')} (set --data-dir or --database-url)`);
      // The server's own program does it (the CLI never loads the server's code); keys via the environment.
      const run = await runServerCommand('rotate-credential-key', {
        ...process.env,
        ASH_DATA_DIR: dataDir,
        ASH_DATABASE_URL: databaseUrl ?? '',
      });
      if (run.code !== 0)
        throw new CliError(
          run.stderr.trim().replace(/^ash-server: /, '') || `the rotation failed (exit ${run.code})`,
        );
      const report = JSON.parse(run.stdout) as { rotated: number; alreadyRotated: number; failed: string[] };
      if (opts.json) printJson(report);
      else
        process.stdout.write(
          `rotated ${report.rotated} credential(s)${report.alreadyRotated ? `, ${report.alreadyRotated} already under the new key` : ''}; restart the server with ASH_CREDENTIAL_KEY set to the new key\n`,
        );
      if (report.failed.length > 0)
        throw new CliError(
          `${report.failed.length} credential(s) decrypt with neither key or changed during the rotation: ${report.failed.join(', ')}`,
        );
    });
}
