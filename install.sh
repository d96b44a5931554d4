#!/usr/bin/env bash
# Sets up Ash on this machine: system packages the sandbox needs, then the npm workspace (which
# also builds every package). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")"

need_node_major=20
if ! command -v node >/dev/null 2>&1; then
  echo "install.sh: Node.js >= ${need_node_major} is required (https://nodejs.org)" >&2
  exit 1
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt "$need_node_major" ]; then
  echo "install.sh: Node.js >= ${need_node_major} is required, found $(node -v)" >&2
  exit 1
fi

# bubblewrap isolates every session's Claude process; util-linux provides setpriv and prlimit.
missing=()
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
command -v setpriv >/dev/null 2>&1 || missing+=(util-linux)
if [ ${#missing[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    echo "install.sh: installing ${missing[*]} with apt-get"
    $SUDO apt-get update -qq >/dev/null || true
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "install.sh: please install ${missing[*]} with your package manager (or run with ASH_SANDBOX=unsafe-process)" >&2
  fi
fi

# Never --omit=optional: the Claude Code binary comes as an optional, platform-specific package.
npm ci --no-audit --no-fund
echo "install.sh: done. Try: npx ash start"
