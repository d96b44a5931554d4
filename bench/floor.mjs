// The floor's side of the benches: the Agent SDK's query() driven in this process, with the options
// Ash's bridge gives it (no sandbox), and the async-iterable input of streaming-input mode.

/**
 * query() options as Ash's bridge gives them: the project's settings, partial messages, no
 * permission prompts, the scripted model at `modelUrl`. `extra` is spread over them (`resume`,
 * `pathToClaudeCodeExecutable`, …); `env` over the environment.
 */
export function floorOptions(modelUrl, cwd, configDir, extra = {}, env = {}) {
  return {
    cwd,
    includePartialMessages: true,
    permissionMode: 'bypassPermissions',
    allowDangerouslySkipPermissions: true,
    settingSources: ['project'],
    ...extra,
    env: {
      PATH: '/usr/local/bin:/usr/bin:/bin',
      HOME: configDir,
      CLAUDE_CONFIG_DIR: configDir,
      ANTHROPIC_BASE_URL: modelUrl,
      ANTHROPIC_API_KEY: 'bench-key',
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
      CLAUDE_CODE_MAX_RETRIES: '0',
      IS_SANDBOX: '1',
      ...env,
    },
  };
}

/**
 * Streaming-input mode's prompt: `input` is the async iterable to give query(), `push(text)` adds
 * the next user message (as Ash's bridge pushes one per turn).
 */
export function messageQueue() {
  const pending = [];
  const waiting = [];
  const input = {
    [Symbol.asyncIterator]: () => ({
      next: () =>
        new Promise((resolve) => {
          const m = pending.shift();
          if (m) resolve({ value: m, done: false });
          else waiting.push(resolve);
        }),
      return: async () => ({ value: undefined, done: true }),
    }),
  };
  const push = (text) => {
    const msg = {
      type: 'user',
      message: { role: 'user', content: text },
      parent_tool_use_id: null,
      session_id: '',
    };
    const w = waiting.shift();
    if (w) w({ value: msg, done: false });
    else pending.push(msg);
  };
  return { input, push };
}
