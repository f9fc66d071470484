#!/usr/bin/env bash
# A private Docker engine for cachectl's Docker tests, started as root with no bridge and no
# iptables (every container uses host networking, so all traffic stays on loopback), plus the
# test images built offline from this machine's own binaries (no registry is reachable here).
#
#   scripts/docker-test-env.sh [start]   install docker.io if missing, start dockerd, build images
#   scripts/docker-test-env.sh engine    only install and start dockerd (no images; e.g. before npm ci)
#   scripts/docker-test-env.sh images    (re)build the test images on the running private engine
#   scripts/docker-test-env.sh status    exit 0 when the private engine answers
#   scripts/docker-test-env-stop.sh      stop exactly the dockerd this script started (by pid)
#
# It never touches a system engine: its own socket, pidfile, data root and exec root, and its own
# containerd namespace. On success the last stdout line is `DOCKER_HOST=unix://...`.
# Exit 3 (with the reason on stderr) when an engine cannot be started here.
set -euo pipefail

cd "$(dirname "$0")/.."
PROJECT_DIR=$(pwd)

RUN_DIR=${CACHECTL_DOCKER_RUN_DIR:-/run/cachectl-docker}
DATA_ROOT=${CACHECTL_DOCKER_DATA_ROOT:-/var/lib/cachectl-docker}
SOCKET="$RUN_DIR/docker.sock"
PIDFILE="$RUN_DIR/dockerd.pid"
LOG="$RUN_DIR/dockerd.log"
export DOCKER_HOST="unix://$SOCKET"

# Image tags the Docker integration tests point config.docker.* at.
MEMCACHED_TAG=${CACHECTL_TEST_MEMCACHED_IMAGE:-cachectl-test/memcached:local}
TOXIPROXY_TAG=${CACHECTL_TEST_TOXIPROXY_IMAGE:-cachectl-test/toxiproxy:local}
PROXY_TAG=${CACHECTL_TEST_PROXY_IMAGE:-cachectl-test/proxy:local}
NODE_TAG=cachectl-test/node:local

log() { echo "docker-test-env: $*" >&2; }
unavailable() {
  log "cannot start a Docker engine: $*"
  exit 3
}

# The Debian client matches the Debian engine's API version; fall back to whatever is on PATH.
DOCKER_CLI=/usr/bin/docker
[ -x "$DOCKER_CLI" ] || DOCKER_CLI=docker
docker_cli() { "$DOCKER_CLI" "$@"; }

engine_answers() {
  [ -S "$SOCKET" ] && timeout 5 "$DOCKER_CLI" version --format '{{.Server.Version}}' >/dev/null 2>&1
}

our_dockerd_pid() {
  # The pid in our pidfile, only if that process really is the dockerd using our pidfile.
  [ -f "$PIDFILE" ] || return 1
  local pid
  pid=$(cat "$PIDFILE" 2>/dev/null) || return 1
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "--pidfile $PIDFILE" || return 1
  echo "$pid"
}

install_engine() {
  if command -v dockerd >/dev/null 2>&1 || [ -x /usr/sbin/dockerd ]; then return 0; fi
  command -v apt-get >/dev/null 2>&1 || unavailable "dockerd is not installed and apt-get is not available (install Docker Engine by hand)"
  log "installing Debian's docker.io (dockerd is missing)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends docker.io >"${TMPDIR:-/tmp}/cachectl-docker-apt.log" 2>&1 \
    || unavailable "apt-get install docker.io failed (see ${TMPDIR:-/tmp}/cachectl-docker-apt.log)"
}

