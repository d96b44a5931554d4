import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { lchown, lstat, readdir } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { getPriority, setPriority, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { BridgeProcessConfig, SandboxInfo } from '@ash-ai/shared';
import { BridgeConnection } from './bridge-connection.js';
import { CgroupManager, type SandboxCgroup } from './cgroups.js';
import {
  buildLaunch,
  detectHostTools,
  SANDBOX_PATHS,
  writeSandboxEtc,
  USERNS_INNER_UID,
  type HostTools,
  type IsolationMode,
} from './isolation.js';
import { DEFAULT_SANDBOX_LIMITS, type SandboxLimits } from './limits.js';
import type { Logger } from './logger.js';
import {
  createUpstreamDispatcher,
  ModelProxy,
  type ModelCallUsage,
  type ModelProxyOptions,
  type UpstreamPool,
} from './model-proxy.js';
import { Sandbox } from './sandbox.js';
import type { EgressDecision } from './egress-policy.js';
import { EGRESS_FORWARDER_SOURCE, EGRESS_PROXY_PORT } from './egress-forwarder.js';
import { EgressProxy, type EgressConnection, type EgressLimits } from './egress-proxy.js';
import type { EgressCa } from './egress-tls.js';
import { egressPreloadSource, undiciPackageDir } from './egress-preload.js';
import type { BlockList } from 'node:net';
import { writeFileSync } from 'node:fs';
import { neutralClaudePath } from './claude-image.js';
import { KeyedLock } from './keyed-lock.js';
import { BlankImages, detectDiskSupport, SandboxDisk, type DiskTools } from './sandbox-disk.js';
import { DEFAULT_SANDBOX_UID_RANGE, UidPool } from './uid-pool.js';

/** Environment names a sandbox's own variables can never override (routing and identity of the Claude process). */

/**
 * Node flags of every bridge process. A 1 MB semi-space (V8's default lets the young generation
 * grow to 16 MB per half) keeps an idle bridge ~9 MB PSS smaller (41 → 32 MB, measured with
 * bench/footprint.mjs); a bridge allocates little per event: its CPU per text delta stayed the
 * same (0.43–0.53 ms against 0.47–0.55 ms without, bench/delta-path.mjs).
 */
const BRIDGE_NODE_FLAGS = ['--max-semi-space-size=1'];

export const RESERVED_SANDBOX_ENV = new Set([
  'ANTHROPIC_UNIX_SOCKET',
  'ANTHROPIC_BASE_URL',
  'ANTHROPIC_API_KEY',
  'ANTHROPIC_AUTH_TOKEN',
  'CLAUDE_CONFIG_DIR',
  'CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC',
  'HOME',
  'IS_SANDBOX',
]);

/** Placeholder key the Claude process holds; the model proxy replaces it. */
export const PROXY_PLACEHOLDER_KEY = 'ash-model-proxy';

export interface SandboxManagerOptions {
  /** Requested isolation. `bwrap` needs bubblewrap and cgroups; `unsafe-process` uses what exists. */
  mode: IsolationMode;
  /** Path of bwrap when not in /usr/bin, /bin, /usr/local/bin. */
  bwrapPath?: string;
  /** Path of the bridge entry script (`@ash-ai/bridge` dist/main.js). */
  bridgeEntry: string;
  /** The Claude executable on the host. */
  claudeExecutable: string;
  /**
   * Name of this server's parent cgroup and runtime dir (stable per data dir, so a restart sweeps
   * its own leftovers); starts with `ash-`.
   */
  groupName: string;
  defaultLimits?: SandboxLimits;
  /** Base URL of the real Messages API. */
  modelUpstreamUrl: string;
  /** Extra variables for every Claude process (e.g. CLAUDE_CODE_MAX_RETRIES). */
  baseClaudeEnv?: Record<string, string>;
  /**
   * One fixed host uid/gid every sandbox runs as when the server is root. Unset (the default):
   * each live sandbox gets its own uid (gid = uid) from {@link sandboxUidRange}.
   */
  sandboxUid?: number;
  sandboxGid?: number;
  /** Host uids handed out one per live sandbox when the server is root (default 200000-265535). */
  sandboxUidRange?: { first: number; last: number };
  /** Where servers on this host record the uids they hand out (default /run/ash-sandbox-uids). */
  uidLockDir?: string;
  /**
   * Folder holding the session folders (`<id>/workspace`, `<id>/claude`): sandbox disks a crashed
   * run left there are repaired when the manager starts.
   */
  sessionsRoot?: string;
  /** Give each sandbox its own fixed-size file system (default true; needs root and loop devices). */
  diskImages?: boolean;
  /**
   * Host-wide cache for the read-only image of the Claude executable (default /var/cache/ash) and
   * where it is mounted (default /run/ash-claude): see `neutralClaudePath`.
   */
  claudeImageDir?: string;
  claudeMountRoot?: string;
  /** Where runtime sockets live (default the OS temp dir). Keep it short: Unix socket paths max out at 107 bytes. */
  runtimeRoot?: string;
  /** How often limits are checked while a turn runs, ms (default 250). */
  limitPollMs?: number;
  /** Bridges kept started ahead of time, ready to be given a session (default 1; 0 = none). */
  spareBridges?: number;
  /**
   * How long after a spare bridge is taken its replacement starts, ms (default 0). A Node boot
   * next to a starting Claude process slows that start even at nice 19 (measured on 2 cores:
   * +20-30% to a cold first turn), so the server waits until the first turn is under way. Not
   * used once a background gate is set ({@link SandboxManager.setBackgroundGate}): the refill
   * then waits for every user start's Claude process to be up.
   */
  spareRefillDelayMs?: number;
  /** How long a bridge may take to connect and say ready, ms (default 20000). */
  readyTimeoutMs?: number;
  /** Egress settings of every sandbox that has a network policy allowing something. */
  egress?: {
    /** Private ranges that may be reached (`ASH_EGRESS_ALLOW_CIDRS`). */
    allowCidrs: BlockList;
    limits: EgressLimits;
    /**
     * The egress CA, for hosts with a bound credential (TLS terminated to add its header). Its
     * certificate is trusted in every sandbox with network; undefined: such HTTPS is refused.
     */
    ca?: EgressCa | undefined;
    /** CA certificates (PEM) that verify intercepted upstreams (`ASH_EGRESS_CA_FILE` + Node's roots). */
    upstreamCa?: string[] | undefined;
  };
  log: Logger;
}

/** The network of one sandbox (see `EgressRules`). */
export interface SandboxEgressSpec {
  /** False: the sandbox has no network at all (no proxy, no forwarder, no proxy variables). */
  enabled: boolean;
  /** Decides each connection (asked per connection, so a policy change applies at once). */
  decide: (host: string, port: number) => EgressDecision;
  /** Called once per connection, allowed or refused. */
  onConnection?: (c: EgressConnection) => void;
}

/** What a sandbox is started with. */
export interface StartSandboxSpec {
  /** The session id (also the sandbox id). */
  id: string;
  /** Host directory mounted as the workspace. */
  workspaceDir: string;
  /** Host directory used as CLAUDE_CONFIG_DIR (transcripts). */
  claudeConfigDir: string;
  /** The agent-visible environment (agent env, session extraEnv, credential variables). */
  env: Record<string, string>;
  limits?: SandboxLimits;
  /** The model API key for this sandbox's proxy. */
  resolveApiKey: () => string | undefined;
  /** Metering hook of the model proxy. */
  onUsage?: (usage: ModelCallUsage) => void;
  /** Admission hook of the model proxy (refuses calls, e.g. over a budget). */
  admit?: ModelProxyOptions['admit'];
  /** Observer of each model call (traces, metrics). */
  observe?: ModelProxyOptions['observe'];
  /** The sandbox's network (bwrap only); absent or disabled: no network. */
  egress?: SandboxEgressSpec;
  /**
   * Where this sandbox's model proxy forwards, instead of the manager's `modelUpstreamUrl`: a
   * runner in another process sends its sandboxes' model calls to the coordinator's model gateway
   * (a base path is kept). A function is asked at each model call.
   */
  modelUpstreamUrl?: string | (() => string);
}

/** Raised when the requested isolation cannot be provided; the message says what to do. */
export class SandboxUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SandboxUnavailableError';
  }
}

