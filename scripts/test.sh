#!/usr/bin/env bash
# Runs every test: unit, integration, interop with the Python reference peers and the Go peer,
# and the checks against the reference MACD implementations. Installs what a fresh machine lacks
# first (see scripts/env.sh); the Go peer's Debian packages need root, and without them this
# stops with the apt-get command to run. Extra arguments go to `cargo test`.
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
idc_install_test_requirements
idc_build_go_client
cd "$IDC_ROOT"
# nginx for tests/scale_out.rs (Debian's package; as root it is installed, otherwise the
# apt-get command is printed and this stops, since that test never skips).
"$IDC_ROOT/scripts/install_nginx.sh"
# PostgreSQL 15 for the PostgreSQL catalog tests (tests/common/pg.rs runs its own initdb and
# pg_ctl in a temporary directory): Debian's postgresql-15, installed the same way.
"$IDC_ROOT/scripts/install_postgres.sh"
# Release, like scripts/serve.sh: the two commands share one build of gRPC C-core and BoringSSL.
# --workspace: idc and idc-core (core/), whose unit tests cover the domain and the text printer.
# --no-fail-fast: one failing test binary does not hide the results of the others.
exec cargo test --release --locked --workspace --no-fail-fast "$@"
