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

  it('a bad flag value is named by its flag, in plain words', () => {
    expect(() =>
      loadRunnerConfig(['--coordinator', 'http://a:4100', '--name', 'bad name'], {
        ASH_INTERNAL_SECRET: SECRET,
      }),
    ).toThrow("--name (ASH_RUNNER_NAME): must be 1 to 128 letters, digits, '.', '_' or '-'");
    expect(() =>
      loadRunnerConfig(['--coordinator', 'http://a:4100'], {
        ASH_INTERNAL_SECRET: SECRET,
        ASH_RUNNER_NAME: 'a b',
      }),
    ).toThrow(/^invalid configuration: ASH_RUNNER_NAME: must be 1 to 128/);
    expect(() =>
      loadRunnerConfig(['--coordinator', 'http://a:4100', '--port', '99999'], {
        ASH_INTERNAL_SECRET: SECRET,
      }),
    ).toThrow(/--port \(ASH_RUNNER_PORT\): Expected integer to be less or equal to 65535/);
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

  it('--tls-cert and --tls-key (or their variables) serve https, and go together', () => {
    const base = ['--coordinator', 'https://a:4100'];
    const c = loadRunnerConfig([...base, '--tls-cert', '/etc/r/cert.pem', '--tls-key', '/etc/r/key.pem'], {
      ASH_INTERNAL_SECRET: SECRET,
    });
    expect(c.tls).toEqual({ certPath: '/etc/r/cert.pem', keyPath: '/etc/r/key.pem' });
    const fromEnv = loadRunnerConfig(base, {
      ASH_INTERNAL_SECRET: SECRET,
      ASH_RUNNER_TLS_CERT: '/etc/r/c.pem',
      ASH_RUNNER_TLS_KEY: '/etc/r/k.pem',
      ASH_RUNNER_ADVERTISE_URL: 'https://r1.internal:4200',
    });
    expect(fromEnv.tls).toEqual({ certPath: '/etc/r/c.pem', keyPath: '/etc/r/k.pem' });
    expect(fromEnv.advertiseUrl).toBe('https://r1.internal:4200');
    expect(loadRunnerConfig(base, { ASH_INTERNAL_SECRET: SECRET }).tls).toBeUndefined();
    // One without the other is a configuration error naming both.
    expect(() =>
      loadRunnerConfig([...base, '--tls-cert', '/c.pem'], { ASH_INTERNAL_SECRET: SECRET }),
    ).toThrow(/--tls-cert \(ASH_RUNNER_TLS_CERT\) and --tls-key \(ASH_RUNNER_TLS_KEY\) go together/);
    expect(() =>
      loadRunnerConfig(base, { ASH_INTERNAL_SECRET: SECRET, ASH_RUNNER_TLS_KEY: '/k.pem' }),
    ).toThrow(RunnerConfigError);
    // An http advertised URL could never reach an https-only API.
    expect(() =>
      loadRunnerConfig(
        [...base, '--tls-cert', '/c.pem', '--tls-key', '/k.pem', '--advertise-url', 'http://r1:4200'],
        { ASH_INTERNAL_SECRET: SECRET },
      ),
    ).toThrow(/--advertise-url http:\/\/r1:4200 is http but the API serves https/);
  });
});
