/** @ash-ai/cli — the `ash` command. */
export { buildProgram, runCli, type GlobalOptions } from './program.js';
export { renderTurn } from './commands/sessions.js';
export {
  ashHome,
  configPath,
  readCliConfig,
  resolveApiKey,
  resolveServerUrl,
  writeCliConfig,
  type CliConfig,
} from './config.js';
