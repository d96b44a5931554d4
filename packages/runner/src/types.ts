import type {
  BridgeSdkOptions,
  Conversation,
  ExecResult,
  LogEntry,
  MessageContent,
  ToolAnswer,
  TurnOutcome,
} from '@ash-ai/shared';
import type {
  ModelCallObserver,
  ModelCallRefusal,
  ModelCallUsage,
  SandboxEgressSpec,
  TurnEvent,
} from '@ash-ai/sandbox';
import type { PoolCounters } from './counters.js';

/**
 * The model-call hooks of one sandbox's model proxy: which key to add, and the metering,
 * admission (budgets) and tracing of each call. These are the only callbacks into the server that
 * a sandbox holds. In process they are direct calls; a runner in another process has none: its
 * sandboxes' model traffic goes through the server's model gateway, which runs the same hooks
 * there (so a runner never holds a provider key).
 */
export interface ModelCallHooks {
  /** The provider key the proxy adds (read at each call). */
  resolveApiKey(): string | undefined;
  /** One metered model response. */
  onUsage?(usage: ModelCallUsage): void;
  /** Before a call is forwarded: a refusal answers it (e.g. 403 over a budget). */
  admit?(): Promise<ModelCallRefusal | undefined>;
  /** Watches one call (its span and metrics); its headers go upstream with the request. */
  observe?(): ModelCallObserver | undefined;
}

/** What a session's sandbox starts with (asked for once its start is admitted). */
export interface SandboxSpec {
  /** The agent-visible environment: agent env, credential variables, session extraEnv. */
  env: Record<string, string>;
  /** The agent's `limits` overrides (the runner's defaults fill the rest). */
  limits?: Record<string, unknown>;
  model: ModelCallHooks;
  /**
   * The sandbox's network: its policy (read at each connection) and where each connection is
   * reported. None = no network. On a link, the runner holds the rules and reports connections.
   */
  egress?: SandboxEgressSpec;
  /**
   * Where the sandbox's model proxy forwards (default: the factory's upstream). A runner in another
   * process points it at the coordinator's model gateway (a function: asked at each model call).
   */
  modelUpstreamUrl?: string | (() => string);
}

/**
 * How the session engine takes part in one sandbox start. The runner calls `prepare` only when a
 * new sandbox must start, after the start got a slot and its permit (so a queued start claims
 * nothing yet). A runner in another process asks the coordinator for the same answers over its
 * link (`prepare` is the spec it pulls; the others are notifications it pushes).
 */
export interface SandboxStarter {
  /**
   * Claims the session for this runner and says what to start.
   * @throws whatever refuses the start (owned elsewhere, revoked credential): it fails the start.
   */
  prepare(): Promise<SandboxSpec>;
  /** The start's place in the start queue (1 = next), and 0 once it may go. */
  onQueuePosition?(position: number): void;
  /**
   * The start is over (called once, however it ended, `prepare` failures included): `error` is
   * undefined when the sandbox is up.
   */
  onStarted?(error: unknown): void;
  /** What a prewarm starts the Claude process with (read once the sandbox is up). */
  warmOptions?(): Promise<{ options: BridgeSdkOptions; conversation: Conversation }>;
}

/** An agent version to keep warm spares of (plain data). */
export interface SpareAgent {
  tenantId: string;
  name: string;
  version: number;
  env: Record<string, string>;
  limits?: Record<string, unknown>;
  /** What a spare's Claude process starts with (the agent's options, no session config). */
  warmOptions: BridgeSdkOptions;
  /** `runnerLabels` of the agent: a runner keeping its spares must carry them all. */
  labels?: Record<string, string>;
}

