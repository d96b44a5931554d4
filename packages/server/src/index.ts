/**
 * @ash-ai/server — the Ash control plane: REST + SSE over sandboxed Claude Agent SDK sessions.
 * `createAshServer(loadConfig())` wires everything; `buildApp(deps)` is the HTTP layer alone.
 */
export { buildApp, type AppDeps } from './app.js';
export { ConfigError, EnvSchema, isLoopbackHost, loadConfig, type Config } from './config.js';
export { INITIAL_KEY_FILE } from './services/auth/api-key-service.js';
export {
  rotateCredentialKey,
  rotateCredentialKeyInDatabase,
  type RotationReport,
} from './services/auth/credential-rotation.js';
export { runServer, startupErrorMessage } from './run.js';
export { createAshServer, type AshServer, type CreateServerOptions } from './server.js';
export { SERVER_VERSION } from './version.js';
