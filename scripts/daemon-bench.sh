#!/usr/bin/env bash
# The backhaul daemon exporting to a local Graphite sink: CPU, memory and system calls,
# beside collectd 5.12's write_graphite doing the same job when collectd is installed.
#
#   scripts/daemon-bench.sh [SECONDS]     default 60; about SECONDS + 2 × STRACE + 10 s
#                                         per daemon
#   STRACE=10        seconds of `strace -c -f` (a second phase, so that tracing does not
#                    inflate the CPU figure); 0 skips it
#   COLLECTD=auto    auto|0|1: also measure collectd if it is installed (1: it must be;
#                    install it with `apt-get install -y --no-install-recommends collectd`)
#
# Each daemon collects this machine's metrics every second (backhaul: CPU, load, memory,
# uptime, network interfaces, disks; collectd: the cpu, load, memory, uptime, interface and
# disk plugins) and exports every second to a Graphite plaintext sink on loopback (a
# Python listener that counts what it receives). After 2 s of start-up it measures, over
# SECONDS:
#
#   <daemon>_metrics_per_s          Graphite lines the sink received per second
#   <daemon>_bytes_per_s            bytes the sink received per second
#   <daemon>_cpu_percent_of_one_core   user + system CPU time over wall time, all threads
#                                   (from /proc/PID/task/*/schedstat, ns resolution)
#   <daemon>_cpu_ticks              the same in clock ticks (/proc/PID/stat utime + stime)
#   <daemon>_peak_rss_kib, <daemon>_rss_kib   VmHWM and VmRSS at the end
#   <daemon>_rss_anon_kib, <daemon>_rss_file_kib, <daemon>_pss_kib
#                                   private and file-backed (binary, libc) RSS, and PSS
#   backhaul_rings_kib, backhaul_peak_rss_without_rings_kib
#                                   the synthetic metrics' rings (metrics × history × 4
#                                   bytes), and the peak RSS less them
#   <daemon>_read_syscalls_per_cycle, <daemon>_write_syscalls_per_cycle
#                                   from /proc/PID/io (syscr, syscw) over SECONDS: one
#                                   collection and one export per second, so per second
#                                   (syscw does not count sendto on a socket)
# and then, attached with strace for STRACE seconds:
#   <daemon>_syscalls_per_cycle     every system call of every thread, per second
#   <daemon>_send_syscalls_per_cycle    write, writev, sendto, sendmsg and sendmmsg
#   <daemon>_syscall_<name>_per_cycle   the eight most frequent
#
# The targets (under 2% of one core, under 8 MiB peak RSS) are printed as PASS/FAIL lines;
# a missed target does not fail the script.
#
# The design target is 10,000 metrics a second: the daemon runs with
# `--synthetic-metrics $SYNTHETIC` (default 10000) on top of this machine's real collectors
# (the metrics_per_s line says how many metrics were exported in all).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
DURATION=${1:-60}
# Generated metrics on top of this machine's real ones (the design target: 10,000 a second).
SYNTHETIC=${SYNTHETIC:-10000}
# Points kept per chart (the rings: 4 bytes a point per metric; netdata's default is 3600,
# which alone is 137 MiB at 10,000 metrics).
HISTORY=${HISTORY:-3600}
STRACE=${STRACE:-10}
COLLECTD=${COLLECTD:-auto}

die() {
    printf 'daemon-bench: %s\n' "$*" >&2
    exit 1
}

command -v python3 >/dev/null 2>&1 || die "python3 is needed for the Graphite sink"
if [[ "$STRACE" != 0 ]] && ! command -v strace >/dev/null 2>&1; then
    printf 'daemon-bench: strace is not installed: no system-call breakdown\n' >&2
    STRACE=0
fi
case $COLLECTD in
auto) command -v collectd >/dev/null 2>&1 && COLLECTD=1 || COLLECTD=0 ;;
1) command -v collectd >/dev/null 2>&1 ||
    die "collectd is not installed (apt-get install -y --no-install-recommends collectd)" ;;
esac

