import type { Command } from 'commander';
import type { Session, StreamEvent } from '@ash-ai/sdk';
import { CliError, printJson, printTable } from '../output.js';
import type { GlobalOptions } from '../program.js';
import { parseEnvPairs } from './env-pairs.js';

function printSession(s: Session): void {
  process.stdout.write(
    `${s.id}\n  agent: ${s.agentName} (version ${s.agentVersion})\n  status: ${s.status}${s.activeTurnId ? ' (turn running)' : ''}\n  created: ${s.createdAt}\n  last active: ${s.lastActiveAt}\n${s.parentSessionId ? `  forked from: ${s.parentSessionId}\n` : ''}`,
  );
}

/** A one-line view of a persisted message: its text, or what its blocks are. */
function messageSummary(m: { text: string; type: string; content: string }): string {
  if (m.text) return m.text;
  try {
    const parsed = JSON.parse(m.content) as { message?: { content?: unknown } };
    const blocks = parsed.message?.content;
    if (Array.isArray(blocks)) {
      return blocks
        .map((b: { type?: string; name?: string; content?: unknown }) =>
          b.type === 'tool_use'
            ? `[tool_use ${b.name}]`
            : b.type === 'tool_result'
              ? `[tool_result] ${typeof b.content === 'string' ? b.content : ''}`
              : `[${b.type}]`,
        )
        .join(' ');
    }
  } catch {
    // fall through
  }
  return `[${m.type}]`;
}

function oneLine(text: string, max = 200): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

/**
 * One line for an SDK `system` / `api_retry` message (the Claude process failed to reach the
 * model API and will try again), e.g. `[retrying: attempt 2 of 10 in 1.1s after 529 overloaded]`;
 * undefined for any other message. Without it a turn whose model API is down prints nothing
 * for minutes.
 */
