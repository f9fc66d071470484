#!/usr/bin/env bash
# Install what cachectl's local runtime needs, where it is missing, then install npm packages and
# build. Idempotent: a second run changes nothing and takes a few seconds.
#
#   memcached 1.6            OS packages (apt-get on Debian/Ubuntu, Homebrew on macOS)
#   memcslap, nutcracker     OS packages, used by the proxy benchmark (npm run bench:proxy)
#   toxiproxy-server 2.12.0  `go install github.com/Shopify/toxiproxy/v2/cmd/server@v2.12.0`
#                            (Homebrew on macOS; the GitHub release binary when there is no Go)
#   node_modules             `npm ci`, only when missing or older than package-lock.json
#   dist/                    `npm run build`
#
# Extension hook: every scripts/setup.d/*.sh runs afterwards, in name order (other parts of the
# project add their own optional steps there).
#
# Environment: CACHECTL_SETUP_SKIP_NPM=1 skips npm ci and the build (CI images that cache them).
# Exit codes: 0 ready, 2 the build failed (type errors), 3 something required could not be installed
# (the message says what to do).
set -euo pipefail

cd "$(dirname "$0")/.."

TOXIPROXY_VERSION=2.12.0
TOXIPROXY_MODULE="github.com/Shopify/toxiproxy/v2/cmd/server@v${TOXIPROXY_VERSION}"
NODE_MAJOR_MIN=20

log() { echo "setup: $*" >&2; }
die() {
  echo "setup: error: $*" >&2
  exit 3
}

OS=$(uname -s)
TMP_DIRS=()
cleanup() { [ "${#TMP_DIRS[@]}" -eq 0 ] || rm -rf "${TMP_DIRS[@]}"; }
trap cleanup EXIT
# Debian puts some daemons in /usr/sbin, which is not on every user's PATH.
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/usr/local/sbin/$1" ]; }

# ----- privileges: root, else passwordless sudo, else nothing -------------------------------
SUDO=""
CAN_ROOT=0
if [ "$(id -u)" -eq 0 ]; then
  CAN_ROOT=1
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  SUDO="sudo -n"
  CAN_ROOT=1
fi

# ----- Node.js --------------------------------------------------------------------------------
command -v node >/dev/null 2>&1 || die "Node.js >= ${NODE_MAJOR_MIN} is required: install it from https://nodejs.org or your package manager, then rerun scripts/setup.sh"
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge "$NODE_MAJOR_MIN" ] || die "Node.js >= ${NODE_MAJOR_MIN} is required, found $(node --version)"

# ----- OS packages ------------------------------------------------------------------------------
APT_UPDATED=0
apt_install() {
  # apt-get update only when the package lists do not know the packages yet (fresh machines).
  local pkgs=("$@")
  if [ "$APT_UPDATED" -eq 0 ]; then
    local p
    for p in "${pkgs[@]}"; do
      if ! apt-cache show "$p" >/dev/null 2>&1; then
        log "apt-get update (package lists do not know $p yet)"
        $SUDO apt-get update -qq >&2
        APT_UPDATED=1
        break
      fi
    done
  fi
  log "apt-get install ${pkgs[*]}"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >&2
}

install_os_packages() {
  # $1 = required (1) or optional (0); then the packages
  local required=$1
  shift
  if [ "$OS" = "Darwin" ]; then
    if command -v brew >/dev/null 2>&1; then
      brew install "$@" >&2 && return 0
    fi
    [ "$required" -eq 1 ] && die "cannot install $*: install Homebrew (https://brew.sh) and run: brew install $*"
    log "warning: could not install $* (optional: used by the proxy benchmark); install with Homebrew"
    return 0
  fi
  if command -v apt-get >/dev/null 2>&1 && [ "$CAN_ROOT" -eq 1 ]; then
    if apt_install "$@"; then return 0; fi
  fi
  if [ "$required" -eq 1 ]; then
    if ! command -v apt-get >/dev/null 2>&1; then
      die "cannot install $*: no apt-get here; install memcached 1.6 with your package manager (dnf/yum/apk install memcached) and rerun"
    fi
    die "cannot install $*: run as root or with passwordless sudo, or run: sudo apt-get install $*"
  fi
  log "warning: could not install $* (optional: used by the proxy benchmark only)"
}

if have memcached; then
  log "memcached present: $( (memcached -V 2>/dev/null || /usr/sbin/memcached -V 2>/dev/null) | head -1)"
else
  install_os_packages 1 memcached
  have memcached || die "memcached is still not on PATH after installing it"
