#!/usr/bin/env bash
# Memory on a long input (SPEC: peak RSS <= 1.5 GiB on a 10-minute 1080p input). Takes a long time.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/tmp/openlipsync-bench-long}
mkdir -p "$out"
exec .venv/bin/openlipsync bench --models lipsync-2 --synthetic 1080p --seconds 600 --no-shared-media \
  --json "$out/bench.json"
