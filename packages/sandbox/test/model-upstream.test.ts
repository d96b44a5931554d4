import { describe, expect, it } from 'vitest';
import { upstreamTarget } from '../src/index.js';

describe('upstreamTarget', () => {
  it('appends the Messages API path to the upstream, keeping a base path (the coordinator gateway)', () => {
    expect(upstreamTarget('http://127.0.0.1:4100/api/internal/gateway', '/v1/messages?beta=true').href).toBe(
      'http://127.0.0.1:4100/api/internal/gateway/v1/messages?beta=true',
    );
    expect(upstreamTarget('https://coord.example/gw/', '/v1/messages/count_tokens').href).toBe(
      'https://coord.example/gw/v1/messages/count_tokens',
    );
  });

  it('works as before for a bare origin', () => {
    expect(upstreamTarget('https://api.anthropic.com', '/v1/messages').href).toBe(
      'https://api.anthropic.com/v1/messages',
    );
  });
});
