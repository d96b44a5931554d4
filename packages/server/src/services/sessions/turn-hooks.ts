import type { EgressData, ErrorCode, TurnOutcome } from '@ash-ai/shared';
import type { ModelCallUsage } from '@ash-ai/sandbox';
import type { SessionRecord } from '../../db/repos/index.js';
import type { TurnLog } from './turn-log.js';

/** An error a hook ends a turn with. */
export interface TurnEndError {
  code: ErrorCode;
  message: string;
}

/**
 * Hooks into a session's turns (usage ledger, budgets). All optional; none may throw.
 */
export interface TurnHooks {
  /**
   * Before a turn runs; an error returned ends the turn at once with that `error` (e.g. a spent
   * budget). `session` is the row as the turn acquired its slot (current).
   */
  beforeTurn?(session: SessionRecord, turnId: string): Promise<TurnEndError | undefined>;
  /**
   * After a turn ended (its events are final). `cpuSeconds`: CPU time (user + system) the
   * sandbox's processes used while it ran (cgroup accounting), undefined when not measurable.
   */
  afterTurn?(
    session: SessionRecord,
    log: TurnLog,
    outcome: TurnOutcome,
    cpuSeconds: number | undefined,
  ): void;
  /**
   * One model response metered by the session's model proxy. `turnId` is the turn running when it
   * completed (undefined outside turns); `endTurn` ends that turn with an `error` event.
   */
  onModelUsage?(
    call: { session: SessionRecord; turnId: string | undefined; endTurn: (error: TurnEndError) => void },
    usage: ModelCallUsage,
  ): void;
  /**
   * One network connection of the session's sandbox through the egress proxy (allowed or
   * denied), once it ended. `turnId`: the turn running then (undefined between turns).
   */
  onEgress?(call: { session: SessionRecord; turnId: string | undefined }, connection: EgressData): void;
  /** Before the session's proxy forwards a model call; an error refuses it (the proxy answers 403). */
  admitModelCall?(session: SessionRecord): Promise<TurnEndError | undefined>;
}
