#!/usr/bin/env bash
# build: compiles cmd/ and pkg/ to JavaScript in dist/ (Node 24 can run the .ts sources directly, but compiled JS
# starts faster and keeps ~25 MB less resident memory per process). Copies the non-TS assets beside the output.
set -euo pipefail
here="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
cd "$here"
tsc="$here/node_modules/.bin/tsc"
[ -x "$tsc" ] || { echo "build: typescript is not installed (npm ci)" >&2; exit 1; }
mkdir -p dist
exec 9>dist/.lock
flock 9
stamp=dist/.stamp
if [ -f "$stamp" ] && [ -z "$(find cmd pkg -name '*.ts' -newer "$stamp" -print -quit)" ] && [ -z "$(find pkg -name '*.proto' -newer "$stamp" -print -quit)" ]; then
  exit 0
fi
touch dist/.stamp.next
rm -rf dist/cmd dist/pkg
"$tsc" -p tsconfig.build.json
(cd pkg && find . -name "*.proto" -exec cp --parents {} ../dist/pkg/ \;)
mv dist/.stamp.next "$stamp"
