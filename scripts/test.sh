#!/usr/bin/env bash
# The whole test suite (`npm test`): setup (installs what is missing, builds), typecheck, then the
# three tiers: unit (no network), integration (real memcached + Toxiproxy on free ports) and
# end-to-end (the built CLI). Every tier runs even when an earlier one fails; the exit code is
# non-zero when any failed. Works from a fresh clone.
#
#   npm test                      everything
#   npm test -- unit e2e          only these tiers (typecheck, unit, integration, e2e)
set -uo pipefail
cd "$(dirname "$0")/.."

failed=()
if ! bash scripts/setup.sh; then
  # A type error makes `npm run build` fail but tsc still writes dist/: run what can run, so the
  # report shows every failure at once; without node_modules or dist/ nothing can.
  if [ ! -d node_modules ] || [ ! -d dist/commands ]; then
    echo "test suite FAILED: scripts/setup.sh could not install or build (see above)" >&2
    exit 3
  fi
  echo "=== setup: FAILED (continuing with the tiers) ===" >&2
  failed+=(setup)
fi

tiers=("$@")
[ "${#tiers[@]}" -gt 0 ] || tiers=(typecheck unit integration e2e)

for tier in "${tiers[@]}"; do
  start=$(date +%s)
  echo "=== $tier ===" >&2
  case "$tier" in
    typecheck) npx tsc -p tsconfig.json --noEmit ;;
    unit | integration | e2e) npx vitest run --project "$tier" ;;
    *) echo "unknown tier '$tier' (typecheck, unit, integration, e2e)" >&2; exit 2 ;;
  esac
  rc=$?
  echo "=== $tier: $([ $rc -eq 0 ] && echo passed || echo "FAILED (exit $rc)") in $(( $(date +%s) - start )) s ===" >&2
  [ $rc -eq 0 ] || failed+=("$tier")
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo "test suite FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "test suite passed: ${tiers[*]}" >&2
