/** @ash-ai/testing — private test helpers. */
export {
  ScriptedModel,
  deltaStampMs,
  deltaStampNow,
  lastUserText,
  requestText,
  type RecordedRequest,
  type ScriptHandler,
  type ScriptedReply,
  type ScriptedUsage,
} from './scripted-model.js';
export { TEST_POSTGRES_URL, createTestPostgresDatabase, type TestDatabase } from './postgres.js';
export {
  ENTRIES,
  REPO_ROOT,
  TEST_API_KEY,
  freePort,
  removeDir,
  runAsh,
  serverEnv,
  startAshProcess,
  startRunnerProcess,
  tempDir,
  type AshProcess,
  type RunnerProcess,
  type CliResult,
} from './processes.js';
export { startTestS3, type TestS3 } from './s3.js';
export { TcpFront } from './tcp-front.js';
export { ALL_BYTES, tinyPng } from './fixtures.js';
