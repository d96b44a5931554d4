#!/usr/bin/env node
// Packs @ash-ai/sdk as a self-contained npm tarball: the built SDK, its README, and the wire
// contract it uses (@ash-ai/shared, built) as a bundled dependency, with package.json files that
// point only at built code (no workspace links, no `@ash-ai/source` condition).
// Run `npm run build` first. Usage: node packages/sdk/scripts/pack.mjs [--out <dir>]
// Prints the tarball's path.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const sdkDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const sharedDir = resolve(sdkDir, '..', 'shared');
const outArg = process.argv.indexOf('--out');
const outDir = resolve(outArg > 0 ? process.argv[outArg + 1] : sdkDir);
for (const d of [sdkDir, sharedDir])
  if (!existsSync(join(d, 'dist', 'index.js'))) throw new Error(`${d} is not built: run npm run build`);

/** package.json as published: built entry points only, no scripts or dev fields. */
function publishable(pkg, extra = {}) {
  const exportsField = {};
  for (const [k, v] of Object.entries(pkg.exports ?? {})) {
    if (typeof v === 'string') exportsField[k] = v;
    else exportsField[k] = Object.fromEntries(Object.entries(v).filter(([c]) => c !== '@ash-ai/source'));
  }
  const { scripts: _s, devDependencies: _d, ...rest } = pkg;
  return { ...rest, exports: exportsField, ...extra };
}

const stage = mkdtempSync(join(tmpdir(), 'ash-sdk-pack-'));
try {
  const sdkPkg = JSON.parse(readFileSync(join(sdkDir, 'package.json'), 'utf8'));
  const sharedPkg = JSON.parse(readFileSync(join(sharedDir, 'package.json'), 'utf8'));
  cpSync(join(sdkDir, 'dist'), join(stage, 'dist'), { recursive: true });
  cpSync(join(sdkDir, 'README.md'), join(stage, 'README.md'));
  const bundled = join(stage, 'node_modules', '@ash-ai', 'shared');
  mkdirSync(bundled, { recursive: true });
  cpSync(join(sharedDir, 'dist'), join(bundled, 'dist'), { recursive: true });
  writeFileSync(join(bundled, 'package.json'), JSON.stringify(publishable(sharedPkg), null, 2));
  for (const d of [join(stage, 'dist'), join(bundled, 'dist')])
    rmSync(join(d, '.tsbuildinfo'), { force: true });
  // The shared package's own dependencies become the SDK's (npm installs them beside it).
  const dependencies = { ...sdkPkg.dependencies, ...sharedPkg.dependencies };
  writeFileSync(
    join(stage, 'package.json'),
    JSON.stringify(
      publishable(sdkPkg, {
        dependencies,
        bundleDependencies: ['@ash-ai/shared'],
        files: ['dist', 'README.md'],
      }),
      null,
      2,
    ),
  );
  mkdirSync(outDir, { recursive: true });
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', outDir], {
    cwd: stage,
    encoding: 'utf8',
  });
  const [{ filename }] = JSON.parse(out);
  process.stdout.write(`${join(outDir, filename)}\n`);
} finally {
  rmSync(stage, { recursive: true, force: true });
}
