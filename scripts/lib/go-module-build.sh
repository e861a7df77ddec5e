# shellcheck shell=bash
# Sourced, not run: the shared steps of the install-*.sh scripts that build one Go tool once per
# machine from a module fetched through the Go module proxy.
#
#   go_module_build --module M --version V --package ./cmd/x --binary NAME --expect TEXT \
#     --name TOOL [--label L] [--building TEXT] [--ldflags FLAGS] [--prepare FUNCTION]
#
#   --module    module path (github.com/owner/repo)
#   --version   module version, as `go mod download` wants it (v1.2.3)
#   --package   package to build, relative to the module root (./cmd/x)
#   --binary    file name in $(go env GOBIN), or $(go env GOPATH)/bin when GOBIN is unset
#   --expect    text that `BINARY --version` prints for the wanted version; the binary is reused
#               when it does, and a fresh build must
#   --name      the tool's name in messages (FerretDB)
#   --label     the version in messages (default: --version)
#   --building  what the "building …" message says (default: "NAME LABEL")
#   --ldflags   passed to `go build -ldflags`
#   --prepare   a function called with the scratch copy's directory before the build, for the
#               changes the module needs to build or run; it runs as the left side of `||`, where
#               bash ignores `set -e`, so it must return non-zero itself when a step fails
#
# Prints the binary's path on stdout (and nothing else there); progress and errors go to stderr.
# Returns 0 when the binary is there, non-zero (1 for its own errors, or the failing go command's
# status) otherwise, so a script can end with the call and exit with its status.

# The version is read into a variable first: `BINARY --version | grep -q` would fail at random under
# pipefail, when grep exits early and the binary dies of SIGPIPE.
_go_module_build_reports() { # BINARY TEXT
  local out
  out="$("$1" --version 2>&1)" || return 1
  [[ "$out" == *"$2"* ]]
}

go_module_build() {
  local module="" version="" package="" binary="" expect="" name="" label="" building=""
  local ldflags="" prepare=""
  while [ $# -gt 0 ]; do
    [ $# -ge 2 ] || { echo "go_module_build: $1 needs a value" >&2; return 2; }
    case "$1" in
      --module) module="$2" ;;
      --version) version="$2" ;;
      --package) package="$2" ;;
      --binary) binary="$2" ;;
      --expect) expect="$2" ;;
      --name) name="$2" ;;
      --label) label="$2" ;;
      --building) building="$2" ;;
      --ldflags) ldflags="$2" ;;
      --prepare) prepare="$2" ;;
      *) echo "go_module_build: unknown option $1" >&2; return 2 ;;
    esac
    shift 2
  done
  local required
  for required in module version package binary expect name; do
    [ -n "${!required}" ] || { echo "go_module_build: --$required is required" >&2; return 2; }
  done
  [ -n "$label" ] || label="$version"
  [ -n "$building" ] || building="$name $label"

  command -v go >/dev/null || { echo "Go 1.22+ is required to build $name" >&2; return 1; }
  local gobin_dir bin
  gobin_dir="$(go env GOBIN)" || return
  [ -n "$gobin_dir" ] || gobin_dir="$(go env GOPATH)/bin" || return
  bin="$gobin_dir/$binary"

  if [ -x "$bin" ] && _go_module_build_reports "$bin" "$expect"; then
    echo "$bin"
    return 0
  fi

  echo "[roadpulse] building $building" >&2
  local start src_dir
  start=$(date +%s)
  src_dir="$(go mod download -json "$module@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')" || return
  [ -d "$src_dir" ] || { echo "go mod download $module@$version failed" >&2; return 1; }
  mkdir -p "$gobin_dir" || return

  # In a subshell, so the scratch directory's EXIT trap neither replaces nor outlives the caller's.
  # The module cache is read-only, hence the copy (and the chmod before removing it).
  (
    work="$(mktemp -d)" || exit
    trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
    cp -r "$src_dir/." "$work/" || exit
    chmod -R u+w "$work" || exit
    if [ -n "$prepare" ]; then "$prepare" "$work" || exit; fi
    # A private temporary name, then an atomic rename: two runs building at once never see half a
    # file.
    cd "$work" || exit
    if [ -n "$ldflags" ]; then
      go build -trimpath -ldflags "$ldflags" -o "$bin.tmp.$$" "$package" || exit
    else
      go build -trimpath -o "$bin.tmp.$$" "$package" || exit
    fi
    mv "$bin.tmp.$$" "$bin"
  ) || return

  _go_module_build_reports "$bin" "$expect" || { echo "built $name does not report $label" >&2; return 1; }
  echo "[roadpulse] $name $label built in $(($(date +%s) - start)) s: $bin" >&2
  echo "$bin"
}
