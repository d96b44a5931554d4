import { homedir, hostname } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { type Static, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { BEARER_TOKEN_PATTERN, type RunnerLabels } from '@ash-ai/shared';
import type { SandboxHostSettings } from '../sandbox-host.js';
import { SandboxHostEnvProperties, sandboxHostSettingsFromEnv } from '../sandbox-env.js';

const Int = (def: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
  Type.Integer({ default: def, minimum: min, maximum: max });

/**
 * Every environment variable `ash runner` reads, with its default (flags win over them). The
 * sandbox settings have the server's names and defaults. Provider keys (`ANTHROPIC_API_KEY`…) are
 * never read: a runner holds none.
 */
export const RunnerEnvSchema = Type.Object({
  /** Comma-separated coordinator base URLs (`--coordinator`). */
  ASH_COORDINATOR_URL: Type.Optional(Type.String({ minLength: 1 })),
  /** The runner's id (`--name`; default the host name). */
  ASH_RUNNER_NAME: Type.Optional(Type.String({ pattern: '^[a-zA-Z0-9._-]{1,128}$' })),
  /** Port of the runner's API, `/health` and `/metrics` (`--port`; 0 = any free port). */
  ASH_RUNNER_PORT: Int(4200, 0, 65535),
  /** Interface to listen on (`--host`). */
  ASH_RUNNER_HOST: Type.String({ default: '127.0.0.1', minLength: 1 }),
  /** The URL coordinators call (`--advertise-url`; default the listen address). */
  ASH_RUNNER_ADVERTISE_URL: Type.Optional(Type.String({ minLength: 1 })),
  /** PEM certificate (chain) the runner's API serves https with (`--tls-cert`; with ASH_RUNNER_TLS_KEY). */
  ASH_RUNNER_TLS_CERT: Type.Optional(Type.String({ minLength: 1 })),
  /** PEM private key of ASH_RUNNER_TLS_CERT (`--tls-key`). */
  ASH_RUNNER_TLS_KEY: Type.Optional(Type.String({ minLength: 1 })),
  /** Comma-separated `k=v` labels (`--label`, repeatable). */
  ASH_RUNNER_LABELS: Type.Optional(Type.String()),
  /** Sessions' files, sandbox disks (`--data-dir`; default `~/.ash-runner`). */
  ASH_DATA_DIR: Type.Optional(Type.String({ minLength: 1 })),
  /** Bearer secret of the runner ⇄ coordinator link (required). */
  ASH_INTERNAL_SECRET: Type.Optional(
    Type.String({ minLength: 16, maxLength: 512, pattern: BEARER_TOKEN_PATTERN }),
  ),
  /** Heartbeat interval to each coordinator, ms. */
  ASH_RUNNER_HEARTBEAT_MS: Int(2000, 50, 600_000),
  /** Timeout of each call to a coordinator (turn streams and deltas excepted: their own), ms. */
  ASH_RUNNER_REQUEST_TIMEOUT_MS: Int(10_000, 100, 600_000),
  /** Timeout of a checkout or checkpoint transfer (no byte for this long), ms. */
  ASH_RUNNER_TRANSFER_TIMEOUT_MS: Int(120_000, 100, 3_600_000),
  /** A reservation no start used lapses after this long, ms. */
  ASH_RUNNER_RESERVATION_TTL_MS: Int(30_000, 100, 3_600_000),
  /** Largest workspace delta a checkout may bring, MiB. */
  ASH_RUNNER_MAX_CHECKOUT_MB: Int(2048, 1),
  /**
   * How long a turn whose coordinator died keeps running, detached, for another coordinator to
   * take it over, ms; then it is aborted. Keep it above ASH_OWNER_LEASE_MS (the takeover waits
   * for the dead owner's lease to run out).
   */
  ASH_RUNNER_TURN_HOLD_MS: Int(120_000, 100, 3_600_000),
  /** Most event bytes a turn keeps for such a takeover, MiB (a bigger turn is aborted instead). */
  ASH_RUNNER_TURN_BUFFER_MB: Int(16, 1, 1024),
  ASH_LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
    { default: 'info' },
  ),
  ...SandboxHostEnvProperties,
});
type RunnerEnv = Static<typeof RunnerEnvSchema>;

/** The parsed configuration of `ash runner` (its sandbox settings as the server's). Units are in the names. */
export interface RunnerHostConfig extends SandboxHostSettings {
  /** The runner id coordinators know it by. */
  name: string;
  coordinators: string[];
  port: number;
  host: string;
  /** Set when given; else the listen address once bound (`https://…` when `tls` is set). */
  advertiseUrl: string | undefined;
  /** Paths of the PEM certificate and key the API serves https with; undefined: plain http. */
  tls: { certPath: string; keyPath: string } | undefined;
  labels: RunnerLabels;
  dataDir: string;
  internalSecret: string;
  heartbeatMs: number;
  requestTimeoutMs: number;
  transferTimeoutMs: number;
  reservationTtlMs: number;
  maxCheckoutBytes: number;
  /** ASH_RUNNER_TURN_HOLD_MS. */
  turnHoldMs: number;
  /** ASH_RUNNER_TURN_BUFFER_MB in bytes. */
  turnBufferBytes: number;
  logLevel: string;
}

/** Raised for bad flags or environment; the message names each problem (the bin prints it, exit 2). */
export class RunnerConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RunnerConfigError';
  }
}

