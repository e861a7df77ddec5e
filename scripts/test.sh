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
[ -n "${TEST_MONGODB_BASE_URI:-}" ] || ensure_ferretdb_binary
say "lint and type check (sources and tests)"
pnpm_ run --silent lint
pnpm_ run --silent typecheck
say "tests"
cd "$ROOT"
exec corepack pnpm exec vitest run "$@"
