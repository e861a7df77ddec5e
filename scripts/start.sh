#!/usr/bin/env bash
# The README's main command: installs what a fresh machine lacks, builds, and runs the local
# cluster in the foreground (Redis, FerretDB, the nodes). Ctrl-C or SIGTERM stops all of it.
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

ensure_workspace
ensure_redis_server_binary
ensure_nginx_binary
[ -n "${MONGODB_URI:-}" ] || ensure_ferretdb_binary
exec node "$ROOT/packages/devstack/dist/cluster-cli.js"
