import { connect, type Socket } from 'node:net';
import {
  BRIDGE_PROTOCOL_VERSION,
  BridgeProtocolError,
  LineSplitter,
  decodeBridgeCommand,
  encodeBridgeMessage,
  parseBridgeProcessConfig,
  type BridgeCommand,
  type BridgeEvent,
} from '@ash-ai/shared';
import { AgentRunner } from './agent-runner.js';
import { claudeAgentSdkVersion } from './sdk-info.js';

/**
 * Connects to the host and serves bridge commands.
 * @param configText the `ASH_BRIDGE_CONFIG` JSON; when absent, `socketPath` must be given and the
 *   bridge waits for a `configure` command (a bridge started ahead of time, not yet given a session).
 * @throws BridgeProtocolError when the config is invalid; socket errors end the process.
 */
export async function runBridge(configText: string | undefined, socketPath?: string): Promise<void> {
  const initial = configText ? parseBridgeProcessConfig(configText) : undefined;
  const path = initial?.socketPath ?? socketPath;
  if (!path) throw new BridgeProtocolError('neither ASH_BRIDGE_CONFIG nor ASH_BRIDGE_SOCKET is set');
  const socket = await new Promise<Socket>((resolve, reject) => {
    const s = connect(path, () => resolve(s));
    s.once('error', reject);
  });
  socket.setNoDelay?.(true);
  socket.setEncoding('utf8');

  let exiting = false;
  const send = (ev: BridgeEvent): void => {
    if (!socket.destroyed) socket.write(encodeBridgeMessage(ev));
  };
  let runner = initial ? new AgentRunner(initial, send) : undefined;
  const requireRunner = (): AgentRunner => {
    if (!runner) throw new BridgeProtocolError('the bridge is not configured yet');
    return runner;
  };

  const exit = async (code: number): Promise<void> => {
    if (exiting) return;
    exiting = true;
    await runner?.shutdown().catch(() => undefined);
    socket.end();
    // Give the socket a moment to flush, then leave.
    setTimeout(() => process.exit(code), 50).unref();
  };

  // Commands run one after another (a query waits for a reset before it), except interrupt,
  // which must reach a running turn at once.
  let chain: Promise<unknown> = Promise.resolve();
  const serial = (fn: () => Promise<unknown>) => {
    chain = chain.then(fn).catch((err: unknown) => {
      send({ ev: 'log', level: 'error', text: err instanceof Error ? err.message : String(err) });
    });
  };
  const handle = (cmd: BridgeCommand): void => {
    switch (cmd.cmd) {
      case 'configure':
        if (runner) throw new BridgeProtocolError('the bridge is already configured');
        runner = new AgentRunner(cmd.config, send);
        return;
      case 'query':
        serial(() => requireRunner().runTurn(cmd.turnId, cmd.prompt, cmd.options, cmd.conversation));
        return;
      case 'warm':
        // Not awaited in the chain: a query may join the starting process.
        serial(async () => void requireRunner().warm(cmd.options, cmd.conversation));
        return;
      case 'reset':
        serial(() => requireRunner().reset());
        return;
      case 'interrupt':
        void runner?.interrupt(cmd.turnId);
        return;
      case 'tool_answer':
        // Not serial: the turn it answers is waiting in the chain.
        runner?.answer(cmd.requestId, cmd.answer);
        return;
      case 'shutdown':
        serial(() => exit(0));
        return;
    }
  };

  const splitter = new LineSplitter();
  socket.on('data', (chunk: string) => {
    let lines: string[];
    try {
      lines = splitter.push(chunk);
    } catch (err) {
      send({ ev: 'log', level: 'error', text: err instanceof Error ? err.message : 'bad input' });
      void exit(2);
      return;
    }
    for (const line of lines) {
      try {
        handle(decodeBridgeCommand(line));
      } catch (err) {
        // A rejected line is reported and dropped; the connection stays usable.
        const text = err instanceof BridgeProtocolError ? err.message : 'unreadable command';
        send({ ev: 'log', level: 'error', text: `rejected command: ${text}` });
      }
    }
  });
  socket.on('close', () => void exit(0));
  socket.on('error', () => void exit(1));
  // The host keeps our stdin open; EOF means the host is gone.
  process.stdin.on('end', () => void exit(0));
  process.stdin.resume();
  process.on('SIGTERM', () => void exit(0));
  process.on('SIGINT', () => void exit(0));

  send({
    ev: 'ready',
    protocol: BRIDGE_PROTOCOL_VERSION,
    pid: process.pid,
    sdkVersion: claudeAgentSdkVersion(),
  });
}
