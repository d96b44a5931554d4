import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SandboxCgroup } from './cgroups.js';
import type { SandboxLimits } from './limits.js';
import { launchEnvTrampoline } from '@ash-ai/shared';
import { SANDBOX_EGRESS_PRELOAD, SANDBOX_UNDICI_DIR } from './egress-preload.js';

/** How sandboxes are isolated. */
export type IsolationMode = 'bwrap' | 'unsafe-process';

/** Tools found on the host. */
export interface HostTools {
  bwrap: string | undefined;
  setpriv: string | undefined;
  prlimit: string | undefined;
  /** coreutils `nice` (starts background work at a low CPU priority). */
  nice: string | undefined;
  /** Why bwrap cannot be used, when it cannot. */
  bwrapProblem: string | undefined;
}

const SEARCH = ['/usr/bin', '/bin', '/usr/local/bin', '/usr/sbin', '/sbin'];

function which(name: string): string | undefined {
  for (const dir of SEARCH) {
    const p = join(dir, name);
    if (existsSync(p)) return p;
  }
  return undefined;
}

/**
 * Finds bubblewrap, setpriv and prlimit and checks that bwrap can create namespaces here.
 * @param bwrapPath where bwrap is, when not in the usual directories.
 */
export function detectHostTools(bwrapPath?: string): HostTools {
  const bwrap = bwrapPath ? (existsSync(bwrapPath) ? bwrapPath : undefined) : which('bwrap');
  let bwrapProblem: string | undefined;
  if (!bwrap)
    bwrapProblem = bwrapPath
      ? `bubblewrap was not found at ${bwrapPath}`
      : 'bubblewrap (bwrap) is not installed';
  else {
    const r = spawnSync(bwrap, ['--unshare-all', '--ro-bind', '/', '/', '--', '/bin/true'], {
      timeout: 5000,
      stdio: 'pipe',
    });
    if (r.status !== 0)
      bwrapProblem = `bwrap cannot create namespaces: ${String(r.stderr ?? '').trim() || `exit ${r.status}`}`;
  }
  return { bwrap, setpriv: which('setpriv'), prlimit: which('prlimit'), nice: which('nice'), bwrapProblem };
}

/** Paths inside a bwrap sandbox. */
export const SANDBOX_PATHS = {
  workspace: '/workspace',
  home: '/home/agent',
  claudeConfig: '/home/agent/.claude',
  apiDir: '/run/ash',
  modelSocket: '/run/ash/model.sock',
  egressSocket: '/run/ash/egress.sock',
  egressForwarder: '/run/ash/egress-forwarder.cjs',
  claude: '/opt/claude/claude',
  /** The server's node, when it is not under /usr (e.g. installed with nvm), for the egress forwarder. */
  node: '/opt/ash/node',
} as const;

/** Host files a sandbox sees read-only besides /usr (only those that exist are bound). */
const ETC_READ_ONLY = [
  '/etc/alternatives',
  '/etc/ssl',
  '/etc/ca-certificates',
  '/etc/ld.so.cache',
  '/etc/ld.so.conf',
  '/etc/ld.so.conf.d',
  '/etc/localtime',
  '/etc/mime.types',
  '/etc/nsswitch.conf',
  '/etc/bash.bashrc',
  '/etc/profile',
  '/etc/inputrc',
];

/**
 * Writes the minimal /etc the sandbox gets (passwd, group, hosts) into `dir`. The host's own
 * /etc/passwd is never shown: it would name host users. `uid` is the sandboxed user's uid as seen
 * inside.
 */
export function writeSandboxEtc(dir: string, uid: number): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'passwd'),
    `root:x:0:0:root:/root:/usr/sbin/nologin\nagent:x:${uid}:${uid}:agent:${SANDBOX_PATHS.home}:/bin/bash\n`,
  );
  writeFileSync(join(dir, 'group'), `root:x:0:\nagent:x:${uid}:\n`);
  writeFileSync(join(dir, 'hosts'), '127.0.0.1 localhost sandbox\n::1 localhost\n');
}

/** Launcher stage adding the egress fetch preload to `NODE_OPTIONS`, then `exec "$@"`. */
const PRELOAD_STAGE = `NODE_OPTIONS="\${NODE_OPTIONS:+$NODE_OPTIONS }--require ${SANDBOX_EGRESS_PRELOAD}"; export NODE_OPTIONS; exec "$@"`;

