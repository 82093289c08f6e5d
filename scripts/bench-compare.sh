#!/usr/bin/env bash
# backhaul against netdata's formatting cost, measured in the same run.
#
# The C baseline in ../shared/anchors (relative to the repository root) costs what
# netdata's backends exporter costs per line; this script builds it and runs it beside
# backhaul's equivalents (benches/src/bin/cycle.rs and population.rs) over the same
# 10,000-metric population, and prints one "name value" line per figure, then the
# performance targets as PASS/FAIL lines. A missed target never fails the script; a
# missing or unbuildable baseline, cargo or valgrind failure does.
#
#   scripts/bench-compare.sh            about 1-2 minutes on 2 cores
#   RUNS=9 scripts/bench-compare.sh     more timing runs (each value is a median)
#
#   RUNS=5         interleaved timing runs of each side; a value is the median over the
#                  runs of each run's median over CYCLES export cycles
#   CYCLES=21      export cycles timed per run
#   CALLGRIND=1    0 skips the instruction counts (valgrind --tool=callgrind)
#   ANCHORS=DIR    the C baseline (default: ROOT/../shared/anchors)
#   CARGO_TARGET_DIR  where cargo builds (default: ROOT/target)
#
# Figures, for each MODE of graphite_stored graphite_collected opentsdb_stored
# opentsdb_collected json_stored json_collected:
#   MODE_ns_ratio, MODE_min_ns_ratio   netdata ns / backhaul ns per metric (median cycle,
#                                      fastest cycle); higher is better
#   MODE_instr_ratio                   netdata / backhaul instructions per metric
#   MODE_instr_per_metric              backhaul's instructions per metric (callgrind, two
#                                      cycles after a warm-up cycle, as the baseline's `cg`)
#   MODE_netdata_instr_per_metric      the baseline's
#   MODE_ns_per_metric                 backhaul's; MODE_netdata_ns_per_metric the baseline's
#   MODE_bytes_per_metric              bytes of output per metric
#   MODE_checksum_match 1|0            collected modes: backhaul's output is byte-identical
#   MODE_differing_lines N             stored modes: lines that differ (21 documented exact
#                                      ties that backhaul rounds half to even)
#   MODE_allocs_per_cycle              heap allocations per cycle after a warm-up cycle
# and for remote write (the cycle's 10,000 averages as one request: protobuf + snappy):
#   rw_ns_per_sample, rw_encode_ns_per_sample, rw_snappy_ns_per_sample,
#   rw_instr_per_sample, rw_request_bytes_per_sample, rw_body_bytes_per_sample,
#   rw_allocs_per_cycle
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
RUNS=${RUNS:-5}
CYCLES=${CYCLES:-21}
CALLGRIND=${CALLGRIND:-1}
ANCHORS=${ANCHORS:-$ROOT/../shared/anchors}
MODES=(graphite_stored graphite_collected opentsdb_stored opentsdb_collected json_stored json_collected)
START=$(date +%s)

die() {
    printf 'bench-compare: %s\n' "$*" >&2
    exit 1
}

[[ -f "$ANCHORS/baseline.c" && -f "$ANCHORS/Makefile" ]] ||
    die "the C baseline is missing: no $ANCHORS/baseline.c (expected ../shared/anchors next to the repository; set ANCHORS=DIR)"
ANCHORS=$(cd "$ANCHORS" && pwd)
if [[ "$CALLGRIND" == 1 ]] && ! command -v valgrind >/dev/null 2>&1; then
    die "valgrind is not installed (apt-get install valgrind), or run with CALLGRIND=0"
fi

printf 'building the C baseline (%s) and backhaul (release)...\n' "$ANCHORS" >&2
make -s -C "$ANCHORS" build/baseline >&2 || die "cannot build $ANCHORS/build/baseline (make, gcc)"
cargo build -q --release -p backhaul-benches --bin cycle --bin population >&2 ||
    die "cargo build -p backhaul-benches failed"
C="$ANCHORS/build/baseline"
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
R="$TARGET_DIR/release/cycle"
P="$TARGET_DIR/release/population"

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# Medians per name of a file of "name value" lines.
medians() {
    sort -k1,1 -k2,2g "$1" | awk '{k=$1; n[k]++; v[k, n[k]]=$2}
        END {for (k in n) print k, v[k, int((n[k] + 1) / 2)]}'
}

