# Shared helpers for the project's scripts. Sourced, never run.
# Everything a fresh machine lacks is installed here, by name, from the package registries.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export ROOT

# corepack fetches the pnpm pinned in package.json (checked against its sha512 there) without asking.
export COREPACK_ENABLE_DOWNLOAD_PROMPT=0

say() { printf '\033[1;34m[roadpulse]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[roadpulse]\033[0m %s\n' "$*" >&2; exit 1; }

pnpm_() { (cd "$ROOT" && corepack pnpm "$@"); }

apt_install() {
  command -v apt-get >/dev/null || die "apt-get not found: install $* by hand"
  say "installing Debian packages: $*"
  if [ ! -f /var/lib/apt/periodic/roadpulse-updated ] || [ -z "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v lock)" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    mkdir -p /var/lib/apt/periodic && touch /var/lib/apt/periodic/roadpulse-updated
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

ensure_node() {
  command -v node >/dev/null || die "Node.js 20.19+ is required"
  local major minor
  IFS=. read -r major minor _ <<<"$(node -p 'process.versions.node')"
  if [ "$major" -lt 20 ] || { [ "$major" -eq 20 ] && [ "$minor" -lt 19 ]; }; then
    die "Node.js 20.19+ is required (found $(node --version))"
  fi
  command -v corepack >/dev/null || die "corepack (shipped with Node.js) is required"
}

# Installs the workspace's dependencies from the lockfile and compiles TypeScript.
ensure_workspace() {
  ensure_node
  say "installing dependencies (pnpm, frozen lockfile)"
  pnpm_ install --frozen-lockfile --reporter=append-only 2>&1 | grep -vE '^(Progress|Packages:|\+)' >&2 || true
  [ -d "$ROOT/node_modules/.pnpm" ] || die "pnpm install failed"
  say "compiling TypeScript"
  pnpm_ run --silent build
}

ensure_nginx_binary() {
  [ -x /usr/sbin/nginx ] || apt_install nginx-light
}

ensure_redis_server_binary() {
  command -v redis-server >/dev/null || apt_install redis-server
  command -v redis-cli >/dev/null || apt_install redis-tools
}

# promtool and prometheus, used by the ops tests (never run as a system service: the tests start
# their own on a free port). A package's post-install script would start the packaged Prometheus on
# 9090 where services may start; a temporary policy-rc.d that refuses every start prevents that.
ensure_prometheus_binaries() {
  [ -x /usr/bin/promtool ] && [ -x /usr/bin/prometheus ] && return 0
  local policy=/usr/sbin/policy-rc.d placed=""
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && placed=1
  fi
  apt_install prometheus || { [ -z "$placed" ] || rm -f "$policy"; die "installing prometheus failed"; }
  [ -z "$placed" ] || rm -f "$policy"
}

# Debian's Chromium for the ops map's browser tests, driven by playwright-core (a dev dependency).
ensure_chromium() {
  [ -x /usr/bin/chromium ] || apt_install chromium
}

# The Compose file is validated with docker-compose's own `config` (no Docker engine needed).
ensure_docker_compose() {
  command -v docker-compose >/dev/null || apt_install docker-compose
}

# Checkers the ops tests build or run: upstream promtool (Kubernetes discovery) and the modules of
# tools/k8s-strict, fetched here so the tests themselves only compile.
ensure_ops_checkers() {
  command -v go >/dev/null || die "Go 1.22+ is required (README)"
  PROMTOOL_UPSTREAM_BIN="$("$ROOT/scripts/lib/install-promtool-upstream.sh")"
  export PROMTOOL_UPSTREAM_BIN
  (cd "$ROOT/tools/k8s-strict" && go mod download)
}

ensure_ferretdb_binary() {
  FERRETDB_BIN="$("$ROOT/scripts/lib/install-ferretdb.sh")"
  export FERRETDB_BIN
}

# PostgreSQL for FerretDB's postgresql backend (ROADPULSE_STORE_BACKEND=postgresql). With
# ROADPULSE_POSTGRES_URL the server is someone else's: only psql is needed. Otherwise the local
# cluster: installed (Debian package `postgresql`) when missing, started when stopped, and given a
# superuser role for this OS user, so the default URL (the unix socket, `peer` authentication) works.
ensure_postgresql() {
  if [ -n "${ROADPULSE_POSTGRES_URL:-}" ]; then
    command -v psql >/dev/null || apt_install postgresql-client
    return 0
  fi
  command -v pg_lsclusters >/dev/null || apt_install postgresql
  if ! pg_isready -q -h /var/run/postgresql -t 3; then
    local version
    version="$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)"
    [ -n "$version" ] || die "PostgreSQL is installed but has no cluster: create one with pg_createcluster <version> main"
    say "starting PostgreSQL $version/main"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start ||
      die "PostgreSQL $version/main did not start: see /var/log/postgresql/postgresql-$version-main.log"
    local i
    for i in $(seq 1 60); do
      pg_isready -q -h /var/run/postgresql -t 1 && break
      sleep 0.5
    done
    pg_isready -q -h /var/run/postgresql -t 1 || die "PostgreSQL $version/main is not answering on /var/run/postgresql"
  fi
  local me
  me="$(id -un)"
  if ! psql -X -q -At -d "postgres:///postgres?host=/var/run/postgresql" -c "select 1" >/dev/null 2>&1; then
    [ "$me" = postgres ] || [ "$(id -u)" -eq 0 ] || die "PostgreSQL refuses role $me: ask an administrator for 'createuser -s $me'"
    say "creating the PostgreSQL role $me (superuser: it creates and drops FerretDB's databases)"
    runuser -u postgres -- createuser -s "$me"
  fi
}

# What the chosen store backend needs (cluster-cli reads the same variable; sqlite needs nothing).
ensure_store_backend() {
  case "${1:-}" in
    postgresql) ensure_postgresql ;;
    sqlite) ;;
    *) die "ROADPULSE_STORE_BACKEND must be sqlite or postgresql, got '${1:-}'" ;;
  esac
}