/** Raised when a sandbox fails to start. */
export class SandboxStartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SandboxStartError';
  }
}

/**
 * Starts sandboxes on this host: prepares the host once (isolation, cgroups, disks, uids) and
 * makes sandboxes (bridge processes started ahead of time included). It is the factory of the
 * runner's pool (@ash-ai/runner `SandboxPool`), which is the one registry of live sandboxes,
 * their capacity, spares and eviction; one per process.
 */
export class SandboxManager {
  /** Sandboxes started and still running: only so one id runs once and close() leaves none. */
  private readonly live = new Map<string, Sandbox>();
  private instances = 0;
  private readonly idleBridges: BridgeProcess[] = [];
  private refilling: Promise<void> | undefined;
  private refillTimer: NodeJS.Timeout | undefined;
  private closing = false;
  private readonly dispatcher: UpstreamPool;
  private readonly limits: SandboxLimits;
  private readonly fileLocks = new KeyedLock();
  /**
   * Per sandbox id, the cleanup of its latest sandbox (resolves when its processes are gone and
   * its disk was released). A new start with the same id waits for it: a crashed sandbox's disk
   * release would otherwise unmount the files of its successor.
   */
  private readonly cleanups = new Map<string, Promise<void>>();
  /** Starts under way (close() waits for them). */
  private readonly inFlight = new Set<Promise<Sandbox>>();
  /** uid of each session's sandbox from the moment it is taken (before the sandbox is live). */
  private readonly owners = new Map<string, { uid: number; gid: number }>();
  /** Blank disk images made ahead of time (per-sandbox disks only). */
  private readonly blanks: BlankImages | undefined;
  /** Background work (spare bridges, blank images) waits for this: see {@link setBackgroundGate}. */
  private quiet: () => Promise<void> = async () => undefined;
  /** A background gate was set: spare bridges are refilled when it opens, not after a delay. */
  private gated = false;
  /** Resolves when close() begins (background work stops waiting for the gate). */
  private readonly closingSignal: Promise<void>;
  private signalClosing!: () => void;
  readonly info: SandboxInfo;

