#!/bin/bash
# metrics.sh -- the cost of the collector's metrics on the produce path, in
# one run: metrics on (http.listener set, a scrape of /metrics every
# second) against metrics off (http.listener empty: no listener, and the
# hot-path counting -- requests, errors, latency histograms, connections,
# bytes out -- is skipped because the broker has no struct tr_stats).
# The per-partition counters of the log (bytes and records in, fsyncs,
# rolls) are always kept: two relaxed atomic adds per append, in both.
#
# Usage: bench/metrics.sh BUILD_DIR
#
# Two collectors run side by side (one on, one off), each with its own log
# directory. Each round produces METRICS_RECORDS records of METRICS_SIZE
# bytes (acks=1, `tributary bench produce`, one partition, a new topic per
# round) to each of them, one after the other, the order alternating from
# round to round so neither always runs first (each round's topics are
# deleted after it, and /metrics is checked to count the records produced
# to the metrics-on collector); the table gives the median
# over METRICS_ROUNDS rounds of records/s and of the collector's CPU
# seconds per million records, and the difference on - off.
#
# Environment: METRICS_RECORDS (5000000), METRICS_SIZE (100),
# METRICS_ROUNDS (7), METRICS_SUMMARY (a file to write "on_rps off_rps
# on_cpu off_cpu" to, for bench/run.sh's table), BENCH_PORT (19300),
# BENCH_DIR (a temporary directory, removed unless BENCH_KEEP=1).
set -u

SRC=$(cd "$(dirname "$0")/.." && pwd)
. "$SRC/bench/lib.sh"
bench_setup "${1:-}" metrics

RECORDS=${METRICS_RECORDS:-5000000}
SIZE=${METRICS_SIZE:-100}
ROUNDS=${METRICS_ROUNDS:-7}
PORT=${BENCH_PORT:-19300}
ON_PORT=$((PORT + 1))
OFF_PORT=$((PORT + 2))
HTTP_PORT=$((PORT + 3))
BENCH="$BUILD/tools/tributary bench"

bg_start "collector (metrics on)" "$DIR/on.log" "$BUILD/collector/tributary-collector" \
    --set "listeners=PLAINTEXT://127.0.0.1:$ON_PORT" --set "log.dirs=$DIR/on" \
    --set "http.listener=127.0.0.1:$HTTP_PORT" --set "num.partitions=1"
ON_PID=$BG_PID
bg_start "collector (metrics off)" "$DIR/off.log" "$BUILD/collector/tributary-collector" \
    --set "listeners=PLAINTEXT://127.0.0.1:$OFF_PORT" --set "log.dirs=$DIR/off" \
    --set "http.listener=" --set "num.partitions=1"
OFF_PID=$BG_PID
wait_port "$ON_PORT" 20 && wait_port "$OFF_PORT" 20 && wait_port "$HTTP_PORT" 20 ||
    { log "a collector did not start"; exit 1; }

# A scraper, as Prometheus would be (every second: more often than usual).
(
    while kill -0 "$ON_PID" 2>/dev/null; do
        curl -s -o /dev/null "http://127.0.0.1:$HTTP_PORT/metrics"
        sleep 1
    done
) &
BENCH_PIDS="$BENCH_PIDS $!"

# run WHICH PORT PID ROUND: appends "records/s cpu_s_per_million" to $DIR/WHICH.txt.
run() {
    _c0=$(cpu_seconds "$3")
    $BENCH produce -b "127.0.0.1:$2" -t "bench-$1-$4" -n "$RECORDS" -s "$SIZE" \
        --acks 1 -p 1 --timeout 600 --json >"$DIR/$1-$4.json" 2>"$DIR/$1-$4.err" ||
        { log "bench produce ($1) failed"; cat "$DIR/$1-$4.err" >&2; exit 1; }
    _c1=$(cpu_seconds "$3")
    _rps=$(json_get "$DIR/$1-$4.json" records_per_sec)
    [ -n "$_rps" ] || { log "no result from bench produce ($1)"; exit 1; }
    awk -v r="$_rps" -v a="$_c0" -v b="$_c1" -v n="$RECORDS" \
        'BEGIN { printf "%.0f %.4f\n", r, (b - a) * 1000000 / n }' >>"$DIR/$1.txt"
    if [ "$1" = on ]; then
        # The scrape agrees with what was produced.
        _n=$(curl -s "http://127.0.0.1:$HTTP_PORT/metrics" |
            awk -v t="tributary_topic_records_in_total{topic=\"bench-on-$4\"}" '$1 == t { print $2 }')
        [ "$_n" = "$RECORDS" ] ||
            { log "/metrics counts '$_n' records in bench-on-$4, not $RECORDS"; exit 1; }
    fi
    # Keeps the disk use to one round's topics.
    "$BUILD/tools/tributary" topics delete -b "127.0.0.1:$2" "bench-$1-$4" >/dev/null ||
        { log "cannot delete bench-$1-$4"; exit 1; }
}

for r in $(seq 1 "$ROUNDS"); do
    if [ $((r % 2)) = 1 ]; then
        run on "$ON_PORT" "$ON_PID" "$r"
        run off "$OFF_PORT" "$OFF_PID" "$r"
    else
        run off "$OFF_PORT" "$OFF_PID" "$r"
        run on "$ON_PORT" "$ON_PID" "$r"
    fi
    log "round $r: on $(tail -1 "$DIR/on.txt"), off $(tail -1 "$DIR/off.txt") (records/s, CPU s per million)"
done
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
on_rps=$(awk '{ print $1 }' "$DIR/on.txt" | median)
off_rps=$(awk '{ print $1 }' "$DIR/off.txt" | median)
on_cpu=$(awk '{ print $2 }' "$DIR/on.txt" | median)
off_cpu=$(awk '{ print $2 }' "$DIR/off.txt" | median)
printf 'produce %d x %d B, acks=1, %d rounds (medians)\n' "$RECORDS" "$SIZE" "$ROUNDS"
awk -v a="$on_rps" -v b="$off_rps" -v c="$on_cpu" -v d="$off_cpu" 'BEGIN {
    printf "%-14s %12s %22s\n", "", "records/s", "collector CPU s/1M rec";
    printf "%-14s %12.0f %22.3f\n", "metrics off", b, d;
    printf "%-14s %12.0f %22.3f\n", "metrics on", a, c;
    printf "%-14s %11.1f%% %21.1f%%\n", "on vs off", (a - b) * 100 / b, (c - d) * 100 / d;
}'
if [ -n "${METRICS_SUMMARY:-}" ]; then
    printf '%.0f %.0f %.3f %.3f\n' "$on_rps" "$off_rps" "$on_cpu" "$off_cpu" >"$METRICS_SUMMARY"
fi
