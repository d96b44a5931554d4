#!/usr/bin/env node
/**
 * Bridge process entry. Started by the host (`@ash-ai/sandbox`) once per session with
 * `ASH_BRIDGE_CONFIG` in its environment; connects to the host's Unix socket, says `ready`, then
 * executes commands until `shutdown`, a closed socket or a closed stdin (host gone).
 */
import { runBridge } from './bridge-server.js';

runBridge(process.env.ASH_BRIDGE_CONFIG).catch((err: unknown) => {
  process.stderr.write(`ash-bridge: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
