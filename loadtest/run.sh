#!/usr/bin/env bash
# Runs roadpulse-sim from this checkout (building it when needed) against ROADPULSE_URL
# (default: the local cluster of scripts/start.sh). The scenarios call this; so can you:
#   loadtest/run.sh fleet --devices 10 --duration 30s
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CLI="$ROOT/packages/simulator/dist/cli.js"
if [ ! -f "$CLI" ]; then
  (cd "$ROOT" && corepack pnpm install --frozen-lockfile >&2 && corepack pnpm run --silent build >&2)
fi
command="$1"
shift
# The URL goes first so that a --url given to a scenario overrides it.
exec node "$CLI" "$command" --url "${ROADPULSE_URL:-http://127.0.0.1:8080}" "$@"
