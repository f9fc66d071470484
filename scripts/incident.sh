#!/usr/bin/env bash
# The main job (`npm run incident`): reproduce the master-outage incident end to end on the local
# runtime, from a fresh clone.
#
#   1. scripts/setup.sh        install memcached / toxiproxy-server where missing, npm ci, build
#   2. cachectl up             master + slave memcached, Toxiproxy, the cachectl proxy (free ports)
#   3. cachectl chaos master-down --mitigation none   the incident: stale reads on the slave
#   4. cachectl down           always, also on failure or Ctrl-C
#
# Extra arguments go to `cachectl chaos master-down` (e.g. `npm run incident -- --mitigation all`,
# `--seed 42`, `--json`). The exit code is the chaos command's (1 = an --expect rule failed).
set -uo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh || exit $?

# Its own cluster name and state dir, so it never touches a cluster you started yourself.
export CACHECTL_NAME=${CACHECTL_NAME:-incident}
export CACHECTL_STATE_DIR=${CACHECTL_STATE_DIR:-$PWD/.cachectl}
cachectl() { node bin/run.js "$@"; }

cleanup() {
  echo "incident: cachectl down" >&2
  cachectl down >&2 || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cachectl up --runtime local --free-ports >&2 || exit $?

has_mitigation=0
for a in "$@"; do case "$a" in --mitigation | --mitigation=*) has_mitigation=1 ;; esac; done
if [ "$has_mitigation" -eq 1 ]; then
  cachectl chaos master-down "$@"
else
  cachectl chaos master-down --mitigation none "$@"
fi