  private constructor(
    private readonly opts: SandboxManagerOptions,
    private readonly tools: HostTools,
    private readonly cgroups: CgroupManager,
    private readonly runtimeRoot: string,
    /** A fixed sandbox user (ASH_SANDBOX_UID), when one is configured and the server is root. */
    private readonly sandboxUser: { uid: number; gid: number } | undefined,
    /** Per-sandbox uids, when the server is root and no fixed user is configured. */
    private readonly uids: UidPool | undefined,
    /** Tools for per-sandbox file systems, when this host supports them. */
    private readonly diskTools: DiskTools | undefined,
    /** What sandboxes bind as /opt/claude/claude (a path on a neutral image, or the executable). */
    private readonly claudeBindSource: string,
    warnings: string[],
  ) {
    this.dispatcher = createUpstreamDispatcher();
    this.limits = opts.defaultLimits ?? DEFAULT_SANDBOX_LIMITS;
    this.blanks =
      diskTools && opts.sessionsRoot && this.limits.diskMb > 0
        ? new BlankImages(
            diskTools,
            blankImageDir(opts.sessionsRoot),
            this.limits.diskMb * 1024 * 1024,
            1,
            opts.log,
            () => this.whenQuiet(),
          )
        : undefined;
    this.closingSignal = new Promise((r) => (this.signalClosing = r));
    this.info = {
      mode: opts.mode,
      limits: cgroups.version,
      disk: diskTools ? 'filesystem' : 'poll',
      warnings,
    };
  }

  /**
   * Detects what the host offers and prepares the manager. Sweeps sandbox cgroups a previous run
   * of this server left behind. Starts no spare bridge: call {@link refillIdleBridges} once the
   * host is ready (a server after it listens: a bridge's Node start would compete with its own).
   * @throws SandboxUnavailableError when `mode` is `bwrap` and bubblewrap or cgroups are missing.
   */
  static async create(opts: SandboxManagerOptions): Promise<SandboxManager> {
    const tools = detectHostTools(opts.bwrapPath);
    const cgroups = CgroupManager.detect(opts.groupName, opts.log);
    const warnings: string[] = [];
    if (opts.mode === 'bwrap') {
      if (tools.bwrapProblem) {
        throw new SandboxUnavailableError(
          `${tools.bwrapProblem}. Install bubblewrap (apt-get install bubblewrap), or set ASH_SANDBOX=unsafe-process to run sessions without isolation.`,
        );
      }
      if (cgroups.version === 'none') {
        throw new SandboxUnavailableError(
          'cgroups are not available or not writable, so sandbox resource limits cannot be enforced. Run as root on a host with cgroups, or set ASH_SANDBOX=unsafe-process to run without isolation.',
        );
      }
      if (process.getuid?.() === 0 && !tools.setpriv) {
        throw new SandboxUnavailableError('setpriv (util-linux) is required to drop sandbox privileges');
      }
    } else {
      warnings.push(
        'ASH_SANDBOX=unsafe-process: sessions run as plain processes without filesystem or network isolation',
      );
      if (cgroups.version === 'none') warnings.push('cgroups unavailable: no memory, process or CPU limits');
    }
    const isRoot = process.getuid?.() === 0;
    const privileged = opts.mode === 'bwrap' && isRoot;
    const sandboxUser =
      privileged && opts.sandboxUid !== undefined
        ? { uid: opts.sandboxUid, gid: opts.sandboxGid ?? opts.sandboxUid }
        : undefined;
    const uids =
      privileged && !sandboxUser
        ? new UidPool(opts.sandboxUidRange ?? DEFAULT_SANDBOX_UID_RANGE, opts.uidLockDir)
        : undefined;
    // One runtime dir per server (named like its cgroup): a restart after a crash removes what
    // the previous run left there (sockets of sandboxes that died with it).
    const root = join(opts.runtimeRoot ?? tmpdir(), opts.groupName);
    rmSync(root, { recursive: true, force: true });
    mkdirSync(root, { recursive: true, mode: 0o711 });
    chmodSync(root, 0o711);
    // The disk limit is enforced by the kernel when each sandbox can get its own file system;
    // otherwise the workspace size is polled during turns (weaker: see docs/security.md).
    let diskTools: DiskTools | undefined;
    let claudeBindSource = opts.claudeExecutable;
    if (opts.mode === 'bwrap' && opts.diskImages !== false) {
      const probe = await detectDiskSupport(root);
      if ('tools' in probe) {
        diskTools = probe.tools;
        opts.log.info({ probeMs: probe.probeMs }, 'sandbox disks: one loop-mounted ext4 image per sandbox');
        if (opts.sessionsRoot) {
          await SandboxDisk.recoverAll(diskTools, opts.sessionsRoot, opts.log);
          await BlankImages.prepare(blankImageDir(opts.sessionsRoot));
        }
        try {
          claudeBindSource = await neutralClaudePath(
            diskTools,
            opts.claudeExecutable,
            opts.log,
            opts.claudeImageDir,
            opts.claudeMountRoot,
          );
        } catch (err) {
          warnings.push(
            `the Claude executable is bound from its install path, which sandboxes can read in their mount info: ${err instanceof Error ? err.message : String(err)}`,
          );
        }
      } else
        warnings.push(
          `sandbox disk limit enforced by polling the workspace size during turns (not by the kernel): ${probe.problem}`,
        );
    }
    const manager = new SandboxManager(
      opts,
      tools,
      cgroups,
      root,
      sandboxUser,
      uids,
      diskTools,
      claudeBindSource,
      warnings,
    );
    await cgroups.sweepStale();
    return manager;
  }

