#!/usr/bin/env node
/**
 * `ash runner`: a sandbox host in its own process. Registers with its coordinators, heartbeats,
 * serves their calls (RUNNER_API_PREFIX routes), `/health` and `/metrics`. Flags and environment:
 * see `RUNNER_USAGE` and docs/configuration.md. Exit codes: 0 after SIGTERM/SIGINT or a finished
 * drain, 2 for bad flags or environment, 1 when it cannot start.
 */
import {
  loadRunnerConfig,
  PROVIDER_SECRET_ENV,
  RUNNER_USAGE,
  RunnerConfigError,
  type RunnerHostConfig,
} from './host/config.js';
import { createRunnerLogger, LogSecrets } from './host/logger.js';
import { startRunner } from './host/runner-process.js';

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${RUNNER_USAGE}\n`);
    return 0;
  }
  // A runner holds no provider key or credential: whatever it was given is dropped before anything
  // is read or spawned (sandboxes start with clean environments anyway).
  const dropped = PROVIDER_SECRET_ENV.filter((k) => process.env[k] !== undefined);
  for (const k of PROVIDER_SECRET_ENV) delete process.env[k];
  let config: RunnerHostConfig;
  try {
    config = loadRunnerConfig(argv, process.env);
  } catch (err) {
    if (err instanceof RunnerConfigError) {
      process.stderr.write(`ash runner: ${err.message}\n${RUNNER_USAGE}\n`);
      return 2;
    }
    throw err;
  }
  const secrets = new LogSecrets();
  secrets.add(config.internalSecret);
  const log = createRunnerLogger({ level: config.logLevel, secrets });
  if (dropped.length > 0)
    log.warn({ variables: dropped }, 'provider keys are not used by a runner: removed from its environment');
  let runner: Awaited<ReturnType<typeof startRunner>>;
  try {
    runner = await startRunner(config, log, secrets);
  } catch (err) {
    log.error({ err: err instanceof Error ? err.message : String(err) }, 'the runner could not start');
    process.stderr.write(`ash runner: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  log.info({ url: runner.url, coordinators: config.coordinators, labels: config.labels }, 'runner started');
  process.stdout.write(`ash runner ${config.name} listening on ${runner.url}\n`);
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (why: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ why }, 'stopping: releasing sessions, then deregistering');
      void runner.close().then(
        () => resolve(0),
        (err: unknown) => {
          log.error({ err: err instanceof Error ? err.message : String(err) }, 'stopping failed');
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    runner.host.onDrained = () => stop('drained');
  });
}

main().then(
  (code) => {
    process.exitCode = code;
    // Timers of closed clients must not hold the exit.
    setTimeout(() => process.exit(code), 200).unref();
  },
  (err: unknown) => {
    process.stderr.write(`ash runner: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
