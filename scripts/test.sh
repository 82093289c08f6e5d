#!/usr/bin/env bash
# Runs every check of the project: the one command behind `./scripts/test.sh` in the README
# and behind CI (`.ci/run`).
#
#   scripts/test.sh              run all jobs, in the order below
#   scripts/test.sh fmt clippy   run only these jobs
#   scripts/test.sh --list       print the job names
#   BLESS=1 scripts/test.sh deps rewrite the dependency budget in scripts/deps/ (review the diff!)
#
# Jobs: fmt, clippy, peers, qemu, test, doc, cross, embedded, deps, probe, bench, vectors,
# fuzz (see the job_* functions).
# It stops at the first failing job and names it; the vectors job runs every file first.
#
# Warnings are errors everywhere, but not through a global RUSTFLAGS="-D warnings": RUSTFLAGS
# is part of every artifact's fingerprint, so a value different from the one a plain
# `cargo build` (or the editor) uses rebuilds the whole graph, dependencies included, every
# time one switches between them. Instead clippy gets `-D warnings` as its own argument (it
# reports every rustc warning as well as its own lints) for all workspace targets, for the
# bare-metal build of core and the embedded shell, and for the probe; the lints themselves
# live in `[workspace.lints]`; doctests deny warnings through `#![doc(test(attr(...)))]`;
# and rustdoc gets RUSTDOCFLAGS, which only rustdoc reads.
#
# With CI set (as CI does), cargo runs with --locked: a Cargo.lock that does not match the
# manifests fails instead of being updated silently.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

ALL_JOBS=(fmt clippy peers qemu test doc cross embedded deps probe bench vectors fuzz)
BARE_METAL_TARGETS=(thumbv7em-none-eabihf thumbv6m-none-eabi)
PROBE_DIR=tests/no-alloc-probe
VECTOR_DIR=tests/vectors/netdata
DEPS_DIR=scripts/deps

LOCKED=()
if [[ -n "${CI:-}" && "${CI:-}" != false ]]; then
    LOCKED=(--locked)
fi

# ---------------------------------------------------------------------------------------
# helpers

banner() {
    printf '\n==> %s\n' "$*"
}

# Prints a command, then runs it.
run() {
    printf '+ %s\n' "$*"
    "$@"
}

die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

# Makes sure the standard library for a bare-metal target is installed, installing it with
# rustup if needed. Exits non-zero, naming the target, when that is not possible.
ensure_target() {
    local target=$1
    if [[ -d "$(rustc --print sysroot)/lib/rustlib/$target/lib" ]]; then
        return 0
    fi
    command -v rustup >/dev/null 2>&1 ||
        die "Rust target $target is not installed and rustup is not available to install it"
    printf 'installing Rust target %s\n' "$target"
    rustup target add "$target" ||
        die "cannot install Rust target $target (rustup target add $target failed)"
    [[ -d "$(rustc --print sysroot)/lib/rustlib/$target/lib" ]] ||
        die "Rust target $target is still missing after rustup target add"
}

# The normal dependencies of backhaul-core for thumbv6m, one crate name a line, sorted.
# Versions and source paths are stripped: the budget is about which crates are linked, and
# a patch update in Cargo.lock should not fail CI. Proc-macro crates keep their
# "(proc-macro)" mark, since they run on the build host only.
core_deps() {
    cargo tree "${LOCKED[@]}" -p backhaul-core -e normal --target thumbv6m-none-eabi \
        --prefix none "$@" |
        sed -E 's/ \(\*\)$//; s/ v[0-9][^ ]*//; s/ \((\/|[a-z+]+:)[^)]*\)//' |
        LC_ALL=C sort -u
}

# Compares core_deps (with extra arguments) to a committed list; with BLESS=1, rewrites it.
check_deps() {
    local file=$1
    shift
    local actual
    actual=$(core_deps "$@")
    printf '+ cargo tree -p backhaul-core -e normal --target thumbv6m-none-eabi --prefix none%s\n' "${*:+ $*}"
    if [[ "${BLESS:-}" == 1 ]]; then
        {
            printf '# Normal dependencies of backhaul-core for thumbv6m-none-eabi%s:\n' \
                "${*:+ ($*)}"
            printf '# crate names only (see core_deps in scripts/test.sh). To update after a\n'
            printf '# reviewed dependency change: BLESS=1 scripts/test.sh deps\n'
            printf '%s\n' "$actual"
        } >"$file"
        printf 'wrote %s\n' "$file"
        return 0
    fi
    [[ -f "$file" ]] || die "missing dependency budget $file (create it with BLESS=1 scripts/test.sh deps)"
    if ! diff -u --label "$file (committed)" --label "cargo tree (now)" \
        <(grep -v '^#' "$file") <(printf '%s\n' "$actual"); then
        die "backhaul-core's dependencies differ from $file (a + line is a new crate). If the change is intended, run BLESS=1 scripts/test.sh deps and commit the list."
    fi
    printf 'matches %s\n' "$file"
}

# ---------------------------------------------------------------------------------------
# jobs