/** Where a spare's files and model calls come from (the coordinator's side of a spare start). */
export interface SpareSource {
  /** Fills a spare's (empty) workspace folder with the agent's files. */
  prepareWorkspace(spareId: string, workspaceDir: string): Promise<void>;
  /** False when the agent is gone or at another version: no spare starts then. */
  isCurrent(): Promise<boolean>;
  /** Hooks of a spare's model calls until a session takes it over ({@link RunnerClient.adoptSpare}). */
  model: ModelCallHooks;
  /**
   * A spare's network (the agent's policy) until a session takes it over: then its connections
   * are decided and reported by the session's egress ({@link RunnerClient.adoptSpare}).
   */
  egress?: SandboxEgressSpec;
  /**
   * Where a spare's model proxy forwards (asked at each model call; default: the factory's
   * upstream). A runner in another process answers the gateway of the coordinator of the session
   * that claimed the spare.
   */
  modelUpstreamUrl?: (spareId: string) => string;
}

/** Warm spares of one agent version. */
export interface SpareCount {
  tenantId: string;
  agent: string;
  version: number;
  /** Claimable now. */
  ready: number;
  /** Still booting. */
  starting: number;
}

/** A reserved sandbox slot: counts as used until released. */
export interface SlotReservation {
  /** Idempotent. */
  release(): void;
}

/** What a turn runs with: plain data. */
export interface TurnRequest {
  turnId: string;
  prompt: MessageContent;
  options: BridgeSdkOptions;
  conversation: Conversation;
}

/** A turn running in a sandbox. */
export interface SandboxTurn {
  /** The bridge's events: SDK messages, then one `turn_end`. Ends after `turn_end`. */
  events: AsyncIterable<TurnEvent>;
  /** CPU seconds the sandbox used since the turn began (cgroup); undefined when not measurable. */
  cpuSeconds(): number | undefined;
}

/** A runner's pool figures. */
export interface RunnerStats {
  /** Sandboxes alive (sessions and warm spares). */
  live: number;
  /** Ready warm spares. */
  warm: number;
  /** Slots reserved for starts under way. */
  reserved: number;
  startsRunning: number;
  startsQueued: number;
  maxCapacity: number;
  counters: PoolCounters;
  /** Warm spares per agent version (absent: none known). */
  spares?: SpareCount[];
}

/** Why a runner stopped a session's sandbox on its own. */
export type EvictionReason = 'idle' | 'capacity';

/** What a runner tells the session engine on its own. */
export interface RunnerListener {
  /**
   * The runner stopped this session's sandbox (idle past the timeout, or the least recently used
   * one, to make room). Awaited: the slot it freed is used once this resolves.
   */
  evicted(sessionId: string, reason: EvictionReason): Promise<void>;
}

/**
 * The one interface the server's session engine uses to host sandboxes: the embedded server
 * uses {@link InProcessRunner}; a runner in another process is a second implementation over an
 * authenticated link (see docs/architecture.md). Arguments and results are plain data; the only
 * callbacks are {@link SandboxStarter}, {@link SpareSource} and {@link RunnerListener}, each
 * documented as the message it becomes on a link. Errors: {@link RunnerCapacityError},
 * {@link RunnerClosedError}, SandboxStartError, or what a starter's `prepare` threw.
 */
export interface RunnerClient {
  /** Registers the listener of runner-initiated events (one; a later call replaces it). */
  listen(listener: RunnerListener): void;

  /**
   * Reserves room for one sandbox start, evicting the oldest warm spare or the least recently
   * used idle session when full.
   * @param sessionId the session the slot is for, when known (a client over several runners places it by it).
   * @throws RunnerCapacityError when every sandbox is busy.
   */
  reserve(sessionId?: string): Promise<SlotReservation>;
  /** Makes sure one more sandbox could start now (reserves a slot and gives it back). */
  ensureCapacity(): Promise<void>;
  /** False when the start queue is full (a new start would be refused). */
  canQueueStart(): boolean;

