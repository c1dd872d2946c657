#!/usr/bin/env bash
# Checks Cargo.lock against the RustSec advisories, offline, with the snapshot in
# ../shared/advisory-db (or $IDC_ADVISORY_DB). Installs cargo-audit first when it is missing.
# Fails on any vulnerability; unmaintained-crate warnings are listed and explained in SECURITY.md.
# cargo audit cannot see gRPC C-core and BoringSSL, vendored inside grpcio-sys: see SECURITY.md.
set -euo pipefail
IDC_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DB="${IDC_ADVISORY_DB:-$IDC_ROOT/../shared/advisory-db}"
if [[ ! -d "$DB" ]]; then
  echo "idc: no advisory database at $DB (set IDC_ADVISORY_DB to a RustSec advisory-db checkout)" >&2
  exit 1
fi
if ! cargo audit --version >/dev/null 2>&1; then
  echo "idc: installing cargo-audit" >&2
  cargo install --quiet --locked cargo-audit
fi
cd "$IDC_ROOT"
# The main workspace, then the crates with locks of their own: the fuzz targets, the tonic
# benchmark peer and the indicators benchmark. Each must be free of vulnerabilities.
for lock in Cargo.lock fuzz/Cargo.lock bench/tonic/Cargo.lock bench/indicators/Cargo.lock; do
  echo "idc: cargo audit of $lock" >&2
  cargo audit --db "$DB" --no-fetch --file "$lock"
done
