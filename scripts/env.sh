# shellcheck shell=bash
# Sourced by scripts/serve.sh and scripts/test.sh: makes a fresh clone buildable on a fresh machine.
#
# grpcio-sys builds gRPC C-core and BoringSSL with cmake, which a new machine lacks. PyPI's `cmake`
# wheel installs into the project's .venv without root. `idc_install_test_requirements` adds the
# Python peers (grpcio, grpcio-tools, protobuf) that the interop tests run against and the
# reference MACD implementations (TA-Lib, pandas, MyTT) that the analysis tests compare with;
# `idc_build_go_client` builds the Go peer (tests/go/build.sh, from Debian packages).
# Each step is idempotent: a second run only checks a stamp of the pinned requirements, and the
# Go build comes from its cache in well under a second.
set -euo pipefail

IDC_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$IDC_ROOT/.venv"
PY="${PYTHON:-python3}"

if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "idc: needs Python 3.11 or later as \`$PY\` (set PYTHON=/path/to/python3.11 to choose one)" >&2
  exit 1
fi
# A venv whose pip is missing (a failed earlier attempt, or Debian without python3-venv) is remade.
if ! "$VENV/bin/python" -m pip --version >/dev/null 2>&1; then
  echo "idc: creating $VENV" >&2
  rm -rf "$VENV"
  "$PY" -m venv "$VENV" || {
    echo "idc: \`$PY -m venv\` failed; on Debian or Ubuntu, install python3-venv" >&2
    exit 1
  }
fi

# Installs pip requirements into the venv unless the stamp says these exact ones are there.
idc_pip_install() {
  local stamp="$VENV/.idc-$1" want
  shift
  want="$(printf '%s\n' "$@" | cat - "$IDC_ROOT/scripts/env.sh" | cksum)"
  for arg in "$@"; do
    if [[ -f "$arg" ]]; then want="$want $(cksum <"$arg")"; fi
  done
  if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
    echo "idc: installing $* into $VENV" >&2
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$@"
    echo "$want" >"$stamp"
  fi
}

idc_install_test_requirements() {
  idc_pip_install test-requirements \
    -r "$IDC_ROOT/tests/python/requirements.txt" \
    -r "$IDC_ROOT/tests/python/requirements-analysis.txt"
  # The interop tests find the Python peers through this interpreter.
  export IDC_PYTHON="$VENV/bin/python"
}

# Builds the Go peer into target/go/ and exports its path for tests/go_interop.rs. build.sh
# installs the Debian packages it needs with apt-get when run as root; otherwise it prints the
# apt-get command and fails, and so does this: the tests never skip the Go peer.
idc_build_go_client() {
  local client="$IDC_ROOT/target/go/idc_go_client"
  if ! "$IDC_ROOT/tests/go/build.sh" "$client"; then
    echo "idc: cannot build the Go test peer $client (see above and tests/go/README.md);" \
      "the Go interop tests need it" >&2
    exit 1
  fi
  export IDC_GO_CLIENT="$client"
  idc_build_go_example
}

# Builds examples/go/compute.go into target/go/ (examples/go/build.sh, the same Debian packages)
# and exports its path for tests/examples.rs, which otherwise builds it itself.
idc_build_go_example() {
  local example="$IDC_ROOT/target/go/compute_example"
  if ! "$IDC_ROOT/examples/go/build.sh" "$example"; then
    echo "idc: cannot build the Go example $example (see above and examples/README.md)" >&2
    exit 1
  fi
  export IDC_GO_EXAMPLE="$example"
}

idc_pip_install cmake 'cmake>=3.16,<5'
export PATH="$VENV/bin:$PATH"
# PyPI's cmake is 4.x, which refuses the `cmake_minimum_required` of the c-ares bundled in
# grpcio-sys 0.13; this tells it to accept those old policy levels.
export CMAKE_POLICY_VERSION_MINIMUM=3.5
