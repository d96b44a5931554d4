/**
 * @ash-ai/bridge — the per-session process that runs the Claude Agent SDK. The host starts it
 * with `node <bridgeEntryPath>`; see `BridgeProcessConfig` in `@ash-ai/shared` for its input.
 */
import { fileURLToPath } from 'node:url';

/** Absolute path of the bridge's executable entry (the built `dist/main.js`). */
export const bridgeEntryPath: string = fileURLToPath(new URL('../dist/main.js', import.meta.url));

export { claudeAgentSdkVersion, resolveClaudeExecutable } from './sdk-info.js';
export { AgentRunner, stableStringify } from './agent-runner.js';
export { InputQueue } from './input-queue.js';
export { runBridge } from './bridge-server.js';