printf 'building backhaul (release)...\n' >&2
cargo build -q --release -p backhaul-linux >&2 || die "cargo build -p backhaul-linux failed"
BACKHAUL="${CARGO_TARGET_DIR:-$ROOT/target}/release/backhaul"

TMP=$(mktemp -d)
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do
        kill -TERM "$p" 2>/dev/null || true
    done
    for p in "${PIDS[@]}"; do
        wait "$p" 2>/dev/null || true
    done
    rm -rf "$TMP"
}
trap cleanup EXIT

# A Graphite plaintext sink on a free loopback port: counts bytes and lines, and writes
# "bytes lines" to its stats file on SIGUSR1.
cat >"$TMP/sink.py" <<'PY'
import signal, socket, sys, threading
port_file, stats_file = sys.argv[1], sys.argv[2]
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(16)
stats = [0, 0]
lock = threading.Lock()
def handle(conn):
    while True:
        data = conn.recv(1 << 16)
        if not data:
            return
        with lock:
            stats[0] += len(data)
            stats[1] += data.count(b"\n")
def dump(*_):
    with lock:
        text = "%d %d\n" % (stats[0], stats[1])
    with open(stats_file + ".tmp", "w") as f:
        f.write(text)
    import os
    os.replace(stats_file + ".tmp", stats_file)
signal.signal(signal.SIGUSR1, dump)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
with open(port_file + ".tmp", "w") as f:
    f.write(str(srv.getsockname()[1]))
import os
os.replace(port_file + ".tmp", port_file)
while True:
    conn, _ = srv.accept()
    threading.Thread(target=handle, args=(conn,), daemon=True).start()
PY

# Starts a sink; sets SINK_PID and SINK_PORT.
start_sink() {
    local name=$1
    rm -f "$TMP/$name.port" "$TMP/$name.stats"
    python3 "$TMP/sink.py" "$TMP/$name.port" "$TMP/$name.stats" &
    SINK_PID=$!
    PIDS+=("$SINK_PID")
    local n=100
    while [[ ! -s "$TMP/$name.port" ]]; do
        n=$((n - 1))
        ((n > 0)) || die "the sink did not start"
        sleep 0.05
    done
    SINK_PORT=$(cat "$TMP/$name.port")
}

# "bytes lines" the sink has received so far.
sink_stats() {
    local name=$1 pid=$2
    rm -f "$TMP/$name.stats"
    kill -USR1 "$pid"
    local n=100
    while [[ ! -s "$TMP/$name.stats" ]]; do
        n=$((n - 1))
        ((n > 0)) || die "the sink does not answer"
        sleep 0.02
    done
    cat "$TMP/$name.stats"
}

# CPU time of all threads of PID in ns (schedstat), and in clock ticks (stat).
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {print s + 0}'; }
cpu_ticks() { sed 's/.*) //' /proc/"$1"/stat | awk '{print $12 + $13}'; }
io_field() { awk -v k="$2:" '$1 == k {print $2}' /proc/"$1"/io; }
status_kib() { awk -v k="$2:" '$1 == k {print $2}' /proc/"$1"/status; }
now_ns() { date +%s%N; }

# Stops PID (SIGTERM, then SIGKILL after 10 s) and reaps it.
stop() {
    local p=$1 n=100
    kill -TERM "$p" 2>/dev/null || return 0
    while kill -0 "$p" 2>/dev/null; do
        grep -qs '^State:.*Z' /proc/"$p"/status && break
        n=$((n - 1))
        if ((n <= 0)); then
            kill -KILL "$p" 2>/dev/null || true
            break
        fi
        sleep 0.1
    done
    wait "$p" 2>/dev/null || true
}

