import type {
  AgentVersion,
  Analytics,
  CreateAgentVersionBody,
  CredentialType,
  EnqueueBody,
  ExecResult,
  Health,
  ListQueueQuery,
  ListUsageQuery,
  LogsResponse,
  SendMessageBody,
  StreamEvent,
  ToolAnswerBody,
  UpdateAgentBody,
  UpdateAgentVersionBody,
  UpdateSessionConfigBody,
  UsageStatsQuery,
} from '@ash-ai/shared';
import { HttpClient, type HttpClientOptions } from './core/http.js';
import { Agents } from './resources/agents.js';
import { Attachments } from './resources/attachments.js';
import type { FileToUpload } from './resources/files.js';
import { ApiKeys } from './resources/api-keys.js';
import { Credentials } from './resources/credentials.js';
import { Queue } from './resources/queue.js';
import { Runners } from './resources/runners.js';
import { Sessions, type SendOptions } from './resources/sessions.js';
import { Usage } from './resources/usage.js';

/** Options of {@link AshClient}. All are optional. */
export interface AshClientOptions extends Partial<HttpClientOptions> {}

const DEFAULT_SERVER_URL = 'http://localhost:4100';

function env(name: string): string | undefined {
  return typeof process !== 'undefined' ? process.env?.[name] : undefined;
}

/**
 * Client of the Ash API.
 *
 * `serverUrl` defaults to `ASH_SERVER_URL` or `http://localhost:4100`; `apiKey` to `ASH_API_KEY`.
 * Resources: `agents`, `sessions`, `credentials`, `apiKeys`, `queue`, `usage`. The flat methods (`createSession`, `sendMessageStream`...)
 * keep code written for the upstream Ash SDK working.
 * @example
 * const client = new AshClient({ serverUrl: 'http://localhost:4100', apiKey });
 * const session = await client.sessions.create('hello');
 * for await (const ev of client.sessions.send(session.id, 'Hi')) console.log(ev.event);
 */
export class AshClient {
  readonly agents: Agents;
  readonly sessions: Sessions;
  /** Session attachments (upload, list, download, delete). */
  readonly attachments: Attachments;
  readonly credentials: Credentials;
  readonly apiKeys: ApiKeys;
  readonly queue: Queue;
  readonly usage: Usage;
  /** Runners of the server (operators: the internal secret). */
  readonly runners: Runners;
  /** The underlying transport (advanced use). */
  readonly http: HttpClient;

  constructor(opts: AshClientOptions = {}) {
    this.http = new HttpClient({
      ...opts,
      serverUrl: opts.serverUrl ?? env('ASH_SERVER_URL') ?? DEFAULT_SERVER_URL,
      apiKey: opts.apiKey ?? env('ASH_API_KEY'),
    });
    this.agents = new Agents(this.http);
    this.sessions = new Sessions(this.http);
    this.attachments = new Attachments(this.http);
    this.credentials = new Credentials(this.http);
    this.apiKeys = new ApiKeys(this.http);
    this.queue = new Queue(this.http);
    this.usage = new Usage(this.http);
    this.runners = new Runners(this.http);
  }

  get serverUrl(): string {
    return this.http.serverUrl;
  }

  /** `GET /health` (public). */
  health(): Promise<Health> {
    return this.http.request<Health>('GET', '/health');
  }

  // Upstream-compatible flat methods.

