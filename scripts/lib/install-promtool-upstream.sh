#!/usr/bin/env bash
# Builds Prometheus' own promtool (v2.54.1, Go module v0.54.1) once per machine into
# $(go env GOPATH)/bin/promtool-upstream and prints its path. Reused when already there.
#
# Why a second promtool: Debian's prometheus package leaves Kubernetes service discovery out of
# its build, so its promtool rejects `kubernetes_sd_configs` ("field kubernetes_sd_configs not
# found"). The Kubernetes scrape config is checked with the upstream build; everything else uses
# Debian's. The module has `replace` directives, so `go install …@version` refuses it: it is built
# from a scratch copy of the module fetched through the Go module proxy instead.
set -euo pipefail

VERSION=0.54.1
RELEASE=2.54.1
MODULE=github.com/prometheus/prometheus

command -v go >/dev/null || { echo "Go 1.22+ is required to build promtool" >&2; exit 1; }
GOBIN_DIR="$(go env GOBIN)"
[ -n "$GOBIN_DIR" ] || GOBIN_DIR="$(go env GOPATH)/bin"
BIN="$GOBIN_DIR/promtool-upstream"

# Read into a variable, not `| grep -q`: under pipefail an early grep exit can fail the check.
reports_release() {
  local out
  out="$("$1" --version 2>&1)" || return 1
  [[ "$out" == *"version $RELEASE"* ]]
}

if [ -x "$BIN" ] && reports_release "$BIN"; then
  echo "$BIN"
  exit 0
fi

echo "[roadpulse] building promtool $RELEASE with Kubernetes discovery (once per machine, a few minutes)" >&2
start=$(date +%s)
src_dir="$(go mod download -json "$MODULE@v$VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
[ -d "$src_dir" ] || { echo "go mod download $MODULE@v$VERSION failed" >&2; exit 1; }
work="$(mktemp -d)"
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
cp -r "$src_dir/." "$work/"
chmod -R u+w "$work"
mkdir -p "$GOBIN_DIR"
(cd "$work" && go build -trimpath \
  -ldflags "-X github.com/prometheus/common/version.Version=$RELEASE" \
  -o "$BIN.tmp" ./cmd/promtool)
mv "$BIN.tmp" "$BIN"
reports_release "$BIN" || { echo "built promtool does not report $RELEASE" >&2; exit 1; }
echo "[roadpulse] promtool $RELEASE built in $(($(date +%s) - start)) s: $BIN" >&2
echo "$BIN"
