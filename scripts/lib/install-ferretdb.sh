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
# shellcheck source=go-module-build.sh
source "$(dirname "${BASH_SOURCE[0]}")/go-module-build.sh"

VERSION=v1.24.2

write_version_file() {
  echo "$VERSION" >"$1/build/version/version.txt"
}

go_module_build \
  --module github.com/FerretDB/FerretDB \
  --version "$VERSION" \
  --package ./cmd/ferretdb \
  --binary ferretdb \
  --expect "version: $VERSION" \
  --name FerretDB \
  --building "FerretDB $VERSION (once per machine, about a minute)" \
  --prepare write_version_file
