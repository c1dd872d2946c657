#!/usr/bin/env bash
# Builds and starts idc_server. Installs what a fresh machine lacks first (see scripts/env.sh).
# Arguments go to idc_server, e.g. `scripts/serve.sh --port 50052 --graph-file ./macd.png`.
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$IDC_ROOT"
exec cargo run --release --locked --bin idc_server -- "$@"
