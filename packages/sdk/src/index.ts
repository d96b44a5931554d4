/**
 * @ash-ai/sdk — TypeScript client of the Ash API. Works in Node.js 18+ (and, except
 * `deployDirectory`, anywhere with `fetch`).
 */
export { AshClient, type AshClientOptions } from './client.js';
export {
  AshApiError,
  AshConnectionError,
  AshError,
  AshLocalError,
  type AshLocalErrorCode,
  AshTimeoutError,
  AuthenticationError,
  BadRequestError,
  ConflictError,
  GoneError,
  InternalServerError,
  NotFoundError,
  PayloadTooLargeError,
  PermissionDeniedError,
  RateLimitError,
  ServiceUnavailableError,
  UnprocessableEntityError,
  UnsupportedMediaTypeError,
} from './core/errors.js';
export { HttpClient, type HttpClientOptions, type RequestOptions } from './core/http.js';
export { readSseEvents } from './core/streaming.js';
export { readAgentFolder, type ReadFolderOptions } from './internal/folder.js';
export { Agents, type DeployedAgent } from './resources/agents.js';
export { Attachments, type DownloadedAttachment } from './resources/attachments.js';
export {
  AgentFiles,
  SessionFiles,
  SessionWorkspace,
  type FileToUpload,
  type ProgressCallback,
} from './resources/files.js';
export { ApiKeys } from './resources/api-keys.js';
export { Credentials } from './resources/credentials.js';
export { Queue } from './resources/queue.js';
export { Runners } from './resources/runners.js';
export {
  Sessions,
  type ExecResult as SessionExecResult,
  type HistoryPage,
  type SendOptions,
  type SessionLogEntry,
} from './resources/sessions.js';
export { Usage } from './resources/usage.js';
export type {
  Agent,
  AgentVersion,
  Analytics,
  ExecResult,
  LogEntry,
  LogsResponse,
  UsageEvent,
  AgentFilesChange,
  Attachment,
  FileContent,
  FileEntry,
  RestoreWorkspaceResult,
  SessionFileContent,
  SessionFileList,
  SessionUploadResponse,
  WorkspaceSnapshot,
  WorkspaceSource,
  ApiKey,
  ContentBlock,
  CreatedApiKeyResponse,
  Credential,
  CredentialType,
  Health,
  RunnerStatus,
  UploadLimits,
  EnqueueBody,
  Message,
  MessageContent,
  QueueItem,
  QueueStats,
  QueueStatus,
  Session,
  SessionConfig,
  SessionEvent,
  SessionStatus,
  StreamEvent,
  EgressData,
  NetworkPolicyConfig,
  TenantBudget,
  ToolAnswerBody,
  ToolAnswerResponse,
  UpdateSessionConfigBody,
  UsageRecord,
  UsageStatsResponse,
  UsageTotals,
  StreamEventName,
  TurnOutcome,
} from '@ash-ai/shared';
