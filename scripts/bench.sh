#!/usr/bin/env bash
# `pnpm bench <name>`: builds, then runs packages/bench/src/<name>.ts against real local services.
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

name="${1:-}"
[ -n "$name" ] || die "usage: pnpm bench <name>   (one of: $(cd "$ROOT/packages/bench/src" && ls *.ts | grep -v stats | sed 's/\.ts$//' | tr '\n' ' '))"
[ -f "$ROOT/packages/bench/src/$name.ts" ] || die "no benchmark named $name"
shift
ensure_workspace
ensure_redis_server_binary
ensure_nginx_binary
[ -n "${MONGODB_URI:-}" ] || ensure_ferretdb_binary
# `store` compares FerretDB's SQLite and PostgreSQL backends.
[ "$name" != store ] || ensure_postgresql
# The fleet benchmark runs the local cluster's store, on the local cluster's backend.
[ "$name" != fleet ] || [ -n "${MONGODB_URI:-}" ] || ensure_store_backend "${ROADPULSE_STORE_BACKEND:-postgresql}"
exec node "$ROOT/packages/bench/dist/$name.js" "$@"