  /**
   * Makes background work (refilling spare bridges, making blank disk images) wait for `gate`
   * before each step: the runner's pool resolves it when no user's sandbox start is under way, so
   * that work never takes CPU from a start somebody waits for.
   */
  setBackgroundGate(gate: () => Promise<void>): void {
    this.quiet = gate;
    this.gated = true;
  }

  /** The background gate, or close() beginning, whichever comes first. */
  private whenQuiet(): Promise<void> {
    return Promise.race([this.quiet(), this.closingSignal]);
  }

  /**
   * The host uid/gid sandboxed processes run as (set when the server is root), or undefined: then
   * sandboxes run as the server's own user and files need no hand-over. Files the server creates
   * in a workspace are given to this owner with fchown on the open file, never by path.
   */
  get sandboxOwner(): { uid: number; gid: number } | undefined {
    return this.sandboxUser ? { ...this.sandboxUser } : undefined;
  }

  /**
   * Holds off the moments a session's sandbox disk is filled (start) or emptied (stop), when its
   * files move between the host folders and the image: the server takes this around every file
   * request of the session. Resolves to the release function.
   */
  lockSessionFiles(id: string): Promise<() => void> {
    return this.fileLocks.acquire(id);
  }

  /**
   * The host uid/gid the sandbox of session `id` runs as, while it lives (or the fixed sandbox
   * user); undefined when no sandbox of it runs here or sandboxes run as the server's own user.
   * A sandbox that starts later takes ownership of every file of its session itself.
   */
  ownerOf(id: string): { uid: number; gid: number } | undefined {
    const o = this.owners.get(id);
    return o ? { ...o } : this.sandboxOwner;
  }

  get defaultLimits(): SandboxLimits {
    return this.limits;
  }

  /**
   * Makes a host path usable by sandboxed processes (owned by the sandbox user when the server is
   * root). Call after writing into a workspace from the host.
   */
  async adoptPath(path: string, recursive = true, owner = this.sandboxUser): Promise<void> {
    const u = owner;
    if (!u) return;
    if (!recursive) {
      chownSync(path, u.uid, u.gid);
      return;
    }
    // lchown never follows a link; a walk in-process costs far less than spawning chown -R.
    const walk = async (p: string): Promise<void> => {
      await lchown(p, u.uid, u.gid);
      const st = await lstat(p);
      if (!st.isDirectory()) return;
      for (const name of await readdir(p)) await walk(join(p, name));
    };
    await walk(path);
  }

  /**
   * Starts a sandbox: model proxy, cgroup, bridge process; resolves once the bridge said ready.
   * @throws SandboxStartError when any step fails (everything started is cleaned up).
   */
  async start(spec: StartSandboxSpec): Promise<Sandbox> {
    const started = this.doStart(spec);
    this.inFlight.add(started);
    try {
      const sandbox = await started;
      // Closed meanwhile: close() waited for this start; nothing may outlive it (its disk stays mounted).
      if (this.closing) {
        await sandbox.stop();
        throw new SandboxStartError('the sandbox manager is closing');
      }
      return sandbox;
    } finally {
      this.inFlight.delete(started);
    }
  }

