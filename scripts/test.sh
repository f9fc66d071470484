#!/usr/bin/env bash
# The whole test suite: unit, integration (real memcached + Toxiproxy), end-to-end (built CLI).
# Installs what it needs first (idempotent), so it works from a fresh clone.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npm run build
npx vitest run --project unit
npx vitest run --project integration
npx vitest run --project e2e