job_fmt() {
    # rustfmt colours its diff even into a pipe unless told otherwise.
    local color=never
    [[ -t 1 ]] && color=auto
    run cargo fmt --all --check -- --color="$color"
    run cargo fmt --check --manifest-path "$PROBE_DIR/Cargo.toml" -- --color="$color"
}

job_clippy() {
    run cargo clippy "${LOCKED[@]}" --workspace --all-targets -- -D warnings
    run cargo clippy "${LOCKED[@]}" --workspace --all-targets --all-features -- -D warnings
}

# The real servers the integration tests run against (tests/src/peers/), installed by
# scripts/peers.sh: CI runs as root on a fresh machine, so it installs them itself. Without
# root nothing can be installed: the job says so and goes on, and the integration tests
# then fail with "peer not installed: ..." instead of passing without their peers.
job_peers() {
    if [[ $(id -u) -eq 0 ]]; then
        run scripts/peers.sh install
    elif scripts/peers.sh check; then
        printf 'peers: all installed (not root, nothing to do)\n'
    else
        printf 'peers: SKIPPED: not root, so the missing packages above cannot be installed.\n'
        printf 'peers: the integration tests will fail with "peer not installed: ..." until\n'
        printf 'peers: someone runs: sudo scripts/peers.sh install\n'
    fi
}

# Debug and release: release runs without overflow checks and with the optimiser's view of
# the code, as the daemon and firmware do. It costs little: the release artifacts are the
# ones the bench, vectors and probe jobs need anyway (measured: +3 s on a cold 2-core run).
job_test() {
    run cargo test "${LOCKED[@]}" --workspace --no-fail-fast
    run cargo test "${LOCKED[@]}" --workspace --release --no-fail-fast
}

job_doc() {
    run env RUSTDOCFLAGS="-D warnings" cargo doc "${LOCKED[@]}" --workspace --no-deps
}

# Bare-metal builds of core and the embedded shell, with and without defmt, and clippy on
# the target the firmware uses.
job_cross() {
    local target package
    for target in "${BARE_METAL_TARGETS[@]}"; do
        ensure_target "$target"
        for package in backhaul-core backhaul-embedded; do
            run cargo build "${LOCKED[@]}" -p "$package" --target "$target"
            run cargo build "${LOCKED[@]}" -p "$package" --target "$target" --features defmt
        done
    done
    run cargo clippy "${LOCKED[@]}" -p backhaul-core -p backhaul-embedded \
        --target thumbv7em-none-eabihf -- -D warnings
}

# qemu-system-arm for the embedded end-to-end test (tests/tests/qemu.rs, in the test job),
# installed by scripts/qemu-demo.sh (from bookworm-backports, which keeps the image's
# qemu-utils; idempotent: a dpkg-query when it is there), with the Rust target the demo
# firmware is built for. Like the peers: without root nothing can be installed, the job
# says so, and the test then fails with "qemu-system-arm not installed: ...".
job_qemu() {
    if [[ $(id -u) -eq 0 ]]; then
        run scripts/qemu-demo.sh install
    elif scripts/qemu-demo.sh check; then
        run scripts/qemu-demo.sh install # the Rust target only; needs no root
    else
        printf 'qemu: SKIPPED: not root, so qemu-system-arm cannot be installed.\n'
        printf 'qemu: the qemu test will fail until someone runs: sudo scripts/qemu-demo.sh install\n'
    fi
}

# The embedded shell and its firmware (shell-embedded/firmware, a workspace of its own,
# so neither the fmt nor the clippy job sees it): the crate for both bare-metal targets
# with and without defmt (already built by the cross job when it ran: then this costs
# nothing), clippy with defmt on the firmware's FPU target, then the firmware's format,
# clippy, the QEMU demo build, and the footprint images with their size table (no QEMU
# runs here: the test job runs the demo end to end).
job_embedded() {
    local target
    for target in "${BARE_METAL_TARGETS[@]}"; do
        ensure_target "$target"
        run cargo build "${LOCKED[@]}" -p backhaul-embedded --target "$target"
        run cargo build "${LOCKED[@]}" -p backhaul-embedded --target "$target" --features defmt
    done
    run cargo clippy "${LOCKED[@]}" -p backhaul-embedded --target thumbv7em-none-eabihf \
        --features defmt -- -D warnings
    ensure_target thumbv7m-none-eabi
    local color=never
    [[ -t 1 ]] && color=auto
    run cargo fmt --check --manifest-path shell-embedded/firmware/Cargo.toml -- --color="$color"
    (cd shell-embedded/firmware &&
        run cargo clippy "${LOCKED[@]}" --release --bins -- -D warnings)
    run scripts/qemu-demo.sh build
    run scripts/embedded-footprint.sh --no-run
}

job_deps() {
    check_deps "$DEPS_DIR/core-thumbv6m.txt"
    check_deps "$DEPS_DIR/core-thumbv6m-defmt.txt" --features defmt
}

