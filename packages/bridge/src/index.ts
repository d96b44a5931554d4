/**
 * @ash-ai/bridge — the per-session process that runs the Claude Agent SDK. The host starts it
 * with `node dist/main.js` (located by `@ash-ai/sandbox`'s `bridgeEntryPath()`); see `BridgeProcessConfig` in `@ash-ai/shared` for its input.
 */
export { claudeAgentSdkVersion } from './sdk-info.js';
export { AgentRunner, stableStringify } from './agent-runner.js';
export { InputQueue } from './input-queue.js';
export { runBridge } from './bridge-server.js';
