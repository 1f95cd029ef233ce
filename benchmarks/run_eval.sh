#!/usr/bin/env bash
# Quality harness as quoted in issue 4: cross-segment reconstruction, both directions, all references.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/tmp/openlipsync-eval}
exec .venv/bin/openlipsync eval -m lipsync-2 -m lipsync-1.9 --out "$out"