  private async doStart(spec: StartSandboxSpec): Promise<Sandbox> {
    if (!/^[a-zA-Z0-9-]{1,48}$/.test(spec.id)) throw new SandboxStartError('invalid sandbox id');
    if (this.live.has(spec.id)) throw new SandboxStartError('sandbox already running');
    await this.cleanups.get(spec.id);
    if (this.live.has(spec.id)) throw new SandboxStartError('sandbox already running');
    const log = this.opts.log.child({ sandboxId: spec.id });
    const limits = spec.limits ?? this.limits;
    // Each start gets its own runtime dir and cgroup name: the cleanup of a crashed predecessor
    // with the same id can never remove what this one creates.
    const instance = `${spec.id}.${++this.instances}`;
    const runtimeDir = join(this.runtimeRoot, instance);
    let apiDir = join(runtimeDir, 'api');
    let homeDir = join(runtimeDir, 'home');
    let etcDir = join(runtimeDir, 'etc');
    let tmpDir: string | undefined;
    let cgroup: SandboxCgroup | undefined;
    let proxy: ModelProxy | undefined;
    let egress: EgressProxy | undefined;
    let sandboxRef: Sandbox | undefined;
    let bridge: BridgeProcess | undefined;
    let disk: SandboxDisk | undefined;
    let uid: number | undefined;
    const phases = phaseClock();
    try {
      if (this.uids) uid = this.uids.acquire();
      const owner = uid !== undefined ? { uid, gid: uid } : this.sandboxUser;
      if (owner) this.owners.set(spec.id, owner);
      rmSync(runtimeDir, { recursive: true, force: true });
      mkdirSync(runtimeDir, { recursive: true, mode: 0o711 });
      chmodSync(runtimeDir, 0o711);
      if (this.diskTools && owner && limits.diskMb > 0) {
        // Workspace, config dir, home, /tmp and the proxy socket on one fixed-size file system.
        disk = await SandboxDisk.create({
          tools: this.diskTools,
          workspaceDir: spec.workspaceDir,
          claudeConfigDir: spec.claudeConfigDir,
          limitBytes: limits.diskMb * 1024 * 1024,
          owner,
          log,
          exclusive: (fn) => this.fileLocks.run(spec.id, fn),
          blanks: this.blanks,
        });
        phases.mark('disk');
        apiDir = disk.path('run');
        homeDir = disk.path('home');
        etcDir = disk.path('etc');
        tmpDir = disk.path('tmp');
      } else {
        mkdirSync(apiDir, { recursive: true, mode: 0o700 });
        mkdirSync(homeDir, { recursive: true, mode: 0o700 });
        mkdirSync(spec.workspaceDir, { recursive: true });
        mkdirSync(spec.claudeConfigDir, { recursive: true });
        if (owner) {
          chownSync(apiDir, owner.uid, owner.gid);
          chownSync(homeDir, owner.uid, owner.gid);
          await this.adoptPath(spec.workspaceDir, true, owner);
          await this.adoptPath(spec.claudeConfigDir, true, owner);
        }
      }
      writeSandboxEtc(etcDir, owner ? owner.uid : USERNS_INNER_UID);
      phases.mark('etc');
      proxy = await ModelProxy.listen({
        socketPath: join(apiDir, 'model.sock'),
        upstreamUrl: spec.modelUpstreamUrl ?? this.opts.modelUpstreamUrl,
        resolveApiKey: spec.resolveApiKey,
        socketOwner: owner,
        onUsage: spec.onUsage,
        admit: spec.admit,
        observe: spec.observe,
        dispatcher: this.dispatcher,
        log,
      });
      // Network: only through the host-side egress proxy, when the policy allows anything.
      if (spec.egress?.enabled && this.opts.mode === 'bwrap' && this.opts.egress) {
        writeFileSync(join(apiDir, 'egress-forwarder.cjs'), EGRESS_FORWARDER_SOURCE, { mode: 0o644 });
        writeFileSync(join(apiDir, 'egress-preload.cjs'), egressPreloadSource(), { mode: 0o644 });
        const egressSpec = spec.egress;
        egress = await EgressProxy.listen({
          socketPath: join(apiDir, 'egress.sock'),
          socketOwner: owner,
          decide: (host, port) => egressSpec.decide(host, port),
          allowCidrs: this.opts.egress.allowCidrs,
          limits: this.opts.egress.limits,
          ...(egressSpec.onConnection ? { onConnection: egressSpec.onConnection } : {}),
          onLimit: (limit, message) => sandboxRef?.egressLimitHit(limit, message),
          tls: this.opts.egress.ca && { ca: this.opts.egress.ca, upstreamCa: this.opts.egress.upstreamCa },
          log,
        });
        if (this.opts.egress.ca) {
          writeFileSync(join(apiDir, EGRESS_CA_FILES.cert), this.opts.egress.ca.certPem, { mode: 0o644 });
          writeFileSync(join(apiDir, EGRESS_CA_FILES.bundle), this.opts.egress.ca.bundlePem(), {
            mode: 0o644,
          });
        }
      }
      phases.mark('proxy');
      cgroup = this.cgroups.create(instance, limits);
      phases.mark('cgroup');
      const launch = buildLaunch({
        mode: this.opts.mode,
        tools: this.tools,
        limits,
        cgroup,
        sandboxUser: owner,
        // Bound from the image itself: inside, mount info shows `/workspace`, not a host path.
        workspaceDir: disk ? disk.path('workspace') : spec.workspaceDir,
        claudeConfigDir: disk ? disk.path('claude') : spec.claudeConfigDir,
        homeDir,
        apiDir,
        etcDir,
        ...(tmpDir ? { tmpDir } : {}),
        argsFile: join(runtimeDir, 'bwrap.args'),
        claudeExecutable: this.opts.mode === 'bwrap' ? this.claudeBindSource : this.opts.claudeExecutable,
        ...(egress
          ? {
              egressForwarder: { nodePath: process.execPath, port: EGRESS_PROXY_PORT },
              undiciDir: undiciPackageDir(),
            }
          : {}),
      });
      const claudeEnv = this.claudeEnv(launch, spec.env);
      // (The launcher adds the fetch preload to NODE_OPTIONS: see buildLaunch.)
      if (egress) Object.assign(claudeEnv, egressProxyEnv(EGRESS_PROXY_PORT));
      if (egress && this.opts.egress?.ca) Object.assign(claudeEnv, egressCaEnv());
      const config: BridgeProcessConfig = {
        socketPath: '',
        cwd: launch.cwd,
        hostCwd: spec.workspaceDir,
        claudeConfigDir: spec.claudeConfigDir,
        claudeEnv,
        settingSources: ['project', 'local'],
        launch: { command: launch.command, args: launch.args, claudePath: launch.claudePath },
      };
      // A bridge started ahead of time saves its Node start-up (~200 ms); else start one now.
      phases.mark('launch');
      bridge = this.takeIdleBridge();
      const spawned = !bridge;
      if (bridge) {
        bridge.connection.send({ cmd: 'configure', config: { ...config, socketPath: bridge.socketPath } });
      } else {
        bridge = await this.spawnBridge(
          runtimeDir,
          (socketPath) => ({ ASH_BRIDGE_CONFIG: JSON.stringify({ ...config, socketPath }) }),
          log,
        );
      }
      phases.mark(spawned ? 'bridgeSpawn' : 'bridgeSpare');
      log.debug({ phases: phases.done() }, 'sandbox started');
      this.scheduleRefill();
      let cleanedUp!: () => void;
      const cleaned = new Promise<void>((resolve) => {
        cleanedUp = resolve;
      });
      this.cleanups.set(spec.id, cleaned);
      const sandbox = new Sandbox({
        id: spec.id,
        workspaceDir: spec.workspaceDir,
        runtimeDirs: bridge.dir === runtimeDir ? [runtimeDir] : [runtimeDir, bridge.dir],
        limits,
        bridge: bridge.child,
        connection: bridge.connection,
        bridgeServer: bridge.server,
        proxy,
        egress,
        cgroup,
        log,
        limitPollMs: this.opts.limitPollMs ?? 250,
        execLaunch: {
          command: launch.command,
          args: launch.args,
          hostCwd: spec.workspaceDir,
          env: claudeEnv,
        },
        disk,
        owner,
        onCleanedUp: () => {
          if (this.owners.get(spec.id) === owner) this.owners.delete(spec.id);
          if (uid !== undefined) this.uids?.release(uid);
          if (this.cleanups.get(spec.id) === cleaned) this.cleanups.delete(spec.id);
          cleanedUp();
        },
      });
      sandboxRef = sandbox;
      this.live.set(spec.id, sandbox);
      sandbox.onExit(() => {
        if (this.live.get(spec.id) === sandbox) this.live.delete(spec.id);
      });
      return sandbox;
    } catch (err) {
      if (bridge) killBridge(bridge);
      if (cgroup) {
        await cgroup.killAll();
        cgroup.remove();
      }
      await proxy?.close().catch(() => undefined);
      await egress?.close().catch(() => undefined);
      await disk
        ?.release()
        .catch((e: unknown) => log.error({ err: String(e) }, 'sandbox disk release failed'));
      if (uid !== undefined) {
        if (this.owners.get(spec.id)?.uid === uid) this.owners.delete(spec.id);
        this.uids?.release(uid);
      }
      rmSync(runtimeDir, { recursive: true, force: true });
      log.warn({ err: err instanceof Error ? err.message : String(err) }, 'sandbox failed to start');
      throw err instanceof SandboxStartError
        ? err
        : new SandboxStartError(err instanceof Error ? err.message : String(err));
    }
  }