# The value of NAME in a file of "name value" lines.
get() {
    awk -v k="$2" '$1 == k {print $2; found=1; exit} END {if (!found) print "nan"}' "$1"
}

# a / b with `digits` decimals ("nan" if b is 0 or missing).
ratio() {
    awk -v a="$1" -v b="$2" -v d="${3:-2}" 'BEGIN {
        if (b + 0 == 0 || a == "nan" || b == "nan") print "nan"; else printf "%.*f\n", d, a / b }'
}

# ---------------------------------------------------------------------------- output checks

printf 'checking outputs...\n' >&2
"$C" checksum >"$TMP/c.sum"
"$P" checksum >"$TMP/r.sum"
for m in "${MODES[@]}"; do
    case $m in
    *_collected)
        same=1
        for k in "${m}_output_bytes" "${m}_output_fnv1a64"; do
            [[ "$(get "$TMP/c.sum" "$k")" == "$(get "$TMP/r.sum" "$k")" ]] || same=0
        done
        echo "${m}_checksum_match $same" >>"$TMP/check"
        ;;
    *)
        "$C" dump "$m" >"$TMP/c.$m"
        "$P" dump "$m" >"$TMP/r.$m"
        lines_c=$(wc -l <"$TMP/c.$m")
        lines_r=$(wc -l <"$TMP/r.$m")
        if [[ "$lines_c" != "$lines_r" ]]; then
            n=$((lines_c > lines_r ? lines_c : lines_r)) # not line-aligned: all differ
        else
            n=$(paste -d '\n' "$TMP/c.$m" "$TMP/r.$m" | awk 'NR % 2 {a=$0; next} $0 != a {n++} END {print n+0}')
        fi
        echo "${m}_differing_lines $n" >>"$TMP/check"
        ;;
    esac
done

# ---------------------------------------------------------------------------- timing

printf 'timing: %s interleaved runs of %s cycles per mode on each side...\n' "$RUNS" "$CYCLES" >&2
: >"$TMP/c.all"
: >"$TMP/r.all"
: >"$TMP/rw.all"
for _ in $(seq 1 "$RUNS"); do
    "$C" bench all "$CYCLES" >>"$TMP/c.all"
    "$R" bench all "$CYCLES" >>"$TMP/r.all"
    "$R" rw "$CYCLES" >>"$TMP/rw.all"
done
medians "$TMP/c.all" >"$TMP/c.med"
medians "$TMP/r.all" >"$TMP/r.med"
medians "$TMP/rw.all" >"$TMP/rw.med"
"$R" allocs 3 >"$TMP/allocs"

# ---------------------------------------------------------------------------- instructions

: >"$TMP/cg"
if [[ "$CALLGRIND" == 1 ]]; then
    printf 'counting instructions with callgrind...\n' >&2
    K=2
    # Instructions inside the toggle function of a command, per metric (or sample).
    count() {
        local out=$1 toggle=$2 per=$3
        shift 3
        valgrind --tool=callgrind --toggle-collect="$toggle" --callgrind-out-file="$out" \
            "$@" >/dev/null 2>"$out.log" || die "valgrind failed on $*: $(tail -3 "$out.log")"
        awk -v per="$per" '/^summary:/ {printf "%.1f\n", $2 / per; found=1} END {if (!found) print "nan"}' "$out"
    }
    for m in "${MODES[@]}"; do
        # Both sides at once: callgrind counts are exact whatever the load.
        count "$TMP/cg.c.$m" measured_cycles $((K * 10000)) "$C" cg "$m" "$K" >"$TMP/cg.c.$m.n" &
        count "$TMP/cg.r.$m" '*measured_cycles*' $((K * 10000)) "$R" cg "$m" "$K" >"$TMP/cg.r.$m.n"
        wait $! || die "callgrind of the C baseline failed for $m"
        echo "${m}_netdata_instr_per_metric $(cat "$TMP/cg.c.$m.n")" >>"$TMP/cg"
        echo "${m}_instr_per_metric $(cat "$TMP/cg.r.$m.n")" >>"$TMP/cg"
    done
    echo "rw_instr_per_sample $(count "$TMP/cg.rw" '*measured_rw*' $((K * 10000)) "$R" cg-rw "$K")" >>"$TMP/cg"
