import { describe, expect, it } from 'vitest';
import { redactConfigSecrets } from './redact.js';

describe('config redaction', () => {
  it('replaces MCP server env and header values, keeps everything else', () => {
    const config = {
      model: 'claude-x',
      mcpServers: {
        gh: { command: 'gh-mcp', args: ['--x'], env: { GH_TOKEN: 'ghp_secret' } },
        web: { type: 'http', url: 'https://mcp.example', headers: { authorization: 'Bearer tok' } },
      },
    };
    const out = redactConfigSecrets(config);
    expect(out).toEqual({
      model: 'claude-x',
      mcpServers: {
        gh: { command: 'gh-mcp', args: ['--x'], env: { GH_TOKEN: '***' } },
        web: { type: 'http', url: 'https://mcp.example', headers: { authorization: '***' } },
      },
    });
    // The stored config is untouched.
    expect(config.mcpServers.gh.env.GH_TOKEN).toBe('ghp_secret');
    expect(redactConfigSecrets({ model: 'm' })).toEqual({ model: 'm' });
    expect(redactConfigSecrets({ mcpServers: 'odd' })).toEqual({ mcpServers: 'odd' });
  });
});