/** Provider keys and credential material a runner never holds (removed from its environment at start). */
export const PROVIDER_SECRET_ENV = [
  'ANTHROPIC_API_KEY',
  'ANTHROPIC_AUTH_TOKEN',
  'CLAUDE_CODE_OAUTH_TOKEN',
  'ASH_CREDENTIAL_KEY',
  'ASH_API_KEY',
] as const;

/** Usage text of `ash runner` (also printed by the bin on `--help`). */
export const RUNNER_USAGE = `usage: ash runner --coordinator <url>[,<url>…] [--name <id>] [--port <p>] [--host <addr>]
                  [--advertise-url <url>] [--label k=v]… [--data-dir <dir>]
                  [--tls-cert <pem> --tls-key <pem>]
The secret of the link comes from ASH_INTERNAL_SECRET (required); other settings from ASH_* variables
(see docs/configuration.md).`;

/**
 * Parses `ash runner`'s flags over its environment.
 * @throws RunnerConfigError naming every bad flag or variable (ASH_INTERNAL_SECRET missing included).
 */
export function loadRunnerConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): RunnerHostConfig {
  let flags: ReturnType<typeof parseFlags>;
  try {
    flags = parseFlags(argv);
  } catch (err) {
    throw new RunnerConfigError(err instanceof Error ? err.message : String(err));
  }
  const raw: Record<string, unknown> = {};
  for (const key of Object.keys(RunnerEnvSchema.properties)) {
    const v = env[key];
    if (v !== undefined && v !== '') raw[key] = v;
  }
  if (flags.coordinator?.length) raw.ASH_COORDINATOR_URL = flags.coordinator.join(',');
  if (flags.name) raw.ASH_RUNNER_NAME = flags.name;
  if (flags.port !== undefined) raw.ASH_RUNNER_PORT = flags.port;
  if (flags.host) raw.ASH_RUNNER_HOST = flags.host;
  if (flags['advertise-url']) raw.ASH_RUNNER_ADVERTISE_URL = flags['advertise-url'];
  if (flags['data-dir']) raw.ASH_DATA_DIR = flags['data-dir'];
  if (flags['tls-cert']) raw.ASH_RUNNER_TLS_CERT = flags['tls-cert'];
  if (flags['tls-key']) raw.ASH_RUNNER_TLS_KEY = flags['tls-key'];
  const converted = Value.Default(RunnerEnvSchema, Value.Convert(RunnerEnvSchema, raw));
  const problems: string[] = [];
  if (!Value.Check(RunnerEnvSchema, converted)) {
    const seen = new Set<string>();
    for (const e of Value.Errors(RunnerEnvSchema, converted)) {
      const name = e.path.slice(1);
      if (seen.has(name)) continue;
      seen.add(name);
      const flag = FLAG_OF[name];
      const what = flag && flagGiven(flags, flag) ? `${flag} (${name})` : name;
      problems.push(
        `${what}: ${e.message.startsWith('Expected string to match') && HINT[name] ? HINT[name] : e.message}`,
      );
    }
    throw new RunnerConfigError(`invalid configuration: ${problems.join('; ')}`);
  }
  const e = converted as RunnerEnv;
  if (!e.ASH_INTERNAL_SECRET)
    problems.push('ASH_INTERNAL_SECRET is required: the secret the coordinators and this runner share');
  const coordinators = (e.ASH_COORDINATOR_URL ?? '')
    .split(',')
    .map((u) => u.trim().replace(/\/+$/, ''))
    .filter(Boolean);
  if (coordinators.length === 0) problems.push('--coordinator (or ASH_COORDINATOR_URL) is required');
  for (const u of coordinators) if (!isHttpUrl(u)) problems.push(`coordinator ${u} is not an http(s) URL`);
  if (e.ASH_RUNNER_ADVERTISE_URL && !isHttpUrl(e.ASH_RUNNER_ADVERTISE_URL))
    problems.push(`--advertise-url ${e.ASH_RUNNER_ADVERTISE_URL} is not an http(s) URL`);
  const tlsGiven = [e.ASH_RUNNER_TLS_CERT, e.ASH_RUNNER_TLS_KEY].filter(Boolean).length;
  if (tlsGiven === 1)
    problems.push(
      '--tls-cert (ASH_RUNNER_TLS_CERT) and --tls-key (ASH_RUNNER_TLS_KEY) go together: give both or neither',
    );
  if (tlsGiven === 2 && /^http:/i.test(e.ASH_RUNNER_ADVERTISE_URL ?? ''))
    problems.push(
      `--advertise-url ${e.ASH_RUNNER_ADVERTISE_URL} is http but the API serves https (--tls-cert): use https://…`,
    );
  const labels: RunnerLabels = {};
  const labelTexts = [...(e.ASH_RUNNER_LABELS ?? '').split(','), ...(flags.label ?? [])]
    .map((l) => l.trim())
    .filter(Boolean);
  for (const l of labelTexts) {
    const i = l.indexOf('=');
    const k = i > 0 ? l.slice(0, i) : '';
    const v = i > 0 ? l.slice(i + 1) : '';
    if (!/^[a-zA-Z0-9._/-]{1,63}$/.test(k) || v.length > 63) problems.push(`label ${l} is not k=v`);
    else labels[k] = v;
  }
  if (problems.length > 0) throw new RunnerConfigError(`invalid configuration: ${problems.join('; ')}`);
  const dataDir = e.ASH_DATA_DIR ? resolveDir(e.ASH_DATA_DIR) : join(homedir(), '.ash-runner');
  const sandbox = sandboxHostSettingsFromEnv(e, dataDir, problems);
  if (problems.length > 0) throw new RunnerConfigError(`invalid configuration: ${problems.join('; ')}`);
  return {
    ...sandbox,
    name:
      e.ASH_RUNNER_NAME ??
      hostname()
        .replace(/[^a-zA-Z0-9._-]/g, '-')
        .slice(0, 128),
    coordinators,
    port: e.ASH_RUNNER_PORT,
    host: e.ASH_RUNNER_HOST,
    advertiseUrl: e.ASH_RUNNER_ADVERTISE_URL?.replace(/\/+$/, ''),
    tls:
      e.ASH_RUNNER_TLS_CERT && e.ASH_RUNNER_TLS_KEY
        ? { certPath: resolveDir(e.ASH_RUNNER_TLS_CERT), keyPath: resolveDir(e.ASH_RUNNER_TLS_KEY) }
        : undefined,
    labels,
    internalSecret: e.ASH_INTERNAL_SECRET!,
    heartbeatMs: e.ASH_RUNNER_HEARTBEAT_MS,
    requestTimeoutMs: e.ASH_RUNNER_REQUEST_TIMEOUT_MS,
    transferTimeoutMs: e.ASH_RUNNER_TRANSFER_TIMEOUT_MS,
    reservationTtlMs: e.ASH_RUNNER_RESERVATION_TTL_MS,
    maxCheckoutBytes: e.ASH_RUNNER_MAX_CHECKOUT_MB * 1024 * 1024,
    turnHoldMs: e.ASH_RUNNER_TURN_HOLD_MS,
    turnBufferBytes: e.ASH_RUNNER_TURN_BUFFER_MB * 1024 * 1024,
    logLevel: e.ASH_LOG_LEVEL,
  };
}

