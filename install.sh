#!/usr/bin/env bash
# Sets up Ash on this machine: system packages the sandbox needs, the npm workspace (which also
# builds every package), and an `ash` command on the PATH. Safe to run again.
#
#   ASH_BIN_DIR   where to link `ash` (default: /usr/local/bin when writable, else ~/.local/bin)
#   npm settings (npm_config_cache, npm_config_prefer_offline, …) apply to the npm step.
#   better-sqlite3 downloads its prebuilt binary from GitHub or finds it in the npm cache's
#   _prebuilds/; without either it compiles SQLite from source (~80 s on an idle 2-core machine,
#   10+ minutes on a loaded one).
set -euo pipefail
cd "$(dirname "$0")"
root=$(pwd)
started=$(date +%s)
say() { printf 'install.sh: %s\n' "$*"; }
step() { printf '[%s/4] %s\n' "$1" "$2"; }

# One Node.js range everywhere (README, every package.json "engines"): 20.19+ or 22.12+.
node_range='^20.19.0 || >=22.12.0'
if ! command -v node >/dev/null 2>&1; then
  say "Node.js ${node_range} is required (https://nodejs.org)" >&2
  exit 1
fi
if ! node -e '
  const [maj, min] = process.versions.node.split(".").map(Number);
  process.exit((maj === 20 && min >= 19) || (maj === 22 && min >= 12) || maj > 22 ? 0 : 1);
'; then
  say "Node.js ${node_range} is required, found $(node -v)" >&2
  exit 1
fi

step 1 "system packages: bubblewrap and util-linux (the sandbox)"
missing=()
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
command -v setpriv >/dev/null 2>&1 || missing+=(util-linux)
if [ ${#missing[@]} -eq 0 ]; then
  echo "      already installed"
elif command -v apt-get >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "      installing ${missing[*]} with apt-get"
  $SUDO apt-get update -qq >/dev/null || true
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  say "please install ${missing[*]} with your package manager (or run with ASH_SANDBOX=unsafe-process)" >&2
fi

# Never --omit=optional: the Claude Code binary comes as an optional, platform-specific package.
step 2 "npm packages (npm ci: ~500 MB with the Claude Code binary on a first run), then build"
log=$(mktemp "${TMPDIR:-/tmp}/ash-install.XXXXXX")
npm ci --no-audit --no-fund --no-progress >"$log" 2>&1 &
npm_pid=$!
# How far: elapsed time and what is in node_modules so far, every 10 s.
while kill -0 "$npm_pid" 2>/dev/null; do
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    sleep 1
    kill -0 "$npm_pid" 2>/dev/null || break
  done
  if kill -0 "$npm_pid" 2>/dev/null; then
    count=$(ls node_modules 2>/dev/null | wc -l)
    phase="downloading and unpacking"
    # node-gyp configured better-sqlite3 but has not linked it yet: no prebuilt binary was found.
    if [ -f node_modules/better-sqlite3/build/Makefile ] \
      && [ ! -f node_modules/better-sqlite3/build/Release/better_sqlite3.node ]; then
      phase="compiling better-sqlite3 from source (no prebuilt binary reachable; 1-10+ min)"
    fi
    grep -q '^> ash@.* build' "$log" 2>/dev/null && phase="building (tsc)"
    echo "      ${phase}… $(($(date +%s) - started)) s, ${count} packages so far"
  fi
done
if ! wait "$npm_pid"; then
  tail -40 "$log" >&2
  say "npm ci failed (full log: $log)" >&2
  exit 1
fi
# Show npm's own warnings (there should be none) and its summary line.
grep -E '^npm (warn|WARN)' "$log" | grep -v 'install-scripts' || true
grep -E '^(added|removed|changed|up to date)' "$log" | sed 's/^/      /' || true
rm -f "$log"

step 3 "the ash command"
bin_dir=${ASH_BIN_DIR:-}
if [ -z "$bin_dir" ]; then
  if [ -w /usr/local/bin ]; then bin_dir=/usr/local/bin; else bin_dir="$HOME/.local/bin"; fi
fi
mkdir -p "$bin_dir"
# Another checkout's `ash` there is replaced: say which, so it can be linked back.
previous=$(readlink "$bin_dir/ash" 2>/dev/null || true)
ln -sfn "$root/packages/cli/bin/ash.js" "$bin_dir/ash"
chmod +x "$root/packages/cli/bin/ash.js"
echo "      linked $bin_dir/ash -> packages/cli/bin/ash.js"
if [ -n "$previous" ] && [ "$previous" != "$root/packages/cli/bin/ash.js" ]; then
  echo "      (it pointed to $previous before; ASH_BIN_DIR=dir ./install.sh links elsewhere)"
fi
case ":$PATH:" in
  *":$bin_dir:"*) ;;
  *) echo "      $bin_dir is not on your PATH: add  export PATH=\"$bin_dir:\$PATH\"  to your shell profile" ;;
esac

step 4 "check"
version=$("$bin_dir/ash" --version)
echo "      ash $version works"
say "done in $(($(date +%s) - started)) s. Next: export ANTHROPIC_API_KEY=sk-ant-…; ash start"
