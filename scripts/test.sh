#!/usr/bin/env bash
# The README's test command: installs what a fresh machine lacks, builds, then runs lint,
# the type check and every test. Tests start their own redis-server and FerretDB on free ports.
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

ensure_workspace
ensure_redis_server_binary
ensure_nginx_binary
ensure_prometheus_binaries
ensure_docker_compose
ensure_ops_checkers
ensure_chromium
if [ -z "${TEST_MONGODB_BASE_URI:-}" ]; then
  ensure_ferretdb_binary
  # The suite runs on TEST_STORE_BACKEND (SQLite by default); store-backend.test.ts runs a node on
  # the other backend, so PostgreSQL is needed either way.
  ensure_store_backend "${TEST_STORE_BACKEND:-sqlite}"
  ensure_postgresql
fi
say "lint and type check (sources and tests)"
pnpm_ run --silent lint
pnpm_ run --silent typecheck
say "tests"
cd "$ROOT"
exec corepack pnpm exec vitest run "$@"