# measure NAME PID SINK_PID: the figures of one daemon, "name value" lines.
measure() {
    local name=$1 pid=$2 sink=$3
    sleep 2 # start-up and first collections are not steady state
    kill -0 "$pid" 2>/dev/null || die "$name exited early (see $TMP/$name.log)"
    local s0 c0 t0 r0 w0 s1 c1 t1 r1 w1 w_0 w_1
    s0=$(sink_stats "$name" "$sink")
    c0=$(cpu_ns "$pid")
    t0=$(cpu_ticks "$pid")
    r0=$(io_field "$pid" syscr)
    w0=$(io_field "$pid" syscw)
    w_0=$(now_ns)
    sleep "$DURATION"
    s1=$(sink_stats "$name" "$sink")
    c1=$(cpu_ns "$pid")
    t1=$(cpu_ticks "$pid")
    r1=$(io_field "$pid" syscr)
    w1=$(io_field "$pid" syscw)
    w_1=$(now_ns)
    awk -v n="$name" -v s0="$s0" -v s1="$s1" -v c0="$c0" -v c1="$c1" -v t0="$t0" -v t1="$t1" \
        -v r0="$r0" -v r1="$r1" -v w0="$w0" -v w1="$w1" -v a="$w_0" -v b="$w_1" 'BEGIN {
        split(s0, x, " "); split(s1, y, " ");
        secs = (b - a) / 1e9;
        printf "%s_seconds %.1f\n", n, secs;
        printf "%s_metrics_per_s %.1f\n", n, (y[2] - x[2]) / secs;
        printf "%s_bytes_per_s %.0f\n", n, (y[1] - x[1]) / secs;
        printf "%s_cpu_percent_of_one_core %.4f\n", n, 100 * (c1 - c0) / 1e9 / secs;
        printf "%s_cpu_ticks %d\n", n, t1 - t0;
        printf "%s_read_syscalls_per_cycle %.1f\n", n, (r1 - r0) / secs;
        printf "%s_write_syscalls_per_cycle %.1f\n", n, (w1 - w0) / secs;
    }'
    echo "${name}_peak_rss_kib $(status_kib "$pid" VmHWM)"
    echo "${name}_rss_kib $(status_kib "$pid" VmRSS)"
    # What the RSS is made of: private memory, and pages of the binary and the shared
    # libraries (shared with other processes: PSS counts each page once per sharer).
    echo "${name}_rss_anon_kib $(status_kib "$pid" RssAnon)"
    echo "${name}_rss_file_kib $(status_kib "$pid" RssFile)"
    echo "${name}_pss_kib $(awk '$1 == "Pss:" {print $2; exit}' /proc/"$pid"/smaps_rollup 2>/dev/null || echo nan)"
    echo "${name}_threads $(status_kib "$pid" Threads)"
    if [[ "$STRACE" != 0 ]]; then
        strace -c -f -p "$pid" -o "$TMP/$name.strace" 2>/dev/null &
        local sp=$!
        sleep "$STRACE"
        kill -INT "$sp" 2>/dev/null || true
        wait "$sp" 2>/dev/null || true
        # Rows: % time, seconds, usecs/call, calls, [errors,] syscall; then "total".
        awk -v n="$name" -v secs="$STRACE" '
            $1 ~ /^[0-9.]+$/ && $NF != "total" {calls[$NF] = $4}
            $NF == "total" {printf "%s_syscalls_per_cycle %.1f\n", n, $4 / secs}
            function count(s) { return (s in calls) ? calls[s] : 0 }
            END {
                sends = count("write") + count("writev") + count("sendto") + count("sendmsg") + count("sendmmsg")
                printf "%s_send_syscalls_per_cycle %.1f\n", n, sends / secs
                k = 0
                for (s in calls) order[++k] = s
                for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++)
                    if (calls[order[j]] > calls[order[i]]) {t = order[i]; order[i] = order[j]; order[j] = t}
                for (i = 1; i <= k && i <= 8; i++)
                    printf "%s_syscall_%s_per_cycle %.1f\n", n, order[i], calls[order[i]] / secs
            }' "$TMP/$name.strace"
    fi
}

# ---------------------------------------------------------------------------- backhaul

printf 'backhaul: %s s exporting every second to a local sink...\n' "$DURATION" >&2
start_sink backhaul
BH_SINK=$SINK_PID
cat >"$TMP/backhaul.conf" <<CONF
[global]
    update every = 1

