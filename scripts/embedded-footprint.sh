#!/usr/bin/env bash
# The memory footprint of backhaul in firmware: builds the two images of
# shell-embedded/firmware (release: LTO, one codegen unit, opt-level "s") for a Cortex-M0
# (thumbv6m-none-eabi) and a Cortex-M4F (thumbv7em-none-eabihf), and prints their sizes:
#
#   backhaul-minimal   core + driver only: one chart of one dimension exported as
#                      Graphite lines on a UART (a fixed cost of backhaul in a firmware)
#   backhaul-demo      the QEMU demo: two charts, the exporter's CPU chart, semihosting
#
#   scripts/embedded-footprint.sh            build, print the table, measure the stack
#   scripts/embedded-footprint.sh --no-run   build and print the table only
#   scripts/embedded-footprint.sh --no-build print the table of what is built
#
# Flash is text (vector table, code, read-only data) + data; RAM is data + bss (statics:
# rings, the send buffer, the metrics store), without the stack. The rings are reported
# apart: DIMS × SLOTS × 4 bytes, from the constants in each image's source. The stack
# comes on top: when qemu-system-arm is installed, the demo of each target runs for a few
# lines (UART0 to nowhere; the Cortex-M4F image with -cpu cortex-m4) and reports its
# stack's high-water mark (it paints the free RAM at boot). The numbers in
# docs/embedded.md come from this script.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FIRMWARE_DIR=$ROOT/shell-embedded/firmware
TARGETS=(thumbv6m-none-eabi thumbv7em-none-eabihf)
IMAGES=(backhaul-minimal backhaul-demo)

die() {
    printf 'embedded-footprint: error: %s\n' "$*" >&2
    exit 1
}

# A `size` that reads ARM ELF files, in Berkeley format: GNU size (binutils reads any
# ELF), arm-none-eabi-size, llvm-size, or the one of rustup's llvm-tools component.
find_size() {
    local tool
    for tool in size arm-none-eabi-size llvm-size; do
        if command -v "$tool" >/dev/null 2>&1; then
            printf '%s' "$tool"
            return 0
        fi
    done
    tool="$(rustc --print sysroot)/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/bin/llvm-size"
    if [[ -x "$tool" ]]; then
        printf '%s' "$tool"
        return 0
    fi
    die "no size tool: install binutils, or run: rustup component add llvm-tools"
}

ensure_target() {
    local target=$1
    [[ -d "$(rustc --print sysroot)/lib/rustlib/$target/lib" ]] && return 0
    command -v rustup >/dev/null 2>&1 || die "Rust target $target is missing and rustup is not available"
    rustup target add "$target" >&2 || die "rustup target add $target failed"
}

# The value of `const NAME: usize = N;` in an image's source.
const_of() {
    local file=$1 name=$2
    sed -n "s/^const $name: usize = \([0-9_]*\);.*/\1/p" "$file" | tr -d _
}

build() {
    local locked=() target
    if [[ -n "${CI:-}" && "${CI:-}" != false ]]; then
        locked=(--locked)
    fi
    for target in "${TARGETS[@]}"; do
        ensure_target "$target"
        (cd "$FIRMWARE_DIR" &&
            CARGO_TARGET_DIR="$FIRMWARE_DIR/target" cargo build "${locked[@]}" -q --release \
                --target "$target" --bins) || die "building the firmware for $target failed"
    done
}

table() {
    local size_tool target image elf source text data bss dims slots rings
    size_tool=$(find_size)
    printf '| image | target | flash (text + data) | RAM (data + bss) | of which rings | RAM without rings |\n'
    printf '| --- | --- | ---: | ---: | ---: | ---: |\n'
    for image in "${IMAGES[@]}"; do
        source=$FIRMWARE_DIR/src/bin/${image#backhaul-}.rs
        dims=$(const_of "$source" DIMS)
        slots=$(const_of "$source" SLOTS)
        [[ -n "$dims" && -n "$slots" ]] || die "no DIMS/SLOTS constants in $source"
        rings=$((dims * slots * 4))
        for target in "${TARGETS[@]}"; do
            elf=$FIRMWARE_DIR/target/$target/release/$image
            [[ -f "$elf" ]] || die "$elf is not built (run without --no-build)"
            read -r text data bss _ < <("$size_tool" -B "$elf" | awk 'NR==2 {print $1, $2, $3, $4}')
            awk -v image="$image" -v target="$target" -v flash=$((text + data)) \
                -v ram=$((data + bss)) -v rings="$rings" -v dims="$dims" -v slots="$slots" \
                'BEGIN { printf "| %s | %s | %d B (%.1f KiB) | %d B | %d B (%d × %d × 4) | %d B |\n",
                         image, target, flash, flash / 1024, ram, rings, dims, slots, ram - rings }'
        done
    done
    printf '\n(%s -B; the stack is not included: cortex-m-rt puts it at the top of RAM)\n' \
        "$(basename "$size_tool")"
}

# Runs the demo of each target under qemu and prints the stack's high-water mark.
stack() {
    local target cpu elf out
    if ! command -v qemu-system-arm >/dev/null 2>&1; then
        printf '\nstack: not measured (qemu-system-arm not installed: scripts/qemu-demo.sh install)\n'
        return 0
    fi
    printf '\nstack high-water mark of backhaul-demo (qemu lm3s6965evb, 3 lines):\n'
    for target in "${TARGETS[@]}"; do
        cpu=cortex-m3
        [[ "$target" == thumbv7em-* ]] && cpu=cortex-m4
        elf=$FIRMWARE_DIR/target/$target/release/backhaul-demo
        out=$(timeout 30 qemu-system-arm -machine lm3s6965evb -cpu "$cpu" -nographic \
            -monitor none -icount shift=4,sleep=on -serial null \
            -semihosting-config enable=on,target=native,arg=backhaul-demo,arg=3 \
            -kernel "$elf" 2>/dev/null) || die "the demo for $target did not run: $out"
        out=$(printf '%s\n' "$out" | sed -n 's/.*stack high-water mark \([0-9]*\) bytes.*/\1/p')
        [[ -n "$out" ]] || die "the demo for $target did not report its stack"
        printf '  %-22s %6d B (-cpu %s)\n' "$target" "$out" "$cpu"
    done
    printf '(the deepest word written: a frame that reserves stack without touching it is not\n'
    printf 'seen; see "Footprint" in docs/embedded.md)\n'
}

case "${1:-}" in
'') build && table && stack ;;
--no-run) build && table ;;
--no-build) table ;;
-h | --help) sed -n '2,/^$/s/^# \{0,1\}//p' "$0" ;;
*)
    printf 'embedded-footprint: unknown argument %s\n' "$1" >&2
    exit 2
    ;;
esac
