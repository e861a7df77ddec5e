#!/usr/bin/env bash
# `pnpm faults`: the fault suite (packages/server/test/faults): every part of the cluster killed,
# paused or restarted while a fleet of 50 devices drives it, each on a stack of its own (FerretDB
# on PostgreSQL, Redis, nodes, nginx). Prints one table of what each fault did; exits non-zero
# when a figure misses its target. Extra arguments go to vitest (e.g. a file name to run one).
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

ensure_workspace
ensure_redis_server_binary
ensure_nginx_binary
ensure_ferretdb_binary
ensure_store_backend postgresql
ensure_postgresql
report="$(mktemp -t roadpulse-faults.XXXXXX)"
trap 'rm -f "$report"' EXIT
say "fault suite"
cd "$ROOT"
status=0
FAULTS_REPORT="$report" corepack pnpm exec vitest run "${@:-packages/server/test/faults}" || status=$?
node "$ROOT/scripts/lib/fault-table.mjs" "$report"
exit "$status"