/** Everything needed to build the command that starts one sandbox's Claude process. */
export interface LaunchInput {
  mode: IsolationMode;
  tools: HostTools;
  limits: SandboxLimits;
  cgroup: SandboxCgroup | undefined;
  /**
   * When the server runs as root: the unprivileged host uid/gid the Claude process runs as
   * (bwrap sets up the namespaces as root, then `setpriv` drops to this user inside). Otherwise
   * undefined: bwrap runs unprivileged in a user namespace.
   */
  sandboxUser: { uid: number; gid: number } | undefined;
  workspaceDir: string;
  claudeConfigDir: string;
  /** The sandboxed user's home on the host (writable by it). */
  homeDir: string;
  /** Directory holding the model proxy socket (bound read-only into the sandbox). */
  apiDir: string;
  /** Generated /etc files. */
  etcDir: string;
  /** Host folder mounted as /tmp (on the sandbox's own disk); a tmpfs when undefined. */
  tmpDir?: string;
  /**
   * Where to write bubblewrap's options (root-only file): bwrap reads them from a file descriptor
   * (`--args`), so its command line — which the sandbox sees as `/proc/1/cmdline` — names no host path.
   */
  argsFile?: string;
  /** The Claude executable on the host. */
  claudeExecutable: string;
  /**
   * Start the egress forwarder inside the sandbox before the command (bwrap only): node (the
   * host's path; one under /usr is visible inside as it is, any other is bound read-only at
   * {@link SANDBOX_PATHS.node}) runs {@link SANDBOX_PATHS.egressForwarder} on this port.
   */
  egressForwarder?: { nodePath: string; port: number } | undefined;
  /**
   * The host's `undici` package directory, bound read-only at `SANDBOX_UNDICI_DIR` for the
   * egress fetch preload (bwrap only; a sandbox with network).
   */
  undiciDir?: string | undefined;
}

/** The launcher command and how paths look to the Claude process. */
export interface Launch {
  /**
   * Wrapper command, spawned with only {@link LAUNCHER_ENV}; its last stage reads the Claude
   * process's environment from fd {@link LAUNCH_ENV_FD} (see `launchEnvTrampoline`).
   */
  command: string;
  args: string[];
  /** The Claude executable as the launched process sees it. */
  claudePath: string;
  cwd: string;
  home: string;
  claudeConfigDir: string;
  modelSocket: string;
}

/** The uid the sandboxed user has inside a user-namespace sandbox (server not root). */
export const USERNS_INNER_UID = 1000;

/**
 * Builds the launcher: join the cgroup → set rlimits (prlimit) → enter bubblewrap namespaces
 * (mount, pid, net, ipc, uts; a read-only system; only the workspace and config dir writable)
 * → drop to the sandbox user → apply the agent's environment (from fd 3) → exec Claude. Each step `exec`s the next, so the bridge's child
 * *is* the sandbox and `--die-with-parent` ties it to the bridge.
 */
