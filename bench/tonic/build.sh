#!/usr/bin/env bash
# Build the tonic benchmark peer in release and print the path of its binary:
#
#   bench/tonic/build.sh      # -> .../bench/tonic/target/release/idc_tonic_server
#
# Cargo's output goes to stderr, so stdout is just the path. Its build needs
# protoc (Debian's protobuf-compiler): installed with apt-get when run as
# root, as CI runs; otherwise the apt-get command is printed and it fails.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if [[ -z ${PROTOC:-} ]] && ! command -v protoc >/dev/null 2>&1; then
    if [[ $(id -u) -eq 0 ]]; then
        apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            protobuf-compiler >&2
    else
        echo "$0: protoc is missing; install it with:" >&2
        echo "  apt-get update && apt-get install -y --no-install-recommends protobuf-compiler" >&2
        exit 1
    fi
fi
# prost-build runs $PROTOC if set, else the protoc on PATH checked above.
cargo build --release --locked --manifest-path "$here/Cargo.toml" >&2
echo "$here/target/release/idc_tonic_server"
