export interface paths {
  '/health': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /** Liveness, version and pool figures */
    get: operations['getHealth'];
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/api/api-keys': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /** List your tenant's keys (prefix, label, created and last-used times; never the key) */
    get: operations['listApiKeys'];
    put?: never;
    /** Create an API key for your tenant; the key is in this response only */
    post: operations['createApiKey'];
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/api/api-keys/{id}': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    get?: never;
    put?: never;
    post?: never;
    /** Revoke a key: the next request with it gets 401 */
    delete: operations['revokeApiKey'];
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/api/credentials': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /** List your tenant's credentials (never their values) */
    get: operations['listCredentials'];
    put?: never;
    /** Store a credential (encrypted at rest; the value is never returned) */
    post: operations['storeCredential'];
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/api/credentials/{id}': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /** Get a credential (never its value) */
    get: operations['getCredential'];
    put?: never;
    post?: never;
    /** Delete a credential */
    delete: operations['deleteCredential'];
    options?: never;
    head?: never;
    /** Relabel a credential or switch it on or off */
    patch: operations['updateCredential'];
    trace?: never;
  };
  '/api/internal/api-keys': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    get?: never;
    put?: never;
    /** Create an API key for any tenant (this is how tenants are provisioned) */
    post: operations['createTenantApiKey'];
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/api/internal/runners/register': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    get?: never;
    put?: never;
    /** A runner registers (or re-registers) */
    post: operations['registerRunner'];
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/api/internal/runners/heartbeat': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    get?: never;
    put?: never;
    /** A runner reports it is alive; 404 means: register again */
    post: operations['runnerHeartbeat'];
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/api/internal/runners/deregister': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    get?: never;
    put?: never;
    /** A runner leaves; its running sessions become paused */
    post: operations['deregisterRunner'];
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/api/internal/runners': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /** List registered runners */
    get: operations['listRunners'];
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/api/agents': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /** List agents */
    get: operations['listAgents'];
    put?: never;
    /** Deploy an agent folder (from a path on the server or uploaded files); redeploy bumps the version */
    post: operations['deployAgent'];
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/api/agents/{name}': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /** Get an agent */
    get: operations['getAgent'];
    put?: never;
    post?: never;
    /** Delete an agent and its files; its sessions end (history is kept) */
    delete: operations['deleteAgent'];
    options?: never;
    head?: never;
    /** Update an agent: replace env, merge config, set description */
    patch: operations['updateAgent'];
    trace?: never;
  };
  '/api/sessions': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /** List sessions, newest first */
    get: operations['listSessions'];
    put?: never;
    /** Create a session on an agent */
    post: operations['createSession'];
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/api/sessions/{id}': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /** Get a session */
    get: operations['getSession'];
    put?: never;
    post?: never;
    /** End a session: stop its processes; history stays readable */
    delete: operations['endSession'];
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/api/sessions/{id}/pause': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    get?: never;
    put?: never;
    /** Pause: stop the process tree, keep workspace and transcript (a message resumes it) */
    post: operations['pauseSession'];
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/api/sessions/{id}/stop': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    get?: never;
    put?: never;
    /** Stop: like pause (process gone, state kept), status `stopped`; resumable */
    post: operations['stopSession'];
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/api/sessions/{id}/resume': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    get?: never;
    put?: never;
    /** Resume: warm if the process is alive, else a new sandbox on the same workspace and conversation */
    post: operations['resumeSession'];
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/api/sessions/{id}/fork': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    get?: never;
    put?: never;
    /** Fork: a new, independent session with a copy of the history, transcript and workspace */
    post: operations['forkSession'];
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/api/sessions/{id}/messages': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /** Persisted messages, in order (sequence cursor) */
    get: operations['listMessages'];
    put?: never;
    /** Send a message; the turn streams back as SSE */
    post: operations['sendMessage'];
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/api/sessions/{id}/stream': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /** Rejoin a turn stream: every event after `Last-Event-ID` (or `?after=`), then the live rest of the turn */
    get: operations['streamSession'];
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/api/sessions/{id}/interrupt': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    get?: never;
    put?: never;
    /** Interrupt the running turn (soft first, then kill); resolves when the turn has ended */
    post: operations['interruptSession'];
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/api/sessions/{id}/exec': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    get?: never;
    put?: never;
    /** Run a shell command in the session's sandbox (its workspace; killed after `timeout` ms; output cut at 1 MiB per stream) */
    post: operations['execInSession'];
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/api/sessions/{id}/logs': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /** The sandbox's output ring (Claude's stderr, exec output, system notes) after `after`; empty without a live sandbox */
    get: operations['getSessionLogs'];
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/api/sessions/{id}/events': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /** Persisted events (exactly what was streamed, plus lifecycle events), in order */
    get: operations['listSessionEvents'];
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/metrics': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /** Prometheus metrics: pool by state, sandbox memory, pre-warm, resume and eviction counters */
    get: operations['getMetrics'];
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/api/sessions/{id}/files': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /** List a session workspace recursively (files and links; node_modules and .git are not walked) */
    get: operations['listSessionFiles'];
    put?: never;
    /** Write files into a session workspace (base64); validated as a whole, results per file */
    post: operations['uploadSessionFiles'];
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/api/sessions/{id}/files/{path}': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /** Read a workspace file: raw bytes (default) or `format=json` */
    get: operations['getSessionFile'];
    put?: never;
    post?: never;
    /** Delete a workspace file or folder (links are refused, never followed) */
    delete: operations['deleteSessionFile'];
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/api/agents/{name}/files': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /** List the current version of an agent's folder */
    get: operations['listAgentFiles'];
    put?: never;
    /** Add or replace agent files (knowledge files); publishes a new agent version */
    post: operations['uploadAgentFiles'];
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/api/agents/{name}/files/{path}': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /** Read a file of the agent's current version: raw bytes (default) or `format=json` */
    get: operations['getAgentFile'];
    put?: never;
    post?: never;
    /** Delete an agent file or folder; publishes a new agent version */
    delete: operations['deleteAgentFile'];
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/api/sessions/{id}/workspace': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /** Download the workspace as tar.gz (without node_modules, .git and caches) */
    get: operations['downloadWorkspace'];
    put?: never;
    /** Restore a tar.gz into the workspace (raw application/gzip body, or JSON {bundle: base64}); unsafe bundles are refused whole */
    post: operations['uploadWorkspace'];
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/api/sessions/{id}/workspace/snapshot': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    get?: never;
    put?: never;
    /** Store a snapshot of the workspace and transcript in object storage (another server can then continue the session) */
    post: operations['snapshotWorkspace'];
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/api/sessions/{id}/attachments': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /** A session's attachments, oldest first */
    get: operations['listAttachments'];
    put?: never;
    /** Attach a file to a session (stored, and copied into the workspace under attachments/) */
    post: operations['uploadAttachment'];
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/api/attachments/{id}': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /** Download an attachment (its type, an RFC 6266 disposition with its exact name, nosniff) */
    get: operations['downloadAttachment'];
    put?: never;
    post?: never;
    /** Delete an attachment (the workspace copy stays) */
    delete: operations['deleteAttachment'];
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/api/sessions/{id}/config': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    get?: never;
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    /** Change session options for later turns (JSON merge patch: a value sets an option, null removes it); also budgetUsd */
    patch: operations['updateSessionConfig'];
    trace?: never;
  };
  '/api/usage': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /** Usage records (model calls, tool calls, turns, compute), newest first */
    get: operations['listUsageEvents'];
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/api/usage/stats': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /** Usage totals, optionally grouped by agent, session, model or day */
    get: operations['getUsageStats'];
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/api/usage/budget': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /** The tenant's budget and what it spent */
    get: operations['getBudget'];
    /** Set (or with null remove) the tenant's budget */
    put: operations['setBudget'];
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/api/queue': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /** Queue items, newest first, optionally of one status */
    get: operations['listQueueItems'];
    put?: never;
    /** Queue a prompt to run as a turn in the background (new session unless sessionId) */
    post: operations['enqueue'];
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/api/queue/stats': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /** Queue items per status */
    get: operations['getQueueStats'];
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/api/queue/{id}': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /** A queue item, with its result or error */
    get: operations['getQueueItem'];
    put?: never;
    post?: never;
    /** Cancel a pending item (409 once it runs or has finished) */
    delete: operations['cancelQueueItem'];
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/api/agents/{name}/versions': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /** Prompt versions of an agent, oldest first */
    get: operations['listAgentVersions'];
    put?: never;
    /** Create a prompt version (the next number; `cloneFrom` copies unset fields) */
    post: operations['createAgentVersion'];
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/api/agents/{name}/versions/{version}': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /** A prompt version, by number or id */
    get: operations['getAgentVersion'];
    put?: never;
    post?: never;
    /** Delete a prompt version */
    delete: operations['deleteAgentVersion'];
    options?: never;
    head?: never;
    /** Change a prompt version */
    patch: operations['updateAgentVersion'];
    trace?: never;
  };
  '/api/agents/{name}/versions/{version}/activate': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    get?: never;
    put?: never;
    /** Make a version the active one: new sessions get its system prompt (unless they set one) */
    post: operations['activateAgentVersion'];
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/api/agents/{name}/config': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /** The agent's config (session defaults and other settings) */
    get: operations['getAgentConfig'];
    /** Replace the agent's config (the config object, or `{config}`) */
    put: operations['replaceAgentConfig'];
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    /** Shallow-merge into the agent's config (`null` removes a key) */
    patch: operations['updateAgentConfig'];
    trace?: never;
  };
  '/api/analytics': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /** The tenant's agents, sessions by status and usage totals in a time range */
    get: operations['getAnalytics'];
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
}
export type webhooks = Record<string, never>;
export interface components {
  schemas: {
    /** @description RFC 9457 problem details */
    Problem: {
      /** @description URI naming the problem type: `urn:ash:error:<code>` */
      type: string;
      /** @description Short, code-level summary */
      title: string;
      status: number;
      /** @description Human-readable explanation of this occurrence */
      detail: string;
      /** @description Stable machine-readable code (see docs/errors.md) */
      code: string;
      instance?: string;
      errors?: {
        path: string;
        message: string;
      }[];
      /** @description Upstream compatibility: the upstream Ash text where one exists (401: `Missing Authorization header`, `Invalid API key`), else the same as detail */
      error: string;
      /** @description Same as status (upstream compatibility) */
      statusCode: number;
    };
    Agent: {
      /** Format: uuid */
      id: string;
      name: string;
      tenantId: string;
      version: number;
      path: string;
      description: string | null;
      env: {
        [key: string]: string;
      };
      /** @description Agent-level defaults; see docs/api.md for recognised keys */
      config: {
        model?: string | null;
        systemPrompt?: string | null;
        permissionMode?:
          | ('permissionsByAgent' | 'default' | 'acceptEdits' | 'bypassPermissions' | 'plan' | 'dontAsk')
          | null;
        mcpServers?: {
          [key: string]:
            | {
                /** @enum {string} */
                type?: 'stdio';
                command: string;
                args?: string[];
                env?: {
                  [key: string]: string;
                };
              }
            | {
                type: 'sse' | 'http';
                url: string;
                headers?: {
                  [key: string]: string;
                };
              };
        } | null;
        allowedTools?: string[] | null;
        disallowedTools?: string[] | null;
        betas?: string[] | null;
        subagents?: {
          [key: string]: {
            description: string;
            prompt: string;
            tools?: string[];
            disallowedTools?: string[];
            model?: string;
          };
        } | null;
        initialAgent?: string | null;
        maxTurns?: number | null;
        maxBudgetUsd?: number | null;
        effort?: ('low' | 'medium' | 'high' | 'xhigh' | 'max') | null;
        thinking?:
          | (
              | {
                  /** @enum {string} */
                  type: 'adaptive';
                }
              | {
                  /** @enum {string} */
                  type: 'enabled';
                  budgetTokens?: number;
                }
              | {
                  /** @enum {string} */
                  type: 'disabled';
                }
            )
          | null;
        outputFormat?: {
          /** @enum {string} */
          type: 'json_schema';
          schema: {
            [key: string]: unknown;
          };
        } | null;
      } & {
        [key: string]: unknown;
      };
      fileCount: number;
      sizeBytes: number;
      /** Format: date-time */
      createdAt: string;
      /** Format: date-time */
      updatedAt: string;
    };
    Session: {
      /** Format: uuid */
      id: string;
      tenantId: string;
      agentName: string;
      agentVersion: number;
      status: 'starting' | 'active' | 'paused' | 'stopped' | 'ended' | 'error';
      sandboxId: string;
      runnerId: string | null;
      parentSessionId: string | null;
      model: string | null;
      config: {
        model?: string;
        systemPrompt?: string;
        permissionMode?:
          | 'permissionsByAgent'
          | 'default'
          | 'acceptEdits'
          | 'bypassPermissions'
          | 'plan'
          | 'dontAsk';
        mcpServers?: {
          [key: string]:
            | {
                /** @enum {string} */
                type?: 'stdio';
                command: string;
                args?: string[];
                env?: {
                  [key: string]: string;
                };
              }
            | {
                type: 'sse' | 'http';
                url: string;
                headers?: {
                  [key: string]: string;
                };
              };
        };
        allowedTools?: string[];
        disallowedTools?: string[];
        betas?: string[];
        subagents?: {
          [key: string]: {
            description: string;
            prompt: string;
            tools?: string[];
            disallowedTools?: string[];
            model?: string;
          };
        };
        initialAgent?: string;
      };
      budgetUsd: number | null;
      activeTurnId: string | null;
      /** Format: date-time */
      createdAt: string;
      /** Format: date-time */
      lastActiveAt: string;
      endedAt: string | null;
    };
    Message: {
      /** Format: uuid */
      id: string;
      /** Format: uuid */
      sessionId: string;
      role: 'user' | 'assistant' | 'system';
      type: string;
      content: string;
      text: string;
      sequence: number;
      turnId: string | null;
      /** Format: date-time */
      createdAt: string;
    };
    SessionEvent: {
      /** Format: uuid */
      id: string;
      /** Format: uuid */
      sessionId: string;
      type: string;
      data: string;
      sequence: number;
      turnId: string | null;
      /** Format: date-time */
      createdAt: string;
    };
    Attachment: {
      /** Format: uuid */
      id: string;
      /** Format: uuid */
      sessionId: string;
      messageId: string | null;
      filename: string;
      mimeType: string;
      size: number;
      sha256: string;
      workspacePath: string;
      /** Format: date-time */
      createdAt: string;
    };
    ApiKey: {
      id: string;
      tenantId: string;
      keyPrefix: string;
      label: string | null;
      createdAt: string | null;
      lastUsedAt: string | null;
    };
    Credential: {
      /** Format: uuid */
      id: string;
      type: 'anthropic' | 'openai' | 'bedrock' | 'custom';
      label: string | null;
      active: boolean;
      /** Format: date-time */
      createdAt: string;
      /** Format: date-time */
      updatedAt: string;
      lastUsedAt: string | null;
    };
    UsageRecord: {
      id: string;
      sessionId: string | null;
      agentName: string | null;
      turnId: string | null;
      kind: 'model_call' | 'tool_call' | 'turn' | 'compute';
      messageId: string | null;
      model: string | null;
      inputTokens: number;
      outputTokens: number;
      cacheCreationTokens: number;
      cacheReadTokens: number;
      toolCalls: number;
      computeSeconds: number;
      costUsd: number;
      sdkCostUsd: number | null;
      priceVersion: string | null;
      /** Format: date-time */
      createdAt: string;
    };
    QueueItem: {
      /** Format: uuid */
      id: string;
      agentName: string;
      sessionId: string | null;
      prompt: string;
      options: {
        model?: string;
        maxTurns?: number;
        maxBudgetUsd?: number;
        effort?: 'low' | 'medium' | 'high' | 'xhigh' | 'max';
        thinking?:
          | {
              /** @enum {string} */
              type: 'adaptive';
            }
          | {
              /** @enum {string} */
              type: 'enabled';
              budgetTokens?: number;
            }
          | {
              /** @enum {string} */
              type: 'disabled';
            };
        outputFormat?: {
          /** @enum {string} */
          type: 'json_schema';
          schema: {
            [key: string]: unknown;
          };
        };
      };
      status: 'pending' | 'running' | 'completed' | 'failed' | 'cancelled';
      priority: number;
      retryCount: number;
      maxRetries: number;
      /** Format: date-time */
      runAt: string;
      error: string | null;
      result: {
        turnId: string;
        outcome: string;
        text: string | null;
        structuredOutput?: unknown;
        numTurns?: number;
        totalCostUsd?: number;
      } | null;
      claimedBy: string | null;
      /** Format: date-time */
      createdAt: string;
      startedAt: string | null;
      completedAt: string | null;
    };
    AgentVersion: {
      id: string;
      agentName: string;
      versionNumber: number;
      name: string;
      systemPrompt: string | null;
      releaseNotes: string | null;
      isActive: boolean;
      knowledgeFiles: string[];
      /** Format: date-time */
      createdAt: string;
      /** Format: date-time */
      updatedAt: string;
    };
    ExecResult: {
      exitCode: number;
      stdout: string;
      stderr: string;
      timedOut: boolean;
      truncated: boolean;
      durationMs: number;
    };
    UsageEvent: {
      id: string;
      sessionId: string | null;
      agentName: string | null;
      eventType: string;
      value: number;
      /** Format: date-time */
      createdAt: string;
    };
    /** @description SSE frame `event: session_start`; `data:` is the JSON of `data`. */
    SessionStartEvent: {
      /** @description The SSE `id:`: the per-session event sequence */
      id: number;
      /**
       * @description discriminator enum property added by openapi-typescript
       * @enum {string}
       */
      event: 'SessionStartEvent';
      data: {
        sessionId: string;
        version: string;
        turnId: string;
      };
    };
    /** @description SSE frame `event: text_delta`; `data:` is the JSON of `data`. */
    TextDeltaEvent: {
      /** @description The SSE `id:`: the per-session event sequence */
      id: number;
      /**
       * @description discriminator enum property added by openapi-typescript
       * @enum {string}
       */
      event: 'TextDeltaEvent';
      data: {
        delta: string;
      };
    };
    /** @description SSE frame `event: thinking_delta`; `data:` is the JSON of `data`. */
    ThinkingDeltaEvent: {
      /** @description The SSE `id:`: the per-session event sequence */
      id: number;
      /**
       * @description discriminator enum property added by openapi-typescript
       * @enum {string}
       */
      event: 'ThinkingDeltaEvent';
      data: {
        delta: string;
      };
    };
    /** @description SSE frame `event: tool_use`; `data:` is the JSON of `data`. */
    ToolUseEvent: {
      /** @description The SSE `id:`: the per-session event sequence */
      id: number;
      /**
       * @description discriminator enum property added by openapi-typescript
       * @enum {string}
       */
      event: 'ToolUseEvent';
      data: {
        id: string;
        name: string;
        input: unknown;
      };
    };
    /** @description SSE frame `event: tool_result`; `data:` is the JSON of `data`. */
    ToolResultEvent: {
      /** @description The SSE `id:`: the per-session event sequence */
      id: number;
      /**
       * @description discriminator enum property added by openapi-typescript
       * @enum {string}
       */
      event: 'ToolResultEvent';
      data: {
        tool_use_id: string;
        content: string;
        is_error: boolean;
      };
    };
    /** @description SSE frame `event: message`; `data:` is the JSON of `data`. */
    MessageEvent: {
      /** @description The SSE `id:`: the per-session event sequence */
      id: number;
      /**
       * @description discriminator enum property added by openapi-typescript
       * @enum {string}
       */
      event: 'MessageEvent';
      data: {
        [key: string]: unknown;
      };
    };
    /** @description SSE frame `event: turn_complete`; `data:` is the JSON of `data`. */
    TurnCompleteEvent: {
      /** @description The SSE `id:`: the per-session event sequence */
      id: number;
      /**
       * @description discriminator enum property added by openapi-typescript
       * @enum {string}
       */
      event: 'TurnCompleteEvent';
      data: {
        numTurns: number;
        result: string | null;
        isError: boolean;
        subtype: string;
        durationMs: number;
        totalCostUsd: number;
        usage: {
          [key: string]: unknown;
        };
        structuredOutput?: unknown;
      };
    };
    /** @description SSE frame `event: error`; `data:` is the JSON of `data`. */
    ErrorEvent: {
      /** @description The SSE `id:`: the per-session event sequence */
      id: number;
      /**
       * @description discriminator enum property added by openapi-typescript
       * @enum {string}
       */
      event: 'ErrorEvent';
      data: {
        error: string;
        code: string;
        limit?: string;
      };
    };
    /** @description SSE frame `event: done`; `data:` is the JSON of `data`. */
    DoneEvent: {
      /** @description The SSE `id:`: the per-session event sequence */
      id: number;
      /**
       * @description discriminator enum property added by openapi-typescript
       * @enum {string}
       */
      event: 'DoneEvent';
      data: {
        sessionId: string;
        turnId: string;
        outcome: 'completed' | 'error' | 'interrupted';
      };
    };
    /** @description One frame of a turn stream (`text/event-stream`): `id: <sequence>`, `event: <name>`, `data: <JSON>`. A turn streams `session_start`, then `text_delta`, `thinking_delta`, `tool_use`, `tool_result` and `message` frames, `turn_complete`, `error` on failure, and always `done` last. Comment lines (`: heartbeat`) keep the connection open. */
    StreamEvent:
      | components['schemas']['SessionStartEvent']
      | components['schemas']['TextDeltaEvent']
      | components['schemas']['ThinkingDeltaEvent']
      | components['schemas']['ToolUseEvent']
      | components['schemas']['ToolResultEvent']
      | components['schemas']['MessageEvent']
      | components['schemas']['TurnCompleteEvent']
      | components['schemas']['ErrorEvent']
      | components['schemas']['DoneEvent'];
    GetHealthResponse: {
      /** @enum {string} */
      status: 'ok';
      version: string;
      uptime: number;
      activeSessions: number;
      activeSandboxes: number;
      coordinatorId: string;
      pool: {
        live: number;
        running: number;
        idle: number;
        warm: number;
        starting: number;
        maxCapacity: number;
        preWarmHits: number;
        resumeWarmHits: number;
        resumeColdHits: number;
        evictions: number;
      };
      sandbox: {
        mode: 'bwrap' | 'unsafe-process';
        limits: 'cgroup-v1' | 'cgroup-v2' | 'none';
        warnings: string[];
      };
      warnings: string[];
    };
    CreateApiKeyRequest: {
      label?: string;
    };
    CreateApiKeyResponse: {
      id: string;
      tenantId: string;
      key: string;
      apiKey: components['schemas']['ApiKey'];
    };
    ListApiKeysResponse: {
      keys: components['schemas']['ApiKey'][];
    };
    RevokeApiKeyResponse: {
      /** @enum {boolean} */
      ok: true;
    };
    StoreCredentialRequest: {
      type: 'anthropic' | 'openai' | 'bedrock' | 'custom';
      key: string;
      label?: string;
    };
    CredentialResponse: {
      credential: components['schemas']['Credential'];
    };
    ListCredentialsResponse: {
      credentials: components['schemas']['Credential'][];
    };
    UpdateCredentialRequest: {
      label?: string | null;
      active?: boolean;
    };
    CreateTenantApiKeyRequest: {
      tenantId: string;
      label?: string;
    };
    RegisterRunnerRequest: {
      runnerId: string;
      host: string;
      port: number;
      /** @default 100 */
      maxSandboxes: number;
    };
    RunnerHeartbeatRequest: {
      runnerId: string;
      activeCount: number;
      stats?: {
        [key: string]: unknown;
      };
    };
    DeregisterRunnerRequest: {
      runnerId: string;
    };
    ListRunnersResponse: {
      runners: {
        runnerId: string;
        host: string;
        port: number;
        active: number;
        max: number;
        /** Format: date-time */
        lastHeartbeat: string;
        /** Format: date-time */
        registeredAt: string;
      }[];
      count: number;
      hasLocal: boolean;
    };
    DeployAgentRequest: {
      name: string;
      /** @description Folder on the server machine */
      path?: string;
      files?: {
        /** @description Relative path, `/`-separated */
        path: string;
        /** @description File bytes, base64 (RFC 4648 §4) */
        content: string;
      }[];
      systemPrompt?: string;
      description?: string;
      env?: {
        [key: string]: string;
      };
      /** @description Agent-level defaults; see docs/api.md for recognised keys */
      config?: {
        model?: string | null;
        systemPrompt?: string | null;
        permissionMode?:
          | ('permissionsByAgent' | 'default' | 'acceptEdits' | 'bypassPermissions' | 'plan' | 'dontAsk')
          | null;
        mcpServers?: {
          [key: string]:
            | {
                /** @enum {string} */
                type?: 'stdio';
                command: string;
                args?: string[];
                env?: {
                  [key: string]: string;
                };
              }
            | {
                type: 'sse' | 'http';
                url: string;
                headers?: {
                  [key: string]: string;
                };
              };
        } | null;
        allowedTools?: string[] | null;
        disallowedTools?: string[] | null;
        betas?: string[] | null;
        subagents?: {
          [key: string]: {
            description: string;
            prompt: string;
            tools?: string[];
            disallowedTools?: string[];
            model?: string;
          };
        } | null;
        initialAgent?: string | null;
        maxTurns?: number | null;
        maxBudgetUsd?: number | null;
        effort?: ('low' | 'medium' | 'high' | 'xhigh' | 'max') | null;
        thinking?:
          | (
              | {
                  /** @enum {string} */
                  type: 'adaptive';
                }
              | {
                  /** @enum {string} */
                  type: 'enabled';
                  budgetTokens?: number;
                }
              | {
                  /** @enum {string} */
                  type: 'disabled';
                }
            )
          | null;
        outputFormat?: {
          /** @enum {string} */
          type: 'json_schema';
          schema: {
            [key: string]: unknown;
          };
        } | null;
      } & {
        [key: string]: unknown;
      };
    };
    AgentResponse: {
      agent: components['schemas']['Agent'];
    };
    ListAgentsResponse: {
      agents: components['schemas']['Agent'][];
    };
    UpdateAgentRequest: {
      description?: string;
      env?: {
        [key: string]: string;
      };
      /** @description Agent-level defaults; see docs/api.md for recognised keys */
      config?: {
        model?: string | null;
        systemPrompt?: string | null;
        permissionMode?:
          | ('permissionsByAgent' | 'default' | 'acceptEdits' | 'bypassPermissions' | 'plan' | 'dontAsk')
          | null;
        mcpServers?: {
          [key: string]:
            | {
                /** @enum {string} */
                type?: 'stdio';
                command: string;
                args?: string[];
                env?: {
                  [key: string]: string;
                };
              }
            | {
                type: 'sse' | 'http';
                url: string;
                headers?: {
                  [key: string]: string;
                };
              };
        } | null;
        allowedTools?: string[] | null;
        disallowedTools?: string[] | null;
        betas?: string[] | null;
        subagents?: {
          [key: string]: {
            description: string;
            prompt: string;
            tools?: string[];
            disallowedTools?: string[];
            model?: string;
          };
        } | null;
        initialAgent?: string | null;
        maxTurns?: number | null;
        maxBudgetUsd?: number | null;
        effort?: ('low' | 'medium' | 'high' | 'xhigh' | 'max') | null;
        thinking?:
          | (
              | {
                  /** @enum {string} */
                  type: 'adaptive';
                }
              | {
                  /** @enum {string} */
                  type: 'enabled';
                  budgetTokens?: number;
                }
              | {
                  /** @enum {string} */
                  type: 'disabled';
                }
            )
          | null;
        outputFormat?: {
          /** @enum {string} */
          type: 'json_schema';
          schema: {
            [key: string]: unknown;
          };
        } | null;
      } & {
        [key: string]: unknown;
      };
    };
    CreateSessionRequest: {
      agent: string;
      /** Format: uuid */
      credentialId?: string;
      extraEnv?: {
        [key: string]: string;
      };
      budgetUsd?: number;
      model?: string;
      systemPrompt?: string;
      permissionMode?:
        | 'permissionsByAgent'
        | 'default'
        | 'acceptEdits'
        | 'bypassPermissions'
        | 'plan'
        | 'dontAsk';
      mcpServers?: {
        [key: string]:
          | {
              /** @enum {string} */
              type?: 'stdio';
              command: string;
              args?: string[];
              env?: {
                [key: string]: string;
              };
            }
          | {
              type: 'sse' | 'http';
              url: string;
              headers?: {
                [key: string]: string;
              };
            };
      };
      allowedTools?: string[];
      disallowedTools?: string[];
      betas?: string[];
      subagents?: {
        [key: string]: {
          description: string;
          prompt: string;
          tools?: string[];
          disallowedTools?: string[];
          model?: string;
        };
      };
      initialAgent?: string;
    };
    SessionResponse: {
      session: components['schemas']['Session'];
    };
    ListSessionsResponse: {
      sessions: components['schemas']['Session'][];
      total: number;
      hasMore: boolean;
    };
    SendMessageRequest: {
      content:
        | string
        | (
            | {
                /** @enum {string} */
                type: 'text';
                text: string;
              }
            | {
                /** @enum {string} */
                type: 'image';
                source:
                  | {
                      /** @enum {string} */
                      type: 'base64';
                      media_type: string;
                      data: string;
                    }
                  | {
                      /** @enum {string} */
                      type: 'attachment';
                      /** Format: uuid */
                      attachmentId: string;
                    };
              }
            | {
                /** @enum {string} */
                type: 'document';
                source:
                  | {
                      /** @enum {string} */
                      type: 'base64';
                      media_type: string;
                      data: string;
                    }
                  | {
                      /** @enum {string} */
                      type: 'attachment';
                      /** Format: uuid */
                      attachmentId: string;
                    }
                  | {
                      /** @enum {string} */
                      type: 'text';
                      /** @enum {string} */
                      media_type: 'text/plain';
                      data: string;
                    };
                title?: string;
              }
          )[];
      includePartialMessages?: boolean;
      onBusy?: 'reject' | 'queue' | 'interrupt';
      model?: string;
      maxTurns?: number;
      maxBudgetUsd?: number;
      effort?: 'low' | 'medium' | 'high' | 'xhigh' | 'max';
      thinking?:
        | {
            /** @enum {string} */
            type: 'adaptive';
          }
        | {
            /** @enum {string} */
            type: 'enabled';
            budgetTokens?: number;
          }
        | {
            /** @enum {string} */
            type: 'disabled';
          };
      outputFormat?: {
        /** @enum {string} */
        type: 'json_schema';
        schema: {
          [key: string]: unknown;
        };
      };
    };
    ListMessagesResponse: {
      messages: components['schemas']['Message'][];
      hasMore: boolean;
    };
    InterruptSessionResponse: {
      interrupted: boolean;
    };
    ExecInSessionRequest: {
      command: string;
      timeout?: number;
    };
    GetSessionLogsResponse: {
      logs: {
        index: number;
        level: 'stdout' | 'stderr' | 'system';
        text: string;
        /** Format: date-time */
        ts: string;
      }[];
      /** @enum {string} */
      source: 'sandbox';
    };
    ListSessionEventsResponse: {
      events: components['schemas']['SessionEvent'][];
      hasMore: boolean;
    };
    ListSessionFilesResponse: {
      files: {
        path: string;
        type: 'file' | 'symlink';
        size: number;
        /** Format: date-time */
        modifiedAt: string;
      }[];
      source: 'live' | 'stored';
      truncated: boolean;
    };
    UploadSessionFilesRequest: {
      files: {
        /** @description Relative path, `/`-separated; no `..`, no leading `/` */
        path: string;
        /** @description File bytes, base64 (RFC 4648 §4) */
        content: string;
        /** @description Informative only */
        mimeType?: string;
      }[];
      targetPath?: string;
    };
    UploadSessionFilesResponse: {
      files: {
        path: string;
        written: boolean;
        size?: number;
        error?: string;
      }[];
      source: 'live' | 'stored';
    };
    GetSessionFileResponse: {
      path: string;
      content: string;
      encoding: 'utf8' | 'base64';
      size: number;
      mimeType: string;
      source: 'live' | 'stored';
    };
    DeleteSessionFileResponse: {
      path: string;
      /** @enum {boolean} */
      deleted: true;
      source: 'live' | 'stored';
    };
    ListAgentFilesResponse: {
      files: {
        path: string;
        type: 'file' | 'symlink';
        size: number;
        /** Format: date-time */
        modifiedAt: string;
      }[];
      version: number;
      truncated: boolean;
    };
    UploadAgentFilesResponse: {
      agent: components['schemas']['Agent'];
      files: {
        path: string;
        written: boolean;
        size?: number;
        error?: string;
      }[];
    };
    GetAgentFileResponse: {
      path: string;
      content: string;
      encoding: 'utf8' | 'base64';
      size: number;
      mimeType: string;
      version: number;
    };
    UploadWorkspaceRequest: {
      /** @description A tar.gz bundle, base64 */
      bundle: string;
    };
    UploadWorkspaceResponse: {
      /** @enum {boolean} */
      restored: true;
      files: number;
      bytes: number;
      source: 'live' | 'stored';
    };
    SnapshotWorkspaceResponse: {
      snapshot: {
        /** Format: uuid */
        sessionId: string;
        /** Format: date-time */
        snapshotAt: string;
        size: number;
      };
    };
    UploadAttachmentRequest: {
      filename: string;
      /** @description The bytes, base64 (RFC 4648 §4) */
      content: string;
      /** @description A media type without parameters (default: from the file name, else application/octet-stream) */
      mimeType?: string;
      /** Format: uuid */
      messageId?: string;
    };
    AttachmentResponse: {
      attachment: components['schemas']['Attachment'];
    };
    ListAttachmentsResponse: {
      attachments: components['schemas']['Attachment'][];
    };
    UpdateSessionConfigRequest: {
      model?: string | null;
      systemPrompt?: string | null;
      permissionMode?:
        | ('permissionsByAgent' | 'default' | 'acceptEdits' | 'bypassPermissions' | 'plan' | 'dontAsk')
        | null;
      mcpServers?: {
        [key: string]:
          | {
              /** @enum {string} */
              type?: 'stdio';
              command: string;
              args?: string[];
              env?: {
                [key: string]: string;
              };
            }
          | {
              type: 'sse' | 'http';
              url: string;
              headers?: {
                [key: string]: string;
              };
            };
      } | null;
      allowedTools?: string[] | null;
      disallowedTools?: string[] | null;
      betas?: string[] | null;
      subagents?: {
        [key: string]: {
          description: string;
          prompt: string;
          tools?: string[];
          disallowedTools?: string[];
          model?: string;
        };
      } | null;
      initialAgent?: string | null;
      budgetUsd?: number | null;
    };
    ListUsageEventsResponse: {
      records: components['schemas']['UsageRecord'][];
      total: number;
      hasMore: boolean;
      events: components['schemas']['UsageEvent'][];
    };
    GetUsageStatsResponse: {
      stats: {
        totalInputTokens: number;
        totalOutputTokens: number;
        totalCacheCreationTokens: number;
        totalCacheReadTokens: number;
        totalToolCalls: number;
        totalMessages: number;
        totalModelCalls: number;
        totalTurns: number;
        totalComputeSeconds: number;
        totalCostUsd: number;
        totalSdkCostUsd: number;
      };
      groups?: {
        key: string | null;
        stats: {
          totalInputTokens: number;
          totalOutputTokens: number;
          totalCacheCreationTokens: number;
          totalCacheReadTokens: number;
          totalToolCalls: number;
          totalMessages: number;
          totalModelCalls: number;
          totalTurns: number;
          totalComputeSeconds: number;
          totalCostUsd: number;
          totalSdkCostUsd: number;
        };
      }[];
    };
    GetBudgetResponse: {
      budget: {
        budgetUsd: number | null;
        spentUsd: number;
      };
    };
    SetBudgetRequest: {
      budgetUsd: number | null;
    };
    EnqueueRequest: {
      agentName: string;
      prompt: string;
      /** Format: uuid */
      sessionId?: string;
      /** @default 0 */
      priority: number;
      /** @default 3 */
      maxRetries: number;
      /** Format: date-time */
      runAt?: string;
      options?: {
        model?: string;
        maxTurns?: number;
        maxBudgetUsd?: number;
        effort?: 'low' | 'medium' | 'high' | 'xhigh' | 'max';
        thinking?:
          | {
              /** @enum {string} */
              type: 'adaptive';
            }
          | {
              /** @enum {string} */
              type: 'enabled';
              budgetTokens?: number;
            }
          | {
              /** @enum {string} */
              type: 'disabled';
            };
        outputFormat?: {
          /** @enum {string} */
          type: 'json_schema';
          schema: {
            [key: string]: unknown;
          };
        };
      };
    };
    QueueItemResponse: {
      item: components['schemas']['QueueItem'];
    };
    ListQueueItemsResponse: {
      items: components['schemas']['QueueItem'][];
      total: number;
      hasMore: boolean;
    };
    GetQueueStatsResponse: {
      stats: {
        pending: number;
        running: number;
        processing: number;
        completed: number;
        failed: number;
        cancelled: number;
      };
    };
    ListAgentVersionsResponse: {
      versions: components['schemas']['AgentVersion'][];
    };
    CreateAgentVersionRequest: {
      name?: string;
      systemPrompt?: string;
      releaseNotes?: string;
      knowledgeFiles?: string[];
      cloneFrom?: number | string;
    };
    AgentVersionResponse: {
      version: components['schemas']['AgentVersion'];
    };
    UpdateAgentVersionRequest: {
      name?: string;
      systemPrompt?: string;
      releaseNotes?: string;
      knowledgeFiles?: string[];
    };
    ActivateAgentVersionResponse: {
      /** @enum {boolean} */
      activated: true;
      versionNumber: number;
    };
    GetAgentConfigResponse: {
      config: {
        [key: string]: unknown;
      };
    };
    /** @description Agent-level defaults; see docs/api.md for recognised keys */
    ReplaceAgentConfigRequest: {
      model?: string | null;
      systemPrompt?: string | null;
      permissionMode?:
        | ('permissionsByAgent' | 'default' | 'acceptEdits' | 'bypassPermissions' | 'plan' | 'dontAsk')
        | null;
      mcpServers?: {
        [key: string]:
          | {
              /** @enum {string} */
              type?: 'stdio';
              command: string;
              args?: string[];
              env?: {
                [key: string]: string;
              };
            }
          | {
              type: 'sse' | 'http';
              url: string;
              headers?: {
                [key: string]: string;
              };
            };
      } | null;
      allowedTools?: string[] | null;
      disallowedTools?: string[] | null;
      betas?: string[] | null;
      subagents?: {
        [key: string]: {
          description: string;
          prompt: string;
          tools?: string[];
          disallowedTools?: string[];
          model?: string;
        };
      } | null;
      initialAgent?: string | null;
      maxTurns?: number | null;
      maxBudgetUsd?: number | null;
      effort?: ('low' | 'medium' | 'high' | 'xhigh' | 'max') | null;
      thinking?:
        | (
            | {
                /** @enum {string} */
                type: 'adaptive';
              }
            | {
                /** @enum {string} */
                type: 'enabled';
                budgetTokens?: number;
              }
            | {
                /** @enum {string} */
                type: 'disabled';
              }
          )
        | null;
      outputFormat?: {
        /** @enum {string} */
        type: 'json_schema';
        schema: {
          [key: string]: unknown;
        };
      } | null;
    } & {
      [key: string]: unknown;
    };
    GetAnalyticsResponse: {
      agents: {
        total: number;
      };
      sessions: {
        total: number;
        byStatus: {
          [key: string]: number;
        };
      };
      usage: {
        totalInputTokens: number;
        totalOutputTokens: number;
        totalCacheCreationTokens: number;
        totalCacheReadTokens: number;
        totalToolCalls: number;
        totalMessages: number;
        totalModelCalls: number;
        totalTurns: number;
        totalComputeSeconds: number;
        totalCostUsd: number;
        totalSdkCostUsd: number;
      };
      evals: {
        totalRuns: number;
        byStatus: {
          [key: string]: number;
        };
      };
    };
  };
  responses: never;
  parameters: never;
  requestBodies: never;
  headers: never;
  pathItems: never;
}
export type $defs = Record<string, never>;
export interface operations {
  getHealth: {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['GetHealthResponse'];
        };
      };
    };
  };
  listApiKeys: {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['ListApiKeysResponse'];
        };
      };
      /** @description RFC 9457 problem details */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      429: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  createApiKey: {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    requestBody: {
      content: {
        'application/json': components['schemas']['CreateApiKeyRequest'];
      };
    };
    responses: {
      /** @description Default Response */
      201: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['CreateApiKeyResponse'];
        };
      };
      /** @description RFC 9457 problem details */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      413: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      415: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      429: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  revokeApiKey: {
    parameters: {
      query?: never;
      header?: never;
      path: {
        id: string;
      };
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['RevokeApiKeyResponse'];
        };
      };
      /** @description RFC 9457 problem details */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      409: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      429: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  listCredentials: {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['ListCredentialsResponse'];
        };
      };
      /** @description RFC 9457 problem details */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      429: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      503: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  storeCredential: {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    requestBody: {
      content: {
        'application/json': components['schemas']['StoreCredentialRequest'];
      };
    };
    responses: {
      /** @description Default Response */
      201: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['CredentialResponse'];
        };
      };
      /** @description RFC 9457 problem details */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      413: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      415: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      429: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      503: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  getCredential: {
    parameters: {
      query?: never;
      header?: never;
      path: {
        id: string;
      };
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['CredentialResponse'];
        };
      };
      /** @description RFC 9457 problem details */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      429: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      503: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  deleteCredential: {
    parameters: {
      query?: never;
      header?: never;
      path: {
        id: string;
      };
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['RevokeApiKeyResponse'];
        };
      };
      /** @description RFC 9457 problem details */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      429: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      503: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  updateCredential: {
    parameters: {
      query?: never;
      header?: never;
      path: {
        id: string;
      };
      cookie?: never;
    };
    requestBody: {
      content: {
        'application/json': components['schemas']['UpdateCredentialRequest'];
      };
    };
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['CredentialResponse'];
        };
      };
      /** @description RFC 9457 problem details */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      413: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      415: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      429: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      503: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  createTenantApiKey: {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    requestBody: {
      content: {
        'application/json': components['schemas']['CreateTenantApiKeyRequest'];
      };
    };
    responses: {
      /** @description Default Response */
      201: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['CreateApiKeyResponse'];
        };
      };
      /** @description RFC 9457 problem details */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      403: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      413: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      415: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      429: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  registerRunner: {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    requestBody: {
      content: {
        'application/json': components['schemas']['RegisterRunnerRequest'];
      };
    };
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['RevokeApiKeyResponse'];
        };
      };
      /** @description RFC 9457 problem details */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      403: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      413: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      415: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      429: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  runnerHeartbeat: {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    requestBody: {
      content: {
        'application/json': components['schemas']['RunnerHeartbeatRequest'];
      };
    };
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['RevokeApiKeyResponse'];
        };
      };
      /** @description RFC 9457 problem details */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      403: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      413: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      415: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      429: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  deregisterRunner: {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    requestBody: {
      content: {
        'application/json': components['schemas']['DeregisterRunnerRequest'];
      };
    };
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['RevokeApiKeyResponse'];
        };
      };
      /** @description RFC 9457 problem details */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      403: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      413: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      415: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      429: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  listRunners: {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['ListRunnersResponse'];
        };
      };
      /** @description RFC 9457 problem details */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      403: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      429: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  listAgents: {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['ListAgentsResponse'];
        };
      };
      /** @description RFC 9457 problem details */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  deployAgent: {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    requestBody: {
      content: {
        'application/json': components['schemas']['DeployAgentRequest'];
      };
    };
    responses: {
      /** @description Default Response */
      201: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['AgentResponse'];
        };
      };
      /** @description RFC 9457 problem details */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      403: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      413: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      415: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      422: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      503: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  getAgent: {
    parameters: {
      query?: never;
      header?: never;
      path: {
        name: string;
      };
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['AgentResponse'];
        };
      };
      /** @description RFC 9457 problem details */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  deleteAgent: {
    parameters: {
      query?: never;
      header?: never;
      path: {
        name: string;
      };
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['RevokeApiKeyResponse'];
        };
      };
      /** @description RFC 9457 problem details */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  updateAgent: {
    parameters: {
      query?: never;
      header?: never;
      path: {
        name: string;
      };
      cookie?: never;
    };
    requestBody: {
      content: {
        'application/json': components['schemas']['UpdateAgentRequest'];
      };
    };
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['AgentResponse'];
        };
      };
      /** @description RFC 9457 problem details */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  listSessions: {
    parameters: {
      query?: {
        agent?: string;
        status?: 'starting' | 'active' | 'paused' | 'stopped' | 'ended' | 'error';
        limit?: number;
        offset?: number;
      };
      header?: never;
      path?: never;
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['ListSessionsResponse'];
        };
      };
      /** @description RFC 9457 problem details */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  createSession: {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    requestBody: {
      content: {
        'application/json': components['schemas']['CreateSessionRequest'];
      };
    };
    responses: {
      /** @description Default Response */
      201: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['SessionResponse'];
        };
      };
      /** @description RFC 9457 problem details */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      422: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      503: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  getSession: {
    parameters: {
      query?: never;
      header?: never;
      path: {
        id: string;
      };
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['SessionResponse'];
        };
      };
      /** @description RFC 9457 problem details */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  endSession: {
    parameters: {
      query?: never;
      header?: never;
      path: {
        id: string;
      };
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['SessionResponse'];
        };
      };
      /** @description RFC 9457 problem details */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  pauseSession: {
    parameters: {
      query?: never;
      header?: never;
      path: {
        id: string;
      };
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['SessionResponse'];
        };
      };
      /** @description RFC 9457 problem details */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      409: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      410: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      422: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      503: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  stopSession: {
    parameters: {
      query?: never;
      header?: never;
      path: {
        id: string;
      };
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['SessionResponse'];
        };
      };
      /** @description RFC 9457 problem details */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      409: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      410: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      422: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      503: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  resumeSession: {
    parameters: {
      query?: never;
      header?: never;
      path: {
        id: string;
      };
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['SessionResponse'];
        };
      };
      /** @description RFC 9457 problem details */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      409: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      410: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      422: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      503: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  forkSession: {
    parameters: {
      query?: never;
      header?: never;
      path: {
        id: string;
      };
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description Default Response */
      201: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['SessionResponse'];
        };
      };
      /** @description RFC 9457 problem details */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      409: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      410: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      422: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      503: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  listMessages: {
    parameters: {
      query?: {
        /** @description Return rows with sequence > after */
        after?: number;
        limit?: number;
      };
      header?: never;
      path: {
        id: string;
      };
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['ListMessagesResponse'];
        };
      };
      /** @description RFC 9457 problem details */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  sendMessage: {
    parameters: {
      query?: never;
      header?: never;
      path: {
        id: string;
      };
      cookie?: never;
    };
    requestBody: {
      content: {
        'application/json': components['schemas']['SendMessageRequest'];
      };
    };
    responses: {
      /** @description Server-Sent Events. Event names: session_start, text_delta, thinking_delta, tool_use, tool_result, message, turn_complete, error, done. Each frame's id is the per-session event sequence; `done` is always last. */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'text/event-stream': components['schemas']['StreamEvent'];
        };
      };
      /** @description RFC 9457 problem details */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      409: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      410: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      413: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      415: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      503: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  streamSession: {
    parameters: {
      query?: {
        after?: number;
      };
      header?: {
        'last-event-id'?: string;
      };
      path: {
        id: string;
      };
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description Server-Sent Events. Event names: session_start, text_delta, thinking_delta, tool_use, tool_result, message, turn_complete, error, done. Each frame's id is the per-session event sequence; `done` is always last. */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'text/event-stream': components['schemas']['StreamEvent'];
        };
      };
      /** @description RFC 9457 problem details */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  interruptSession: {
    parameters: {
      query?: never;
      header?: never;
      path: {
        id: string;
      };
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['InterruptSessionResponse'];
        };
      };
      /** @description RFC 9457 problem details */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      409: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  execInSession: {
    parameters: {
      query?: never;
      header?: never;
      path: {
        id: string;
      };
      cookie?: never;
    };
    requestBody: {
      content: {
        'application/json': components['schemas']['ExecInSessionRequest'];
      };
    };
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['ExecResult'];
        };
      };
      /** @description RFC 9457 problem details */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      409: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      410: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      503: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  getSessionLogs: {
    parameters: {
      query?: {
        /** @description Entries with index > after */
        after?: number;
      };
      header?: never;
      path: {
        id: string;
      };
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['GetSessionLogsResponse'];
        };
      };
      /** @description RFC 9457 problem details */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  listSessionEvents: {
    parameters: {
      query?: {
        after?: number;
        limit?: number;
        type?: string;
        turnId?: string;
      };
      header?: never;
      path: {
        id: string;
      };
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['ListSessionEventsResponse'];
        };
      };
      /** @description RFC 9457 problem details */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  getMetrics: {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description Prometheus text exposition format */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'text/plain': string;
        };
      };
    };
  };
  listSessionFiles: {
    parameters: {
      query?: {
        includeHidden?: boolean;
        /** @description Relative path, `/`-separated; no `..`, no leading `/` */
        path?: string;
      };
      header?: never;
      path: {
        id: string;
      };
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['ListSessionFilesResponse'];
        };
      };
      /** @description RFC 9457 problem details */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      409: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      503: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  uploadSessionFiles: {
    parameters: {
      query?: never;
      header?: never;
      path: {
        id: string;
      };
      cookie?: never;
    };
    requestBody: {
      content: {
        'application/json': components['schemas']['UploadSessionFilesRequest'];
      };
    };
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['UploadSessionFilesResponse'];
        };
      };
      /** @description RFC 9457 problem details */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      409: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      410: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      413: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      415: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      503: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  getSessionFile: {
    parameters: {
      query?: {
        format?: 'raw' | 'json';
      };
      header?: never;
      path: {
        id: string;
        /** @description The file path (URL-encoded segments) */
        path: string;
      };
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description The raw bytes (default) or, with `format=json`, a JSON body */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/octet-stream': string;
          'application/json': components['schemas']['GetSessionFileResponse'];
        };
      };
      /** @description RFC 9457 problem details */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      409: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      413: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      503: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  deleteSessionFile: {
    parameters: {
      query?: never;
      header?: never;
      path: {
        id: string;
        /** @description The file path (URL-encoded segments) */
        path: string;
      };
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['DeleteSessionFileResponse'];
        };
      };
      /** @description RFC 9457 problem details */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      409: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      410: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      503: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  listAgentFiles: {
    parameters: {
      query?: never;
      header?: never;
      path: {
        name: string;
      };
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['ListAgentFilesResponse'];
        };
      };
      /** @description RFC 9457 problem details */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      422: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      503: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  uploadAgentFiles: {
    parameters: {
      query?: never;
      header?: never;
      path: {
        name: string;
      };
      cookie?: never;
    };
    requestBody: {
      content: {
        'application/json': components['schemas']['UploadSessionFilesRequest'];
      };
    };
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['UploadAgentFilesResponse'];
        };
      };
      /** @description RFC 9457 problem details */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      409: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      413: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      415: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      422: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      503: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  getAgentFile: {
    parameters: {
      query?: {
        format?: 'raw' | 'json';
      };
      header?: never;
      path: {
        name: string;
        path: string;
      };
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description The raw bytes (default) or, with `format=json`, a JSON body */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/octet-stream': string;
          'application/json': components['schemas']['GetAgentFileResponse'];
        };
      };
      /** @description RFC 9457 problem details */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      413: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      422: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      503: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  deleteAgentFile: {
    parameters: {
      query?: never;
      header?: never;
      path: {
        name: string;
        path: string;
      };
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['UploadAgentFilesResponse'];
        };
      };
      /** @description RFC 9457 problem details */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      409: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      422: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      503: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  downloadWorkspace: {
    parameters: {
      query?: never;
      header?: never;
      path: {
        id: string;
      };
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description application/gzip */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/gzip': string;
        };
      };
      /** @description RFC 9457 problem details */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      409: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      503: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  uploadWorkspace: {
    parameters: {
      query?: never;
      header?: never;
      path: {
        id: string;
      };
      cookie?: never;
    };
    requestBody: {
      content: {
        'application/json': components['schemas']['UploadWorkspaceRequest'];
        'application/gzip': unknown;
        'application/x-gzip': unknown;
        'application/octet-stream': unknown;
      };
    };
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['UploadWorkspaceResponse'];
        };
      };
      /** @description RFC 9457 problem details */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      409: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      410: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      413: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      415: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      503: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  snapshotWorkspace: {
    parameters: {
      query?: never;
      header?: never;
      path: {
        id: string;
      };
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description Default Response */
      201: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['SnapshotWorkspaceResponse'];
        };
      };
      /** @description RFC 9457 problem details */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      409: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      503: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  listAttachments: {
    parameters: {
      query?: never;
      header?: never;
      path: {
        id: string;
      };
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['ListAttachmentsResponse'];
        };
      };
      /** @description RFC 9457 problem details */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  uploadAttachment: {
    parameters: {
      query?: never;
      header?: never;
      path: {
        id: string;
      };
      cookie?: never;
    };
    requestBody: {
      content: {
        'application/json': components['schemas']['UploadAttachmentRequest'];
      };
    };
    responses: {
      /** @description Default Response */
      201: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['AttachmentResponse'];
        };
      };
      /** @description RFC 9457 problem details */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      409: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      410: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      413: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      415: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      503: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  downloadAttachment: {
    parameters: {
      query?: never;
      header?: never;
      path: {
        id: string;
      };
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description The bytes */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          '*/*': string;
        };
      };
      /** @description RFC 9457 problem details */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      410: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      503: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  deleteAttachment: {
    parameters: {
      query?: never;
      header?: never;
      path: {
        id: string;
      };
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description Deleted */
      204: {
        headers: {
          [name: string]: unknown;
        };
        content?: never;
      };
      /** @description RFC 9457 problem details */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      503: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  updateSessionConfig: {
    parameters: {
      query?: never;
      header?: never;
      path: {
        id: string;
      };
      cookie?: never;
    };
    requestBody: {
      content: {
        'application/json': components['schemas']['UpdateSessionConfigRequest'];
      };
    };
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['SessionResponse'];
        };
      };
      /** @description RFC 9457 problem details */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      410: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  listUsageEvents: {
    parameters: {
      query?: {
        sessionId?: string;
        agentName?: string;
        from?: string;
        to?: string;
        after?: string;
        before?: string;
        kind?: 'model_call' | 'tool_call' | 'turn' | 'compute';
        limit?: number;
        offset?: number;
      };
      header?: never;
      path?: never;
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['ListUsageEventsResponse'];
        };
      };
      /** @description RFC 9457 problem details */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  getUsageStats: {
    parameters: {
      query?: {
        sessionId?: string;
        agentName?: string;
        from?: string;
        to?: string;
        after?: string;
        before?: string;
        groupBy?: 'agent' | 'session' | 'model' | 'day';
      };
      header?: never;
      path?: never;
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['GetUsageStatsResponse'];
        };
      };
      /** @description RFC 9457 problem details */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  getBudget: {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['GetBudgetResponse'];
        };
      };
      /** @description RFC 9457 problem details */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  setBudget: {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    requestBody: {
      content: {
        'application/json': components['schemas']['SetBudgetRequest'];
      };
    };
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['GetBudgetResponse'];
        };
      };
      /** @description RFC 9457 problem details */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  listQueueItems: {
    parameters: {
      query?: {
        status?: 'pending' | 'running' | 'completed' | 'failed' | 'cancelled' | 'processing';
        limit?: number;
        offset?: number;
      };
      header?: never;
      path?: never;
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['ListQueueItemsResponse'];
        };
      };
      /** @description RFC 9457 problem details */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  enqueue: {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    requestBody: {
      content: {
        'application/json': components['schemas']['EnqueueRequest'];
      };
    };
    responses: {
      /** @description Default Response */
      201: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['QueueItemResponse'];
        };
      };
      /** @description RFC 9457 problem details */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      410: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  getQueueStats: {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['GetQueueStatsResponse'];
        };
      };
      /** @description RFC 9457 problem details */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  getQueueItem: {
    parameters: {
      query?: never;
      header?: never;
      path: {
        id: string;
      };
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['QueueItemResponse'];
        };
      };
      /** @description RFC 9457 problem details */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  cancelQueueItem: {
    parameters: {
      query?: never;
      header?: never;
      path: {
        id: string;
      };
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['QueueItemResponse'];
        };
      };
      /** @description RFC 9457 problem details */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      409: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  listAgentVersions: {
    parameters: {
      query?: never;
      header?: never;
      path: {
        name: string;
      };
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['ListAgentVersionsResponse'];
        };
      };
      /** @description RFC 9457 problem details */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  createAgentVersion: {
    parameters: {
      query?: never;
      header?: never;
      path: {
        name: string;
      };
      cookie?: never;
    };
    requestBody: {
      content: {
        'application/json': components['schemas']['CreateAgentVersionRequest'];
      };
    };
    responses: {
      /** @description Default Response */
      201: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['AgentVersionResponse'];
        };
      };
      /** @description RFC 9457 problem details */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  getAgentVersion: {
    parameters: {
      query?: never;
      header?: never;
      path: {
        name: string;
        version: string;
      };
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['AgentVersionResponse'];
        };
      };
      /** @description RFC 9457 problem details */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  deleteAgentVersion: {
    parameters: {
      query?: never;
      header?: never;
      path: {
        name: string;
        version: string;
      };
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description Deleted */
      204: {
        headers: {
          [name: string]: unknown;
        };
        content?: never;
      };
      /** @description RFC 9457 problem details */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  updateAgentVersion: {
    parameters: {
      query?: never;
      header?: never;
      path: {
        name: string;
        version: string;
      };
      cookie?: never;
    };
    requestBody: {
      content: {
        'application/json': components['schemas']['UpdateAgentVersionRequest'];
      };
    };
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['AgentVersionResponse'];
        };
      };
      /** @description RFC 9457 problem details */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  activateAgentVersion: {
    parameters: {
      query?: never;
      header?: never;
      path: {
        name: string;
        version: string;
      };
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['ActivateAgentVersionResponse'];
        };
      };
      /** @description RFC 9457 problem details */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  getAgentConfig: {
    parameters: {
      query?: never;
      header?: never;
      path: {
        name: string;
      };
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['GetAgentConfigResponse'];
        };
      };
      /** @description RFC 9457 problem details */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  replaceAgentConfig: {
    parameters: {
      query?: never;
      header?: never;
      path: {
        name: string;
      };
      cookie?: never;
    };
    /** @description Agent-level defaults; see docs/api.md for recognised keys */
    requestBody: {
      content: {
        'application/json': components['schemas']['ReplaceAgentConfigRequest'];
      };
    };
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['GetAgentConfigResponse'];
        };
      };
      /** @description RFC 9457 problem details */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  updateAgentConfig: {
    parameters: {
      query?: never;
      header?: never;
      path: {
        name: string;
      };
      cookie?: never;
    };
    /** @description Agent-level defaults; see docs/api.md for recognised keys */
    requestBody: {
      content: {
        'application/json': components['schemas']['ReplaceAgentConfigRequest'];
      };
    };
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['GetAgentConfigResponse'];
        };
      };
      /** @description RFC 9457 problem details */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      404: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
  getAnalytics: {
    parameters: {
      query?: {
        after?: string;
        before?: string;
      };
      header?: never;
      path?: never;
      cookie?: never;
    };
    requestBody?: never;
    responses: {
      /** @description Default Response */
      200: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/json': components['schemas']['GetAnalyticsResponse'];
        };
      };
      /** @description RFC 9457 problem details */
      400: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
      /** @description RFC 9457 problem details */
      401: {
        headers: {
          [name: string]: unknown;
        };
        content: {
          'application/problem+json': components['schemas']['Problem'];
        };
      };
    };
  };
}