export function retryNote(msg: Record<string, unknown>): string | undefined {
  if (msg.type !== 'system' || msg.subtype !== 'api_retry') return undefined;
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
  const attempt = num(msg.attempt);
  const max = num(msg.max_retries);
  const delay = num(msg.retry_delay_ms);
  const status = num(msg.error_status);
  const error = typeof msg.error === 'string' && msg.error !== 'unknown' ? msg.error.replace(/_/g, ' ') : '';
  const cause =
    status !== undefined
      ? `${status}${error ? ` ${error}` : ''}`
      : isRecord(msg.no_response)
        ? 'no response'
        : `a connection error${error ? ` (${error})` : ''}`;
  return `[retrying: attempt ${attempt ?? '?'}${max !== undefined ? ` of ${max}` : ''}${
    delay !== undefined ? ` in ${(delay / 1000).toFixed(1)}s` : ''
  } after ${cause}]`;
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Renders a turn for a terminal: text as it streams, each tool call and result on its own line,
 * errors and model API retries on stderr. Returns the turn's outcome.
 */
export async function renderTurn(events: AsyncIterable<StreamEvent>, json: boolean): Promise<string> {
  let outcome = 'error';
  let atLineStart = true;
  const out = (s: string) => {
    if (s.length === 0) return;
    process.stdout.write(s);
    atLineStart = s.endsWith('\n');
  };
  const line = (s: string) => {
    if (!atLineStart) out('\n');
    out(`${s}\n`);
  };
  for await (const ev of events) {
    if (json) {
      process.stdout.write(`${JSON.stringify(ev)}\n`);
      if (ev.event === 'done') outcome = ev.data.outcome;
      continue;
    }
    switch (ev.event) {
      case 'text_delta':
        out(ev.data.delta);
        break;
      case 'tool_use':
        line(`[tool] ${ev.data.name} ${oneLine(JSON.stringify(ev.data.input))}`);
        break;
      case 'tool_result':
        line(`[${ev.data.is_error ? 'tool error' : 'result'}] ${oneLine(ev.data.content)}`);
        break;
      case 'error':
        if (!atLineStart) out('\n');
        process.stderr.write(
          `error: ${ev.data.error} (${ev.data.code}${ev.data.limit ? `, limit ${ev.data.limit}` : ''})\n`,
        );
        atLineStart = true;
        break;
      case 'message': {
        const note = retryNote(ev.data);
        if (note) {
          if (!atLineStart) out('\n');
          process.stderr.write(`${note}\n`);
        }
        break;
      }
      case 'done':
        outcome = ev.data.outcome;
        if (!atLineStart) out('\n');
        if (outcome === 'interrupted') process.stderr.write('(interrupted)\n');
        break;
      default:
        break;
    }
  }
  return outcome;
}

/** `ash session …`. */
export function registerSessionCommands(program: Command, globals: () => GlobalOptions): void {
  const session = program.command('session').description('create and use sessions');

  session
    .command('create <agent>')
    .description('create a session on an agent')
    .option('-m, --model <model>', 'model for this session')
    .option('-e, --env <KEY=VALUE...>', 'extra environment variable (repeatable)')
    .option('-c, --credential <id>', 'stored credential the session uses (see ash credentials)')
    .option('--json', 'print JSON')
    .action(
      async (
        agent: string,
        opts: { model?: string; env?: string[]; credential?: string; json?: boolean },
      ) => {
        const extraEnv = parseEnvPairs(opts.env);
        const s = await globals()
          .client()
          .sessions.create(agent, {
            ...(opts.model ? { model: opts.model } : {}),
            ...(extraEnv ? { extraEnv } : {}),
            ...(opts.credential ? { credentialId: opts.credential } : {}),
          });
        if (opts.json) printJson({ session: s });
        else process.stdout.write(`${s.id}\n`);
      },
    );

  session
    .command('send <id> <message>')
    .description('send a message and print the answer as it streams')
    .option('--json', 'print every SSE event as a JSON line')
    .action(async (id: string, message: string, opts: { json?: boolean }) => {
      if (message.length === 0) throw new CliError('the message is empty');
      const outcome = await renderTurn(globals().client().sessions.send(id, message), !!opts.json);
      if (outcome !== 'completed') process.exitCode = 1;
    });

  session
    .command('list')
    .description('list sessions, newest first')
    .option('-a, --agent <agent>', 'only sessions of this agent')
    .option('-s, --status <status>', 'only sessions in this status')
    .option('-l, --limit <n>', 'how many', '50')
    .option('--offset <n>', 'skip this many', '0')
    .option('--json', 'print JSON')
    .action(
      async (opts: { agent?: string; status?: string; limit: string; offset: string; json?: boolean }) => {
        const r = await globals()
          .client()
          .sessions.list({
            ...(opts.agent ? { agent: opts.agent } : {}),
            ...(opts.status ? { status: opts.status as Session['status'] } : {}),
            limit: Number(opts.limit),
            offset: Number(opts.offset),
          });
        if (opts.json) printJson(r);
        else
          printTable(
            r.sessions.map((s) => ({ id: s.id, agent: s.agentName, status: s.status, created: s.createdAt })),
            ['id', 'agent', 'status', 'created'],
          );
      },
    );

  session
    .command('get <id>')
    .description('show a session')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { json?: boolean }) => {
      const s = await globals().client().sessions.get(id);
      if (opts.json) printJson({ session: s });
      else printSession(s);
    });

  session
    .command('end <id>')
    .description('end a session (its process stops; history is kept)')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { json?: boolean }) => {
      const s = await globals().client().sessions.end(id);
      if (opts.json) printJson({ session: s });
      else process.stdout.write(`ended ${s.id}\n`);
    });

  for (const [name, what] of [
    ['pause', 'pause a session: its processes stop, workspace and conversation stay (a message resumes it)'],
    ['stop', 'same as pause'],
    ['resume', 'resume a paused session'],
    ['fork', 'fork a session into a new, independent one (prints the new id)'],
  ] as const) {
    session
      .command(`${name} <id>`)
      .description(what)
      .option('--json', 'print JSON')
      .action(async (id: string, opts: { json?: boolean }) => {
        const s = await globals().client().sessions[name](id);
        if (opts.json) printJson({ session: s });
        else if (name === 'fork') process.stdout.write(`${s.id}\n`);
        else process.stdout.write(`${s.id} ${s.status}\n`);
      });
  }

  session
    .command('interrupt <id>')
    .description('stop the running turn (resolves once it has ended)')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { json?: boolean }) => {
      const interrupted = await globals().client().sessions.interrupt(id);
      if (opts.json) printJson({ interrupted });
      else process.stdout.write(interrupted ? 'interrupted\n' : 'no turn was running\n');
    });

  session
    .command('stream <id>')
    .description(
      'rejoin a session stream: events after --after (an SSE id), then the live rest of the running turn',
    )
    .option('--after <id>', 'the last event id seen', '0')
    .option('--json', 'print every SSE event as a JSON line')
    .action(async (id: string, opts: { after: string; json?: boolean }) => {
      await renderTurn(
        globals()
          .client()
          .sessions.stream(id, { after: Number(opts.after) }),
        !!opts.json,
      );
    });

  session
    .command('messages <id>')
    .description("print a session's messages")
    .option('--after <seq>', 'only messages after this sequence', '0')
    .option('-l, --limit <n>', 'how many', '100')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { after: string; limit: string; json?: boolean }) => {
      const page = await globals()
        .client()
        .sessions.messages(id, { after: Number(opts.after), limit: Number(opts.limit) });
      if (opts.json) printJson({ messages: page.items, hasMore: page.hasMore });
      else
        for (const m of page.items)
          process.stdout.write(
            `#${m.sequence} ${m.role}${m.type === 'result' ? ' (result)' : ''}: ${oneLine(messageSummary(m), 300)}\n`,
          );
    });

  session
    .command('events <id>')
    .description("print a session's events")
    .option('--after <seq>', 'only events after this sequence', '0')
    .option('-l, --limit <n>', 'how many', '200')
    .option('-t, --type <type>', 'only events of this type')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { after: string; limit: string; type?: string; json?: boolean }) => {
      const page = await globals()
        .client()
        .sessions.events(id, {
          after: Number(opts.after),
          limit: Number(opts.limit),
          ...(opts.type ? { type: opts.type } : {}),
        });
      if (opts.json) printJson({ events: page.items, hasMore: page.hasMore });
      else
        for (const e of page.items)
          process.stdout.write(`#${e.sequence} ${e.type} ${oneLine(e.data, 200)}\n`);
    });
}