  /**
   * Starts the session's sandbox (with `slot` when one is reserved) unless it runs or is starting;
   * resolves when it is up. Its start permit is held until {@link settleStart}.
   */
  ensureSandbox(sessionId: string, starter: SandboxStarter, slot?: SlotReservation): Promise<void>;
  /** Starts the session's sandbox and Claude process in the background (failures are logged). */
  prewarm(sessionId: string, starter: SandboxStarter): void;
  /** Waits for a prewarm's slot reservation under way (never throws). */
  awaitPrewarm(sessionId: string): Promise<void>;
  /** The session's Claude process is up, or its start is over: the next queued start may go. */
  settleStart(sessionId: string): void;
  /** True when the session's sandbox runs here and is ready. */
  hasLiveSandbox(sessionId: string): boolean;
  /** True when the session has a sandbox (any state) or a start under way here. */
  hosts(sessionId: string): boolean;
  /** True while the session's sandbox is starting. */
  isStarting(sessionId: string): boolean;
  /** The session is in use (a turn being started or running): never evicted until unpinned. */
  pin(sessionId: string): void;
  unpin(sessionId: string): void;

  /**
   * Runs a turn in the session's sandbox.
   * @throws Error when the sandbox is not ready or already runs a turn.
   */
  runTurn(sessionId: string, turn: TurnRequest): SandboxTurn;

  /**
   * Takes over a turn another coordinator (a dead one) left running on runner `runnerId`:
   * prepares the session as a start would (`starter.prepare()`), takes a new lease generation,
   * and attaches to the turn's events from number `from` (the runner numbers a turn's events from
   * 0). Absent on runners in this process (nothing survives their server).
   * @returns the turn's events from `from` on; undefined when that runner does not hold the turn.
   */
  adoptTurn?(
    sessionId: string,
    runnerId: string,
    starter: SandboxStarter,
    turnId: string,
    from: number,
  ): Promise<SandboxTurn | undefined>;
  /**
   * Answers a `tool_request` of the session's running turn (an approval or a custom tool's
   * result); ignored when no sandbox runs or nothing waits for that request.
   */
  answerToolRequest(sessionId: string, requestId: string, answer: ToolAnswer): void;
  /** Asks the SDK to stop the turn (soft). */
  interrupt(sessionId: string, turnId: string): void;
  /** Ends the turn from the host: kills the sandbox's processes, the turn ends with `error`. */
  abortTurn(
    sessionId: string,
    turnId: string,
    error: { message: string; code: string },
    outcome?: Extract<TurnOutcome, 'error' | 'interrupted'>,
  ): Promise<void>;
  /**
   * Runs a shell command in the session's (ready) sandbox.
   * @throws Error when it has none or the command cannot start.
   */
  exec(
    sessionId: string,
    command: string,
    opts: { timeoutMs: number; maxOutputBytes: number },
  ): Promise<ExecResult>;
  /**
   * The sandbox's output entries with an index above `after` (-1: all kept; empty when none runs
   * here). A remote runner is asked each time; when it cannot answer, what was fetched before.
   */
  logs(sessionId: string, after: number): Promise<LogEntry[]>;
  /** Stops the session's sandbox (after a start under way) and forgets the session. */
  stop(sessionId: string): Promise<void>;

  /** Keeps `count` warm spares of the agent version (others stopped). */
  replenishSpares(agent: SpareAgent, count: number, source: SpareSource): Promise<void>;
  /** Stops every spare of the agent, folders included; no earlier refill starts another. */
  dropSpares(tenantId: string, agentName: string): Promise<void>;
  /**
   * Takes a ready spare: its id is the new session's id. Then {@link adoptSpare}. Over a link it
   * is a claim on the runner (atomic there: two coordinators never get the same spare).
   */
  takeSpare(tenantId: string, agentName: string, agentVersion: number): Promise<string | undefined>;
  /**
   * Makes the taken spare the session's sandbox, its model calls going to `hooks` and its
   * network to `egress` (when given); false when it is gone.
   */
  adoptSpare(sessionId: string, hooks: ModelCallHooks, egress?: SandboxEgressSpec): boolean;

  /** Stops spares and session sandboxes idle past the idle timeout; returns how many. */
  sweepIdle(now?: number): Promise<number>;
  /** Pool figures (an HTTP client answers from the runner's last report). */
  stats(): RunnerStats;
  /** Resident memory of each live sandbox's processes, bytes. */
  memoryBySandbox(): Array<{ id: string; bytes: number }>;
  /** Stops everything and starts nothing more. */
  shutdown(): Promise<void>;
}