fi

# ---------------------------------------------------------------------------- figures

for m in "${MODES[@]}"; do
    c_ns=$(get "$TMP/c.med" "${m}_ns_per_metric")
    r_ns=$(get "$TMP/r.med" "${m}_ns_per_metric")
    echo "${m}_ns_ratio $(ratio "$c_ns" "$r_ns")"
    echo "${m}_min_ns_ratio $(ratio "$(get "$TMP/c.med" "${m}_min_ns_per_metric")" "$(get "$TMP/r.med" "${m}_min_ns_per_metric")")"
    if [[ "$CALLGRIND" == 1 ]]; then
        c_ir=$(get "$TMP/cg" "${m}_netdata_instr_per_metric")
        r_ir=$(get "$TMP/cg" "${m}_instr_per_metric")
        echo "${m}_instr_ratio $(ratio "$c_ir" "$r_ir")"
        echo "${m}_instr_per_metric $r_ir"
        echo "${m}_netdata_instr_per_metric $c_ir"
    fi
    echo "${m}_ns_per_metric $r_ns"
    echo "${m}_netdata_ns_per_metric $c_ns"
    echo "${m}_bytes_per_metric $(get "$TMP/r.med" "${m}_bytes_per_metric")"
    grep "^${m}_" "$TMP/check"
    grep "^${m}_" "$TMP/allocs"
done
for k in rw_ns_per_sample rw_min_ns_per_sample rw_encode_ns_per_sample rw_snappy_ns_per_sample \
    rw_request_bytes_per_sample rw_body_bytes_per_sample; do
    echo "$k $(get "$TMP/rw.med" "$k")"
done
if [[ "$CALLGRIND" == 1 ]]; then
    echo "rw_instr_per_sample $(get "$TMP/cg" rw_instr_per_sample)"
fi
grep '^rw_' "$TMP/allocs"

# ---------------------------------------------------------------------------- targets

# verdict OK NAME TEXT: a PASS or FAIL line.
verdict() {
    if [[ "$1" == 1 ]]; then printf 'PASS %s\n' "${*:2}"; else printf 'FAIL %s\n' "${*:2}"; fi
}
# at_least A B: 1 if A >= B.
at_least() { awk -v a="$1" -v b="$2" 'BEGIN {print (a != "nan" && a + 0 >= b + 0) ? 1 : 0}'; }
below() { awk -v a="$1" -v b="$2" 'BEGIN {print (a != "nan" && a + 0 < b + 0) ? 1 : 0}'; }

for m in "${MODES[@]}"; do
    if [[ "$CALLGRIND" == 1 ]]; then
        r=$(ratio "$(get "$TMP/cg" "${m}_netdata_instr_per_metric")" "$(get "$TMP/cg" "${m}_instr_per_metric")")
        verdict "$(at_least "$r" 15)" "instr_ratio $m $r (target >= 15x fewer instructions per metric than netdata)"
    fi
done
for m in "${MODES[@]}"; do
    a=$(get "$TMP/allocs" "${m}_allocs_per_cycle")
    verdict "$( [[ "$a" == 0 ]] && echo 1 || echo 0)" "allocs_per_cycle $m $a (target 0)"
done
a=$(get "$TMP/allocs" rw_allocs_per_cycle)
verdict "$( [[ "$a" == 0 ]] && echo 1 || echo 0)" "allocs_per_cycle remote_write $a (target 0)"
rw=$(get "$TMP/rw.med" rw_ns_per_sample)
verdict "$(below "$rw" 150)" "remote_write_ns_per_sample $rw (target < 150 ns, encode + snappy)"
for m in "${MODES[@]}"; do
    case $m in
    *_collected)
        v=$(get "$TMP/check" "${m}_checksum_match")
        verdict "$( [[ "$v" == 1 ]] && echo 1 || echo 0)" "checksum_match $m $v (target: byte-identical to netdata)"
        ;;
    *)
        v=$(get "$TMP/check" "${m}_differing_lines")
        verdict "$( [[ "$v" == 21 ]] && echo 1 || echo 0)" "differing_lines $m $v (target: the 21 documented half-to-even ties)"
        ;;
    esac
done
echo "elapsed_s $(($(date +%s) - START))"