/** The flag that sets each variable (problems name the flag when it was given). */
const FLAG_OF: Record<string, string> = {
  ASH_COORDINATOR_URL: '--coordinator',
  ASH_RUNNER_NAME: '--name',
  ASH_RUNNER_PORT: '--port',
  ASH_RUNNER_HOST: '--host',
  ASH_RUNNER_ADVERTISE_URL: '--advertise-url',
  ASH_DATA_DIR: '--data-dir',
  ASH_RUNNER_TLS_CERT: '--tls-cert',
  ASH_RUNNER_TLS_KEY: '--tls-key',
};
/** Plain words for the patterns a value must match. */
const HINT: Record<string, string> = {
  ASH_RUNNER_NAME: "must be 1 to 128 letters, digits, '.', '_' or '-'",
  ASH_INTERNAL_SECRET: 'must be 16 to 512 characters a bearer token may hold (no spaces)',
};

function flagGiven(flags: ReturnType<typeof parseFlags>, flag: string): boolean {
  return (flags as Record<string, unknown>)[flag.slice(2)] !== undefined;
}

function parseFlags(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      coordinator: { type: 'string', multiple: true },
      name: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      'advertise-url': { type: 'string' },
      label: { type: 'string', multiple: true },
      'data-dir': { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
    },
  });
  return {
    ...values,
    coordinator: values.coordinator?.flatMap((c) => c.split(',')),
  };
}

function isHttpUrl(u: string): boolean {
  try {
    const url = new URL(u);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

function resolveDir(p: string): string {
  if (p === '~' || p.startsWith('~/')) return join(homedir(), p.slice(1));
  return isAbsolute(p) ? p : resolve(p);
}
