#!/usr/bin/env bash
# Build a Go example, examples/go/compute.go (the default) or examples/go/subscribe.go, offline,
# from Debian packages only, as tests/go/build.sh builds the Go test peer.
#
#   examples/go/build.sh [-program compute|subscribe] OUT_BINARY [BUILD_DIR]
#
# BUILD_DIR (default: $(dirname OUT_BINARY)/go-example-build) holds a GOPATH with the code
# generated from protos/idc/v2/indicators.proto (its go_package, idc/v2, is the import path) and
# the example's source, and the build cache. Prints nothing on success; a second run comes from
# the cache in well under a second. Missing packages are installed with apt-get when run as root;
# otherwise the apt-get command is printed and the script fails.
#
# Why GOPATH mode: Debian ships Go libraries as source under /usr/share/gocode, usable only by
# GOPATH builds; module mode would want to download them.
set -euo pipefail

program=compute
if [[ ${1:-} == -program ]]; then
    program=${2:-}
    shift 2 || true
fi
if [[ $# -lt 1 || $# -gt 2 || ! $program =~ ^(compute|subscribe)$ ]]; then
    echo "usage: $0 [-program compute|subscribe] OUT_BINARY [BUILD_DIR]" >&2
    exit 2
fi

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
protos=$(cd "$here/../../protos" && pwd)
mkdir -p "$(dirname "$1")"
out="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
build_dir=${2:-$(dirname "$out")/go-example-build}
mkdir -p "$build_dir"
build_dir=$(cd "$build_dir" && pwd)
gocode=/usr/share/gocode/src

# The Debian packages every Go peer builds with (see scripts/debian_packages.sh).
# shellcheck source=../../scripts/debian_packages.sh
source "$here/../../scripts/debian_packages.sh"
idc_require_go_packages "$gocode"

# One build at a time per BUILD_DIR (tests may call this concurrently).
if command -v flock >/dev/null; then
    exec 9>"$build_dir/.lock"
    flock 9
fi

gopath=$build_dir/gopath
# Each program is a package main of its own, idc/PROGRAM, beside the generated idc/v2.
mkdir -p "$gopath/src/idc/v2" "$gopath/src/idc/$program"
rm -f "$gopath"/src/idc/v2/*.go "$gopath/src/idc/$program"/*.go
protoc -I "$protos" --go_out="$gopath/src" --go-grpc_out="$gopath/src" "$protos/idc/v2/indicators.proto"
cp "$here/$program.go" "$gopath/src/idc/$program/"

# The cache is keyed by content, so rewriting identical files above keeps a second run quick.
# GOENV=off and GOFLAGS= keep user settings out; GOPROXY=off makes sure nothing is fetched;
# CGO_ENABLED=0 needs no C compiler.
cd "$gopath"
GO111MODULE=off GOPATH="$gopath:/usr/share/gocode" GOFLAGS= GOENV=off GOPROXY=off \
    CGO_ENABLED=0 GOCACHE="$build_dir/cache" \
    go build -o "$out" "idc/$program"
