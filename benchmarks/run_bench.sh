#!/usr/bin/env bash
# Speed bench as quoted in issue 5: floor and engine in the same run, per-run peak RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/tmp/openlipsync-bench}
mkdir -p "$out"
exec .venv/bin/openlipsync bench --models lipsync-1.9,lipsync-2 --synthetic 720p,1080p --seconds 10 \
  --json "$out/bench.json"
