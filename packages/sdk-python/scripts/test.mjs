// Runs the Python SDK's tests (pytest) for `npm test`: creates or refreshes the virtualenv
// packages/sdk-python/.venv (`pip install -e .[test]`, again only when pyproject.toml changed),
// then runs pytest with a JUnit report (.pytest-results.xml) that .ci/run counts. pytest's exit
// code 5 (no tests collected) is a failure, not a pass.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');
const venv = join(pkg, '.venv');
const py = join(venv, 'bin', 'python');
const report = join(pkg, '.pytest-results.xml');

/** One line of progress or trouble on stderr. */
const say = (line) => process.stderr.write(`${line}\n`);

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: pkg, ...opts });
  if (r.error) {
    say(`test:python: cannot run ${cmd}: ${r.error.message}`);
    process.exit(1);
  }
  return r.status ?? 1;
}

const base = process.env.ASH_PYTHON ?? 'python3';
const version = spawnSync(base, ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])'], {
  encoding: 'utf8',
});
const [major, minor] = (version.stdout ?? '').trim().split('.').map(Number);
if (version.status !== 0 || !(major === 3 && minor >= 10)) {
  say(
    `test:python: Python >= 3.10 is needed as ${base} (or ASH_PYTHON); found ${version.stdout?.trim() || 'none'}`,
  );
  process.exit(1);
}

const stamp = join(venv, '.ash-installed');
const want = createHash('sha256')
  .update(readFileSync(join(pkg, 'pyproject.toml')))
  .digest('hex');
if (!existsSync(py) || !existsSync(stamp) || readFileSync(stamp, 'utf8') !== want) {
  say('test:python: preparing packages/sdk-python/.venv');
  if (!existsSync(py) && run(base, ['-m', 'venv', venv]) !== 0) process.exit(1);
  const pip = ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '-e', '.[test]'];
  if (run(py, pip) !== 0) process.exit(1);
  writeFileSync(stamp, want);
}

rmSync(report, { force: true });
const code = run(py, ['-m', 'pytest', '-q', '-rfExX', '-p', 'no:cacheprovider', `--junitxml=${report}`]);
if (code === 5) {
  say('test:python: pytest collected no tests');
  process.exit(1);
}
process.exit(code);
