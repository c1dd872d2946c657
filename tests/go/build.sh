#!/usr/bin/env bash
# Build the Go test peer idc_go_client, offline, from Debian packages only.
#
#   tests/go/build.sh OUT_BINARY [BUILD_DIR]
#
# BUILD_DIR (default: $(dirname OUT_BINARY)/go-build) holds a GOPATH with the
# code generated from protos/ and the client source, and the build cache.
# Prints nothing on success. Missing packages are installed with apt-get when
# run as root; otherwise the apt-get command is printed and the script fails.
#
# Why GOPATH mode: Debian ships Go libraries as source under /usr/share/gocode,
# usable only by GOPATH builds; module mode would want to download them.
set -euo pipefail

if [[ $# -lt 1 || $# -gt 2 ]]; then
    echo "usage: $0 OUT_BINARY [BUILD_DIR]" >&2
    exit 2
fi

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
protos=$(cd "$here/../../protos" && pwd)
mkdir -p "$(dirname "$1")"
out="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
build_dir=${2:-$(dirname "$out")/go-build}
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
src=$gopath/src/idc
mkdir -p "$src/idcpb" "$src/idc_go_client"

# Both protos are in proto package idc, so they share one Go package,
# idc/idcpb. The protos have no go_package: M options give the import path.
# Debian's protoc-gen-go-grpc (1.0, from grpc-go 1.33) emits code that needs
# grpc.SupportPackageIsVersion7 and grpc.ServiceRegistrar, both in 1.33; its
# server-side mustEmbedUnimplemented* does not concern this client.
m_opts=()
for p in indicator.proto indicator_graph.proto; do
    m_opts+=("--go_opt=M$p=idc/idcpb" "--go-grpc_opt=M$p=idc/idcpb")
done
rm -f "$src"/idcpb/*.go
protoc -I "$protos" --go_out="$gopath/src" --go-grpc_out="$gopath/src" "${m_opts[@]}" \
    "$protos/indicator.proto" "$protos/indicator_graph.proto"

rm -f "$src"/idc_go_client/*.go
cp "$here"/idc_go_client/*.go "$src/idc_go_client/"

# The cache is keyed by content, so rewriting identical files above keeps a
# second run quick. GOENV=off and GOFLAGS= keep user settings out; GOPROXY=off
# makes sure nothing is fetched; CGO_ENABLED=0 needs no C compiler.
cd "$gopath"
GO111MODULE=off GOPATH="$gopath:/usr/share/gocode" GOFLAGS= GOENV=off GOPROXY=off \
    CGO_ENABLED=0 GOCACHE="$build_dir/cache" \
    go build -o "$out" idc/idc_go_client
