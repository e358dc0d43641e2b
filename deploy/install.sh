#!/usr/bin/env bash
# install: installs kubeling from this checkout on a host as a server (control plane + its node agent) or as an agent
# joining a server, with a systemd unit that restarts on failure and starts at boot. Safe to run again.
#
#   deploy/install.sh server [--node-ip IP] [--tls-san NAME]… [registry flags] [-- more `kubeling server` flags]
#   deploy/install.sh agent --server https://MASTER:6443 --token K10… [--node-ip IP] [registry flags] [-- more flags]
#   deploy/install.sh prepare [registry flags]   only packages, code and Docker settings (a VM waiting for its token)
#
#   registry flags: --registry-mirror URL      Docker Hub pulls go through this mirror (dockerd's registry-mirrors)
#                   --insecure-registry HOST:PORT   a plain-HTTP registry or mirror dockerd may use
#                   --registry-auth FILE       a Docker config.json with credentials, installed as the node-wide auth
#                                              file /etc/kubeling/registry-auth.json (0600)
#
# Where: code in /opt/kubeling, config in /etc/kubeling (server.yaml, or agent.yaml + agent.env with the token),
# data in /var/lib/kubeling, units in /etc/systemd/system, logs in the journal (journalctl -u kubeling-ROLE).
# Env: KUBELING_ROOT=DIR installs under DIR instead of / (a test root: no packages, no systemctl, nothing started);
#      KUBELING_OFFLINE=1 copies node_modules and Node 24 from this checkout instead of fetching them.
set -euo pipefail
here="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
usage() { sed -n '4,12p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

role="${1:-}"
case "$role" in server|agent|prepare) shift ;; *) usage ;; esac
server='' token='' node_ip='' node_name='' mirror='' insecure='' auth=''
sans=() extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --server) server="$2"; shift 2 ;;
    --token) token="$2"; shift 2 ;;
    --node-ip) node_ip="$2"; shift 2 ;;
    --node-name) node_name="$2"; shift 2 ;;
    --tls-san) sans+=("$2"); shift 2 ;;
    --registry-mirror) mirror="$2"; shift 2 ;;
    --insecure-registry) insecure="$2"; shift 2 ;;
    --registry-auth) auth="$2"; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) usage ;;
    *) echo "install.sh: unknown flag $1 (flags for kubeling go after --)" >&2; exit 2 ;;
  esac
done
if [ "$role" = agent ] && { [ -z "$server" ] || [ -z "$token" ]; }; then
  echo "install.sh agent needs --server URL and --token TOKEN (on the server: kubeling token create)" >&2
  exit 2
fi
[ "$(id -u)" = 0 ] || { echo "install.sh needs root: run it with sudo" >&2; exit 1; }

root="${KUBELING_ROOT:-}"
root="${root%/}"
opt="$root/opt/kubeling"
etc="$root/etc/kubeling"
data="$root/var/lib/kubeling"
units="$root/etc/systemd/system"
unit="kubeling-$role.service"
live=1 # a real install on this host's root (packages, dockerd, systemctl)
[ -n "$root" ] && live=0
step() { printf '==> %s\n' "$*"; }

