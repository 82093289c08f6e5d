#!/usr/bin/env bash
# The embedded demo: backhaul's firmware (shell-embedded/firmware) on an emulated Cortex-M3
# board (TI Stellaris lm3s6965evb) under qemu-system-arm, its UART0 connected to a Graphite
# server over TCP. Every second of emulated time the firmware samples a counter, a synthetic
# sensor and its own cycle use into rings and exports them as Graphite lines; it stops after
# LINES lines and exits through semihosting.
#
#   scripts/qemu-demo.sh             install what is missing, build, run against GRAPHITE_ADDR
#   scripts/qemu-demo.sh install     only install what is missing (qemu-system-arm, the Rust
#                                    target thumbv7m-none-eabi); idempotent
#   scripts/qemu-demo.sh check       exit 0 if qemu-system-arm is installed, else say so, exit 1
#   scripts/qemu-demo.sh build       only build the firmware (release)
#
# Environment:
#   GRAPHITE_ADDR   HOST:PORT of the Graphite plaintext listener (default 127.0.0.1:2003);
#                   qemu connects to it as a client, so it must be listening already
#   LINES           how many lines to send before the firmware exits (default 30)
#   TIMEOUT         seconds the run may take before it is killed (default 20 + LINES)
#
# The firmware's timestamps are Unix seconds: it reads the host's time once at boot through
# semihosting (SYS_TIME) and adds the emulated time since. qemu runs with -icount, so the
# emulated clock (SysTick) advances by a fixed step per instruction and follows the host's
# clock while the firmware sleeps: one second of emulated time takes about one second.
#
# qemu-system-arm comes from Debian: from bookworm-backports when this is bookworm (Debian
# 12's own build would remove the newer qemu-utils that the image ships), in one apt-get
# install. Installing needs root; without it the script says what to run and fails.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FIRMWARE_DIR=$ROOT/shell-embedded/firmware
TARGET=thumbv7m-none-eabi
ELF=$FIRMWARE_DIR/target/$TARGET/release/backhaul-demo
PACKAGE=qemu-system-arm

die() {
    printf 'qemu-demo: error: %s\n' "$*" >&2
    exit 1
}

say() {
    printf 'qemu-demo: %s\n' "$*" >&2
}