export function buildLaunch(input: LaunchInput): Launch {
  const prefix: string[] = [];
  if (input.cgroup) prefix.push(...input.cgroup.joinPrefix());
  if (input.tools.prlimit) {
    const rl: string[] = [];
    if (input.limits.maxOpenFiles > 0)
      rl.push(`--nofile=${input.limits.maxOpenFiles}:${input.limits.maxOpenFiles}`);
    if (input.limits.maxFileSizeMb > 0) {
      const bytes = input.limits.maxFileSizeMb * 1024 * 1024;
      rl.push(`--fsize=${bytes}:${bytes}`);
    }
    if (rl.length > 0) prefix.push(input.tools.prlimit, ...rl, '--');
  }
  if (input.mode === 'unsafe-process') {
    prefix.push(...launchEnvTrampoline());
    return {
      command: prefix[0]!,
      args: prefix.slice(1),
      claudePath: input.claudeExecutable,
      cwd: input.workspaceDir,
      home: input.homeDir,
      claudeConfigDir: input.claudeConfigDir,
      modelSocket: join(input.apiDir, 'model.sock'),
    };
  }
  const bwrap = input.tools.bwrap;
  if (!bwrap) throw new Error('bubblewrap is not available');
  const user = input.sandboxUser;
  if (user && !input.tools.setpriv) throw new Error('setpriv is not available');
  const b: string[] = [bwrap];
  // As root, no user namespace: the uid drop below gives a real unprivileged host uid.
  if (user)
    b.push('--unshare-ipc', '--unshare-pid', '--unshare-net', '--unshare-uts', '--unshare-cgroup-try');
  else b.push('--unshare-all', '--uid', String(USERNS_INNER_UID), '--gid', String(USERNS_INNER_UID));
  b.push('--die-with-parent', '--new-session', '--hostname', 'sandbox');
  b.push('--ro-bind', '/usr', '/usr');
  for (const [target, link] of [
    ['usr/lib', '/lib'],
    ['usr/lib64', '/lib64'],
    ['usr/bin', '/bin'],
    ['usr/sbin', '/sbin'],
  ] as const) {
    b.push('--symlink', target, link);
  }
  b.push('--perms', '0755', '--dir', '/etc');
  for (const f of ['passwd', 'group', 'hosts']) b.push('--ro-bind', join(input.etcDir, f), `/etc/${f}`);
  for (const p of ETC_READ_ONLY) if (existsSync(p)) b.push('--ro-bind', p, p);
  b.push('--proc', '/proc', '--dev', '/dev');
  if (input.tmpDir) b.push('--bind', input.tmpDir, '/tmp');
  else b.push('--perms', '1777', '--tmpfs', '/tmp');
  b.push('--perms', '0755', '--dir', '/home', '--bind', input.homeDir, SANDBOX_PATHS.home);
  b.push('--bind', input.claudeConfigDir, SANDBOX_PATHS.claudeConfig);
  b.push('--bind', input.workspaceDir, SANDBOX_PATHS.workspace);
  // Directories bwrap creates on its own are 0700 root-owned; the sandbox user must traverse these.
  b.push('--perms', '0755', '--dir', '/run', '--ro-bind', input.apiDir, SANDBOX_PATHS.apiDir);
  b.push('--perms', '0755', '--dir', '/opt', '--perms', '0755', '--dir', '/opt/claude');
  b.push('--ro-bind', input.claudeExecutable, SANDBOX_PATHS.claude);
  // The forwarder's node: under /usr it is already there; elsewhere (nvm, a tarball in /opt or
  // home) its binary alone is bound (its libraries are the system's, under /usr).
  const forwarderNode = input.egressForwarder?.nodePath;
  const bindNode = forwarderNode !== undefined && !forwarderNode.startsWith('/usr/');
  if (input.undiciDir || bindNode) b.push('--perms', '0755', '--dir', '/opt/ash');
  if (input.undiciDir) b.push('--ro-bind', input.undiciDir, SANDBOX_UNDICI_DIR);
  if (bindNode) b.push('--ro-bind', forwarderNode, SANDBOX_PATHS.node);
  b.push('--chdir', SANDBOX_PATHS.workspace);
  if (input.argsFile) {
    // bwrap closes the descriptor once read; the options never reach the sandbox.
    writeFileSync(input.argsFile, `${b.slice(1).join('\0')}\0`, { mode: 0o600 });
    b.splice(
      0,
      b.length,
      '/bin/sh',
      '-c',
      'f=$1; shift; exec "$0" --args 9 "$@" 9<"$f"',
      bwrap,
      input.argsFile,
    );
  }
  b.push('--');
  if (user) {
    b.push(
      input.tools.setpriv!,
      `--reuid=${user.uid}`,
      `--regid=${user.gid}`,
      '--clear-groups',
      '--inh-caps=-all',
      '--bounding-set=-all',
      '--',
    );
  }
  if (input.egressForwarder) {
    // Inside the sandbox's network namespace (loopback only): 127.0.0.1:<port> → the egress
    // proxy's socket. The forwarder returns once it listens; if it fails, there is no network.
    const f = input.egressForwarder;
    b.push(
      '/bin/sh',
      '-c',
      '"$0" "$1" "$2" "$3" </dev/null >/dev/null 2>&1 3<&-; shift 3; exec "$@"',
      bindNode ? SANDBOX_PATHS.node : f.nodePath,
      SANDBOX_PATHS.egressForwarder,
      String(f.port),
      SANDBOX_PATHS.egressSocket,
    );
  }
  // Last: the tenant's environment, applied only now (as the sandbox user, inside the sandbox).
  b.push(...launchEnvTrampoline());
  if (input.egressForwarder) {
    // Node 20's fetch ignores the proxy variables: the preload points it at them. Added after the
    // tenant's environment (kept, extended) because the Agent SDK drops NODE_OPTIONS from the
    // environment it gives the Claude process; Claude Code passes it on to its tools.
    b.push('/bin/sh', '-c', PRELOAD_STAGE, 'sh');
  }
  prefix.push(...b);
  return {
    command: prefix[0]!,
    args: prefix.slice(1),
    claudePath: SANDBOX_PATHS.claude,
    cwd: SANDBOX_PATHS.workspace,
    home: SANDBOX_PATHS.home,
    claudeConfigDir: SANDBOX_PATHS.claudeConfig,
    modelSocket: SANDBOX_PATHS.modelSocket,
  };
}
