import { describe, expect, it } from 'vitest';
import { loadRunnerConfig, RunnerConfigError } from '../src/host/config.js';

const SECRET = 'runner-link-secret-for-tests-000001';

describe('ash runner configuration (flags over environment)', () => {
  it('reads the flags, falling back to the environment', () => {
    const c = loadRunnerConfig(
      [
        '--coordinator',
        'http://a:4100/,https://b.example',
        '--name',
        'r-1',
        '--port',
        '0',
        '--label',
        'zone=a',
        '--label',
        'gpu=no',
        '--data-dir',
        '/tmp/ash-runner-x',
      ],
      {
        ASH_INTERNAL_SECRET: SECRET,
        ASH_RUNNER_LABELS: 'tier=spot',
        ASH_MAX_SANDBOXES: '3',
        ANTHROPIC_API_KEY: 'sk-x',
      },
    );
    expect(c).toMatchObject({
      name: 'r-1',
      coordinators: ['http://a:4100', 'https://b.example'],
      port: 0,
      host: '127.0.0.1',
      labels: { tier: 'spot', zone: 'a', gpu: 'no' },
      dataDir: '/tmp/ash-runner-x',
      maxSandboxes: 3,
      heartbeatMs: 2000,
      internalSecret: SECRET,
    });
    // Nothing of a provider key is in the runner's configuration.
    expect(JSON.stringify(c)).not.toContain('sk-x');
    const fromEnv = loadRunnerConfig([], {
      ASH_INTERNAL_SECRET: SECRET,
      ASH_COORDINATOR_URL: 'http://c:4100',
      ASH_RUNNER_NAME: 'env-name',
      ASH_RUNNER_PORT: '4300',
      ASH_RUNNER_HEARTBEAT_MS: '500',
    });
    expect(fromEnv).toMatchObject({
      name: 'env-name',
      coordinators: ['http://c:4100'],
      port: 4300,
      heartbeatMs: 500,
    });
  });

  it('refuses to start without ASH_INTERNAL_SECRET or a coordinator, naming each problem', () => {
    expect(() => loadRunnerConfig(['--coordinator', 'http://a:4100'], {})).toThrow(
      /ASH_INTERNAL_SECRET is required/,
    );
    expect(() => loadRunnerConfig([], { ASH_INTERNAL_SECRET: SECRET })).toThrow(
      /--coordinator .* is required/,
    );
    expect(() =>
      loadRunnerConfig(['--coordinator', 'ftp://x', '--label', 'nokey'], { ASH_INTERNAL_SECRET: SECRET }),
    ).toThrow(/ftp:\/\/x is not an http\(s\) URL.*label nokey is not k=v/);
    expect(() => loadRunnerConfig(['--bogus'], { ASH_INTERNAL_SECRET: SECRET })).toThrow(RunnerConfigError);
    expect(() =>
      loadRunnerConfig(['--coordinator', 'http://a', '--port', 'x'], { ASH_INTERNAL_SECRET: SECRET }),
    ).toThrow(/ASH_RUNNER_PORT/);
  });
});
