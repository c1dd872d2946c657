#!/usr/bin/env bash
# Checks every committed Cargo.lock against the RustSec advisories, offline, with the snapshot in
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
# Every committed lock: the main workspace and each crate with a lock of its own (the fuzz targets,
# the benchmark peers), found by git so that a new one is audited without editing this list. Each
# must be free of vulnerabilities; all are audited before the script fails, so that one run shows
# every finding.
mapfile -t locks < <(git ls-files '*Cargo.lock')
if [[ ${#locks[@]} -eq 0 ]]; then
  echo "idc: git lists no committed Cargo.lock under $IDC_ROOT" >&2
  exit 1
fi
failed=()
for lock in "${locks[@]}"; do
  echo "idc: cargo audit of $lock" >&2
  if ! cargo audit --db "$DB" --no-fetch --file "$lock"; then
    failed+=("$lock")
  fi
done
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "idc: vulnerabilities (or a lock cargo audit could not read) in: ${failed[*]}" >&2
  exit 1
fi
echo "idc: no vulnerabilities in ${locks[*]}" >&2
