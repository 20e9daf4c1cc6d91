#!/bin/bash
# consume.sh -- `make bench-consume`: our consumer client against
# librdkafka's (kcat) reading the same records from one collector.
#
# Usage: bench/consume.sh BUILD_DIR
#
# One collector; N100 records of 100 B and N1K of 1 KiB are produced once
# (tributary bench produce, one partition each). Then, for BENCH_ROUNDS
# rounds, each size is read from the beginning by, in an order that
# alternates between rounds:
#   ours-bench  tributary bench consume -n N           (no output)
#   ours-nl     tributary consume -c N -F '\n' | wc -l  (a newline per record)
#   kcat-nl     kcat -C -c N -q -f '\n' | wc -l         (the same)
#   ours-value  tributary consume -c N | wc -l          (value + newline)
#   kcat-value  kcat -C -c N -q | wc -l                 (the same)
# Every figure is N over the wall time of the whole command (start-up,
# metadata and connecting included, as kcat's must be). The table gives
# the median of the rounds and ours / kcat for the same output.
#
# Environment: BENCH_ROUNDS=5, BENCH_N100=3000000, BENCH_N1K=1000000,
# BENCH_PORT=19150, BENCH_DIR=/tmp/tributary-bench-consume.$$ (removed
# unless BENCH_KEEP=1). Everything listens on 127.0.0.1; every process
# started here is stopped by PID on exit.
set -u

BUILD=${1:-}
if [ -z "$BUILD" ] || [ ! -x "$BUILD/collector/tributary-collector" ]; then
    echo "usage: $0 BUILD_DIR (with collector/tributary-collector built)" >&2
    exit 2
fi
BUILD=$(cd "$BUILD" && pwd)
SRC=$(cd "$(dirname "$0")/.." && pwd)
. "$SRC/bench/lib.sh"

ROUNDS=${BENCH_ROUNDS:-5}
N100=${BENCH_N100:-3000000}
N1K=${BENCH_N1K:-1000000}
CPORT=${BENCH_PORT:-19150}
BENCH_DIR=${BENCH_DIR:-/tmp/tributary-bench-consume.$$}
TRIB=$BUILD/tools/tributary
B=127.0.0.1:$CPORT

if ! command -v kcat >/dev/null; then
    log "kcat is not installed (apt-get install kcat)"
    exit 1
fi

cleanup() {
    bench_cleanup
    [ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$BENCH_DIR"
}
trap cleanup EXIT
mkdir -p "$BENCH_DIR/data"

bg_start collector "$BENCH_DIR/collector.log" \
    "$BUILD/collector/tributary-collector" \
    --set "listeners=PLAINTEXT://$B" --set "log.dirs=$BENCH_DIR/data" \
    --set "num.partitions=1" --set "tributary.log.level=warn"
wait_port "$CPORT" 20 || exit 1

for size in 100 1024; do
    n=$N100
    [ "$size" = 1024 ] && n=$N1K
    "$TRIB" bench produce -b "$B" -t "c$size" -p 1 -n "$n" -s "$size" \
        --json >"$BENCH_DIR/produce-$size.out" 2>&1
    got=$(end_offset "$CPORT" "c$size")
    if [ "$got" -lt "$n" ]; then
        log "produced $got of $n records of $size B"
        exit 1
    fi
done
sync

now_ns() {
    date +%s%N
}

# one CLIENT SIZE N -- records/s of one run (empty if it read fewer).
one() {
    _t=c$2
    _t0=$(now_ns)
    case $1 in
    ours-bench)
        _got=$(timeout 300 "$TRIB" bench consume -b "$B" -t "$_t" -n "$3" \
            --json 2>/dev/null | tail -n 1 |
            sed -n 's/.*"records":\([0-9]*\).*/\1/p')
        ;;
    ours-nl)
        _got=$(timeout 300 "$TRIB" consume -b "$B" -t "$_t" --from-beginning \
            -c "$3" -F '\n' 2>/dev/null | wc -l)
        ;;
    kcat-nl)
        _got=$(timeout 300 kcat -C -b "$B" -t "$_t" -p 0 -o beginning \
            -c "$3" -q -f '\n' 2>/dev/null | wc -l)
        ;;
    ours-value)
        _got=$(timeout 300 "$TRIB" consume -b "$B" -t "$_t" --from-beginning \
            -c "$3" 2>/dev/null | wc -l)
        ;;
    kcat-value)
        _got=$(timeout 300 kcat -C -b "$B" -t "$_t" -p 0 -o beginning \
            -c "$3" -q 2>/dev/null | wc -l)
        ;;
    esac
    _t1=$(now_ns)
    if [ "${_got:-0}" -lt "$3" ]; then
        log "$1 read ${_got:-0} of $3 records of $2 B"
        return 0
    fi
    awk -v n="$3" -v ns="$((_t1 - _t0))" 'BEGIN { printf "%.0f", n * 1e9 / ns }'
}

CLIENTS="ours-bench ours-nl kcat-nl ours-value kcat-value"
: >"$BENCH_DIR/runs.tsv"
for r in $(seq 1 "$ROUNDS"); do
    order=$CLIENTS
    if [ $((r % 2)) = 0 ]; then
        order="kcat-value ours-value kcat-nl ours-nl ours-bench"
    fi
    for size in 100 1024; do
        n=$N100
        [ "$size" = 1024 ] && n=$N1K
        for cl in $order; do
            v=$(one "$cl" "$size" "$n")
            printf '%s\t%s\t%s\t%s\n' "$r" "$size" "$cl" "$v" >>"$BENCH_DIR/runs.tsv"
            log "round $r: $size B $cl ${v:-failed} rec/s"
        done
    done
done

/usr/bin/python3 - "$BENCH_DIR/runs.tsv" "$ROUNDS" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    r, size, cl, v = line.rstrip("\n").split("\t")
    if v:
        runs.setdefault((size, cl), []).append(int(v))
def med(size, cl):
    v = runs.get((size, cl), [])
    return statistics.median(v) if v else None
print("| size | client | median rec/s | runs | vs kcat (same output) |")
print("|---|---|---|---|---|")
for size in ("100", "1024"):
    for cl, peer in (("ours-bench", "kcat-nl"), ("ours-nl", "kcat-nl"),
                     ("kcat-nl", None), ("ours-value", "kcat-value"),
                     ("kcat-value", None)):
        m, p = med(size, cl), med(size, peer) if peer else None
        ratio = "%.2fx" % (m / p) if m and p else ""
        print("| %s B | %s | %s | %s | %s |" % (
            size, cl, "{:,.0f}".format(m) if m else "-",
            ", ".join("{:,}".format(x) for x in runs.get((size, cl), [])),
            ratio))
PY
