import {
  classifySdkMessage,
  sdkMessageText,
  type ErrorData,
  type TurnOutcome,
  type ErrorCode,
} from '@ash-ai/shared';
import type { TurnEvent } from '@ash-ai/sandbox';
import type { TurnLog } from './turn-log.js';
import type { ToolEvent } from './turn-telemetry.js';

/** What the session engine knows of a running turn that changes how its end reads. */
export interface TurnEndState {
  interruptRequested: boolean;
  /** Why the host ended the turn, when it did. */
  hostEnd?: { outcome: TurnOutcome; error?: { message: string; code: ErrorCode } };
}

/**
 * Records one event a runner relayed from the sandbox's bridge into the turn's log: SDK messages
 * become stream events (and history messages); the `turn_end` becomes the turn's outcome, with
 * the `error` event that says why (a limit, an interrupt by the host, a hook's error).
 * A `tool_request` is not one of these: the session engine hands it to its tool-request hook.
 * @returns the outcome when the turn ended, else undefined.
 */
export function applyTurnEvent(
  log: TurnLog,
  ev: Exclude<TurnEvent, { ev: 'tool_request' }>,
  running: TurnEndState,
  opts: {
    includePartialMessages: boolean;
    /** Removes host paths from error text. */
    scrub: (text: string) => string;
    /** Sees each tool call's start and end (traces). */
    onTool: (se: ToolEvent) => void;
  },
): TurnOutcome | undefined {
  if (ev.ev === 'message') {
    const msg = ev.data;
    for (const se of classifySdkMessage(msg, { includePartialMessages: opts.includePartialMessages })) {
      log.emit(se);
      if (se.event === 'tool_use' || se.event === 'tool_result') opts.onTool(se);
    }
    const type = msg.type;
    if (type === 'assistant' || type === 'user' || type === 'result') {
      log.addMessage({
        role: type === 'user' ? 'user' : 'assistant',
        type: String(type),
        content: msg,
        text: sdkMessageText(msg),
      });
    }
    return undefined;
  }
  let outcome = ev.outcome;
  if (running.interruptRequested && outcome !== 'completed') outcome = 'interrupted';
  const hostError = running.hostEnd?.outcome === 'error' && outcome !== 'completed' && running.hostEnd.error;
  if (hostError) {
    // Ended by a hook (a budget reached): its error, not the interrupt it used.
    log.emit({ event: 'error', data: { error: hostError.message, code: hostError.code } });
    return 'error';
  }
  if (outcome === 'error' && ev.error) {
    const data: ErrorData = {
      error: opts.scrub(ev.error.message),
      code: ev.error.code,
    };
    if (ev.error.limit) data.limit = ev.error.limit;
    log.emit({ event: 'error', data });
  } else if (outcome === 'interrupted' && running.hostEnd?.error) {
    // Ended by the host (session ended/paused mid-turn): say why.
    log.emit({
      event: 'error',
      data: { error: running.hostEnd.error.message, code: running.hostEnd.error.code },
    });
  }
  return outcome;
}