# registry settings on a host without /etc/docker/daemon.json yet: written before Docker is installed, so dockerd's
# first start has them (the step after the code merges into an existing file, with Node, and restarts dockerd)
docker_json="$root/etc/docker/daemon.json"
if { [ -n "$mirror" ] || [ -n "$insecure" ]; } && [ ! -e "$docker_json" ] && [[ "$mirror$insecure" != *[\"\\]* ]]; then
  mkdir -p "$root/etc/docker"
  {
    echo '{'
    [ -z "$mirror" ] || printf '  "registry-mirrors": [\n    "%s"\n  ]%s\n' "$mirror" "${insecure:+,}"
    [ -z "$insecure" ] || printf '  "insecure-registries": [\n    "%s"\n  ]\n' "$insecure"
    echo '}'
  } >"$docker_json"
fi

if [ "$live" = 1 ]; then
  need=()
  command -v dockerd >/dev/null || need+=(docker.io)
  # npm fetches Node 24 and the modules; KUBELING_OFFLINE=1 copies both from this checkout instead
  [ "${KUBELING_OFFLINE:-}" = 1 ] || command -v npm >/dev/null || need+=(npm)
  command -v iptables >/dev/null || need+=(iptables)
  if [ ${#need[@]} -gt 0 ]; then
    step "installing Debian packages: ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  fi
  # the server runs on jemalloc when it is there (bin/kubeling); without it, on glibc's malloc, with more memory kept
  if [ ! -r "/usr/lib/$(uname -m)-linux-gnu/libjemalloc.so.2" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libjemalloc2 >/dev/null 2>&1 ||
      step "libjemalloc2 is not available from apt: the server keeps glibc's malloc"
  fi
fi

step "kubeling into $opt"
mkdir -p "$opt"
# same() : a copy made earlier by cp -a (size and mtime kept) needs no second one
same() { [ -e "$1" ] && [ -e "$2" ] && [ "$(stat -c %s.%Y "$1")" = "$(stat -c %s.%Y "$2")" ]; }
if [ "$here" != "$opt" ]; then
  # dist/ (compiled by scripts/build.sh) when the checkout has one: bin/kubeling runs it while it is newer than every
  # source, and Node starts far faster from it than from the .ts sources; never a stale one from an earlier install
  rm -rf "$opt/dist"
  tar -C "$here" --exclude=./node_modules --exclude=./.tools --exclude=./.git --exclude=./.kubeling --exclude=./.cache --exclude=./.bench --exclude=./dist/.lock -cf - . | tar -C "$opt" -xf -
fi
if [ "${KUBELING_OFFLINE:-}" = 1 ] && [ "$here" != "$opt" ]; then
  [ -d "$here/node_modules" ] || { echo "KUBELING_OFFLINE=1 needs $here/node_modules (npm ci first)" >&2; exit 1; }
  if ! same "$here/node_modules/.package-lock.json" "$opt/node_modules/.package-lock.json"; then
    rm -rf "$opt/node_modules" && cp -a "$here/node_modules" "$opt/node_modules"
  fi
  if [ -x "$here/.tools/node/bin/node" ] && ! same "$here/.tools/node/bin/node" "$opt/.tools/node/bin/node"; then
    # what runs: not the C headers (67 MB, for building addons; the modules come built)
    mkdir -p "$opt/.tools/node.new" && tar -C "$here/.tools/node" --exclude=./include -cf - . | tar -C "$opt/.tools/node.new" -xf -
    rm -rf "$opt/.tools/node" && mv "$opt/.tools/node.new" "$opt/.tools/node"
  fi
fi
node_bin="$("$opt/scripts/node24.sh")"
case "$node_bin" in
  "$opt"/*|/usr/bin/*|/usr/local/bin/*|/bin/*) ;;
  *) mkdir -p "$opt/.tools" && rm -rf "$opt/.tools/node" && ln -s "$(dirname "$(dirname "$node_bin")")" "$opt/.tools/node" ;;
esac
if [ ! -d "$opt/node_modules" ] || [ "$opt/package-lock.json" -nt "$opt/node_modules/.package-lock.json" ]; then
  step "npm dependencies"
  (cd "$opt" && PATH="$(dirname "$node_bin"):$PATH" npm ci --omit=dev --no-audit --no-fund --loglevel=error)
fi

if [ -n "$mirror" ] || [ -n "$insecure" ]; then
  step "Docker registry settings in $root/etc/docker/daemon.json"
  mkdir -p "$root/etc/docker"
  PATH="$(dirname "$node_bin"):$PATH" MIRROR="$mirror" INSECURE="$insecure" FILE="$root/etc/docker/daemon.json" node -e '
    const fs = require("node:fs");
    const f = process.env.FILE;
    const cfg = fs.existsSync(f) ? JSON.parse(fs.readFileSync(f, "utf8") || "{}") : {};
    const add = (k, v) => { if (v) cfg[k] = [...new Set([...(cfg[k] ?? []), v])]; };
    add("registry-mirrors", process.env.MIRROR);
    add("insecure-registries", process.env.INSECURE);
    fs.writeFileSync(f + ".new", JSON.stringify(cfg, null, 2) + "\n");'
  if cmp -s "$root/etc/docker/daemon.json.new" "$root/etc/docker/daemon.json"; then
    rm "$root/etc/docker/daemon.json.new"
  else
    mv "$root/etc/docker/daemon.json.new" "$root/etc/docker/daemon.json"
    if [ "$live" = 1 ] && [ -d /run/systemd/system ]; then systemctl restart docker; fi
  fi
fi
if [ "$role" = prepare ]; then
  echo "kubeling prepared in $opt (packages, code, Docker settings): install.sh server or agent configures and starts it"
  exit 0
fi

step "configuration in $etc"
mkdir -p "$etc" "$data"
chmod 700 "$data"
yaml_list() { local k="$1"; shift; [ $# -gt 0 ] || return 0; echo "$k:"; for v in "$@"; do echo "  - \"$v\""; done; }
{
  echo "# written by deploy/install.sh $role; keys are \`kubeling $role\` flags (the command line wins)"
  if [ "$role" = server ]; then
    echo "data-dir: \"$data\""
    if [ -n "$node_ip" ]; then echo "node-ip: \"$node_ip\""; echo "advertise-address: \"$node_ip\""; fi
    yaml_list tls-san ${node_ip:+"$node_ip"} ${sans[@]+"${sans[@]}"}
  else
    echo "data-dir: \"$data/agent\""
    [ -z "$node_ip" ] || echo "node-ip: \"$node_ip\""
  fi
  [ -z "$node_name" ] || echo "node-name: \"$node_name\""
} >"$etc/$role.yaml.new"
mv "$etc/$role.yaml.new" "$etc/$role.yaml"
if [ "$role" = agent ]; then
  # the token is a secret: an environment file only root reads (agent flags read KUBELING_*)
  (umask 077 && printf 'KUBELING_SERVER=%s\nKUBELING_TOKEN=%s\n' "$server" "$token" >"$etc/agent.env")
fi
if [ -n "$auth" ]; then
  install -m 600 "$auth" "$etc/registry-auth.json"
fi

step "systemd unit $units/$unit"
mkdir -p "$units/multi-user.target.wants"
args=''
if [ ${#extra[@]} -gt 0 ]; then printf -v args ' %q' "${extra[@]}"; fi
sed -e "s|/opt/kubeling|$opt|g" -e "s|/etc/kubeling|$etc|g" -e "s|^\(ExecStart=.*\)$|\1$args|" "$here/deploy/systemd/$unit" >"$units/$unit.new"
mv "$units/$unit.new" "$units/$unit"
if [ "$live" = 1 ] && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  systemctl enable docker >/dev/null 2>&1 || true
  systemctl enable "$unit"
  systemctl restart "$unit"
  echo "kubeling $role installed and started: systemctl status $unit; journalctl -u kubeling-$role -f"
else
  ln -sf "../$unit" "$units/multi-user.target.wants/$unit" # what `systemctl enable` does
  echo "kubeling $role installed in ${root:-/} (enabled at boot; systemd does not run here, so nothing was started)"
fi
if [ "$role" = server ]; then
  echo "join a node:  sudo deploy/install.sh agent --server https://${node_ip:-<this host>}:6443 --token \"\$(sudo cat $data/token)\""
  echo "kubeconfig:   $data/kubeconfig.yaml (for another host: sudo $opt/bin/kubeling kubeconfig --data-dir $data)"
fi
