#!/usr/bin/env bash
# Headless Chromium for the HTML report tests (test/report/*.int.test.ts open the report in it).
# Installs Debian's `chromium` package when /usr/bin/chromium is missing; a no-op otherwise.
# Never fails the caller: if it cannot install (no root, no apt), the report browser tests skip
# and print why.
set -uo pipefail

CHROMIUM=/usr/bin/chromium
if [ -x "$CHROMIUM" ]; then
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-chromium: apt-get not found; install Chromium so that $CHROMIUM exists (report browser tests will skip)" >&2
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
  else
    echo "install-chromium: not root and no passwordless sudo; run: sudo apt-get install -y chromium (report browser tests will skip)" >&2
    exit 0
  fi
fi

echo "install-chromium: installing Debian's chromium (needed by the HTML report browser tests)" >&2
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y --no-install-recommends chromium >/dev/null; then
  # The package lists may be stale on a fresh machine: refresh once, then retry.
  $SUDO apt-get update >/dev/null || true
  $SUDO apt-get install -y --no-install-recommends chromium >/dev/null || {
    echo "install-chromium: apt-get install chromium failed (report browser tests will skip)" >&2
    exit 0
  }
fi
[ -x "$CHROMIUM" ] && echo "install-chromium: $($CHROMIUM --version 2>/dev/null || echo chromium installed)" >&2
exit 0