fi
mc_version=$( (memcached -V 2>/dev/null || /usr/sbin/memcached -V) | awk '{print $2}')
case "$mc_version" in
  1.6.*) ;;
  *) log "warning: memcached $mc_version found; cachectl is tested with 1.6.x" ;;
esac

optional=()
have memcslap || have memcaslap || optional+=(libmemcached-tools)
if [ "$OS" = "Darwin" ]; then
  have nutcracker || optional+=(twemproxy)
  [ "${#optional[@]}" -gt 0 ] && optional=("${optional[@]/libmemcached-tools/libmemcached}")
else
  have nutcracker || optional+=(nutcracker)
fi
if [ "${#optional[@]}" -gt 0 ]; then
  install_os_packages 0 "${optional[@]}"
fi

# ----- Toxiproxy server -------------------------------------------------------------------------
install_binary() {
  # $1 = built binary; installs it as toxiproxy-server in /usr/local/bin or ~/.local/bin
  local src=$1 dest
  if [ "$CAN_ROOT" -eq 1 ]; then
    dest=/usr/local/bin/toxiproxy-server
    $SUDO install -m 0755 "$src" "$dest"
  else
    dest="$HOME/.local/bin/toxiproxy-server"
    mkdir -p "$HOME/.local/bin"
    install -m 0755 "$src" "$dest"
    case ":$PATH:" in
      *":$HOME/.local/bin:"*) ;;
      *) log "NOTE: add ~/.local/bin to PATH (export PATH=\"\$HOME/.local/bin:\$PATH\") so cachectl finds toxiproxy-server" ;;
    esac
  fi
  log "installed toxiproxy-server ${TOXIPROXY_VERSION} as $dest"
}

install_toxiproxy() {
  local tmp
  tmp=$(mktemp -d)
  TMP_DIRS+=("$tmp")
  if command -v go >/dev/null 2>&1; then
    log "go install ${TOXIPROXY_MODULE}"
    if GOBIN="$tmp" GOFLAGS=-mod=mod go install "$TOXIPROXY_MODULE" >&2 && [ -x "$tmp/server" ]; then
      install_binary "$tmp/server"
      return 0
    fi
    log "warning: go install failed"
  fi
  if [ "$OS" = "Darwin" ] && command -v brew >/dev/null 2>&1; then
    brew install toxiproxy >&2 && return 0
  fi
  local arch
  case "$(uname -m)" in
    x86_64 | amd64) arch=amd64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) arch="" ;;
  esac
  if [ "$OS" = "Linux" ] && [ -n "$arch" ] && command -v curl >/dev/null 2>&1; then
    local url="https://github.com/Shopify/toxiproxy/releases/download/v${TOXIPROXY_VERSION}/toxiproxy-server-linux-${arch}"
    log "downloading $url"
    if curl -fsSL --retry 2 -o "$tmp/server" "$url"; then
      chmod +x "$tmp/server"
      install_binary "$tmp/server"
      return 0
    fi
  fi
  die "cannot install the Toxiproxy server ${TOXIPROXY_VERSION}: install Go (https://go.dev/dl) and rerun, or run \`go install ${TOXIPROXY_MODULE}\` and copy the \`server\` binary to toxiproxy-server on PATH (macOS: brew install toxiproxy)"
}

if have toxiproxy-server || [ -x "$HOME/.local/bin/toxiproxy-server" ]; then
  log "toxiproxy-server present: $(command -v toxiproxy-server || echo "$HOME/.local/bin/toxiproxy-server")"
else
  install_toxiproxy
fi

# ----- npm packages and build -------------------------------------------------------------------
BUILD_RC=0
if [ "${CACHECTL_SETUP_SKIP_NPM:-0}" != "1" ]; then
  # npm writes node_modules/.package-lock.json on every install: older than the lock file = stale.
  if [ ! -d node_modules ] || [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    log "npm ci"
    npm ci --no-audit --no-fund >&2
  else
    log "node_modules up to date with package-lock.json"
  fi
  log "npm run build"
  npm run --silent build >&2 || BUILD_RC=$?
fi

# ----- extension hook ---------------------------------------------------------------------------
if [ -d scripts/setup.d ]; then
  for step in scripts/setup.d/*.sh; do
    [ -e "$step" ] || continue
    log "running $step"
    bash "$step"
  done
fi

if [ "$BUILD_RC" -ne 0 ]; then
  echo "setup: error: npm run build failed (exit $BUILD_RC): fix the TypeScript errors above" >&2
  exit 2
fi
log "ready: memcached $(echo "$mc_version"), toxiproxy-server $(command -v toxiproxy-server || echo "$HOME/.local/bin/toxiproxy-server")"
