#!/usr/bin/env bash
# provision: turns a fresh Debian VM into a kubeling master or worker — the one script the Vagrantfile runs on each
# VM and the VM test (issue 11) runs the same way, so the two cannot drift. It calls deploy/install.sh from the
# checkout this script sits in, and shares the join token and the host's kubeconfig through SHARED (the synced folder).
#
#   deploy/provision.sh master NODE_IP SHARED            install the server; write SHARED/token, SHARED/kubeconfig.yaml
#   deploy/provision.sh worker NODE_IP SHARED MASTER_IP  install packages and code, wait for SHARED/token, install an
#                                                        agent joining MASTER_IP (VMs provisioned in parallel, as
#                                                        libvirt's `vagrant up` does, install while the master does)
#
# Env: KUBELING_REGISTRY_MIRROR=URL, KUBELING_INSECURE_REGISTRY=HOST:PORT (a local registry or mirror), passed to
#      install.sh; KUBELING_PROVISION_WAIT seconds a worker waits for the master's token (default 600).
set -euo pipefail
here="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
role="${1:-}" node_ip="${2:-}" shared="${3:-}" master_ip="${4:-}"
case "$role" in
  master) [ -n "$node_ip" ] && [ -n "$shared" ] || role='' ;;
  worker) [ -n "$node_ip" ] && [ -n "$shared" ] && [ -n "$master_ip" ] || role='' ;;
  *) role='' ;;
esac
if [ -z "$role" ]; then sed -n '6,9p' "$0" | sed 's/^# \{0,1\}/usage: /' >&2; exit 2; fi

registry=()
[ -z "${KUBELING_REGISTRY_MIRROR:-}" ] || registry+=(--registry-mirror "$KUBELING_REGISTRY_MIRROR")
[ -z "${KUBELING_INSECURE_REGISTRY:-}" ] || registry+=(--insecure-registry "$KUBELING_INSECURE_REGISTRY")
data=/var/lib/kubeling
mkdir -p "$shared"

if [ "$role" = master ]; then
  "$here/deploy/install.sh" server --node-ip "$node_ip" ${registry[@]+"${registry[@]}"}
  for _ in $(seq 1 180); do
    [ -s "$data/token" ] && [ -s "$data/kubeconfig.yaml" ] && break
    sleep 1
  done
  [ -s "$data/token" ] || { echo "provision: the server wrote no token in 180s: journalctl -u kubeling-server" >&2; exit 1; }
  install -m 600 "$data/token" "$shared/token"
  /opt/kubeling/bin/kubeling kubeconfig --data-dir "$data" --address "$node_ip" >"$shared/kubeconfig.yaml.new"
  mv "$shared/kubeconfig.yaml.new" "$shared/kubeconfig.yaml"
  echo "provision: master $node_ip ready; on the host: export KUBECONFIG=$shared/kubeconfig.yaml"
else
  "$here/deploy/install.sh" prepare ${registry[@]+"${registry[@]}"}
  wait="${KUBELING_PROVISION_WAIT:-600}"
  for _ in $(seq 1 "$wait"); do
    [ -s "$shared/token" ] && break
    sleep 1
  done
  [ -s "$shared/token" ] || { echo "provision: no token in $shared after ${wait}s: is the master provisioned?" >&2; exit 1; }
  "$here/deploy/install.sh" agent --server "https://$master_ip:6443" --token "$(cat "$shared/token")" --node-ip "$node_ip" ${registry[@]+"${registry[@]}"}
  echo "provision: worker $node_ip joined https://$master_ip:6443"
fi