start_engine() {
  if pid=$(our_dockerd_pid) && engine_answers; then
    log "private dockerd already running (pid $pid)"
    return 0
  fi
  [ "$(id -u)" = 0 ] || unavailable "dockerd must be started as root (run this script with sudo, or start an engine and set DOCKER_HOST)"
  install_engine
  local dockerd_bin
  dockerd_bin=$(command -v dockerd || echo /usr/sbin/dockerd)
  mkdir -p "$RUN_DIR" "$DATA_ROOT"
  rm -f "$SOCKET" "$PIDFILE"

  local driver attempt
  for driver in overlay2 vfs; do
    log "starting dockerd ($driver storage) on $SOCKET"
    # setsid: its own session, so a Ctrl-C in the caller's terminal doesn't reach it mid-test.
    setsid "$dockerd_bin" \
      --bridge=none --iptables=false --ip6tables=false --ip-masq=false \
      --storage-driver="$driver" \
      --data-root "$DATA_ROOT/$driver" \
      --exec-root "$RUN_DIR/exec" \
      --pidfile "$PIDFILE" \
      --host "unix://$SOCKET" \
      --containerd-namespace cachectl-test \
      --containerd-plugins-namespace cachectl-test-plugins \
      --log-level warn \
      </dev/null >>"$LOG" 2>&1 &
    local launched=$!
    for attempt in $(seq 1 150); do
      if engine_answers; then
        log "dockerd is up (pid $(cat "$PIDFILE" 2>/dev/null || echo "$launched"), $(docker_cli version --format '{{.Server.Version}}'))"
        return 0
      fi
      kill -0 "$launched" 2>/dev/null || break
      sleep 0.2
    done
    # Didn't come up: stop exactly what we launched, then try the next storage driver.
    kill -TERM "$launched" 2>/dev/null || true
    for attempt in $(seq 1 50); do kill -0 "$launched" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$launched" 2>/dev/null || true
    log "dockerd with $driver storage did not come up; last log lines:"
    tail -n 5 "$LOG" >&2 || true
  done
  unavailable "dockerd did not start (see $LOG)"
}

# Copy a binary and the shared libraries it loads into a root filesystem directory.
copy_with_libs() {
  local bin=$1 rootfs=$2 dest=${3:-$1}
  mkdir -p "$rootfs$(dirname "$dest")"
  cp -L "$bin" "$rootfs$dest"
  local lib
  for lib in $(ldd "$bin" 2>/dev/null | grep -o '/[^ ]*' || true); do
    [ -e "$lib" ] || continue
    mkdir -p "$rootfs$(dirname "$lib")"
    cp -L -n "$lib" "$rootfs$lib"
  done
}

base_rootfs() {
  local rootfs=$1
  mkdir -p "$rootfs"/{etc,tmp,usr/local/bin}
  chmod 1777 "$rootfs/tmp"
  printf 'root:x:0:0:root:/root:/bin/false\nmemcache:x:11211:11211:memcached:/tmp:/bin/false\nnode:x:1000:1000:node:/tmp:/bin/false\n' >"$rootfs/etc/passwd"
  printf 'root:x:0:\nmemcache:x:11211:\nnode:x:1000:\n' >"$rootfs/etc/group"
}

# Skip an import when the image already holds exactly these binaries (a label carries their hash).
image_current() {
  local tag=$1 fingerprint=$2
  [ "$(docker_cli image inspect -f '{{index .Config.Labels "io.cachectl.source"}}' "$tag" 2>/dev/null)" = "$fingerprint" ]
}

import_rootfs() {
  local rootfs=$1 tag=$2
  shift 2
  local source
  source=$( (cd "$rootfs" && find . -type f -print0 | sort -z | xargs -0 sha256sum; printf '%s\n' "$@") | sha256sum | cut -c1-16)
  if image_current "$tag" "$source"; then
    log "$tag is up to date"
    return 0
  fi
  local changes=(--change "LABEL io.cachectl.source=$source")
  local c
  for c in "$@"; do changes+=(--change "$c"); done
  tar -C "$rootfs" -c . | docker_cli import "${changes[@]}" - "$tag" >/dev/null
  log "built $tag ($(du -sh "$rootfs" | cut -f1))"
}

