# shellcheck shell=bash
# Sourced by scripts/serve.sh and scripts/test.sh: makes a fresh clone buildable on a fresh machine.
#
# grpcio-sys builds gRPC C-core and BoringSSL with cmake, which a new machine lacks. PyPI's `cmake`
# wheel installs into the project's .venv without root, and the same venv carries the Python peers
# (grpcio, grpcio-tools, protobuf) that the interop tests run against and the reference MACD
# implementations (TA-Lib, pandas, MyTT) that the analysis tests compare with. Everything is idempotent:
# a second run only checks that the pinned requirements are still satisfied.
set -euo pipefail

IDC_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$IDC_ROOT/.venv"
PY="${PYTHON:-python3}"

if [[ ! -x "$VENV/bin/python" ]]; then
  echo "idc: creating $VENV" >&2
  "$PY" -m venv "$VENV"
fi

stamp="$VENV/.idc-requirements"
reqs="$IDC_ROOT/tests/python/requirements.txt"
analysis_reqs="$IDC_ROOT/tests/python/requirements-analysis.txt"
want="$(cat "$reqs" "$analysis_reqs" "$IDC_ROOT/scripts/env.sh" | cksum)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  echo "idc: installing cmake and the Python test requirements into $VENV" >&2
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
  # The interop peers (grpcio, grpcio-tools, protobuf) and the independent MACD references
  # (TA-Lib's wheel bundles its C library; pandas; MyTT).
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check 'cmake>=3.16' -r "$reqs" -r "$analysis_reqs"
  echo "$want" >"$stamp"
fi

export PATH="$VENV/bin:$PATH"
# PyPI's cmake is 4.x, which refuses the `cmake_minimum_required` of the c-ares bundled in
# grpcio-sys 0.13; this tells it to accept those old policy levels.
export CMAKE_POLICY_VERSION_MINIMUM=3.5
# The interop tests find the Python peers through this interpreter.
export IDC_PYTHON="$VENV/bin/python"