  /**
   * Starts a bridge process in `dir` and waits until it connected and said `ready`.
   * @param env extra environment for it, given the socket path it must connect to.
   * @param background a spare: when the server is root, it boots at nice 19 so it never takes
   *   CPU from a Claude process starting for a waiting user (on 2 cores a Node boot next to it
   *   added ~40% to a first turn); {@link takeIdleBridge} restores the server's own priority.
   * @throws SandboxStartError when it exits or does not connect in time.
   */
  private async spawnBridge(
    dir: string,
    env: (socketPath: string) => Record<string, string>,
    log: Logger,
    background = false,
  ): Promise<BridgeProcess> {
    mkdirSync(dir, { recursive: true, mode: 0o711 });
    const socketPath = join(dir, 'bridge.sock');
    rmSync(socketPath, { force: true });
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => resolve());
    });
    chmodSync(socketPath, 0o600);
    const connected = new Promise<Socket>((resolve) => server.once('connection', resolve));
    // A clean environment: nothing of the server's (no keys) reaches the bridge. With setpriv the
    // bridge dies with the server (parent-death signal), even on SIGKILL.
    const node = [process.execPath, ...BRIDGE_NODE_FLAGS, this.opts.bridgeEntry];
    const argv = this.tools.setpriv ? [this.tools.setpriv, '--pdeathsig', 'SIGKILL', '--', ...node] : node;
    // Lowering a nice value needs root: only then can a niced spare be brought back to normal.
    const niced = background && this.tools.nice !== undefined && process.getuid?.() === 0;
    if (niced) argv.unshift(this.tools.nice!, '-n', '19');
    const child = spawn(argv[0]!, argv.slice(1), {
      env: {
        PATH: '/usr/local/bin:/usr/bin:/bin',
        NODE_NO_WARNINGS: '1',
        ASH_BRIDGE_SOCKET: socketPath,
        ...env(socketPath),
      },
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    child.stdout?.on('data', (d: Buffer) => log.debug({ stream: 'stdout' }, d.toString().slice(0, 2000)));
    child.stderr?.on('data', (d: Buffer) => log.debug({ stream: 'stderr' }, d.toString().slice(0, 2000)));
    const exitedEarly = new Promise<never>((_, reject) =>
      child.once('exit', (code, signal) =>
        reject(new SandboxStartError(`bridge exited during start (${signal ?? code})`)),
      ),
    );
    exitedEarly.catch(() => undefined);
    const timeoutMs = this.opts.readyTimeoutMs ?? 20_000;
    try {
      const socket = await Promise.race([
        connected,
        exitedEarly,
        timeout(timeoutMs, 'bridge did not connect'),
      ]);
      const connection = new BridgeConnection(socket, log);
      await Promise.race([connection.ready, exitedEarly, timeout(timeoutMs, 'bridge did not become ready')]);
      return { child, server, connection, socketPath, dir, niced };
    } catch (err) {
      killBridge({ child, server });
      throw err;
    }
  }

  /** How many ready, unconfigured bridges (spares) wait to be taken right now. */
  get spareBridgeCount(): number {
    return this.idleBridges.length;
  }

  /** A ready, unconfigured bridge, if one is waiting. */
  private takeIdleBridge(): BridgeProcess | undefined {
    while (this.idleBridges.length > 0) {
      const b = this.idleBridges.shift()!;
      if (!b.connection.isClosed && b.child.exitCode === null && b.child.signalCode === null) {
        // Back to the server's own priority (an operator may run it niced, or above normal).
        if (b.niced && b.child.pid !== undefined) setTreePriority(b.child.pid, getPriority());
        return b;
      }
      killBridge(b);
      rmSync(b.dir, { recursive: true, force: true });
    }
    return undefined;
  }

  /** Refills the spare bridges after `spareRefillDelayMs` (at once when it is 0). */
  private scheduleRefill(): void {
    // With a background gate the refill waits for the start that took the bridge (and any other
    // user start) to have its Claude process up, which is what the delay stood in for: a start
    // right after (a resume after a create) then finds a spare bridge instead of booting one.
    const delay = this.gated ? 0 : (this.opts.spareRefillDelayMs ?? 0);
    if (delay <= 0) {
      this.refillIdleBridges();
      return;
    }
    if (this.refillTimer) return;
    this.refillTimer = setTimeout(() => {
      this.refillTimer = undefined;
      this.refillIdleBridges();
    }, delay);
    this.refillTimer.unref();
  }

  /**
   * Keeps `spareBridges` unconfigured bridges started and the blank disk images made, in the
   * background (the first call is the host's warm-up once it is ready).
   */
  refillIdleBridges(): void {
    if (this.closing) return;
    this.blanks?.refill();
    if (this.refilling) return;
    const target = this.opts.spareBridges ?? 1;
    if (this.idleBridges.length >= target) return;
    this.refilling = (async () => {
      while (!this.closing && this.idleBridges.length < target) {
        await this.whenQuiet();
        if (this.closing) break;
        const dir = join(this.runtimeRoot, `bridge-${++this.instances}`);
        try {
          const b = await this.spawnBridge(dir, () => ({}), this.opts.log, true);
          if (this.closing) {
            killBridge(b);
            break;
          }
          b.connection.onClose(() => {
            const i = this.idleBridges.indexOf(b);
            if (i >= 0) this.idleBridges.splice(i, 1);
          });
          this.idleBridges.push(b);
        } catch (err) {
          this.opts.log.warn(
            { err: err instanceof Error ? err.message : String(err) },
            'could not start a spare bridge',
          );
          break;
        }
      }
    })().finally(() => {
      this.refilling = undefined;
    });
  }

  /** Stops every sandbox still running (the pool stopped its own before; this is the safety net). */
  private async stopAll(): Promise<void> {
    await Promise.all([...this.live.values()].map((s) => s.stop()));
  }

  /** Stops everything and removes the runtime directory. */
  async close(): Promise<void> {
    this.closing = true;
    this.signalClosing();
    if (this.refillTimer) clearTimeout(this.refillTimer);
    await this.refilling;
    await this.blanks?.close();
    for (const b of this.idleBridges.splice(0)) killBridge(b);
    await Promise.allSettled([...this.inFlight]);
    await this.stopAll();
    await this.cgroups.removeParents();
    await this.dispatcher.close().catch(() => undefined);
    this.uids?.releaseAll();
    rmSync(this.runtimeRoot, { recursive: true, force: true });
  }

  private claudeEnv(
    launch: ReturnType<typeof buildLaunch>,
    own: Record<string, string>,
  ): Record<string, string> {
    const env: Record<string, string> = {
      PATH: '/usr/local/bin:/usr/bin:/bin',
      LANG: 'C.UTF-8',
      SHELL: '/bin/bash',
      USER: 'agent',
      TMPDIR: '/tmp',
      ...this.opts.baseClaudeEnv,
    };
    for (const [k, v] of Object.entries(own)) if (!RESERVED_SANDBOX_ENV.has(k)) env[k] = v;
    Object.assign(env, {
      HOME: launch.home,
      CLAUDE_CONFIG_DIR: launch.claudeConfigDir,
      ANTHROPIC_UNIX_SOCKET: launch.modelSocket,
      ANTHROPIC_BASE_URL: 'http://localhost',
      ANTHROPIC_API_KEY: PROXY_PLACEHOLDER_KEY,
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
      DISABLE_AUTOUPDATER: '1',
      // The process is sandboxed; lets the CLI accept bypassPermissions when the uid is 0 (unsafe mode as root).
      IS_SANDBOX: '1',
    });
    return env;
  }
}

