#!/usr/bin/env node
/**
 * Bridge process entry. Started by the host (`@ash-ai/sandbox`) once per session with
 * `ASH_BRIDGE_CONFIG` in its environment — or ahead of time with only `ASH_BRIDGE_SOCKET`, to be
 * given its session by a `configure` command. Connects to the host's Unix socket, says `ready`,
 * then executes commands until `shutdown`, a closed socket or a closed stdin (host gone).
 */
import { runBridge } from './bridge-server.js';

runBridge(process.env.ASH_BRIDGE_CONFIG, process.env.ASH_BRIDGE_SOCKET).catch((err: unknown) => {
  process.stderr.write(`ash-bridge: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