[graphite:sink]
    destination = 127.0.0.1:$SINK_PORT
    data source = average
    update every = 1
CONF
"$BACKHAUL" --check-config "$TMP/backhaul.conf" >&2 || die "backhaul rejects the configuration"
SYNTHETIC_ARGS=()
if ((SYNTHETIC > 0)); then
    SYNTHETIC_ARGS=(--synthetic-metrics "$SYNTHETIC") # 0: this machine's metrics alone
fi
"$BACKHAUL" --config "$TMP/backhaul.conf" --bind 127.0.0.1:0 "${SYNTHETIC_ARGS[@]}" --history "$HISTORY" \
    2>"$TMP/backhaul.log" &
BH=$!
PIDS+=("$BH")
measure backhaul "$BH" "$BH_SINK" | tee "$TMP/results"
stop "$BH"
stop "$BH_SINK"

# ---------------------------------------------------------------------------- collectd

if [[ "$COLLECTD" == 1 ]]; then
    printf 'collectd: %s s, write_graphite to a local sink...\n' "$DURATION" >&2
    start_sink collectd
    CD_SINK=$SINK_PID
    mkdir -p "$TMP/collectd"
    cat >"$TMP/collectd/collectd.conf" <<CONF
Hostname "bench"
FQDNLookup false
BaseDir "$TMP/collectd"
PIDFile "$TMP/collectd/collectd.pid"
PluginDir "/usr/lib/collectd"
TypesDB "/usr/share/collectd/types.db"
Interval 1
LoadPlugin logfile
<Plugin logfile>
  LogLevel warning
  File "$TMP/collectd/collectd.log"
</Plugin>
LoadPlugin cpu
LoadPlugin load
LoadPlugin memory
LoadPlugin uptime
LoadPlugin interface
LoadPlugin disk
LoadPlugin write_graphite
<Plugin write_graphite>
  <Node "sink">
    Host "127.0.0.1"
    Port "$SINK_PORT"
    Protocol "tcp"
    Prefix "collectd."
  </Node>
</Plugin>
CONF
    collectd -t -C "$TMP/collectd/collectd.conf" >&2 || die "collectd rejects its configuration"
    collectd -f -C "$TMP/collectd/collectd.conf" >"$TMP/collectd.log" 2>&1 &
    CD=$!
    PIDS+=("$CD")
    echo "collectd_version $(collectd -h 2>&1 | awk '/^collectd [0-9]/ {sub(",", "", $2); print $2; exit}')"
    measure collectd "$CD" "$CD_SINK" | tee -a "$TMP/results"
    stop "$CD"
    stop "$CD_SINK"
else
    echo "collectd_skipped 1"
fi

# ---------------------------------------------------------------------------- targets

get() { awk -v k="$1" '$1 == k {print $2; exit}' "$TMP/results"; }
cpu=$(get backhaul_cpu_percent_of_one_core)
rss=$(get backhaul_peak_rss_kib)
mps=$(get backhaul_metrics_per_s)
awk -v c="$cpu" 'BEGIN {exit !(c + 0 < 2)}' && v=PASS || v=FAIL
echo "$v daemon_cpu_percent_of_one_core $cpu (target < 2%, at $mps metrics/s)"
awk -v r="$rss" 'BEGIN {exit !(r + 0 < 8192)}' && v=PASS || v=FAIL
echo "$v daemon_peak_rss_kib $rss (target < 8 MiB = 8192 KiB, at $mps metrics/s)"
rings=$((SYNTHETIC * HISTORY * 4 / 1024))
echo "backhaul_rings_kib $rings"
echo "backhaul_peak_rss_without_rings_kib $(awk -v r="$rss" -v g="$rings" 'BEGIN {print r - g}')"
echo "NOTE backhaul ran with --synthetic-metrics $SYNTHETIC --history $HISTORY (rings: $rings KiB, 4 bytes a point of each synthetic metric, inherent to the history); collectd (if measured) exports only this machine's real metrics"
