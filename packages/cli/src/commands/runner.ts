import type { Command } from 'commander';
import type { GlobalOptions } from '../program.js';
import { withInternalSecret } from '../output.js';
import { runRunnerForeground } from '../runner-bin.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** `ash runner` (start a runner in the foreground) and `ash runner drain <name>`. */
export function registerRunnerCommands(program: Command, globals: () => GlobalOptions): void {
  const runner = program
    .command('runner')
    .description(
      'run a runner: hosts sandboxes for the coordinators (servers) given, authenticated with ASH_INTERNAL_SECRET',
    )
    .option('--coordinator <urls>', 'coordinator base URLs, comma-separated (default: $ASH_COORDINATOR_URL)')
    .option('--name <id>', "the runner's id (default: $ASH_RUNNER_NAME or the host name)")
    .option('-p, --port <port>', 'port of its API, /health and /metrics (default: $ASH_RUNNER_PORT or 4200)')
    .option('--host <host>', 'interface to listen on (default: 127.0.0.1)')
    .option('--advertise-url <url>', 'the URL coordinators call (default: the listen address)')
    .option('--label <k=v>', 'a label placement may require (repeatable)', collect)
    .option('--data-dir <dir>', "sessions' files (default: $ASH_DATA_DIR or ~/.ash-runner)")
    .option('--tls-cert <pem>', 'serve the API over https with this PEM certificate (with --tls-key)')
    .option('--tls-key <pem>', 'PEM private key of --tls-cert')
    .action(
      async (opts: {
        coordinator?: string;
        name?: string;
        port?: string;
        host?: string;
        advertiseUrl?: string;
        label?: string[];
        dataDir?: string;
        tlsCert?: string;
        tlsKey?: string;
      }) => {
        const args: string[] = [];
        if (opts.coordinator) args.push('--coordinator', opts.coordinator);
        if (opts.name) args.push('--name', opts.name);
        if (opts.port) args.push('--port', opts.port);
        if (opts.host) args.push('--host', opts.host);
        if (opts.advertiseUrl) args.push('--advertise-url', opts.advertiseUrl);
        for (const l of opts.label ?? []) args.push('--label', l);
        if (opts.dataDir) args.push('--data-dir', opts.dataDir);
        if (opts.tlsCert) args.push('--tls-cert', opts.tlsCert);
        if (opts.tlsKey) args.push('--tls-key', opts.tlsKey);
        process.exitCode = await runRunnerForeground(args, process.env);
      },
    );

  runner
    .command('drain <name>')
    .description(
      'drain a runner through the server (--server): it checkpoints and releases its sessions, takes no new ones, and exits when empty (needs ASH_INTERNAL_SECRET)',
    )
    .action(async (name: string) => {
      const secret = process.env.ASH_INTERNAL_SECRET;
      await withInternalSecret(
        globals()
          .client()
          .runners.drain(name, secret ? { internalSecret: secret } : {}),
      );
      process.stdout.write(`runner ${name} is draining\n`);
    });
}
