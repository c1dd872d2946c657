#!/usr/bin/env bash
# Fuzzes idc-core with cargo-fuzz (libFuzzer): every target in fuzz/ (the CSV and Parquet loaders,
# date parsing, the text printer, formulas, the v2 request checks) runs for SECONDS (default 60),
# starting from the committed seed corpus fuzz/corpus/TARGET/. New corpus entries go to
# target/fuzz/corpus/TARGET/ (kept between runs, never committed); a crash's input goes to
# target/fuzz/artifacts/TARGET/, and the script ends with status 1, naming each crashing input and
# the command that replays it.
#
#   scripts/fuzz.sh [SECONDS]
#
# Installs cargo-fuzz first when it is missing. The fuzz crate depends on idc-core alone, so this
# never builds gRPC C-core.
set -euo pipefail
IDC_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SECONDS_EACH="${1:-60}"
if ! [[ "$SECONDS_EACH" =~ ^[1-9][0-9]*$ ]]; then
  echo "idc: usage: scripts/fuzz.sh [SECONDS], SECONDS a whole number of seconds per target (default 60)" >&2
  exit 2
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "idc: installing cargo-fuzz" >&2
  cargo install --quiet --locked cargo-fuzz
fi
# cargo fuzz builds with nightly-only compiler flags (-Zsanitizer=address, the coverage
# instrumentation); RUSTC_BOOTSTRAP=1 lets a stable toolchain accept them, so CI needs no nightly.
export RUSTC_BOOTSTRAP=1

cd "$IDC_ROOT"
WORK="$IDC_ROOT/target/fuzz"
# Like --locked for the main crate: fail if fuzz/Cargo.lock does not match fuzz/Cargo.toml
# (cargo fuzz itself has no --locked).
cargo metadata --locked --format-version 1 --manifest-path fuzz/Cargo.toml >/dev/null
# Its own target dir: the fuzzer's flags (sanitizer, coverage) would rebuild everything the
# ordinary build shares.
BUILD=(--target-dir "$WORK/build")
mapfile -t TARGETS < <(cargo fuzz list)
cargo fuzz build "${BUILD[@]}"

# The parquet crate (55.x) reserves whatever size a damaged file announces before it reads it
# (apache/arrow-rs#9874; see SECURITY.md): an allocation abort, not a panic, which the loader
# cannot catch. For that target libFuzzer runs in fork mode, which counts such inputs (kept in
# the artifacts as oom-*) and goes on looking: its panics and other crashes still fail the run.
extra_flags() {
  case "$1" in
    parquet) echo "-fork=1 -ignore_ooms=1" ;;
  esac
}

# Whether a failed parquet run failed by the known finding alone. Two forms: AddressSanitizer's
# own report of an allocation past its maximum (which fork mode does not count as an OOM), and
# fork mode's exit after OOMs it did count (it exits with the last job's status, so a run whose
# last job ran out of memory ends with 71 though it ignored the OOM): then its counters show no
# crash and no timeout, and it kept no input but oom-* ones. Any other crash still fails.
known_parquet_finding() {
  local log="$1" artifacts="$2" counted=': [1-9][0-9]*/0/0$' last
  # Every AddressSanitizer summary one of the two, and raised in the parquet crate (the pattern
  # that stood here before, `[^o]`, refused an allocation-size-too-big). Counted, not piped, so
  # that pipefail cannot turn an early exit into an excuse.
  local summaries known
  summaries="$(grep -c "SUMMARY: AddressSanitizer: " "$log" || true)"
  known="$(grep -c "SUMMARY: AddressSanitizer: \(out-of-memory\|allocation-size-too-big\)" "$log" || true)"
  if ((summaries > 0 && summaries == known)) && grep -q "parquet::" "$log"; then
    return 0
  fi
  last="$(grep -o 'oom/timeout/crash: [0-9]*/[0-9]*/[0-9]*' "$log" | tail -n 1)"
  [[ "$last" =~ $counted ]] && ! compgen -G "$artifacts/[!o]*" >/dev/null
}
failed=()
for target in "${TARGETS[@]}"; do
  # Crashes of an earlier run were reported then; only this run's are listed at the end.
  rm -rf "$WORK/artifacts/$target"
  mkdir -p "$WORK/corpus/$target" "$WORK/artifacts/$target"
  echo "idc: fuzzing $target for ${SECONDS_EACH}s" >&2
  # The first corpus directory receives the new entries; the committed seeds are only read.
  # -timeout: an input that takes over 10 s counts as a crash (a hang), not as a stall.
  log="$WORK/artifacts/$target.log"
  if ! cargo fuzz run "${BUILD[@]}" "$target" "$WORK/corpus/$target" "fuzz/corpus/$target" -- \
    -max_total_time="$SECONDS_EACH" -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$WORK/artifacts/$target/" $(extra_flags "$target") 2>&1 | tee "$log" >&2; then
    if [[ "$target" == parquet ]] && known_parquet_finding "$log" "$WORK/artifacts/$target"; then
      echo "idc: parquet: an input made the parquet crate ask for more memory than there is (the known upstream issue above)" >&2
    else
      failed+=("$target")
    fi
  fi
  ooms=("$WORK/artifacts/$target"/oom-*)
  if [[ -e "${ooms[0]}" ]]; then
    echo "idc: $target: ${#ooms[@]} input(s) made the parquet crate reserve more memory than there is (the known" \
      "upstream issue above), kept in $WORK/artifacts/$target/" >&2
  fi
done

if ((${#failed[@]})); then
  echo >&2
  for target in "${failed[@]}"; do
    for input in "$WORK/artifacts/$target"/*; do
      [[ -e "$input" ]] || continue
      echo "idc: $target crashed on $input; replay it with:" >&2
      echo "  RUSTC_BOOTSTRAP=1 cargo fuzz run --target-dir target/fuzz/build $target $input" >&2
    done
  done
  echo "idc: minimize an input with \`cargo fuzz tmin\`, and make it a unit test in core/ with the fix" >&2
  exit 1
fi
echo "idc: no crash in ${TARGETS[*]} (${SECONDS_EACH}s each)" >&2