is_installed() {
    [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" == installed ]] &&
        command -v qemu-system-arm >/dev/null 2>&1
}

# The backports suite of this Debian release (e.g. bookworm-backports), or nothing.
backports_suite() {
    local codename=""
    if [[ -r /etc/os-release ]]; then
        # shellcheck source=/dev/null
        codename=$(. /etc/os-release && printf '%s' "${VERSION_CODENAME:-}")
    fi
    [[ -n "$codename" ]] && printf '%s-backports' "$codename"
}

# Adds an apt source for the backports suite, derived from the machine's own first Debian
# stanza, unless one exists. Prints the suite to install from (empty: the default suites).
ensure_backports_source() {
    local suite sources=/etc/apt/sources.list.d/debian.sources
    suite=$(backports_suite) || true
    [[ -n "$suite" ]] || return 0
    if grep -rqs -- "$suite" /etc/apt/sources.list /etc/apt/sources.list.d/; then
        printf '%s' "$suite"
        return 0
    fi
    [[ -r "$sources" ]] || return 0
    awk 'BEGIN{RS="";ORS="\n\n"} NR==1' "$sources" |
        sed "s/^Suites:.*/Suites: $suite/" >/etc/apt/sources.list.d/backports.sources
    say "added /etc/apt/sources.list.d/backports.sources ($suite)"
    printf '%s' "$suite"
}

cmd_install() {
    local start=$SECONDS
    if ! is_installed "$PACKAGE"; then
        [[ $(id -u) -eq 0 ]] ||
            die "qemu-system-arm not installed: run scripts/qemu-demo.sh as root once (or: sudo $0 install)"
        command -v apt-get >/dev/null 2>&1 ||
            die "qemu-system-arm not installed and apt-get not found: install qemu-system-arm by hand"
        export DEBIAN_FRONTEND=noninteractive
        local suite
        suite=$(ensure_backports_source)
        say "+ apt-get update"
        apt-get update -q </dev/null >&2 || die "apt-get update failed"
        local from=() policy
        policy=$(apt-cache policy "$PACKAGE" 2>/dev/null || true)
        if [[ -n "$suite" && "$policy" == *"$suite"* ]]; then
            from=(-t "$suite")
        fi
        say "+ apt-get install -y --no-install-recommends ${from[*]} $PACKAGE"
        apt-get install -y -q --no-install-recommends "${from[@]}" "$PACKAGE" </dev/null >&2 ||
            die "apt-get install $PACKAGE failed (see apt's messages above)"
        is_installed "$PACKAGE" || die "$PACKAGE still missing after apt-get install"
        say "installed $PACKAGE $(dpkg-query -W -f='${Version}' "$PACKAGE") in $((SECONDS - start))s"
    fi
    if [[ ! -d "$(rustc --print sysroot)/lib/rustlib/$TARGET/lib" ]]; then
        command -v rustup >/dev/null 2>&1 ||
            die "Rust target $TARGET is missing and rustup is not available to add it"
        say "+ rustup target add $TARGET"
        rustup target add "$TARGET" >&2 || die "rustup target add $TARGET failed"
    fi
}

cmd_check() {
    if is_installed "$PACKAGE"; then
        say "$PACKAGE $(dpkg-query -W -f='${Version}' "$PACKAGE") installed"
        return 0
    fi
    say "qemu-system-arm not installed: run scripts/qemu-demo.sh as root once"
    return 1
}

cmd_build() {
    local locked=()
    if [[ -n "${CI:-}" && "${CI:-}" != false ]]; then
        locked=(--locked)
    fi
    (cd "$FIRMWARE_DIR" &&
        CARGO_TARGET_DIR="$FIRMWARE_DIR/target" cargo build "${locked[@]}" --release -q --bin backhaul-demo) ||
        die "building the firmware failed"
}

cmd_run() {
    local addr=${GRAPHITE_ADDR:-127.0.0.1:2003}
    local lines=${LINES:-30}
    local timeout=${TIMEOUT:-$((20 + lines))}
    [[ "$lines" =~ ^[1-9][0-9]*$ ]] || die "LINES must be a positive integer, not '$lines'"
    [[ "$addr" =~ ^[^:]+:[0-9]+$ ]] || die "GRAPHITE_ADDR must be HOST:PORT, not '$addr'"
    cmd_install
    cmd_build
    say "running $ELF: $lines lines to $addr"
    local status=0
    # -icount: the emulated clock advances by 2^shift ns per instruction and, while the
    # firmware sleeps (WFI), at the host's pace (sleep=on). -serial: UART0 is a TCP client
    # of the Graphite server. The firmware reads LINES from its semihosting command line.
    timeout --kill-after=5 "$timeout" qemu-system-arm \
        -machine lm3s6965evb -cpu cortex-m3 \
        -nographic -monitor none \
        -icount shift=4,sleep=on \
        -serial "tcp:$addr" \
        -semihosting-config "enable=on,target=native,arg=backhaul-demo,arg=$lines" \
        -kernel "$ELF" || status=$?
    case $status in
    0) say "done: $lines lines sent" ;;
    124 | 137) die "the firmware did not finish within ${timeout}s (TIMEOUT)" ;;
    *) die "qemu-system-arm exited with status $status" ;;
    esac
}

case "${1:-run}" in
run) cmd_run ;;
install) cmd_install ;;
check) cmd_check ;;
build) cmd_build ;;
-h | --help)
    sed -n '2,/^$/s/^# \{0,1\}//p' "$0"
    ;;
*)
    printf 'qemu-demo: unknown command %s\n' "$1" >&2
    exit 2
    ;;
esac
