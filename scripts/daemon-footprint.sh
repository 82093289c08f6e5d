#!/usr/bin/env bash
# Measures the backhaul daemon's CPU and memory at its default settings (collecting this
# machine's metrics every second and serving the pull endpoint), optionally with extra
# arguments, e.g. `scripts/daemon-footprint.sh 60 --config my.conf`.
#
# Prints: seconds, CPU % of one core (user+system over the run), peak RSS (VmHWM) and the
# RSS at the end, in KiB.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
seconds=${1:-30}
shift || true
cargo build -q --release -p backhaul-linux
bin=${CARGO_TARGET_DIR:-target}/release/backhaul
"$bin" --bind 127.0.0.1:0 "$@" 2>/dev/null &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT
sleep 2 # start-up and the first collections are not steady state
ticks=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
c0=$(cpu)
t0=$(date +%s.%N)
sleep "$seconds"
c1=$(cpu)
t1=$(date +%s.%N)
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
kill -TERM "$pid"
wait "$pid" || true
trap - EXIT
awk -v c0="$c0" -v c1="$c1" -v t0="$t0" -v t1="$t1" -v hz="$ticks" -v hwm="$hwm" -v rss="$rss" -v s="$seconds" \
    'BEGIN { printf "seconds %d\ncpu_percent_of_one_core %.3f\npeak_rss_kib %d\nrss_kib %d\n", s, 100 * (c1 - c0) / hz / (t1 - t0), hwm, rss }'