# The link-time proof that core needs no allocator: see tests/no-alloc-probe/README.md.
job_probe() {
    local target
    for target in "${BARE_METAL_TARGETS[@]}"; do
        ensure_target "$target"
        (cd "$PROBE_DIR" && run cargo build "${LOCKED[@]}" --release --target "$target")
    done
    (cd "$PROBE_DIR" &&
        run cargo clippy "${LOCKED[@]}" --release --target thumbv7em-none-eabihf -- -D warnings)
}

job_bench() {
    run cargo bench "${LOCKED[@]}" --workspace --no-run
}

# netdata's vectors through core's runner. Every file is checked, then the job fails if any
# of them failed.
job_vectors() {
    local pairs=(
        storage-number:storage_number.tsv
        unpack:storage_number_unpack.tsv
        print:number_print.tsv
        window:window.tsv
        names:names.tsv
        pattern:simple_pattern.tsv
    )
    local pair kind file failed=()
    run cargo build "${LOCKED[@]}" --release -p backhaul-core --example vectors
    for pair in "${pairs[@]}"; do
        kind=${pair%%:*}
        file=$VECTOR_DIR/${pair#*:}
        [[ -f "$file" ]] || die "missing vector file $file"
        if ! run cargo run "${LOCKED[@]}" -q --release -p backhaul-core --example vectors -- \
            "$kind" "$file"; then
            printf 'vectors: %s %s FAILED\n' "$kind" "$file"
            failed+=("$kind")
        fi
    done
    if ((${#failed[@]} > 0)); then
        die "vector kinds failed: ${failed[*]}"
    fi
}

# The nightly toolchain cargo fuzz needs, installed with rustup when it is missing (CI
# machines have rustup; the README's test command installs what it needs).
ensure_nightly() {
    if cargo +nightly --version >/dev/null 2>&1; then
        return 0
    fi
    command -v rustup >/dev/null 2>&1 ||
        die "the fuzz job needs a nightly toolchain, and rustup is not available to install it"
    run rustup toolchain install nightly --profile minimal ||
        die "cannot install the nightly toolchain (rustup toolchain install nightly failed)"
}

# The fuzz targets (fuzz/: a workspace of its own, outside the main one): their format and
# clippy (stable; in the main target directory, where the clippy job has already checked
# most of their dependencies), then every target built by cargo fuzz on the nightly
# toolchain and run for FUZZ_SECONDS each (default 2) from the committed seeds
# (scripts/fuzz.sh, which installs cargo-fuzz with `cargo install --locked` when it is
# missing); any crash fails the job. Measured cold on a 2-core machine: clippy 1.5 min,
# installing cargo-fuzz 1.2 min, building the 15 targets 2.5 min, running them 1 min.
# Longer runs: scripts/fuzz.sh SECONDS. See docs/reliability.md.
job_fuzz() {
    local color=never
    [[ -t 1 ]] && color=auto
    run cargo fmt --check --manifest-path fuzz/Cargo.toml -- --color="$color"
    run cargo clippy "${LOCKED[@]}" --manifest-path fuzz/Cargo.toml --target-dir "$ROOT/target" \
        --all-targets -- -D warnings
    ensure_nightly
    run scripts/fuzz.sh "${FUZZ_SECONDS:-2}"
}

# ---------------------------------------------------------------------------------------
# main

usage() {
    printf 'usage: scripts/test.sh [JOB...]\njobs (default: all, in this order): %s\n' "${ALL_JOBS[*]}"
}

fmt_secs() {
    printf '%dm%02ds' $(($1 / 60)) $(($1 % 60))
}

JOBS=()
for arg in "$@"; do
    case $arg in
    -h | --help)
        usage
        exit 0
        ;;
    --list)
        printf '%s\n' "${ALL_JOBS[@]}"
        exit 0
        ;;
    *)
        if [[ " ${ALL_JOBS[*]} " != *" $arg "* ]]; then
            printf 'error: unknown job %s\n' "$arg" >&2
            usage >&2
            exit 2
        fi
        JOBS+=("$arg")
        ;;
    esac
done
((${#JOBS[@]} > 0)) || JOBS=("${ALL_JOBS[@]}")

START=$SECONDS
CURRENT=""
CURRENT_START=$SECONDS
DONE=()

summary() {
    local status=$?
    local line
    printf '\n==> summary\n'
    for line in "${DONE[@]}"; do
        printf '  ok      %s\n' "$line"
    done
    if [[ $status -ne 0 && -n "$CURRENT" ]]; then
        printf '  FAILED  %-8s %s\n' "$CURRENT" "$(fmt_secs $((SECONDS - CURRENT_START)))"
    fi
    printf 'total elapsed: %s\n' "$(fmt_secs $((SECONDS - START)))"
    if [[ $status -ne 0 ]]; then
        printf 'FAILED: job %s (exit status %d)\n' "${CURRENT:-?}" "$status"
    fi
}
trap summary EXIT

printf 'jobs: %s\n' "${JOBS[*]}"
run cargo --version
run rustc --version
for job in "${JOBS[@]}"; do
    CURRENT=$job
    CURRENT_START=$SECONDS
    banner "$job"
    "job_$job"
    DONE+=("$(printf '%-8s %s' "$job" "$(fmt_secs $((SECONDS - CURRENT_START)))")")
done
CURRENT=""
