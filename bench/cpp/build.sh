#!/usr/bin/env bash
# Build the C++ benchmark peer idc_cpp_server from Debian's gRPC C++ packages.
#
#   bench/cpp/build.sh OUT_BINARY
#
# Code generated from protos/ goes to target/bench/cpp-gen/ (never committed).
# A second run with nothing changed only checks timestamps: the compile is
# skipped when OUT_BINARY is newer than server.cc, the protos and this script.
# Prints nothing on success but the compile time of a real build (stderr).
# Missing packages are installed with apt-get when run as root; otherwise the
# apt-get command is printed and the script fails.
set -euo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: $0 OUT_BINARY" >&2
    exit 2
fi

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
protos=$root/protos
gen=$root/target/bench/cpp-gen
mkdir -p "$(dirname "$1")" "$gen"
out="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"

# Each check: a test, then the Debian package that satisfies it.
# shellcheck source=../../scripts/debian_packages.sh
source "$here/../../scripts/debian_packages.sh"
idc_require_debian_packages \
    "command -v g++" g++ \
    "command -v pkg-config" pkg-config \
    "command -v protoc" protobuf-compiler \
    "command -v grpc_cpp_plugin" protobuf-compiler-grpc \
    "pkg-config --exists grpc++ protobuf" libgrpc++-dev

# One build at a time (benchmarks and tests may call this concurrently).
if command -v flock >/dev/null; then
    exec 9>"$gen/.lock"
    flock 9
fi

sources=("$here/server.cc" "$here/build.sh" "$protos/indicator.proto" "$protos/indicator_graph.proto")
up_to_date() {
    [[ -x $out ]] || return 1
    local s
    for s in "${sources[@]}"; do
        [[ $out -nt $s ]] || return 1
    done
}
if up_to_date; then
    exit 0
fi

# Generate into a fresh directory and swap it in, so that an interrupted run
# never leaves a mix of old and new generated files.
tmp_gen=$(mktemp -d "$gen/.gen.XXXXXX")
tmp_out=$(mktemp "$out.XXXXXX")
trap 'rm -rf "$tmp_gen" "$tmp_out"' EXIT
protoc -I "$protos" --cpp_out="$tmp_gen" --grpc_out="$tmp_gen" \
    --plugin=protoc-gen-grpc="$(command -v grpc_cpp_plugin)" \
    "$protos/indicator.proto" "$protos/indicator_graph.proto"
rm -rf "$gen/src"
mv "$tmp_gen" "$gen/src"

flags=$(pkg-config --cflags --libs grpc++ protobuf)
start=$(date +%s.%N)
# shellcheck disable=SC2086  # pkg-config prints one flag per word
g++ -O2 -std=c++17 -pthread -I "$gen/src" -o "$tmp_out" \
    "$here/server.cc" "$gen"/src/*.pb.cc $flags
end=$(date +%s.%N)
chmod 755 "$tmp_out"
mv -f "$tmp_out" "$out"
printf '%s: compiled %s in %.1f s (gRPC C++ %s, Debian)\n' "$(basename "$0")" "$out" \
    "$(awk "BEGIN { print $end - $start }")" "$(pkg-config --modversion grpc++)" >&2