  /** Deploys a local folder as an agent (uploads its files). */
  deployAgent(name: string, dir: string, opts: { env?: Record<string, string> } = {}) {
    return this.agents.deployDirectory(name, dir, opts);
  }
  listAgents() {
    return this.agents.list();
  }
  getAgent(name: string) {
    return this.agents.get(name);
  }
  deleteAgent(name: string) {
    return this.agents.delete(name);
  }
  createSession(agent: string, opts: Parameters<Sessions['create']>[1] = {}) {
    return this.sessions.create(agent, opts);
  }
  listSessions(agentOrQuery?: string | Parameters<Sessions['list']>[0]) {
    return this.sessions.list(
      typeof agentOrQuery === 'string' ? { agent: agentOrQuery } : (agentOrQuery ?? {}),
    );
  }
  getSession(id: string) {
    return this.sessions.get(id);
  }
  pauseSession(id: string) {
    return this.sessions.pause(id);
  }
  stopSession(id: string) {
    return this.sessions.stop(id);
  }
  resumeSession(id: string) {
    return this.sessions.resume(id);
  }
  forkSession(id: string) {
    return this.sessions.fork(id);
  }
  endSession(id: string) {
    return this.sessions.end(id);
  }
  /** Sends a message and yields the turn's SSE events. */
  sendMessageStream(
    sessionId: string,
    content: SendMessageBody['content'],
    opts: SendOptions = {},
  ): AsyncGenerator<StreamEvent> {
    return this.sessions.send(sessionId, content, opts);
  }
  storeCredential(type: CredentialType, key: string, label?: string) {
    return this.credentials.store(type, key, label);
  }
  listCredentials() {
    return this.credentials.list();
  }
  deleteCredential(id: string) {
    return this.credentials.delete(id);
  }
  listMessages(sessionId: string, opts: { limit?: number; afterSequence?: number } = {}) {
    return this.sessions
      .messages(sessionId, {
        ...(opts.limit ? { limit: opts.limit } : {}),
        ...(opts.afterSequence ? { after: opts.afterSequence } : {}),
      })
      .then((p) => p.items);
  }
  // Upstream-compatible files, attachments and workspace methods.
  getSessionFiles(sessionId: string, opts: { includeHidden?: boolean } = {}) {
    return this.sessions.files.list(sessionId, opts);
  }
  getSessionFile(sessionId: string, path: string) {
    return this.sessions.files.readJson(sessionId, path);
  }
  downloadSessionFileRaw(sessionId: string, path: string) {
    return this.sessions.files.read(sessionId, path);
  }
  uploadSessionFiles(sessionId: string, files: FileToUpload[], opts: { targetPath?: string } = {}) {
    return this.sessions.files.upload(sessionId, files, opts);
  }
  deleteSessionFile(sessionId: string, path: string) {
    return this.sessions.files.delete(sessionId, path);
  }
  downloadWorkspace(sessionId: string) {
    return this.sessions.workspace.download(sessionId);
  }
  uploadWorkspace(sessionId: string, bundle: Uint8Array) {
    return this.sessions.workspace.upload(sessionId, bundle);
  }
  listAgentFiles(name: string) {
    return this.agents.files.list(name);
  }
  getAgentFile(name: string, path: string) {
    return this.agents.files.readJson(name, path);
  }
  uploadAgentFiles(name: string, files: FileToUpload[]) {
    return this.agents.files.upload(name, files);
  }
  deleteAgentFile(name: string, path: string) {
    return this.agents.files.delete(name, path);
  }
  uploadAttachment(
    sessionId: string,
    filename: string,
    content: Uint8Array | string,
    opts: { mimeType?: string; messageId?: string } = {},
  ) {
    return this.attachments.upload(sessionId, { filename, content, ...opts });
  }
  listAttachments(sessionId: string) {
    return this.attachments.list(sessionId);
  }
  downloadAttachment(id: string) {
    return this.attachments.download(id);
  }
  deleteAttachment(id: string) {
    return this.attachments.delete(id);
  }
  /**
   * Sends a message and returns the raw SSE `Response` (upstream `sendMessage`); read it with
   * {@link readSseEvents}, or use {@link sendMessageStream} for parsed events.
   */
  sendMessage(
    sessionId: string,
    content: SendMessageBody['content'],
    opts: Omit<SendMessageBody, 'content'> & { signal?: AbortSignal } = {},
  ): Promise<Response> {
    const { signal, ...body } = opts;
    return this.http.request<Response>('POST', `/api/sessions/${encodeURIComponent(sessionId)}/messages`, {
      body: { content, ...body },
      raw: true,
      headers: { accept: 'text/event-stream' },
      ...(signal ? { signal } : {}),
    });
  }
  /** Answers a session's `permission_request` or `custom_tool_use` (see {@link Sessions.answerToolRequest}). */
  answerToolRequest(sessionId: string, answer: ToolAnswerBody) {
    return this.sessions.answerToolRequest(sessionId, answer);
  }
  /** Interrupts the running turn of a session. */
  interruptSession(id: string) {
    return this.sessions.interrupt(id);
  }
  /** Changes a session's options for later turns (`null` removes one). */
  updateSessionConfig(id: string, patch: UpdateSessionConfigBody) {
    return this.sessions.updateConfig(id, patch);
  }
  /** Lists sessions with the total count (upstream `listSessionsWithTotal`). */
  listSessionsWithTotal(query: Parameters<Sessions['list']>[0] = {}) {
    return this.sessions.list(query);
  }
  /** Replaces env / merges config / sets description of an agent. */
  updateAgent(name: string, body: UpdateAgentBody) {
    return this.agents.update(name, body);
  }
  /** The agent's config. */
  async getAgentConfig(name: string): Promise<Record<string, unknown>> {
    return (
      await this.http.request<{ config: Record<string, unknown> }>(
        'GET',
        `/api/agents/${encodeURIComponent(name)}/config`,
      )
    ).config;
  }
  /** Shallow-merges into the agent's config (`null` removes a key). */
  async updateAgentConfig(name: string, config: Record<string, unknown>): Promise<Record<string, unknown>> {
    return (
      await this.http.request<{ config: Record<string, unknown> }>(
        'PATCH',
        `/api/agents/${encodeURIComponent(name)}/config`,
        { body: config },
      )
    ).config;
  }
  /**
   * Runs a shell command in an active session's sandbox (its workspace), killed after
   * `timeout` ms (default 30000, at most 300000). @throws ConflictError (not active), GoneError (ended).
   */
  exec(sessionId: string, command: string, opts: { timeout?: number } = {}): Promise<ExecResult> {
    return this.http.request<ExecResult>('POST', `/api/sessions/${encodeURIComponent(sessionId)}/exec`, {
      body: { command, ...(opts.timeout !== undefined ? { timeout: opts.timeout } : {}) },
      // The request lasts as long as the command may.
      timeoutMs: (opts.timeout ?? 30_000) + 30_000,
    });
  }
  /** The sandbox output ring of a session (entries with index > `after`, default all). */
  getSessionLogs(sessionId: string, opts: { after?: number } = {}): Promise<LogsResponse> {
    return this.http.request<LogsResponse>('GET', `/api/sessions/${encodeURIComponent(sessionId)}/logs`, {
      query: { after: opts.after },
    });
  }
  enqueue(body: EnqueueBody) {
    return this.queue.add(body);
  }
  async listQueueItems(query: ListQueueQuery = {}) {
    return (await this.queue.list(query)).items;
  }
  getQueueItem(id: string) {
    return this.queue.get(id);
  }
  cancelQueueItem(id: string) {
    return this.queue.cancel(id);
  }
  getQueueStats() {
    return this.queue.stats();
  }
  /** Usage rows in the upstream shape (`events`) plus ours (`records`). */
  listUsageEvents(query: ListUsageQuery = {}) {
    return this.usage.list(query);
  }
  /** Usage totals (`totalInputTokens`...). */
  async getUsageStats(query: UsageStatsQuery = {}) {
    return (await this.usage.stats(query)).stats;
  }
  /** Tenant figures: agents, sessions by status, usage totals. */
  getAnalytics(query: { after?: string; before?: string } = {}): Promise<Analytics> {
    return this.http.request<Analytics>('GET', '/api/analytics', { query });
  }
  async listAgentVersions(name: string): Promise<AgentVersion[]> {
    return (
      await this.http.request<{ versions: AgentVersion[] }>(
        'GET',
        `/api/agents/${encodeURIComponent(name)}/versions`,
      )
    ).versions;
  }
  async createAgentVersion(name: string, body: CreateAgentVersionBody = {}): Promise<AgentVersion> {
    return (
      await this.http.request<{ version: AgentVersion }>(
        'POST',
        `/api/agents/${encodeURIComponent(name)}/versions`,
        { body },
      )
    ).version;
  }
  async getAgentVersion(name: string, version: number | string): Promise<AgentVersion> {
    return (await this.http.request<{ version: AgentVersion }>('GET', this.versionPath(name, version)))
      .version;
  }
  async updateAgentVersion(
    name: string,
    version: number | string,
    body: UpdateAgentVersionBody,
  ): Promise<AgentVersion> {
    return (
      await this.http.request<{ version: AgentVersion }>('PATCH', this.versionPath(name, version), { body })
    ).version;
  }
  async deleteAgentVersion(name: string, version: number | string): Promise<void> {
    await this.http.request('DELETE', this.versionPath(name, version));
  }
  /** Makes a version active: new sessions get its system prompt. */
  activateAgentVersion(
    name: string,
    version: number | string,
  ): Promise<{ activated: true; versionNumber: number }> {
    return this.http.request('POST', `${this.versionPath(name, version)}/activate`);
  }
  private versionPath(name: string, version: number | string): string {
    return `/api/agents/${encodeURIComponent(name)}/versions/${encodeURIComponent(String(version))}`;
  }
  listSessionEvents(sessionId: string, opts: { limit?: number; afterSequence?: number; type?: string } = {}) {
    return this.sessions
      .events(sessionId, {
        ...(opts.limit ? { limit: opts.limit } : {}),
        ...(opts.afterSequence ? { after: opts.afterSequence } : {}),
        ...(opts.type ? { type: opts.type } : {}),
      })
      .then((p) => p.items);
  }
}
