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
# shellcheck source=go-module-build.sh
source "$(dirname "${BASH_SOURCE[0]}")/go-module-build.sh"

VERSION=0.54.1
RELEASE=2.54.1

# Prometheus' module versions are v0.x while its releases are 2.x: the release number is stamped
# in, so `--version` reports 2.54.1 as upstream's own builds do.
go_module_build \
  --module github.com/prometheus/prometheus \
  --version "v$VERSION" \
  --package ./cmd/promtool \
  --binary promtool-upstream \
  --expect "version $RELEASE" \
  --name promtool \
  --label "$RELEASE" \
  --building "promtool $RELEASE with Kubernetes discovery (once per machine, a few minutes)" \
  --ldflags "-X github.com/prometheus/common/version.Version=$RELEASE"
