#!/bin/sh
# Writes the two per-environment files the top-level nginx.conf includes, for docker-compose:
#   listen.conf            `listen ${LISTEN_PORT};`
#   upstream-servers.conf  one `server <ip>:<port> …;` line per replica of the API service
# and keeps the second one current while the service is scaled up or down.
#
# nginx resolves an upstream's host names once, at start or reload; with `--scale api=N` Docker's
# DNS answers `api` with one address per replica, and that set changes as replicas come and go.
# So this script resolves the name itself every RESOLVE_INTERVAL seconds and reloads nginx (a
# graceful reload: open WebSockets stay on their old workers) only when the set changed.
#
# The official nginx image runs every /docker-entrypoint.d/*.sh before starting nginx: this one
# writes the files once in the foreground, then leaves a watcher running in the background.
# `--once` writes them and exits (used by the tests).
set -eu

UPSTREAM_SERVICE="${UPSTREAM_SERVICE:-api}"
UPSTREAM_PORT="${UPSTREAM_PORT:-5000}"
LISTEN_PORT="${LISTEN_PORT:-8080}"
RESOLVE_INTERVAL="${RESOLVE_INTERVAL:-5}"
NGINX_CONF_DIR="${NGINX_CONF_DIR:-/etc/nginx}"
NGINX_RELOAD="${NGINX_RELOAD:-nginx -s reload}"
NGINX_TEST="${NGINX_TEST:-nginx -t -q}"

log() { echo "roadpulse-upstreams: $*" >&2; }

# Every IPv4 address of the service, sorted, one per line (empty while no replica is up).
resolve() {
  getent ahostsv4 "$UPSTREAM_SERVICE" 2>/dev/null | awk '{ print $1 }' | sort -u
}

# Writes upstream-servers.conf when the address set differs; exit status 0 means "changed".
write_upstreams() {
  target="$NGINX_CONF_DIR/upstream-servers.conf"
  next="$target.next"
  addresses="$(resolve)"
  if [ -z "$addresses" ]; then
    # nginx refuses an upstream block without servers. A closed local port answers 502 at once
    # until the first replica is resolvable.
    echo "server 127.0.0.1:9 max_fails=0; # no ${UPSTREAM_SERVICE} replica resolved yet" >"$next"
  else
    # Same failure policy as the local cluster: one failure skips a node for 3 s.
    echo "$addresses" | awk -v port="$UPSTREAM_PORT" '{ printf "server %s:%s max_fails=1 fail_timeout=3s;\n", $1, port }' >"$next"
  fi
  if [ -f "$target" ] && cmp -s "$next" "$target"; then
    rm -f "$next"
    return 1
  fi
  mv "$next" "$target"
  log "upstreams for ${UPSTREAM_SERVICE}: $(echo "$addresses" | tr '\n' ' ')"
  return 0
}

echo "listen ${LISTEN_PORT};" >"$NGINX_CONF_DIR/listen.conf"
write_upstreams || true
[ "${1:-}" = "--once" ] && exit 0

(
  while sleep "$RESOLVE_INTERVAL"; do
    if write_upstreams; then
      # A configuration nginx would refuse is never loaded: the running one stays.
      if $NGINX_TEST 2>/dev/null; then $NGINX_RELOAD || log "reload failed"; else log "nginx -t failed; not reloading"; fi
    fi
  done
) &
