#!/usr/bin/env bash
# up: the quick start's first command. On a fresh Debian/Ubuntu machine it installs what is missing (the Docker
# engine from the distribution, npm, Node 24 from npm when the system's is older, the npm dependencies), makes sure
# dockerd runs, then hands over to `kubeling up`: a single-node cluster, the simplek8s example deployed, and the
# truth about it (the page on :31515 answers, or why not — exit 1). Arguments go to `kubeling up`; safe to rerun.
# Env: KUBELING_DATA_DIR, KUBELING_HTTPS_LISTEN_PORT, KUBELING_EXAMPLE_IMAGE, … (every flag of `kubeling up`).
set -euo pipefail
here="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
cd "$here"

if [ "$(id -u)" != 0 ]; then
  echo "scripts/up.sh needs root (it installs Docker and runs containers): run it with sudo." >&2
  exit 1
fi

step() { printf '\033[1m==> %s\033[0m\n' "$*"; }

need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v npm >/dev/null || need+=(npm)
[ -r "/usr/lib/$(uname -m)-linux-gnu/libjemalloc.so.2" ] || need+=(libjemalloc2)
if [ ${#need[@]} -gt 0 ]; then
  step "installing Debian packages: ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

node_bin="$(scripts/node24.sh)"
PATH="$(dirname "$node_bin"):$PATH"
export PATH
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  step "npm dependencies"
  npm ci --no-audit --no-fund --loglevel=error
fi

if ! docker info >/dev/null 2>&1; then
  step "starting the Docker engine"
  if [ -d /run/systemd/system ]; then
    systemctl enable --now docker
  else
    scripts/dockerd-test.sh start # no systemd (a container): dockerd in the background
  fi
fi

exec bin/kubeling up "$@"
