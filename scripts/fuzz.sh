#!/usr/bin/env bash
# Runs every fuzz target of fuzz/ (cargo fuzz, libFuzzer) for SECONDS each and prints, per
# target, the executions, the coverage reached and whether it crashed.
#
#   scripts/fuzz.sh                 every target, 60 s each
#   scripts/fuzz.sh 300             every target, 5 minutes each
#   scripts/fuzz.sh 30 pattern engine   only these targets
#   scripts/fuzz.sh --list          the target names
#
# Needs a nightly toolchain (`rustup toolchain install nightly`); installs cargo-fuzz with
# `cargo install --locked cargo-fuzz` when it is missing. Each target starts from its committed
# seeds (fuzz/seeds/TARGET/) and the corpus earlier runs left in fuzz/corpus/TARGET/ (not
# committed); new inputs go to the latter. A crashing input is saved by libFuzzer under
# fuzz/artifacts/TARGET/ (not committed either); reproduce it with
#
#   cargo +nightly fuzz run -s none TARGET fuzz/artifacts/TARGET/crash-…
#
# and minimise it with `cargo +nightly fuzz tmin -s none TARGET fuzz/artifacts/TARGET/crash-…`.
# Logs: fuzz/target/logs/TARGET.log. Exits 1 if any target crashed.
#
# FUZZ_KNOWN_FINDINGS=1 also checks the rules backhaul is known to break today (the open
# findings listed in docs/reliability.md); without it those checks are off, so that a run
# looks for new problems.
#
# The core forbids unsafe code, so the targets are built without a sanitizer (-s none):
# AddressSanitizer would halve the executions and find nothing the panics do not. Debug
# assertions and overflow checks are on, as cargo fuzz builds by default.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FUZZ_DIR=$ROOT/fuzz
SANITIZER=(-s none)

die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

targets() {
    # The [[bin]] sections of fuzz/Cargo.toml.
    awk '/^\[\[bin\]\]/ { bin = 1; next } /^\[/ { bin = 0 }
        bin && /^name = / { gsub(/"/, "", $3); print $3 }' "$FUZZ_DIR/Cargo.toml"
}

if [[ "${1:-}" == --list ]]; then
    targets
    exit 0
fi
if [[ "${1:-}" == -h || "${1:-}" == --help ]]; then
    sed -n '2,/^$/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
    exit 0
fi

SECONDS_EACH=${1:-60}
[[ "$SECONDS_EACH" =~ ^[0-9]+$ && "$SECONDS_EACH" -gt 0 ]] ||
    die "SECONDS must be a positive whole number, not '$SECONDS_EACH'"
shift || true
if (($# > 0)); then
    SELECTED=("$@")
    for t in "${SELECTED[@]}"; do
        targets | grep -qx "$t" || die "no fuzz target named '$t' (see scripts/fuzz.sh --list)"
    done
else
    mapfile -t SELECTED < <(targets)
fi

cargo +nightly --version >/dev/null 2>&1 ||
    die "no nightly toolchain: cargo fuzz needs one (rustup toolchain install nightly)"
if ! cargo fuzz --version >/dev/null 2>&1; then
    printf 'cargo-fuzz is not installed: cargo install --locked cargo-fuzz\n'
    cargo install --locked cargo-fuzz ||
        die "cannot install cargo-fuzz (cargo install --locked cargo-fuzz failed)"
fi

cd "$FUZZ_DIR"
printf '+ cargo +nightly fuzz build %s\n' "${SANITIZER[*]}"
cargo +nightly fuzz build "${SANITIZER[@]}"

mkdir -p target/logs
declare -a ROWS=()
CRASHED=0
for target in "${SELECTED[@]}"; do
    mkdir -p "corpus/$target" "seeds/$target"
    log=target/logs/$target.log
    printf '\n==> %s (%s s)\n' "$target" "$SECONDS_EACH"
    status=0
    # -timeout: one input running that long is a hang, reported like a crash.
    cargo +nightly fuzz run "${SANITIZER[@]}" "$target" "corpus/$target" "seeds/$target" -- \
        -max_total_time="$SECONDS_EACH" -timeout=30 -print_final_stats=1 \
        >"$log" 2>&1 || status=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    corpus=$(find "corpus/$target" -type f | wc -l)
    if ((status == 0)); then
        result=ok
    else
        CRASHED=1
        artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
        result="CRASH ${artifact:-(see $log)}"
        grep -E 'panicked at|^thread|assertion' "$log" | head -5 || true
    fi
    printf '%s: %s executions (%s/s), cov %s, ft %s, corpus %s: %s\n' "$target" \
        "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "$corpus" "$result"
    ROWS+=("$(printf '%-18s %12s %8s %7s %7s %7s  %s' "$target" "${execs:-?}" "${rate:-?}" \
        "${cov:-?}" "${ft:-?}" "$corpus" "$result")")
done

printf '\n==> fuzz summary (%s s per target)\n' "$SECONDS_EACH"
printf '%-18s %12s %8s %7s %7s %7s  %s\n' target executions exec/s cov ft corpus result
printf '%s\n' "${ROWS[@]}"
exit "$CRASHED"
