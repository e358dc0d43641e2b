#!/usr/bin/env bash
# uninstall: undoes deploy/install.sh — stops and disables the kubeling units, removes them, /opt/kubeling and
# /etc/kubeling. Pods keep running and /var/lib/kubeling stays unless --purge, which also removes the cluster's
# containers, networks, routes and rules from this host and deletes /var/lib/kubeling.
#
#   deploy/uninstall.sh [--purge]
# Env: KUBELING_ROOT=DIR uninstalls from a test root made by install.sh (no systemctl, no Docker).
set -euo pipefail
purge=0
case "${1:-}" in --purge) purge=1 ;; '') ;; *) echo "usage: $0 [--purge]" >&2; exit 2 ;; esac
[ "$(id -u)" = 0 ] || { echo "uninstall.sh needs root: run it with sudo" >&2; exit 1; }

root="${KUBELING_ROOT:-}"
root="${root%/}"
opt="$root/opt/kubeling"
units="$root/etc/systemd/system"
data="$root/var/lib/kubeling"
live=1
[ -n "$root" ] && live=0

for role in server agent; do
  unit="kubeling-$role.service"
  [ -f "$units/$unit" ] || continue
  if [ "$live" = 1 ] && [ -d /run/systemd/system ]; then
    systemctl disable --now "$unit" || true
  fi
  rm -f "$units/multi-user.target.wants/$unit" "$units/$unit"
  echo "removed $unit"
done
[ "$live" = 1 ] && [ -d /run/systemd/system ] && systemctl daemon-reload

if [ "$purge" = 1 ]; then
  if [ "$live" = 1 ] && [ -x "$opt/bin/kubeling" ]; then
    # the server's data dir names the cluster (its CA); an agent's containers carry the same label
    if [ -f "$data/tls/ca.crt" ]; then "$opt/bin/kubeling" down --data-dir "$data" || true; fi
    if command -v docker >/dev/null; then
      ids="$(docker ps -aq --filter label=kubeling.cluster)"
      if [ -n "$ids" ]; then
        # shellcheck disable=SC2086 # one id a word
        docker rm -f $ids >/dev/null
      fi
    fi
  fi
  rm -rf "$data"
  echo "removed $data"
fi
rm -rf "$opt" "$root/etc/kubeling"
echo "kubeling uninstalled${root:+ from $root}"