/**
 * The proxy variables of a sandbox with network: every common spelling, so curl, git, pip, npm,
 * node (`NODE_USE_ENV_PROXY` on Node >= 24; on Node 20 the fetch preload in `NODE_OPTIONS`, see
 * egress-preload.ts) and the Claude Code WebFetch tool use the in-sandbox forwarder.
 */
export function egressProxyEnv(port: number): Record<string, string> {
  const url = `http://127.0.0.1:${port}`;
  const noProxy = 'localhost,127.0.0.1,::1';
  return {
    HTTP_PROXY: url,
    HTTPS_PROXY: url,
    http_proxy: url,
    https_proxy: url,
    NO_PROXY: noProxy,
    no_proxy: noProxy,
    npm_config_proxy: url,
    npm_config_https_proxy: url,
    NODE_USE_ENV_PROXY: '1',
  };
}

/** Files of the egress CA in a sandbox's /run/ash: its certificate, and the system roots plus it. */
const EGRESS_CA_FILES = { cert: 'egress-ca.pem', bundle: 'ca-bundle.pem' } as const;

/**
 * The variables that make tools in a sandbox with network trust the egress CA (for hosts with a
 * bound credential): Node adds `NODE_EXTRA_CA_CERTS` to its roots; OpenSSL (`SSL_CERT_FILE`),
 * curl, Python requests, pip, git and npm get a bundle of the system roots plus the CA.
 */
