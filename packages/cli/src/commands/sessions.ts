import { readFile, stat } from 'node:fs/promises';
import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import type { AshClient, Session, StreamEvent, ToolAnswerBody } from '@ash-ai/sdk';
import { intFlag, nonEmptyFlag } from '../options.js';
import { CliError, printJson, printTable } from '../output.js';
import { spinner } from '../progress.js';
import type { GlobalOptions } from '../program.js';
import { parseEnvPairs } from './env-pairs.js';

/** A call that waits for the client, as `ash session send` sees it. */
export interface ToolRequest {
  kind: 'permission_request' | 'custom_tool_use';
  id: string;
  name: string;
  input: unknown;
}

/** Asks a yes/no question on the terminal (stderr); true only for `y` / `yes`. */
async function askYesNo(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const a = await rl.question(question);
    return /^y(es)?$/i.test(a.trim());
  } finally {
    rl.close();
  }
}

/**
 * What `ash session send` does with a waiting call: `--yes` allows every approval; on a terminal
 * (stdin and stderr TTYs, the message not read from stdin) it asks `allow? [y/N]`; otherwise, and
 * for custom tools, it prints the `ash session answer` command that answers it while the turn
 * waits.
 */
function toolRequestHandler(
  sessionId: string,
  opts: { yes?: boolean; interactive: boolean },
  client: () => AshClient,
): (req: ToolRequest) => Promise<void> {
  return async (req) => {
    if (req.kind === 'permission_request') {
      if (opts.yes) {
        await client().sessions.answerToolRequest(sessionId, { id: req.id, result: 'allow' });
        return;
      }
      if (opts.interactive) {
        const allow = await askYesNo(`allow ${req.name}? [y/N] `);
        await client().sessions.answerToolRequest(
          sessionId,
          allow ? { id: req.id, result: 'allow' } : { id: req.id, result: 'deny' },
        );
        return;
      }
      process.stderr.write(
        `waiting for approval; answer with: ash session answer ${sessionId} ${req.id} allow|deny\n`,
      );
      return;
    }
    process.stderr.write(
      `waiting for the custom tool's result; answer with: ash session answer ${sessionId} ${req.id} result --content <text> [--error]\n`,
    );
  };
}

/** Largest message `--file` or stdin may give: 64 MiB (the server's own limit is lower by default). */
const MAX_MESSAGE_INPUT = 64 * 1024 * 1024;

/** Reads all of stdin as UTF-8 text. @throws CliError over {@link MAX_MESSAGE_INPUT}. */
export async function readStdin(stream: NodeJS.ReadableStream = process.stdin): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += b.length;
    if (size > MAX_MESSAGE_INPUT) throw new CliError('the message on stdin is larger than 64 MiB');
    chunks.push(b);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Longest text the API takes as one string or one text block, characters. */
const TEXT_BLOCK_CHARS = 500_000;
/** Most content blocks in one message. */
const MAX_BLOCKS = 20;

/**
 * A message as API content: the text itself up to 500,000 characters (the API's limit for one
 * string), else consecutive text blocks of at most that size (never splitting a surrogate
 * pair), which the model reads as one text.
 * @throws CliError over 20 blocks (10,000,000 characters).
 */
export function messageContent(text: string): string | Array<{ type: 'text'; text: string }> {
  if (text.length <= TEXT_BLOCK_CHARS) return text;
  const blocks: Array<{ type: 'text'; text: string }> = [];
  for (let at = 0; at < text.length; ) {
    let end = Math.min(text.length, at + TEXT_BLOCK_CHARS);
    const code = text.charCodeAt(end - 1);
    if (end < text.length && code >= 0xd800 && code <= 0xdbff) end--;
    blocks.push({ type: 'text', text: text.slice(at, end) });
    at = end;
  }
  if (blocks.length > MAX_BLOCKS)
    throw new CliError(
      `the message has ${text.length} characters; one message holds at most ${TEXT_BLOCK_CHARS * MAX_BLOCKS}`,
    );
  return blocks;
}

/**
 * The message of `ash session send`: the argument, `-` (stdin), `--file <path>`, or stdin when it
 * is piped and no argument is given.
 * @throws CliError when none or several are given, the file cannot be read, or the message is empty.
 */
