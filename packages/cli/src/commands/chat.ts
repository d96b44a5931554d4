import { createInterface, type Interface } from 'node:readline';
import type { Command } from 'commander';
import { type AshClient, NotFoundError, type Session } from '@ash-ai/sdk';
import { nonEmptyFlag } from '../options.js';
import { describeError } from '../output.js';
import type { GlobalOptions } from '../program.js';
import { messageContent, renderTurn, type ToolRequest } from './sessions.js';

const SESSION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The session to talk in: an existing one by id, else a new session on the agent of that name. */
async function openSession(client: AshClient, target: string, model: string | undefined): Promise<Session> {
  if (SESSION_ID.test(target)) {
    try {
      return await client.sessions.get(target);
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
    }
  }
  return client.sessions.create(target, model !== undefined ? { model } : {});
}

/**
 * `ash chat <agent|session>`: a conversation in the terminal. Each line typed is sent as a
 * message and the answer streams back (tool calls on one line each). Ctrl-C during a turn
 * interrupts it; a second Ctrl-C (or one at an empty prompt after a hint) exits; so do `/exit`
 * and Ctrl-D.
 */
export function registerChatCommand(program: Command, globals: () => GlobalOptions): void {
  program
    .command('chat <target>')
    .description(
      'talk to an agent (starts a session) or continue a session (by id) in the terminal; Ctrl-C interrupts a turn, twice exits',
    )
    .option('-m, --model <model>', 'model for a new session', nonEmptyFlag('--model'))
    .option('-y, --yes', 'allow every tool approval (permission_request) without asking')
    .action(async (target: string, opts: { model?: string; yes?: boolean }) => {
      const client = globals().client();
      const session = await openSession(client, target, opts.model);
      const tty = process.stdin.isTTY === true;
      process.stderr.write(
        `session ${session.id} (agent ${session.agentName}). Type a message; /exit or Ctrl-D to leave, Ctrl-C interrupts the answer.\n`,
      );
      process.exitCode = await chatLoop(client, session.id, tty, !!opts.yes);
      process.stderr.write(`continue later with: ash chat ${session.id}\n`);
    });
}

/**
 * Runs the read–send–render loop; resolves to the exit code (0, or 130 after a Ctrl-C exit).
 * A call that waits for the client is answered from the next line typed (or piped): `allow …?
 * [y/N]` for an approval (`yes` allows them all), the result text for a custom tool.
 */
function chatLoop(client: AshClient, sessionId: string, tty: boolean, yes: boolean): Promise<number> {
  return new Promise<number>((resolveLoop) => {
    const rl: Interface = createInterface({
      input: process.stdin,
      output: process.stdout,
      terminal: tty,
      prompt: tty ? '> ' : '',
    });
    let turn: { abort: AbortController; interrupting: boolean } | undefined;
    let ctrlCAtPrompt = false;
    let finished = false;
    const finish = (code: number) => {
      if (finished) return;
      finished = true;
      process.off('SIGINT', onCtrlC);
      turn?.abort.abort();
      rl.close();
      resolveLoop(code);
    };
    function onCtrlC(): void {
      if (turn) {
        if (turn.interrupting) {
          process.stderr.write('\n(exiting)\n');
          finish(130);
          return;
        }
        turn.interrupting = true;
        process.stderr.write('\n(interrupting… Ctrl-C again to exit)\n');
        client.sessions.interrupt(sessionId).catch((err: unknown) => {
          process.stderr.write(`ash: ${describeError(err, client.serverUrl)}\n`);
        });
        return;
      }
      if (ctrlCAtPrompt) {
        process.stderr.write('\n');
        finish(130);
        return;
      }
      ctrlCAtPrompt = true;
      process.stderr.write('\n(Ctrl-C again to exit, or /exit)\n');
      rl.prompt();
    }
    // In a terminal readline reads Ctrl-C as a key; otherwise (and while a turn runs with the
    // terminal out of raw mode) it arrives as a signal.
    rl.on('SIGINT', onCtrlC);
    process.on('SIGINT', onCtrlC);
    // Lines typed (or piped) while a turn runs wait their turn; the end of input ends the chat
    // once they are answered.
    const pending: string[] = [];
    let inputEnded = false;
    // Set while a waiting call asks for its answer: the next line goes there, not to the queue.
    let answering: ((line: string | undefined) => void) | undefined;
    rl.on('close', () => {
      inputEnded = true;
      answering?.(undefined);
      answering = undefined;
      if (!turn && pending.length === 0) finish(0);
    });
    rl.on('line', (input) => {
      if (finished) return;
      if (answering) {
        const answer = answering;
        answering = undefined;
        answer(input);
        return;
      }
      pending.push(input);
      if (!turn) next();
    });

    /** Asks on stderr and reads the answer: a line already queued, else the next one; undefined at the end of input. */
    async function readAnswer(question: string): Promise<string | undefined> {
      process.stderr.write(question);
      const queued = pending.shift();
      if (queued !== undefined) {
        if (!tty) process.stderr.write(`${queued}\n`);
        return queued;
      }
      if (inputEnded) return undefined;
      const line = new Promise<string | undefined>((resolve) => {
        answering = resolve;
      });
      rl.resume();
      try {
        return await line;
      } finally {
        if (!inputEnded && !finished) rl.pause();
      }
    }

    async function answerToolRequest(req: ToolRequest): Promise<void> {
      if (req.kind === 'permission_request') {
        const allow = yes || /^y(es)?$/i.test((await readAnswer(`allow ${req.name}? [y/N] `))?.trim() ?? '');
        await client.sessions.answerToolRequest(
          sessionId,
          allow ? { id: req.id, result: 'allow' } : { id: req.id, result: 'deny' },
        );
        return;
      }
      const text = await readAnswer(`result of ${req.name} (one line): `);
      if (text === undefined) {
        process.stderr.write(
          `waiting for the custom tool's result; answer with: ash session answer ${sessionId} ${req.id} result --content <text> [--error]\n`,
        );
        return;
      }
      await client.sessions.answerToolRequest(sessionId, {
        id: req.id,
        result: 'result',
        content: [{ type: 'text', text }],
      });
    }

    function next(): void {
      while (!finished && !turn) {
        const input = pending.shift();
        if (input === undefined) {
          if (inputEnded) finish(0);
          else rl.prompt();
          return;
        }
        const text = input.trim();
        ctrlCAtPrompt = false;
        if (text === '') continue;
        if (text === '/exit' || text === '/quit') {
          finish(0);
          return;
        }
        void runTurn(input);
      }
    }

    async function runTurn(text: string): Promise<void> {
      const abort = new AbortController();
      turn = { abort, interrupting: false };
      if (!inputEnded) rl.pause();
      // Out of raw mode while the answer streams: Ctrl-C becomes SIGINT, typed keys wait.
      if (tty) process.stdin.setRawMode?.(false);
      try {
        await renderTurn(
          client.sessions.send(sessionId, messageContent(text), { signal: abort.signal }),
          false,
          { spinner: true, onToolRequest: answerToolRequest },
        );
      } catch (err) {
        if (!abort.signal.aborted) process.stderr.write(`ash: ${describeError(err, client.serverUrl)}\n`);
      } finally {
        turn = undefined;
      }
      if (finished) return;
      if (!inputEnded) {
        if (tty) process.stdin.setRawMode?.(true);
        rl.resume();
      }
      next();
    }

    rl.prompt();
  });
}
