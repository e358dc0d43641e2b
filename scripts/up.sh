#!/usr/bin/env bash
# up: brings up a single-node kubeling cluster on this machine (installing Docker and Node 24 if missing), deploys
# the example and prints where to browse. `scripts/up.sh stop` stops the server (pods keep running, as kubelet).
set -euo pipefail
here="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
cd "$here"
data_dir="${KUBELING_DATA_DIR:-/var/lib/kubeling}"
pid_file=/run/kubeling-server.pid
log_file=/var/log/kubeling-server.log
port="${KUBELING_HTTPS_LISTEN_PORT:-6443}"

if [ "$(id -u)" != 0 ]; then
  echo "scripts/up.sh needs root (it installs Docker and runs containers): run it with sudo." >&2
  exit 1
fi

if [ "${1:-}" = stop ]; then
  if [ -f "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null; then
    kill "$(cat "$pid_file")" && rm -f "$pid_file" && echo "kubeling server stopped"
  else
    echo "kubeling server is not running"
  fi
  exit 0
fi

step() { printf '\033[1m==> %s\033[0m\n' "$*"; }

need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v npm >/dev/null || need+=(npm)
command -v curl >/dev/null || need+=(curl)
if [ ${#need[@]} -gt 0 ]; then
  step "installing Debian packages: ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

step "Node.js 24"
node_bin="$(scripts/node24.sh)"
export PATH="$(dirname "$node_bin"):$PATH"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  step "npm dependencies"
  npm ci --no-audit --no-fund --loglevel=error
fi

step "Docker engine"
if ! docker info >/dev/null 2>&1; then
  if command -v systemctl >/dev/null && systemctl start docker 2>/dev/null; then :; else scripts/dockerd-test.sh start; fi
fi
docker info >/dev/null

if [ -f "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null; then
  step "kubeling server already running (pid $(cat "$pid_file"))"
else
  step "starting kubeling server (data in $data_dir, log in $log_file)"
  mkdir -p "$data_dir"
  nohup bin/kubeling server --data-dir "$data_dir" --https-listen-port "$port" >>"$log_file" 2>&1 &
  echo $! >"$pid_file"
fi

export KUBECONFIG="$data_dir/kubeconfig.yaml"
node_name="$(hostname | tr '[:upper:]' '[:lower:]')"
printf 'waiting for the API server and node %s ' "$node_name"
for _ in $(seq 1 120); do
  if [ -f "$KUBECONFIG" ] && kubectl get node "$node_name" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null | grep -q True; then
    break
  fi
  if ! kill -0 "$(cat "$pid_file")" 2>/dev/null; then echo; echo "kubeling server exited; last log lines:" >&2; tail -20 "$log_file" >&2; exit 1; fi
  printf '.'
  sleep 1
done
echo
kubectl get nodes

step "deploying the example (deploy/examples)"
image="${KUBELING_EXAMPLE_IMAGE:-stephengrider/multi-client}"
sed -e "s|image: stephengrider/multi-client|image: $image|" deploy/examples/client-pod.yaml | kubectl apply -f -
kubectl apply -f deploy/examples/client-node-port.yaml
printf 'waiting for client-pod to run (the first start pulls the image) '
for _ in $(seq 1 ${KUBELING_WAIT_SECONDS:-300}); do
  phase="$(kubectl get pod client-pod -o jsonpath='{.status.phase}' 2>/dev/null || true)"
  [ "$phase" = Running ] && break
  printf '.'
  sleep 2
done
echo
kubectl get pods -o wide

ip="$(kubectl get node "$node_name" -o jsonpath='{.status.addresses[?(@.type=="InternalIP")].address}')"
cat <<MSG

kubeling is up.
  kubectl:  export KUBECONFIG=$KUBECONFIG
  browse:   http://$ip:31515   (or http://localhost:31515 on this machine)
  join another node:
            bin/kubeling agent --server https://$ip:$port --token $(cat "$data_dir/token") --node-ip <its IP>
  stop:     sudo scripts/up.sh stop
MSG
