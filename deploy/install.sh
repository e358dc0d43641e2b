#!/usr/bin/env bash
# install: installs kubeling from this checkout on a host (Docker, Node 24 from npm, npm deps) and a systemd unit.
#   deploy/install.sh server                       # control plane + embedded agent
#   deploy/install.sh agent --server https://M:6443 --token K10…   # a node that joins M
set -euo pipefail
here="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
role="${1:-}"; shift || true
case "$role" in server|agent) ;; *) echo "usage: $0 server|agent [flags for kubeling $role]" >&2; exit 2 ;; esac
[ "$(id -u)" = 0 ] || { echo "$0 needs root" >&2; exit 1; }

need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v npm >/dev/null || need+=(npm)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
systemctl enable --now docker >/dev/null 2>&1 || true

dest=/opt/kubeling
if [ "$here" != "$dest" ]; then
  mkdir -p "$dest"
  tar -C "$here" --exclude=node_modules --exclude=.tools --exclude=.git -cf - . | tar -C "$dest" -xf -
fi
cd "$dest"
node_bin="$(scripts/node24.sh)"
PATH="$(dirname "$node_bin"):$PATH" npm ci --omit=dev --no-audit --no-fund --loglevel=error

printf -v args ' %q' "$@"
sed -e "s|@ROLE@|$role|g" -e "s|@ARGS@|${args# }|g" deploy/systemd/kubeling.service >/etc/systemd/system/kubeling-$role.service
systemctl daemon-reload
systemctl enable --now kubeling-$role.service
echo "kubeling $role installed and started: journalctl -u kubeling-$role -f"
