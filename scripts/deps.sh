#!/usr/bin/env bash
# Installs what the project needs and is missing, on a fresh Debian 12 with
# Node 20: pnpm at the pinned version (in .tools/, no global install),
# nats-server and openssl from apt, chromium from apt (with --chromium), the workspace's
# packages, and the TypeScript build. Safe to run again: it skips what is there.
set -euo pipefail
cd "$(dirname "$0")/.."

want_chromium=0
for a in "$@"; do [ "$a" = "--chromium" ] && want_chromium=1; done

say() { printf '\033[1;34m[deps]\033[0m %s\n' "$*" >&2; }

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  echo "[deps] Node.js 20 or newer is required (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else echo "[deps] need root to run: $*" >&2; exit 1; fi; }
apt_updated=0
apt_install() {
  if [ $apt_updated = 0 ]; then say "apt-get update"; as_root apt-get update -qq; apt_updated=1; fi
  say "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

if ! command -v nats-server >/dev/null && [ ! -x /usr/sbin/nats-server ]; then
  apt_install nats-server
  # Debian's package starts a system nats-server on :4222; the stack runs its own there
  if command -v systemctl >/dev/null && systemctl is-active --quiet nats-server 2>/dev/null; then
    say "stopping and disabling the packaged nats-server service (make run starts its own)"
    as_root systemctl disable --now nats-server >/dev/null 2>&1 || true
  fi
fi

# the tests read sockets with `ss` (iproute2) and reap stray servers with `pkill` (procps)
command -v ss >/dev/null || apt_install iproute2
command -v pkill >/dev/null || apt_install procps
# the local echo model upstreams make their TLS certificate with the openssl CLI (infra/src/echo/cert.ts)
command -v openssl >/dev/null || apt_install openssl

if [ $want_chromium = 1 ] && [ ! -x /usr/bin/chromium ]; then
  apt_install chromium
fi

pnpm_version=$(node -p 'require("./package.json").packageManager.split("@")[1]')
pnpm_bin=.tools/node_modules/.bin/pnpm
if [ ! -x "$pnpm_bin" ] || [ "$("$pnpm_bin" --version 2>/dev/null)" != "$pnpm_version" ]; then
  say "installing pnpm $pnpm_version into .tools/"
  npm install --silent --no-audit --no-fund --prefix .tools "pnpm@$pnpm_version" >/dev/null
fi

# the README's `pnpm exec wscat` wants pnpm on the PATH too
if ! command -v pnpm >/dev/null && { [ "$(id -u)" = 0 ] || [ -w "$(npm prefix -g)/lib" ]; }; then
  say "installing pnpm $pnpm_version globally"
  npm install -g --silent --no-audit --no-fund "pnpm@$pnpm_version" >/dev/null 2>&1 || say "global pnpm install failed; use $pnpm_bin"
fi

# --frozen-lockfile: CI and fresh clones get exactly the locked versions
say "pnpm install"
"$pnpm_bin" install --frozen-lockfile --reporter=silent
say "building (tsc -b)"
"$pnpm_bin" run -s build
