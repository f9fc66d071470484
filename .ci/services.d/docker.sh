#!/usr/bin/env bash
# CI service: the private Docker engine for the Docker runtime tests (scripts/docker-test-env.sh).
# `start` only starts dockerd (the tests build their images once the project is built); when no
# engine can start here it says why and still succeeds, and the Docker tests report themselves as
# skipped with that reason. It exports nothing: the tests find the engine on its private socket,
# and a DOCKER_HOST would change what `--runtime auto` picks in other tests.
# `stop` stops exactly the dockerd `start` started, by pid.
set -uo pipefail
cd "$(dirname "$0")/../.."
marker=${TMPDIR:-/tmp}/cachectl-ci-docker.started

case "${1:-}" in
  start)
    if bash scripts/docker-test-env.sh status >/dev/null 2>&1; then
      echo "ci/docker: a private engine is already running; leaving it as it is" >&2
      rm -f "$marker"
      exit 0
    fi
    if bash scripts/docker-test-env.sh engine >/dev/null; then
      touch "$marker"
    else
      echo "ci/docker: WARNING: no Docker engine could be started; the Docker tests will be reported as skipped" >&2
    fi
    ;;
  stop)
    if [ -f "$marker" ]; then
      bash scripts/docker-test-env-stop.sh
      rm -f "$marker"
    fi
    ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
