#!/usr/bin/env bash
# Install test dependencies and services, then run the whole test suite (README command 2).
#
# Run 1: everything on the embedded configuration (SQLite, local durable queue, local files).
# Run 2 (only when no pytest arguments are given): the API/job/db/storage suites and tests/scaleout again
# on the scale-out configuration — real PostgreSQL, Redis and an S3 (moto) server on loopback, started by
# scripts/services.sh and stopped at the end even on failure. Set OPENLIPSYNC_SKIP_SCALEOUT=1 to skip it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test

# pytest exits 5 when it collected nothing: that must never pass as green.
run_pytest() {
  local code=0
  .venv/bin/python -m pytest "$@" || code=$?
  if [ $code -eq 5 ]; then echo "no tests were collected" >&2; code=1; fi
  return $code
}

echo "==> test run 1: embedded configuration (SQLite, local queue, local files)"
code1=0
run_pytest "$@" || code1=$?

code2=0
if [ $# -eq 0 ] && [ -z "${OPENLIPSYNC_SKIP_SCALEOUT:-}" ]; then
  echo "==> test run 2: scale-out configuration (PostgreSQL, Redis, S3 on loopback)"
  trap 'scripts/services.sh stop || true' EXIT
  if exports=$(scripts/services.sh start); then
    eval "$exports"
    suites=()
    for d in tests/api tests/jobs tests/db tests/storage tests/scaleout; do [ -d "$d" ] && suites+=("$d"); done
    run_pytest "${suites[@]}" || code2=$?
  else
    echo "could not start the scale-out services" >&2
    code2=1
  fi
fi

echo "==> embedded run exit code: $code1; scale-out run exit code: $code2"
[ $code1 -eq 0 ] && [ $code2 -eq 0 ]
