#!/usr/bin/env bash
# Builds and starts idc_server. Installs what a fresh machine lacks first (see scripts/env.sh).
# Arguments go to idc_server, e.g. `scripts/serve.sh --port 50052 --graph-file ./macd.png`.
# The server runs in the caller's directory, so relative paths (--data, --graph-file, the
# default ./macd.png) mean what they mean where the command is typed.
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
exec cargo run --quiet --release --locked --manifest-path "$IDC_ROOT/Cargo.toml" --bin idc_server -- "$@"
