#!/usr/bin/env bash
# Stop exactly the dockerd that scripts/docker-test-env.sh started: the pid in its pidfile, and only
# if that process is the dockerd using that pidfile. Never touches a system engine. Safe to run twice.
set -euo pipefail

RUN_DIR=${CACHECTL_DOCKER_RUN_DIR:-/run/cachectl-docker}
PIDFILE="$RUN_DIR/dockerd.pid"
SOCKET="$RUN_DIR/docker.sock"

log() { echo "docker-test-env-stop: $*" >&2; }

if [ ! -f "$PIDFILE" ]; then
  log "no private dockerd running (no $PIDFILE)"
  exit 0
fi
pid=$(cat "$PIDFILE" 2>/dev/null || true)
if [ -z "$pid" ] || [ ! -r "/proc/$pid/cmdline" ] || ! tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "--pidfile $PIDFILE"; then
  log "pid '${pid}' in $PIDFILE is not our dockerd any more; nothing to stop"
  rm -f "$PIDFILE"
  exit 0
fi

# Remove cachectl's test containers first, so dockerd doesn't spend its shutdown timeout on them.
if [ -S "$SOCKET" ]; then
  client=/usr/bin/docker
  [ -x "$client" ] || client=docker
  ids=$(DOCKER_HOST="unix://$SOCKET" timeout 10 "$client" ps -aq --filter label=io.cachectl.cluster 2>/dev/null || true)
  if [ -n "$ids" ]; then
    # shellcheck disable=SC2086
    DOCKER_HOST="unix://$SOCKET" timeout 30 "$client" rm -f $ids >/dev/null 2>&1 || true
  fi
fi

log "stopping dockerd (pid $pid)"
kill -TERM "$pid" 2>/dev/null || true
for _ in $(seq 1 100); do
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.2
done
if kill -0 "$pid" 2>/dev/null; then
  log "dockerd (pid $pid) did not stop within 20 s; sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  sleep 0.5
  # A killed dockerd leaves its managed containerd behind: stop that one too (it runs from our exec root).
  cpid=$(cat "$RUN_DIR/exec/containerd/containerd.pid" 2>/dev/null || true)
  if [ -n "$cpid" ] && [ -r "/proc/$cpid/cmdline" ] && tr '\0' ' ' <"/proc/$cpid/cmdline" | grep -q -- "$RUN_DIR/exec"; then
    kill -TERM "$cpid" 2>/dev/null || true
  fi
fi
rm -f "$PIDFILE"
log "stopped"
