#!/usr/bin/env bash
# dockerd-test.sh: makes sure a dockerd answers on /var/run/docker.sock for tests and CI (start|stop|status).
#
#   scripts/dockerd-test.sh [start]  start dockerd in the background if none answers; wait until `docker info` works
#   scripts/dockerd-test.sh stop     stop the dockerd this script started (by its PID file), and nothing else
#   scripts/dockerd-test.sh status   exit 0 if a dockerd answers
#
# Env: KUBELING_DOCKERD_STATE (default /tmp/kubeling-dockerd) holds dockerd.pid and dockerd.log;
#      KUBELING_DOCKERD_WAIT seconds to wait for readiness (default 60). Needs root and Debian's docker.io.
set -euo pipefail

SOCK=/var/run/docker.sock
STATE=${KUBELING_DOCKERD_STATE:-/tmp/kubeling-dockerd}
PIDFILE=$STATE/dockerd.pid
LOG=$STATE/dockerd.log
WAIT=${KUBELING_DOCKERD_WAIT:-60}

answers() { docker -H "unix://$SOCK" info >/dev/null 2>&1; }

start() {
  if answers; then echo "dockerd already answers on $SOCK"; return 0; fi
  command -v dockerd >/dev/null || { echo "dockerd not installed (apt-get install -y docker.io)" >&2; exit 1; }
  mkdir -p "$STATE"
  if [[ -f "$PIDFILE" ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
    echo "dockerd (pid $(cat "$PIDFILE")) started earlier; waiting for it"
  else
    # A stale daemon pid file (dockerd's own, not ours) would stop a new dockerd from starting.
    if [[ -f /var/run/docker.pid ]] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then rm -f /var/run/docker.pid; fi
    nohup dockerd -H "unix://$SOCK" >>"$LOG" 2>&1 &
    echo $! >"$PIDFILE"
    echo "started dockerd (pid $!), log $LOG"
  fi
  for ((i = 0; i < WAIT * 4; i++)); do
    if answers; then echo "dockerd ready"; return 0; fi
    if ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then echo "dockerd exited; last log lines:" >&2; tail -n 20 "$LOG" >&2; exit 1; fi
    sleep 0.25
  done
  echo "dockerd did not answer within ${WAIT}s; last log lines:" >&2
  tail -n 20 "$LOG" >&2
  exit 1
}

stop() {
  if [[ ! -f "$PIDFILE" ]]; then echo "no dockerd started by this script"; return 0; fi
  pid=$(cat "$PIDFILE")
  if kill -0 "$pid" 2>/dev/null && grep -q dockerd "/proc/$pid/cmdline" 2>/dev/null; then
    kill -TERM "$pid"
    for ((i = 0; i < 120; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; fi
    echo "stopped dockerd (pid $pid)"
  fi
  rm -f "$PIDFILE"
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  status) answers ;;
  *) echo "usage: $0 [start|stop|status]" >&2; exit 2 ;;
esac
