#!/usr/bin/env bash
# build.sh: builds the test images (kubeling/busybox:test, kubeling/httpd:test, kubeling/pause:1) with no registry.
#
# Each image is a root filesystem tar made in memory (static busybox from Debian's busybox-static plus applet
# symlinks; the pause image is an embedded 216-byte static binary) fed to `docker import` through the Engine API,
# by test/helpers/images.ts — the same code the tests call, so there is one recipe. Pass --force to rebuild.
# Needs: a running dockerd (scripts/dockerd-test.sh), /bin/busybox (apt-get install -y busybox-static), Node 24.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PWD/.tools/node/bin:$PATH"
force=false
[[ "${1:-}" == "--force" ]] && force=true
node --input-type=module -e "
import { ensureTestImages } from './test/helpers/images.ts';
import { DockerRuntime } from './pkg/kubelet/runtime/index.ts';
const host = process.env.DOCKER_HOST;
const images = await ensureTestImages(new DockerRuntime(host ? { host } : {}), $force);
console.log(Object.values(images).join('\n'));
"
