#!/usr/bin/env bash
# The README's main command: installs what a fresh machine lacks, builds, and runs the local
# cluster in the foreground (Redis, FerretDB, the nodes). Ctrl-C or SIGTERM stops all of it.
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

ensure_workspace
ensure_redis_server_binary
ensure_nginx_binary
if [ -z "${MONGODB_URI:-}" ]; then
  # FerretDB's backend; the default was chosen by measurement (docs/store-backend.md) and is the
  # same as cluster-cli's.
  export ROADPULSE_STORE_BACKEND="${ROADPULSE_STORE_BACKEND:-postgresql}"
  ensure_store_backend "$ROADPULSE_STORE_BACKEND"
  ensure_ferretdb_binary
fi
exec node "$ROOT/packages/devstack/dist/cluster-cli.js"
