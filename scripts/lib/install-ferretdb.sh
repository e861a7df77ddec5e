#!/usr/bin/env bash
# Builds FerretDB v1.24.2 once per machine into $(go env GOPATH)/bin and prints the binary's path.
# Reused when the right version is already there, so only the first run pays for the build.
#
# Why not a bare `go install github.com/FerretDB/FerretDB/cmd/ferretdb@v1.24.2`: that builds, but the
# binary panics at start ("Invalid build/version/version.txt file content. Please run
# `bin/task gen-version`"), because FerretDB embeds a version file that only its own release tooling
# writes. So the same module, fetched through the Go module proxy, is built from a scratch copy with
# that one file written, which is what FerretDB's error message asks for.
set -euo pipefail

VERSION=v1.24.2
MODULE=github.com/FerretDB/FerretDB

command -v go >/dev/null || { echo "Go 1.22+ is required to build FerretDB" >&2; exit 1; }
GOBIN_DIR="$(go env GOBIN)"
[ -n "$GOBIN_DIR" ] || GOBIN_DIR="$(go env GOPATH)/bin"
BIN="$GOBIN_DIR/ferretdb"

# The version is read into a variable first: `ferretdb --version | grep -q` would fail at random
# under pipefail, when grep exits early and ferretdb dies of SIGPIPE.
reports_version() {
  local out
  out="$("$1" --version 2>/dev/null)" || return 1
  [[ "$out" == *"version: $VERSION"* ]]
}

if [ -x "$BIN" ] && reports_version "$BIN"; then
  echo "$BIN"
  exit 0
fi

echo "[roadpulse] building FerretDB $VERSION (once per machine, about a minute)" >&2
start=$(date +%s)
src_dir="$(go mod download -json "$MODULE@$VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
[ -d "$src_dir" ] || { echo "go mod download $MODULE@$VERSION failed" >&2; exit 1; }
work="$(mktemp -d)"
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
cp -r "$src_dir/." "$work/"
chmod -R u+w "$work"
echo "$VERSION" >"$work/build/version/version.txt"
mkdir -p "$GOBIN_DIR"
# A private temporary name, then an atomic rename: two runs building at once never see half a file.
(cd "$work" && go build -trimpath -o "$BIN.tmp.$$" ./cmd/ferretdb)
mv "$BIN.tmp.$$" "$BIN"
reports_version "$BIN" || { echo "built FerretDB does not report $VERSION" >&2; exit 1; }
echo "[roadpulse] FerretDB $VERSION built in $(($(date +%s) - start)) s: $BIN" >&2
echo "$BIN"