build_images() {
  local work
  work=$(mktemp -d "${TMPDIR:-/tmp}/cachectl-docker-images.XXXXXX")
  WORK_DIR=$work # removed on exit, also when a step fails

  # memcached: laid out like the official memcached:1.6-alpine image (binary on PATH, user memcache).
  local memcached_bin toxiproxy_bin node_bin
  memcached_bin=$(command -v memcached || echo /usr/bin/memcached)
  [ -x "$memcached_bin" ] || unavailable "memcached is not installed (run scripts/setup.sh)"
  base_rootfs "$work/memcached"
  copy_with_libs "$memcached_bin" "$work/memcached" /usr/local/bin/memcached
  import_rootfs "$work/memcached" "$MEMCACHED_TAG" \
    'ENV PATH=/usr/local/bin:/usr/bin:/bin' 'USER 11211:11211' 'CMD ["memcached"]'

  # toxiproxy: laid out like ghcr.io/shopify/toxiproxy (ENTRYPOINT /toxiproxy).
  toxiproxy_bin=$(command -v toxiproxy-server || echo /usr/local/bin/toxiproxy-server)
  [ -x "$toxiproxy_bin" ] || unavailable "toxiproxy-server is not installed (run scripts/setup.sh)"
  base_rootfs "$work/toxiproxy"
  copy_with_libs "$toxiproxy_bin" "$work/toxiproxy" /toxiproxy
  import_rootfs "$work/toxiproxy" "$TOXIPROXY_TAG" \
    'ENTRYPOINT ["/toxiproxy"]' 'CMD ["-host=0.0.0.0"]'

  # node: the host's node binary and libs, standing in for the official node image.
  node_bin=$(node -p process.execPath)
  base_rootfs "$work/node"
  copy_with_libs "$node_bin" "$work/node" /usr/local/bin/node
  # better-sqlite3's native addon needs libstdc++ & co. from the host, like node itself.
  local addon
  for addon in $(find node_modules -name '*.node' -path '*/Release/*' 2>/dev/null); do
    copy_with_libs "$PROJECT_DIR/$addon" "$work/node" "/tmp/addon.node"
  done
  rm -f "$work/node/tmp/addon.node"
  import_rootfs "$work/node" "$NODE_TAG" 'ENV PATH=/usr/local/bin:/usr/bin:/bin' 'ENV HOME=/tmp'

  # cachectl proxy: built from docker/Dockerfile for real, with the already built app as the
  # context (APP_SOURCE=context) instead of compiling from source, since npm ci needs a registry.
  if [ ! -d dist/commands ]; then
    log "dist/ is missing: running npm run build"
    npm run build >&2
  fi
  local ctx="$work/proxy-context"
  mkdir -p "$ctx/node_modules"
  cp -a package.json bin dist "$ctx/"
  # Production dependencies only (what `npm ci --omit=dev` would install).
  # (npm ls exits non-zero on extraneous packages; the list it prints is still right)
  { npm ls --omit=dev --all --parseable 2>/dev/null || true; } | sed -n "s#^$PROJECT_DIR/##p" | grep '^node_modules/' | sort -u \
    | while read -r dir; do
        [ -d "$ctx/$dir" ] && continue
        mkdir -p "$ctx/$(dirname "$dir")"
        cp -a "$dir" "$ctx/$dir"
      done
  DOCKER_BUILDKIT=1 docker_cli build --quiet -f docker/Dockerfile \
    --build-arg NODE_IMAGE="$NODE_TAG" --build-arg APP_SOURCE=context \
    -t "$PROXY_TAG" "$ctx" >/dev/null 2>"$work/build.log" \
    || { cat "$work/build.log" >&2; unavailable "docker build -f docker/Dockerfile failed"; }
  log "built $PROXY_TAG from docker/Dockerfile ($(du -sh "$ctx" | cut -f1) app)"
}

WORK_DIR=
trap '[ -z "$WORK_DIR" ] || rm -rf "$WORK_DIR"' EXIT

cmd=${1:-start}
case "$cmd" in
  start)
    start_engine
    build_images
    echo "DOCKER_HOST=$DOCKER_HOST"
    ;;
  engine)
    start_engine
    echo "DOCKER_HOST=$DOCKER_HOST"
    ;;
  images)
    engine_answers || unavailable "the private engine on $SOCKET is not running (run $0 start)"
    build_images
    echo "DOCKER_HOST=$DOCKER_HOST"
    ;;
  status)
    if engine_answers; then echo "DOCKER_HOST=$DOCKER_HOST"; else exit 3; fi
    ;;
  *)
    echo "usage: $0 [start|engine|images|status]" >&2
    exit 2
    ;;
esac