async function messageInput(arg: string | undefined, file: string | undefined): Promise<string> {
  let text: string;
  if (file !== undefined) {
    if (arg !== undefined)
      throw new CliError('give the message either as an argument or with --file, not both');
    const st = await stat(file).catch(() => undefined);
    if (!st?.isFile()) throw new CliError(`--file: no such file: ${file}`);
    if (st.size > MAX_MESSAGE_INPUT) throw new CliError(`--file: ${file} is larger than 64 MiB`);
    text = await readFile(file, 'utf8');
  } else if (arg === '-' || (arg === undefined && !process.stdin.isTTY)) {
    text = await readStdin();
  } else if (arg === undefined) {
    throw new CliError('give the message as an argument, with --file <path>, or on stdin (`-` or a pipe)');
  } else text = arg;
  if (text.length === 0) throw new CliError('the message is empty');
  return text;
}

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
export async function renderTurn(
  events: AsyncIterable<StreamEvent>,
  json: boolean,
  opts: {
    spinner?: boolean;
    /** Called (and awaited) for a `permission_request` or `custom_tool_use`: the turn waits for an answer. */
    onToolRequest?: (req: ToolRequest) => Promise<void> | void;
  } = {},
): Promise<string> {
  let outcome = 'error';
  let atLineStart = true;
  // A spinner (terminal only) while nothing is shown: before the first output, and while a tool runs.
  let spin: { stop(): void } | undefined;
  const wait = (what: string) => {
    if (opts.spinner && !json && atLineStart && !spin) spin = spinner(what);
  };
  const stopWait = () => {
    spin?.stop();
    spin = undefined;
  };
  const out = (s: string) => {
    if (s.length === 0) return;
    stopWait();
    process.stdout.write(s);
    atLineStart = s.endsWith('\n');
  };
  wait('waiting for the agent…');
  try {
    return await renderEvents();
  } finally {
    stopWait();
  }
  async function renderEvents(): Promise<string> {
    const line = (s: string) => {
      if (!atLineStart) out('\n');
      out(`${s}\n`);
    };
    for await (const ev of events) {
      if (json) {
        process.stdout.write(`${JSON.stringify(ev)}\n`);
        if (ev.event === 'done') outcome = ev.data.outcome;
        if (ev.event === 'permission_request' || ev.event === 'custom_tool_use')
          await opts.onToolRequest?.({ kind: ev.event, ...ev.data });
        continue;
      }
      switch (ev.event) {
        case 'text_delta':
          out(ev.data.delta);
          break;
        case 'tool_use':
          line(`[tool] ${ev.data.name} ${oneLine(JSON.stringify(ev.data.input))}`);
          wait(`running ${ev.data.name}…`);
          break;
        case 'tool_result':
          line(`[${ev.data.is_error ? 'tool error' : 'result'}] ${oneLine(ev.data.content)}`);
          wait('waiting for the agent…');
          break;
        case 'permission_request':
        case 'custom_tool_use':
          line(
            `[${ev.event === 'permission_request' ? 'approval needed' : 'custom tool'}] ${ev.data.name} ${oneLine(JSON.stringify(ev.data.input))}`,
          );
          stopWait();
          await opts.onToolRequest?.({ kind: ev.event, ...ev.data });
          wait('waiting for the agent…');
          break;
        case 'tool_answer':
          line(`[answer] ${ev.data.result}${ev.data.denyMessage ? `: ${oneLine(ev.data.denyMessage)}` : ''}`);
          break;
        case 'error':
          stopWait();
          if (!atLineStart) out('\n');
          process.stderr.write(
            `error: ${ev.data.error} (${ev.data.code}${ev.data.limit ? `, limit ${ev.data.limit}` : ''})\n`,
          );
          atLineStart = true;
          break;
        case 'message': {
          const note = retryNote(ev.data);
          if (note) {
            stopWait();
            if (!atLineStart) out('\n');
            process.stderr.write(`${note}\n`);
          }
          break;
        }
        case 'done':
          stopWait();
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
}

/** `ash session …`. */
export function registerSessionCommands(program: Command, globals: () => GlobalOptions): void {
  const session = program.command('session').description('create and use sessions');

  session
    .command('create <agent>')
    .description('create a session on an agent')
    .option('-m, --model <model>', 'model for this session', nonEmptyFlag('--model'))
    .option('-e, --env <KEY=VALUE...>', 'extra environment variable (repeatable)')
    .option('-c, --credential <id>', 'stored credential the session uses (see ash credentials)')
    .option(
      '--ask-tools <names>',
      'comma-separated tools that wait for the client approval (e.g. Bash,Write); see ash session answer',
    )
    .option(
      '--network <json>',
      'network policy as JSON, e.g. \'{"allow":["api.github.com"]}\' (narrows the agent\'s; docs/api.md)',
    )
    .option('--json', 'print JSON')
    .action(
      async (
        agent: string,
        opts: {
          model?: string;
          env?: string[];
          credential?: string;
          askTools?: string;
          network?: string;
          json?: boolean;
        },
      ) => {
        const extraEnv = parseEnvPairs(opts.env);
        const askTools = opts.askTools
          ?.split(',')
          .map((t) => t.trim())
          .filter((t) => t.length > 0);
        if (opts.askTools !== undefined && askTools?.length === 0)
          throw new CliError('--ask-tools needs at least one tool name, e.g. --ask-tools Bash');
        let network: unknown;
        if (opts.network !== undefined) {
          try {
            network = JSON.parse(opts.network);
          } catch {
            throw new CliError(
              `--network must be a JSON object such as '{"allow":["api.github.com"]}', got '${opts.network}'`,
            );
          }
        }
        const s = await globals()
          .client()
          .sessions.create(agent, {
            ...(opts.model !== undefined ? { model: opts.model } : {}),
            ...(extraEnv ? { extraEnv } : {}),
            ...(opts.credential ? { credentialId: opts.credential } : {}),
            ...(askTools ? { askTools } : {}),
            ...(network !== undefined ? { network: network as never } : {}),
          });
        if (opts.json) printJson({ session: s });
        else process.stdout.write(`${s.id}\n`);
      },
    );

  session
    .command('send <id> [message]')
    .description(
      'send a message and print the answer as it streams; the message is the argument, `-` or piped stdin, or --file',
    )
    .option('-f, --file <path>', 'read the message from this file (UTF-8)')
    .option('--json', 'print every SSE event as a JSON line')
    .option('-y, --yes', 'allow every tool approval (permission_request) of this turn without asking')
    .action(
      async (
        id: string,
        message: string | undefined,
        opts: { file?: string; json?: boolean; yes?: boolean },
      ) => {
        const fromStdin = opts.file === undefined && (message === '-' || message === undefined);
        const text = await messageInput(message, opts.file);
        const outcome = await renderTurn(
          globals().client().sessions.send(id, messageContent(text)),
          !!opts.json,
          {
            spinner: true,
            onToolRequest: toolRequestHandler(
              id,
              {
                yes: opts.yes,
                interactive: !fromStdin && !!process.stdin.isTTY && !!process.stderr.isTTY,
              },
              () => globals().client(),
            ),
          },
        );
        if (outcome !== 'completed') process.exitCode = 1;
      },
    );

  session
    .command('answer <id> <requestId> <result>')
    .description(
      'answer a call that waits for the client: allow or deny a permission_request, or give a custom_tool_use its result',
    )
    .option('-m, --message <text>', 'with deny: what the model is told')
    .option('--content <text>', 'with result: the tool result (text)')
    .option('--error', 'with result: the result is an error')
    .option('--json', 'print JSON')
    .action(
      async (
        id: string,
        requestId: string,
        result: string,
        opts: { message?: string; content?: string; error?: boolean; json?: boolean },
      ) => {
        let body: ToolAnswerBody;
        if (result === 'allow' || result === 'deny') {
          if (opts.content !== undefined || opts.error)
            throw new CliError('--content and --error go with result');
          if (opts.message !== undefined && result !== 'deny') throw new CliError('--message goes with deny');
          body =
            result === 'deny'
              ? {
                  id: requestId,
                  result,
                  ...(opts.message !== undefined ? { denyMessage: opts.message } : {}),
                }
              : { id: requestId, result };
        } else if (result === 'result') {
          if (opts.message !== undefined) throw new CliError('--message goes with deny');
          body = {
            id: requestId,
            result,
            content: opts.content !== undefined ? [{ type: 'text', text: opts.content }] : [],
            ...(opts.error ? { isError: true } : {}),
          };
        } else throw new CliError(`the answer must be allow, deny or result, not '${result}'`);
        const r = await globals().client().sessions.answerToolRequest(id, body);
        if (opts.json) printJson(r);
        else process.stdout.write(`${r.answer.result} ${r.outcome}\n`);
      },
    );

  session
    .command('list')
    .description('list sessions, newest first')
    .option('-a, --agent <agent>', 'only sessions of this agent')
    .option('-s, --status <status>', 'only sessions in this status')
    .option('-l, --limit <n>', 'how many', intFlag('--limit', { min: 1 }), 50)
    .option('--offset <n>', 'skip this many', intFlag('--offset'), 0)
    .option('--json', 'print JSON')
    .action(
      async (opts: { agent?: string; status?: string; limit: number; offset: number; json?: boolean }) => {
        const r = await globals()
          .client()
          .sessions.list({
            ...(opts.agent ? { agent: opts.agent } : {}),
            ...(opts.status ? { status: opts.status as Session['status'] } : {}),
            limit: opts.limit,
            offset: opts.offset,
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
    .option('--after <id>', 'the last event id seen', intFlag('--after'), 0)
    .option('--json', 'print every SSE event as a JSON line')
    .action(async (id: string, opts: { after: number; json?: boolean }) => {
      await renderTurn(globals().client().sessions.stream(id, { after: opts.after }), !!opts.json);
    });

  session
    .command('messages <id>')
    .description("print a session's messages")
    .option('--after <seq>', 'only messages after this sequence', intFlag('--after'), 0)
    .option('-l, --limit <n>', 'how many', intFlag('--limit', { min: 1 }), 100)
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { after: number; limit: number; json?: boolean }) => {
      const page = await globals().client().sessions.messages(id, { after: opts.after, limit: opts.limit });
      if (opts.json) printJson({ messages: page.items, hasMore: page.hasMore });
      else {
        // A turn's `result` repeats the answer the assistant messages just gave: shown only when it
        // says something else (an error, a different final text).
        let turnText = '';
        for (const m of page.items) {
          if (m.role === 'user') turnText = '';
          if (m.type === 'result' && m.text.trim() === turnText.trim()) continue;
          if (m.role === 'assistant' && m.type !== 'result') turnText += m.text;
          process.stdout.write(
            `#${m.sequence} ${m.role}${m.type === 'result' ? ' (result)' : ''}: ${oneLine(messageSummary(m), 300)}\n`,
          );
        }
      }
    });

  session
    .command('events <id>')
    .description("print a session's events")
    .option('--after <seq>', 'only events after this sequence', intFlag('--after'), 0)
    .option('-l, --limit <n>', 'how many', intFlag('--limit', { min: 1 }), 200)
    .option('-t, --type <type>', 'only events of this type')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { after: number; limit: number; type?: string; json?: boolean }) => {
      const page = await globals()
        .client()
        .sessions.events(id, {
          after: opts.after,
          limit: opts.limit,
          ...(opts.type ? { type: opts.type } : {}),
        });
      if (opts.json) printJson({ events: page.items, hasMore: page.hasMore });
      else
        for (const e of page.items)
          process.stdout.write(`#${e.sequence} ${e.type} ${oneLine(e.data, 200)}\n`);
    });

  session
    .command('logs <id>')
    .description("print the sandbox's output lines (its processes' stdout/stderr and system notes)")
    .option('-f, --follow', 'keep printing new lines until interrupted (Ctrl-C)')
    .option(
      '--interval <ms>',
      'with --follow: how often to ask for new lines',
      intFlag('--interval', { min: 100 }),
      1000,
    )
    .option('--json', 'print one JSON object per line')
    .action(async (id: string, opts: { follow?: boolean; interval: number; json?: boolean }) => {
      const client = globals().client();
      let after = -1;
      const print = (logs: Array<{ index: number; level: string; text: string; ts: string }>) => {
        for (const l of logs) {
          after = Math.max(after, l.index);
          if (opts.json) process.stdout.write(`${JSON.stringify(l)}\n`);
          else {
            const text = l.text.endsWith('\n') ? l.text : `${l.text}\n`;
            (l.level === 'stderr' ? process.stderr : process.stdout).write(
              l.level === 'system' ? `[${l.ts}] ${text}` : text,
            );
          }
        }
      };
      print((await client.sessions.logs(id, { after })).logs);
      if (!opts.follow) return;
      let stopped = false;
      const stop = () => {
        stopped = true;
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        while (!stopped) {
          await new Promise((r) => setTimeout(r, opts.interval));
          if (stopped) break;
          print((await client.sessions.logs(id, { after })).logs);
        }
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
    });

  session
    .command('exec <id> <command...>')
    .description(
      "run a shell command in the session's sandbox (in its workspace); put it after `--`. Prints its output and exits with its exit code",
    )
    .option(
      '-t, --timeout <ms>',
      'stop the command after this long (1..300000)',
      intFlag('--timeout', { min: 1, max: 300_000 }),
    )
    .option('--json', 'print {exitCode, stdout, stderr}')
    .usage('[options] <id> -- <command...>')
    .action(async (id: string, command: string[], opts: { timeout?: number; json?: boolean }) => {
      // Like ssh: the words are joined with spaces and run by `sh -c` (quote what the shell must not split).
      const line = command.join(' ');
      if (line.trim().length === 0) throw new CliError('the command is empty');
      const r = await globals()
        .client()
        .sessions.exec(id, line, opts.timeout !== undefined ? { timeoutMs: opts.timeout } : {});
      if (opts.json) printJson(r);
      else {
        process.stdout.write(r.stdout);
        process.stderr.write(r.stderr);
        if (r.truncated) process.stderr.write('ash: the output was cut at the server limit\n');
        if (r.timedOut)
          process.stderr.write(`ash: the command was killed at its timeout (exit ${r.exitCode})\n`);
      }
      process.exitCode = r.exitCode === 0 ? 0 : r.exitCode > 0 && r.exitCode < 256 ? r.exitCode : 1;
    });
}