export function egressCaEnv(): Record<string, string> {
  const dir = SANDBOX_PATHS.apiDir;
  const bundle = `${dir}/${EGRESS_CA_FILES.bundle}`;
  return {
    NODE_EXTRA_CA_CERTS: `${dir}/${EGRESS_CA_FILES.cert}`,
    SSL_CERT_FILE: bundle,
    REQUESTS_CA_BUNDLE: bundle,
    CURL_CA_BUNDLE: bundle,
    GIT_SSL_CAINFO: bundle,
    PIP_CERT: bundle,
    npm_config_cafile: bundle,
  };
}

/** A bridge process with its socket. */
interface BridgeProcess {
  child: ChildProcess;
  server: Server;
  connection: BridgeConnection;
  socketPath: string;
  dir: string;
  /** Started at a low CPU priority (a spare), to be restored when taken. */
  niced: boolean;
}

/**
 * Sets the nice value of every thread of a process (Linux priorities are per thread, and Node's
 * helper threads inherited the low one). Best effort: a thread may come and go meanwhile.
 */
function setTreePriority(pid: number, priority: number): void {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    tids = [String(pid)];
  }
  for (const tid of tids) {
    try {
      setPriority(Number(tid), priority);
    } catch {
      // gone, or not permitted
    }
  }
}

/** Where blank disk images wait: beside the sessions folder (same file system: moved by rename). */
function blankImageDir(sessionsRoot: string): string {
  return join(dirname(sessionsRoot), 'blank-disks');
}

/** Durations of a start's steps, ms (debug log). */
function phaseClock(): { mark(name: string): void; done(): Record<string, number> } {
  const out: Record<string, number> = {};
  const t0 = performance.now();
  let last = t0;
  return {
    mark(name) {
      const t = performance.now();
      out[name] = Math.round((t - last) * 10) / 10;
      last = t;
    },
    done() {
      out.total = Math.round((performance.now() - t0) * 10) / 10;
      return out;
    },
  };
}

function killBridge(b: { child: ChildProcess; server: Server }): void {
  if (b.child.pid !== undefined && b.child.exitCode === null && b.child.signalCode === null) {
    try {
      process.kill(-b.child.pid, 'SIGKILL');
    } catch {
      b.child.kill('SIGKILL');
    }
  }
  b.server.close();
}

function timeout(ms: number, what: string): Promise<never> {
  return new Promise((_, reject) => {
    const t = setTimeout(() => reject(new SandboxStartError(`${what} within ${ms} ms`)), ms);
    t.unref();
  });
}
