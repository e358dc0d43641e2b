#!/usr/bin/env bash
# test: installs what the suite needs (Debian packages, Node 24, npm deps, kubectl 1.20), makes sure a Docker
# engine runs, then type-checks and runs every test (unit + integration against real dockerd and kubectl, then the
# multi-host end-to-end tests of test/e2e). Arguments are passed to vitest and skip the end-to-end run.
set -euo pipefail
here="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
cd "$here"

if [ "$(id -u)" != 0 ]; then
  echo "scripts/test.sh needs root (it installs Debian packages and runs Docker containers): run it with sudo." >&2
  exit 1
fi

need=()
command -v dockerd >/dev/null || need+=(docker.io)
[ -x /bin/busybox ] && /bin/busybox --list 2>/dev/null | grep -qx httpd || need+=(busybox-static)
command -v docker-registry >/dev/null || need+=(docker-registry)
command -v ip >/dev/null || need+=(iproute2)
command -v iptables >/dev/null || need+=(iptables)
command -v conntrack >/dev/null || need+=(conntrack)
command -v shellcheck >/dev/null || need+=(shellcheck)
command -v ruby >/dev/null || need+=(ruby)
command -v systemd-analyze >/dev/null || need+=(systemd)
command -v chromium >/dev/null || need+=(chromium)
command -v unzip >/dev/null || need+=(unzip)
command -v script >/dev/null || need+=(bsdutils)
command -v npm >/dev/null || need+=(npm)
[ -r "/usr/lib/$(uname -m)-linux-gnu/libjemalloc.so.2" ] || need+=(libjemalloc2)
if [ ${#need[@]} -gt 0 ]; then
  echo "==> installing Debian packages: ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
if ! command -v kubectl >/dev/null; then
  echo "kubectl is not installed: the tests drive the real kubectl (install the kubectl package)." >&2
  exit 1
fi

node_bin="$(scripts/node24.sh)"
export PATH="$(dirname "$node_bin"):$PATH"
echo "==> node $(node --version), npm $(npm --version)"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "==> npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi
scripts/kubectl-1.20.sh >/dev/null 2>&1 || echo "warning: could not unpack Debian's kubectl 1.20; its compatibility test will fail" >&2

echo "==> Docker engine"
scripts/dockerd-test.sh start
cleanup() { scripts/dockerd-test.sh stop || true; }
trap cleanup EXIT

echo "==> type check and build"
npx tsc --noEmit -p .
scripts/build.sh
echo "==> tests"
npx vitest run "$@"
if [ $# -eq 0 ]; then
  echo "==> end-to-end: a multi-host cluster on this machine (network namespaces, one dockerd per host)"
  npm run --silent e2e
fi
