import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '@ash-ai/testing';
import { describe, expect, it } from 'vitest';

/**
 * Lints `source` as the file `<dir>/layer-probe-<pid>.ts` (written there for the run, then
 * removed) with the repo's biome.json: the overrides match by path.
 */
function lint(dir: string, source: string): { code: number; output: string } {
  const file = join(dir, `layer-probe-${process.pid}.ts`);
  writeFileSync(join(REPO_ROOT, file), source);
  try {
    const r = spawnSync(
      process.execPath,
      [join(REPO_ROOT, 'node_modules/@biomejs/biome/bin/biome'), 'lint', '--max-diagnostics=5', file],
      { cwd: REPO_ROOT, encoding: 'utf8' },
    );
    return { code: r.status ?? -1, output: `${r.stdout}${r.stderr}` };
  } finally {
    rmSync(join(REPO_ROOT, file), { force: true });
  }
}

/**
 * Issue 11: the import direction between packages is a lint rule (biome noRestrictedImports,
 * one override per package): shared ← sandbox ← runner ← server; sdk ← cli; nothing imports the
 * CLI; neither the server nor the runner imports the bridge (it runs as a process).
 */
describe('package layering (lint)', () => {
  it.each([
    ['packages/server/src', "import { runBridge } from '@ash-ai/bridge';", /never imports the bridge/],
    ['packages/server/src', "export const m = () => import('@ash-ai/cli');", /never imports the bridge/],
    ['packages/cli/src', "export const m = () => import('@ash-ai/server');", /only through the SDK/],
    ['packages/sdk/src', "import { SandboxManager } from '@ash-ai/sandbox';", /over HTTP only/],
    ['packages/sandbox/src', "import type { AshServer } from '@ash-ai/server';", /sits below/],
    ['packages/sandbox/src', "import { InProcessRunner } from '@ash-ai/runner';", /sits below/],
    ['packages/runner/src', "import type { AshServer } from '@ash-ai/server';", /below the server/],
    ['packages/runner/src', "export const m = () => import('@ash-ai/bridge');", /below the server/],
    ['packages/runner/src', "import { main } from '@ash-ai/cli';", /below the server/],
    ['packages/shared/src', "import { AshClient } from '@ash-ai/sdk';", /bottom layer/],
    ['packages/bridge/src', "import { Sandbox } from '@ash-ai/sandbox';", /separate process/],
  ])('refuses a forbidden import in %s: %s', (dir, source, message) => {
    const r = lint(dir, `${source}\n`);
    expect(r.code, r.output).not.toBe(0);
    expect(r.output).toMatch(/noRestrictedImports/);
    expect(r.output).toMatch(message);
  });

  it('accepts the allowed directions', () => {
    for (const [dir, source] of [
      ['packages/server/src', "export { SandboxManager } from '@ash-ai/sandbox';"],
      ['packages/server/src', "export { InProcessRunner } from '@ash-ai/runner';"],
      ['packages/runner/src', "export { SandboxManager } from '@ash-ai/sandbox';"],
      ['packages/runner/src', "export { AsyncLock } from '@ash-ai/shared';"],
      ['packages/cli/src', "export { AshClient } from '@ash-ai/sdk';"],
      ['packages/sandbox/src', "export { SseDecoder } from '@ash-ai/shared';"],
    ] as const) {
      const r = lint(dir, `${source}\n`);
      expect(r.code, `${dir}: ${r.output}`).toBe(0);
    }
  });
});
