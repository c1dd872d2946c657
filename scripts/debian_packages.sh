# shellcheck shell=bash
# Sourced by the build scripts of the peers that come from Debian's packages (tests/go/build.sh,
# bench/cpp/build.sh): installs what they lack with apt-get when run as root, and otherwise prints
# the apt-get command and fails, since the tests and benchmarks never skip a peer.
#
#   idc_require_debian_packages CHECK PACKAGE [CHECK PACKAGE ...]
#
# Each CHECK is a command (split on spaces, so no quoting inside) that succeeds when PACKAGE's
# part is there, e.g. "command -v protoc" protobuf-compiler.

# The packages whose checks fail, one per line.
idc_missing_debian_packages() {
    while (($# >= 2)); do
        # shellcheck disable=SC2086  # the check is a command line, split into words on purpose
        $1 >/dev/null 2>&1 || echo "$2"
        shift 2
    done
}

idc_require_debian_packages() {
    local packages
    packages=$(idc_missing_debian_packages "$@" | sort -u | tr '\n' ' ')
    [[ -z $packages ]] && return 0
    if [[ $(id -u) -ne 0 ]]; then
        echo "$0: missing Debian packages; install them with:" >&2
        echo "  apt-get update && apt-get install -y --no-install-recommends ${packages% }" >&2
        return 1
    fi
    # apt's chatter goes to stderr: the scripts' stdout stays theirs.
    apt-get update -qq >&2
    # shellcheck disable=SC2086  # one word per package
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $packages >&2
    packages=$(idc_missing_debian_packages "$@" | sort -u | tr '\n' ' ')
    if [[ -n $packages ]]; then
        echo "$0: still missing after apt-get install: $packages" >&2
        return 1
    fi
}
