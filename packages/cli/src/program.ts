import { Command, CommanderError } from 'commander';
import { AshClient } from '@ash-ai/sdk';
import { registerAgentCommands } from './commands/agents.js';
import { registerChatCommand } from './commands/chat.js';
import { registerFileCommands } from './commands/files.js';
import { registerAuthCommands } from './commands/auth.js';
import { registerQueueCommands } from './commands/queue.js';
import { registerRunnerCommands } from './commands/runner.js';
import { registerServerCommands } from './commands/server.js';
import { registerSessionCommands } from './commands/sessions.js';
import { registerUsageCommands } from './commands/usage.js';
import { resolveApiKey, resolveServerUrl } from './config.js';
import { CliError, describeError } from './output.js';
import { conciseUsageErrors } from './options.js';

/** Options every command understands. */
export interface GlobalOptions {
  server: string | undefined;
  apiKey: string | undefined;
  /** An SDK client for the resolved server and key. */
  client(): AshClient;
}

/** Builds the `ash` command tree. All HTTP goes through `@ash-ai/sdk`. */
export function buildProgram(version: string): Command {
  const program = new Command('ash')
    .description('Ash: deploy Claude agent folders and talk to them over an API')
    .version(version)
    .option(
      '-s, --server <url>',
      'Ash server URL (default: $ASH_SERVER_URL, the saved config, or http://localhost:4100)',
    )
    .option('-k, --api-key <key>', 'API key (default: $ASH_API_KEY or the saved config)')
    .exitOverride();
  const globals = (): GlobalOptions => {
    const o = program.opts<{ server?: string; apiKey?: string }>();
    const server = resolveServerUrl(o.server);
    const apiKey = resolveApiKey(o.apiKey);
    return {
      server,
      apiKey,
      client: () => {
        checkServerUrl(server, o.server !== undefined ? '--server' : undefined);
        return new AshClient({ serverUrl: server, ...(apiKey ? { apiKey } : {}) });
      },
    };
  };
  registerServerCommands(program, globals);
  registerAgentCommands(program, globals);
  registerSessionCommands(program, globals);
  registerFileCommands(program, globals);
  registerChatCommand(program, globals);
  registerAuthCommands(program, globals);
  registerQueueCommands(program, globals);
  registerUsageCommands(program, globals);
  registerRunnerCommands(program, globals);
  // After every command exists: each prints its own one-line error and usage line.
  conciseUsageErrors(program);
  return program;
}

/**
 * Refuses a server URL that is not an http(s) URL, naming where it came from (`--server`, else
 * ASH_SERVER_URL or the saved config), before any request: otherwise it would read as "cannot reach".
 * @throws CliError
 */
export function checkServerUrl(url: string, flag: string | undefined): void {
  let ok = false;
  try {
    const u = new URL(url);
    ok = (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname.length > 0;
  } catch {
    ok = false;
  }
  if (!ok)
    throw new CliError(
      `${flag ?? 'the server URL (ASH_SERVER_URL or the saved config)'} '${url}' is not a valid URL; give one like http://localhost:4100`,
    );
}

/** Runs the CLI; resolves to the exit code. Failures print one line on stderr. */
export async function runCli(argv: string[], version: string): Promise<number> {
  const program = buildProgram(version);
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    const server = resolveServerUrl(program.opts<{ server?: string }>().server);
    process.stderr.write(`ash: ${describeError(err, server)}\n`);
    return 1;
  }
}
