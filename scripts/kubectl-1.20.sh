#!/usr/bin/env bash
# kubectl-1.20: unpacks Debian's kubernetes-client (kubectl 1.20) into .tools/kubectl-1.20 for the compatibility
# tests; it conflicts with the installed kubectl package, so it is extracted, not installed.
set -euo pipefail
here="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
dest="$here/.tools/kubectl-1.20"
[ -x "$dest/usr/bin/kubectl" ] && exit 0
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && apt-get download -q kubernetes-client >/dev/null)
mkdir -p "$dest"
dpkg -x "$tmp"/kubernetes-client_*.deb "$dest"
"$dest/usr/bin/kubectl" version --client --short 2>/dev/null || "$dest/usr/bin/kubectl" version --client
