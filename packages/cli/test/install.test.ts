import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  cpSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  realpathSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { REPO_ROOT, ScriptedModel, freePort, removeDir, tempDir } from '@ash-ai/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** Runs a bash script in `cwd`; resolves with its exit code and output. */
function bash(
  script: string,
  cwd: string,
  env: Record<string, string>,
  timeoutMs: number,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-euo', 'pipefail', '-c', script], {
      cwd,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`timed out\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

/**
 * A fresh clone of the working tree: the files git tracks or would track (no node_modules, no
 * build output), copied into a throwaway directory.
 */
function freshClone(into: string): void {
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
  })
    .split('\0')
    .filter(Boolean);
  for (const f of files) {
    const from = join(REPO_ROOT, f);
    if (!existsSync(from) || lstatSync(from).isDirectory()) continue; // deleted in the working tree
    mkdirSync(dirname(join(into, f)), { recursive: true });
    cpSync(from, join(into, f), { verbatimSymlinks: true });
  }
}

/**
 * Fills a throwaway npm cache from the machine's: `content-v2` (immutable, content-addressed
 * files) hard-linked — copied when linking fails — and `index-v5` copied, because npm appends to
 * index files and must not write into the machine's cache. A missing source cache is fine: npm
 * then downloads from the registry (slower, same result).
 */
function seedNpmCache(from: string, to: string): void {
  const walk = (rel: string, link: boolean): void => {
    const src = join(from, rel);
    if (!existsSync(src)) return;
    if (lstatSync(src).isDirectory()) {
      mkdirSync(join(to, rel), { recursive: true });
      for (const e of readdirSync(src)) walk(join(rel, e), link);
      return;
    }
    if (link) {
      try {
        linkSync(src, join(to, rel));
        return;
      } catch {
        // another filesystem: copy
      }
    }
    copyFileSync(src, join(to, rel));
  };
  walk('_cacache/content-v2', true);
  walk('_cacache/index-v5', false);
}

/**
 * Puts a better-sqlite3 prebuild into `cache`/_prebuilds, exactly where prebuild-install (the
 * package's install script: `prebuild-install || node-gyp rebuild`) looks before downloading from
 * GitHub: a file named from a hash of the download URL plus the tarball's name. The tarball is
 * what a prebuild release holds (build/Release/better_sqlite3.node), made from this checkout's
 * own compiled binary, so it is the same better-sqlite3 version built for this Node ABI. Without
 * it a fresh install here (no network beyond the package registries) compiles SQLite from source
 * for 10+ minutes on 2 cores; with it, it behaves as on a machine that downloaded the prebuild
 * once. Names and URL come from the installed prebuild-install's own functions, so they follow
 * the version the lockfile pins. Returns the sha256 of the seeded binary.
 */
function seedBetterSqlitePrebuild(cache: string, scratch: string): string {
  const pkgJson = createRequire(join(REPO_ROOT, 'package.json')).resolve('better-sqlite3/package.json');
  const pkgDir = dirname(pkgJson);
  const pkg = JSON.parse(readFileSync(pkgJson, 'utf8'));
  const util = createRequire(pkgJson)('prebuild-install/util');
  const url: string = util.getDownloadUrl({
    pkg,
    runtime: 'node',
    abi: process.versions.modules,
    platform: process.platform,
    arch: process.arch,
    libc: '', // glibc (prebuild-install leaves it empty for glibc)
    'tag-prefix': 'v',
  });
  const binary = join(pkgDir, 'build/Release/better_sqlite3.node');
  const staged = join(scratch, 'prebuild');
  mkdirSync(join(staged, 'build/Release'), { recursive: true });
  copyFileSync(binary, join(staged, 'build/Release/better_sqlite3.node'));
  mkdirSync(join(cache, '_prebuilds'), { recursive: true });
  execFileSync('tar', [
    '-czf',
    join(cache, '_prebuilds', basename(util.cachedPrebuild(url))),
    '-C',
    staged,
    'build/Release/better_sqlite3.node',
  ]);
  return sha256(binary);
}

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

// A fresh clone installed with ./install.sh into a throwaway directory, with a throwaway npm cache
// seeded from the machine's (packages) and with better-sqlite3's prebuilt binary (see
// seedBetterSqlitePrebuild): about a minute and a half on 2 idle cores.
describe('fresh-clone install (install.sh) and the README quickstart with `ash` on the PATH', () => {
  let root: string;
  let clone: string;
  let bin: string;
  let model: ScriptedModel;
  let env: Record<string, string>;
  let prebuildSha: string;

  beforeAll(async () => {
    root = tempDir('ash-install-');
    clone = join(root, 'ash');
    bin = join(root, 'bin');
    freshClone(clone);
    const cache = join(root, 'npm-cache');
    seedNpmCache(process.env.npm_config_cache ?? join(homedir(), '.npm'), cache);
    prebuildSha = seedBetterSqlitePrebuild(cache, root);
    model = await ScriptedModel.start();
    env = {
      PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`,
      HOME: join(root, 'home'),
      // A throwaway cache filled from the machine's, offline first: what makes a fresh install
      // fast enough for CI.
      npm_config_cache: cache,
      npm_config_prefer_offline: 'true',
      npm_config_nodedir: process.env.npm_config_nodedir ?? '/usr',
      ASH_BIN_DIR: bin,
      TMPDIR: root,
    };
    mkdirSync(env.HOME!, { recursive: true });
  }, 120_000);
  afterAll(async () => {
    await bash('ash stop || true', clone, env, 60_000).catch(() => undefined);
    await model?.close();
    removeDir(root);
  });

  it('installs quietly with progress and no engine warning, and links `ash` onto the PATH', async () => {
    const started = Date.now();
    const r = await bash('./install.sh', clone, env, 470_000);
    console.log(`install.sh took ${Math.round((Date.now() - started) / 1000)} s`);
    const out = r.stdout + r.stderr;
    expect(r.code, out).toBe(0);
    for (const step of [
      '[1/4] system packages',
      '[2/4] npm packages',
      '[3/4] the ash command',
      '[4/4] check',
    ])
      expect(r.stdout).toContain(step);
    expect(r.stdout).toMatch(/^ {6}added \d+ packages/m);
    expect(r.stdout).toMatch(/linked .*\/bin\/ash -> packages\/cli\/bin\/ash\.js/);
    expect(r.stdout).toMatch(/ash 0\.\d+\.\d+ works/);
    expect(r.stdout).toMatch(/install\.sh: done in \d+ s\. Next: .*ash start/);
    expect(out).not.toMatch(/EBADENGINE|Unsupported engine/);
    expect(out).not.toContain('compiling better-sqlite3');
    expect(out).not.toMatch(/npm (warn|WARN|error|ERR)/);
    expect(out).not.toContain('is not on your PATH');
    // `ash` on the PATH is the clone's CLI (not the unrelated npm package `npx ash` would fetch).
    const which = await bash('command -v ash', root, env, 10_000);
    expect(which.stdout.trim()).toBe(join(bin, 'ash'));
    expect(realpathSync(which.stdout.trim())).toBe(join(realpathSync(clone), 'packages/cli/bin/ash.js'));
    // better-sqlite3 came from the prebuild (no node-gyp build: that leaves a Makefile,
    // config.gypi and obj.target/ in build/) and loads in the clone.
    const sqlite = join(clone, 'node_modules/better-sqlite3');
    expect(readdirSync(join(sqlite, 'build'))).toEqual(['Release']);
    expect(readdirSync(join(sqlite, 'build/Release'))).toEqual(['better_sqlite3.node']);
    expect(sha256(join(sqlite, 'build/Release/better_sqlite3.node'))).toBe(prebuildSha);
    const load = await bash(
      `node -e "const D = require('better-sqlite3'); console.log(new D(':memory:').prepare('select sqlite_version() v').get().v)"`,
      clone,
      env,
      30_000,
    );
    expect(load.code, load.stderr).toBe(0);
    expect(load.stdout.trim()).toMatch(/^3\.\d+\.\d+$/);
  }, 480_000);

  it('runs the README quickstart as written, with `ash`, in the fresh clone', async () => {
    const readme = readFileSync(join(clone, 'README.md'), 'utf8');
    const block = /<!-- quickstart[^>]*-->\s*```sh\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(block).toBeDefined();
    expect(block).not.toContain('npx');
    model.onRequest((req) =>
      req.messages.length <= 2
        ? { toolUse: { name: 'Bash', input: { command: 'echo fresh-clone' } } }
        : undefined,
    );
    const r = await bash(
      block!,
      clone,
      {
        ...env,
        ASH_DATA_DIR: join(root, 'data'),
        ASH_PORT: String(await freePort()),
        ANTHROPIC_BASE_URL: model.url,
        ASH_MODEL_MAX_RETRIES: '0',
      },
      300_000,
    );
    model.onRequest(undefined);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Starting Ash \(pid \d+\)…$/m);
    expect(r.stdout).toMatch(/^ {2}opening the database and applying migrations$/m);
    expect(r.stdout).toMatch(/Ash is running at http:\/\/127\.0\.0\.1:\d+/);
    expect(r.stdout).toMatch(/^\[result\] fresh-clone$/m);
    expect(r.stdout).toContain('Ash stopped');
  }, 320_000);
});
