#!/usr/bin/env bash
# Static checks: lint (ruff) and types (mypy) over the package.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check src tests
.venv/bin/mypy --ignore-missing-imports src/openlipsync
