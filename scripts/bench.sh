#!/usr/bin/env bash
# Runs the benchmarks, which print tables. Installs what they need first (see scripts/env.sh),
# including matplotlib for the side-by-side chart comparison. Extra arguments go to `cargo bench`.
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
idc_install_test_requirements
idc_pip_install bench-requirements -r "$IDC_ROOT/bench/requirements.txt"
cd "$IDC_ROOT"
exec cargo bench --locked "$@"
