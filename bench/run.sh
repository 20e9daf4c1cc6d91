#!/bin/bash
# run.sh -- `make bench`: Tributary side by side with its peers, on loopback.
#
# Usage: bench/run.sh BUILD_DIR        (make bench passes the build dir)
#
# Sections (docs/benchmarks.md explains each and the figures):
#   1  collector produce/consume throughput, 100 B and 1 KiB, acks 1 and all:
#      tributary bench, librdkafka (kcat) on the collector,
#      Redis Streams (AOF everysec, redis-benchmark XADD pipelined)
#   2  end-to-end latency at a fixed rate (tributary bench e2e)
#   3  the agent shipping an nginx-style access log, with and without a
#      PCRE2 key, against rsyslog (imfile -> omkafka) and syslog-ng
#      (file -> kafka-c), all to the same collector
#   4  growth: produce with data already stored, with 1/100/1000
#      partitions; agent CPU/RSS following 1 vs 1000 files
#   5  memory: collector and agent RSS idle and under load
#   6  the cost of metrics on the produce path: a collector with
#      http.listener (scraped every second) next to one without, in
#      alternating rounds (bench/metrics.sh; medians)
#
# Environment:
#   BENCH_SECTIONS="1 2 3 4 5 6"  which sections to run
#   BENCH_QUICK=1     a tenth of the records and a smaller log (smoke test)
#   BENCH_BIG=1       growth with 20 GB stored instead of 5 GB
#   BENCH_LOG_MB=1024 size of the access log of section 3
#   BENCH_AGENT_BASELINE=  another build's tributary-agent: section 3 also
#                       runs five interleaved pairs of this build's agent
#                       and that one (a change's before and after)
#   BENCH_DIR=/tmp/tributary-bench.$$  scratch space (removed unless
#                     BENCH_KEEP=1); needs ~2x the largest growth size
#   BENCH_PORT=19100  base port: collector +1, redis +2
#   BENCH_SKIP_SETUP=1  do not run bench/setup.sh
#
# Everything listens on 127.0.0.1; every process started here is stopped
# by PID on exit, also on failure or ^C. The table goes to stdout and to
# $BENCH_DIR/table.txt (also copied to BUILD_DIR/bench-results/).
set -u

BUILD=${1:-}
if [ -z "$BUILD" ] || [ ! -x "$BUILD/collector/tributary-collector" ]; then
    echo "usage: $0 BUILD_DIR (with collector/tributary-collector built)" >&2
    exit 2
fi
BUILD=$(cd "$BUILD" && pwd)
SRC=$(cd "$(dirname "$0")/.." && pwd)
. "$SRC/bench/lib.sh"

SECTIONS=${BENCH_SECTIONS:-1 2 3 4 5 6}
QUICK=${BENCH_QUICK:-0}
BIG=${BENCH_BIG:-0}
PORT=${BENCH_PORT:-19100}
CPORT=$((PORT + 1))
RPORT=$((PORT + 2))
BENCH_DIR=${BENCH_DIR:-/tmp/tributary-bench.$$}
SNG_PREFIX=${BENCH_PREFIX:-/opt/tributary-bench}/syslog-ng
RESULTS=$BENCH_DIR/results.tsv

if [ "$QUICK" = 1 ]; then
    N100=200000
    N1K=50000
    LOG_MB=${BENCH_LOG_MB:-100}
    GROW_SMALL_MB=200
    GROW_LARGE_MB=500
    E2E_SECS=5
else
    N100=2000000
    N1K=500000
    LOG_MB=${BENCH_LOG_MB:-1024}
    GROW_SMALL_MB=1024
    GROW_LARGE_MB=5120
    E2E_SECS=10
fi
if [ "$BIG" = 1 ]; then
    GROW_LARGE_MB=20480
fi

cleanup_all() {
    bench_cleanup
    if [ "${BENCH_KEEP:-0}" != 1 ]; then
        rm -rf "$BENCH_DIR/data" "$BENCH_DIR/redis" "$BENCH_DIR/logs-in" \
            "$BENCH_DIR/agent-state" "$BENCH_DIR/rsyslog" "$BENCH_DIR/sng"
    fi
}
trap cleanup_all EXIT
trap 'exit 130' INT TERM

mkdir -p "$BENCH_DIR"
: >"$RESULTS"
log "scratch $BENCH_DIR, build $BUILD"

if [ "${BENCH_SKIP_SETUP:-0}" != 1 ]; then
    "$SRC/bench/setup.sh" || log "setup failed: peers may be missing"
fi

# The bench client: the `tributary bench` subcommand when the CLI has it,
# else the standalone program, else built here from tools/bench.c.
BENCH=""
if [ -x "$BUILD/tools/tributary" ] &&
    "$BUILD/tools/tributary" bench --help >/dev/null 2>&1; then
    BENCH="$BUILD/tools/tributary bench"
elif [ -x "$BUILD/tools/tributary-bench" ]; then
    BENCH="$BUILD/tools/tributary-bench"
else
    log "building tributary-bench from tools/bench.c"
    if gcc -O2 -g -I"$BUILD" -I"$SRC" -I"$SRC/common" -I"$SRC/tools" \
        "$SRC/tools/bench.c" "$SRC/tools/hdr.c" "$SRC/tools/bench_main.c" \
        "$BUILD/common/libtributary.a" -levent -lz -llz4 -lzstd -lsnappy \
        -lpthread -o "$BENCH_DIR/tributary-bench" 2>"$BENCH_DIR/bench-build.log"; then
        BENCH="$BENCH_DIR/tributary-bench"
    else
        log "cannot build the bench client (see $BENCH_DIR/bench-build.log)"
        exit 1
    fi
fi

# librdkafka as a second client: kcat (Debian's rdkafka_performance.c
# example needs librdkafka's private headers, so it cannot be built here).
KCAT=""
if command -v kcat >/dev/null; then
    KCAT=kcat
fi

now_ms() {
    echo $(( $(date +%s%N) / 1000000 ))
}

COLLECTOR_PID=""
start_collector() {
    rm -rf "$BENCH_DIR/data"
    mkdir -p "$BENCH_DIR/data"
    # Durability like Kafka's default and Redis' everysec: the page cache
    # holds the data, fsync on roll and shutdown only.
    bg_start collector "$BENCH_DIR/collector.log" \
        "$BUILD/collector/tributary-collector" \
        --set "listeners=PLAINTEXT://127.0.0.1:$CPORT" \
        --set "log.dirs=$BENCH_DIR/data" \
        --set "num.partitions=1" \
        --set "tributary.log.level=warn" "$@"
    COLLECTOR_PID=$BG_PID
    wait_port "$CPORT" 20
}
stop_collector() {
    stop_pid "$COLLECTOR_PID"
    COLLECTOR_PID=""
}

REDIS_PID=""
start_redis() {
    rm -rf "$BENCH_DIR/redis"
    mkdir -p "$BENCH_DIR/redis"
    bg_start redis "$BENCH_DIR/redis/redis.log" redis-server --bind 127.0.0.1 \
        --port "$RPORT" --save '' --appendonly yes --appendfsync everysec \
        --auto-aof-rewrite-percentage 0 --dir "$BENCH_DIR/redis" \
        --daemonize no
    REDIS_PID=$BG_PID
    wait_port "$RPORT" 20
}
stop_redis() {
    stop_pid "$REDIS_PID"
    REDIS_PID=""
}

# ours NAME ARGS... -- runs the bench client, output in $BENCH_DIR/NAME.out.
ours() {
    _n=$1
    shift
    # shellcheck disable=SC2086
    timeout 900 $BENCH "$@" -b "127.0.0.1:$CPORT" --json \
        >"$BENCH_DIR/$_n.out" 2>"$BENCH_DIR/$_n.err" || true
    tail -n 3 "$BENCH_DIR/$_n.out" | head -n 2 >&2
}

# redis_bench N ARGS... -- requests/s of one redis-benchmark run.
redis_bench() {
    _cnt=$1
    shift
    timeout 900 redis-benchmark -h 127.0.0.1 -p "$RPORT" -n "$_cnt" -q "$@" \
        2>/dev/null | tr '\r' '\n' | awk '/requests per second/ { for (i = 2; i <= NF; i++) if ($i == "requests") v = $(i - 1) } END { print v }'
}

# rdk_produce TOPIC SIZE COUNT ACKS -- librdkafka's records/s on the
# collector (kcat reading COUNT lines of SIZE bytes; wall time, which
# includes start-up and the final flush).
rdk_produce() {
    [ -n "$KCAT" ] || return 0
    _f=$BENCH_DIR/lines-$2-$3
    if [ ! -f "$_f" ]; then
        /usr/bin/python3 -c 'import sys; n, s = int(sys.argv[1]), int(sys.argv[2]); sys.stdout.write(("x" * s + "\n") * n)' \
            "$3" "$2" >"$_f"
    fi
    _t0=$(now_ms)
    timeout 900 "$KCAT" -P -b "127.0.0.1:$CPORT" -t "$1" -p 0 -X "acks=$4" \
        -X linger.ms=5 -X batch.size=524288 -X queue.buffering.max.messages=1000000 \
        <"$_f" >"$BENCH_DIR/kcat-$1.out" 2>&1 || true
    _t1=$(now_ms)
    _got=$(end_offset "$CPORT" "$1")
    [ "$_got" -ge "$3" ] || { log "kcat produced $_got of $3"; return 0; }
    awk -v n="$3" -v ms="$((_t1 - _t0))" 'BEGIN { if (ms > 0) printf "%.0f", n * 1000 / ms }'
}
rdk_consume() {
    [ -n "$KCAT" ] || return 0
    _t0=$(now_ms)
    _n=$(timeout 900 "$KCAT" -C -b "127.0.0.1:$CPORT" -t "$1" -p 0 -o beginning \
        -c "$2" -q -f '\n' 2>/dev/null | wc -l)
    _t1=$(now_ms)
    [ "$_n" -ge "$2" ] || { log "kcat consumed $_n of $2"; return 0; }
    awk -v n="$2" -v ms="$((_t1 - _t0))" 'BEGIN { if (ms > 0) printf "%.0f", n * 1000 / ms }'
}

fmt() {
    [ -n "${1:-}" ] && printf '%.0f' "$1" || echo ""
}

# --- 1: throughput --------------------------------------------------------
section1() {
    log "section 1: throughput"
    for size in 100 1024; do
        if [ "$size" = 100 ]; then n=$N100; else n=$N1K; fi
        val=$(head -c "$size" /dev/zero | tr '\0' x)

        start_redis
        r_add=$(redis_bench "$n" -c 4 -P 16 XADD "s$size" '*' d "$val")
        r_read=$(redis_bench $((n / 1000 > 100 ? n / 1000 : 100)) -c 4 -P 1 \
            XREAD COUNT 1000 STREAMS "s$size" 0-0)
        stop_redis
        [ -n "$r_read" ] && r_read=$(awk -v r="$r_read" 'BEGIN { print r * 1000 }')

        for acks in 1 all; do
            start_collector
            t="tp-$size-$acks"
            ours "p-$t" produce -t "$t" -n "$n" -s "$size" --acks "$acks"
            p=$(json_get "$BENCH_DIR/p-$t.out" records_per_sec)
            pm=$(json_get "$BENCH_DIR/p-$t.out" mb_per_sec)
            ours "c-$t" consume -t "$t" -n "$n" -s "$size"
            c=$(json_get "$BENCH_DIR/c-$t.out" records_per_sec)
            rk_acks=1
            [ "$acks" = all ] && rk_acks=-1
            rp=$(rdk_produce "rdk-$t" "$size" "$n" "$rk_acks")
            [ "$acks" = all ] && rm -f "$BENCH_DIR/lines-$size-$n"
            rc=$(rdk_consume "rdk-$t" "$n")
            hwm=$(rss_kib "$COLLECTOR_PID" VmHWM)
            stop_collector
            w="${size}B acks=$acks"
            result 1 "$w" "produce rec/s" "$(fmt "$p")" "Redis XADD P16 c4" "$(fmt "$r_add")"
            result 1 "$w" "produce rec/s" "$(fmt "$p")" "librdkafka->collector" "$(fmt "$rp")"
            result 1 "$w" "produce MB/s" "$pm" "" ""
            result 1 "$w" "consume rec/s" "$(fmt "$c")" "Redis XREAD 1000" "$(fmt "$r_read")"
            result 1 "$w" "consume rec/s" "$(fmt "$c")" "librdkafka<-collector" "$(fmt "$rc")"
            result 5 "collector peak RSS (KiB) after $w" "KiB" "$hwm" "" ""
        done
    done
}

# --- 2: end-to-end latency ------------------------------------------------
section2() {
    log "section 2: end-to-end latency"
    start_collector
    for rate in 50000; do
        ours "e2e-$rate" e2e -t "e2e-$rate" -r "$rate" -d "$E2E_SECS" -s 100 --acks 1
        for q in p50 p99 p999 max; do
            v=$(json_get "$BENCH_DIR/e2e-$rate.out" "latency_us.$q")
            result 2 "e2e 100B @${rate}/s acks=1" "latency $q (us)" "$v" "" ""
        done
    done
    stop_collector
}

# --- 3: log shipping ------------------------------------------------------
make_access_log() {
    # $1 path, $2 MiB. Deterministic nginx combined-format lines (~190 B).
    /usr/bin/python3 - "$1" "$2" <<'PY'
import sys
path, mb = sys.argv[1], int(sys.argv[2])
target = mb * 1024 * 1024
uris = ["/", "/index.html", "/api/v1/items?id=%d", "/static/app.js",
        "/images/logo.png", "/login", "/api/v1/orders/%d"]
agents = ["Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/119.0",
          "curl/7.88.1", "Mozilla/5.0 (Macintosh; Intel Mac OS X 13_5) Safari/605.1.15"]
out = open(path, "w", buffering=1 << 20)
n = 0
size = 0
chunk = []
while size < target:
    u = uris[n % len(uris)]
    if "%d" in u:
        u = u % (n % 100000)
    line = ('10.%d.%d.%d - - [23/Nov/2026:13:%02d:%02d +0000] "GET %s HTTP/1.1" '
            '%d %d "-" "%s"\n' % ((n >> 16) & 255, (n >> 8) & 255, n & 255,
                                  (n // 60) % 60, n % 60, u,
                                  200 if n % 17 else 404, 512 + n % 4096,
                                  agents[n % len(agents)]))
    chunk.append(line)
    size += len(line)
    n += 1
    if len(chunk) == 10000:
        out.write("".join(chunk))
        chunk = []
out.write("".join(chunk))
out.close()
print(n)
PY
}

# wait_shipped TOPIC LINES PID LABEL -- waits until the collector holds
# LINES records in TOPIC (bounded), then records wall, CPU, RSS of PID.
wait_shipped() {
    _t=$1
    _lines=$2
    _pid=$3
    _label=$4
    _start=$5
    _limit=$(( ${BENCH_SHIP_TIMEOUT:-900} ))
    _got=0
    _cpu=""
    _hwm=""
    while :; do
        _got=$(end_offset "$CPORT" "$_t")
        _cpu=$(cpu_seconds "$_pid")
        _hwm=$(rss_kib "$_pid" VmHWM)
        [ "$_got" -ge "$_lines" ] && break
        if ! kill -0 "$_pid" 2>/dev/null; then
            log "$_label exited early"
            break
        fi
        if [ $(( $(now_ms) - _start )) -ge $(( _limit * 1000 )) ]; then
            log "$_label: timed out at $_got of $_lines records"
            break
        fi
        sleep 0.2
    done
    _wall=$(( $(now_ms) - _start ))
    log "$_label: $_got of $_lines records, $_cpu CPU s, peak RSS $_hwm KiB"
    SHIP_WALL=$(awk -v ms="$_wall" 'BEGIN { printf "%.1f", ms / 1000 }')
    SHIP_CPU=$_cpu
    SHIP_HWM=$_hwm
    SHIP_GOT=$_got
    SHIP_LPCS=""
    if [ -n "$_cpu" ] && [ "$_got" -ge "$_lines" ]; then
        SHIP_LPCS=$(awk -v n="$_lines" -v c="$_cpu" 'BEGIN { if (c > 0) printf "%.0f", n / c }')
    fi
}

median() {
    # The median of the numbers given (empty ones skipped).
    printf '%s\n' "$@" | awk 'NF' | sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) exit; if (NR % 2) print v[(NR + 1) / 2];
        else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

run_agent() {
    # $1 label, $2 topic, $3 file glob, $4 extra [input] lines,
    # $5 extra [output] lines (optional)
    rm -rf "$BENCH_DIR/agent-state"
    mkdir -p "$BENCH_DIR/agent-state"
    cat >"$BENCH_DIR/agent-$1.conf" <<EOF
[agent]
state_dir = $BENCH_DIR/agent-state
log_level = warn
rescan_interval_ms = 1000

[output]
brokers = 127.0.0.1:$CPORT
acks = -1
${5:-}

[input bench]
paths = $3
topic = $2
read_from = beginning
$4
EOF
    bg_start "agent $1" "$BENCH_DIR/agent-$1.log" "${AGENT_BIN:-$BUILD/agent/tributary-agent}" \
        --config "$BENCH_DIR/agent-$1.conf"
    AGENT_PID=$BG_PID
}

# ship_once LABEL REP OUTPUT_EXTRA [AGENT_BINARY] -- ships section 3's log
# once more with the default input; SHIP_CPU holds the agent's CPU s.
ship_once() {
    AGENT_BIN=${4:-}
    _s=$(now_ms)
    run_agent "$1" "ship-agent-$1-$2" "$f" "" "$3"
    wait_shipped "ship-agent-$1-$2" "$lines" "$AGENT_PID" "agent $1 ($2)" "$_s"
    stop_pid "$AGENT_PID"
    AGENT_BIN=""
}

section3() {
    log "section 3: log shipping ($LOG_MB MiB)"
    mkdir -p "$BENCH_DIR/logs-in"
    f=$BENCH_DIR/logs-in/access.log
    lines=$(make_access_log "$f" "$LOG_MB")
    log "access log: $lines lines"
    start_collector
    pat='^(?<client>\S+) \S+ \S+ \[(?<time>[^\]]+)\] "(?<method>\S+) (?<uri>\S+)'

    # plain and pcre2 run with the default exactly_once = true (the
    # journal); alo is plain with exactly_once = false, for its cost.
    for mode in plain pcre2 alo; do
        extra=""
        oextra=""
        [ "$mode" = pcre2 ] && extra="pattern = $pat
key = \${client}"
        [ "$mode" = alo ] && oextra="exactly_once = false"
        s=$(now_ms)
        run_agent "$mode" "ship-agent-$mode" "$f" "$extra" "$oextra"
        wait_shipped "ship-agent-$mode" "$lines" "$AGENT_PID" "agent $mode" "$s"
        agent_idle=$(rss_kib "$AGENT_PID" VmRSS)
        stop_pid "$AGENT_PID"
        eval "A_${mode}_WALL=\$SHIP_WALL A_${mode}_CPU=\$SHIP_CPU A_${mode}_HWM=\$SHIP_HWM A_${mode}_LPCS=\$SHIP_LPCS"
        result 5 "agent RSS after shipping ($mode)" "KiB" "$agent_idle" "" ""
    done
    # The journal's cost is a few percent, inside one run's noise: four more
    # interleaved pairs, and the medians of five are compared.
    EO_CPUS=$A_plain_CPU
    ALO_CPUS=$A_alo_CPU
    for rep in 2 3 4 5; do
        ship_once plain "$rep" "" ""
        EO_CPUS="$EO_CPUS $SHIP_CPU"
        ship_once alo "$rep" "exactly_once = false" ""
        ALO_CPUS="$ALO_CPUS $SHIP_CPU"
    done
    log "agent CPU s, exactly once: $EO_CPUS; exactly_once = false: $ALO_CPUS"
    # Optional: this build's agent next to another build's (a change's
    # before and after), five interleaved pairs, both exactly once.
    NEW_CPUS=""
    BASE_CPUS=""
    if [ -n "${BENCH_AGENT_BASELINE:-}" ]; then
        for rep in 1 2 3 4 5; do
            ship_once new "$rep" "" ""
            NEW_CPUS="$NEW_CPUS $SHIP_CPU"
            ship_once base "$rep" "" "$BENCH_AGENT_BASELINE"
            BASE_CPUS="$BASE_CPUS $SHIP_CPU"
        done
        log "agent CPU s, this build: $NEW_CPUS; $BENCH_AGENT_BASELINE: $BASE_CPUS"
    fi

    # rsyslog: imfile -> omkafka, raw message, acks=all like the agent.
    RS_WALL="" RS_CPU="" RS_HWM="" RS_LPCS=""
    if command -v rsyslogd >/dev/null && [ -e /usr/lib/x86_64-linux-gnu/rsyslog/omkafka.so ]; then
        rm -rf "$BENCH_DIR/rsyslog"
        mkdir -p "$BENCH_DIR/rsyslog"
        cat >"$BENCH_DIR/rsyslog/rsyslog.conf" <<EOF
global(workDirectory="$BENCH_DIR/rsyslog" maxMessageSize="64k")
module(load="imfile")
module(load="omkafka")
template(name="raw" type="string" string="%msg%")
input(type="imfile" File="$f" Tag="access" ruleset="ship" readMode="0"
      freshStartTail="off" PersistStateInterval="100000")
ruleset(name="ship" queue.type="LinkedList" queue.size="200000"
        queue.dequeueBatchSize="1024") {
    action(type="omkafka" broker=["127.0.0.1:$CPORT"] topic="ship-rsyslog"
           template="raw" partitions.number="1"
           confParam=["acks=all", "linger.ms=5", "batch.size=524288",
                      "queue.buffering.max.messages=1000000"])
}
EOF
        s=$(now_ms)
        bg_start rsyslog "$BENCH_DIR/rsyslog/rsyslog.log" rsyslogd -n \
            -f "$BENCH_DIR/rsyslog/rsyslog.conf" -i "$BENCH_DIR/rsyslog/rsyslog.pid"
        RS=$BG_PID
        wait_shipped ship-rsyslog "$lines" "$RS" rsyslog "$s"
        RS_WALL=$SHIP_WALL RS_CPU=$SHIP_CPU RS_HWM=$SHIP_HWM RS_LPCS=$SHIP_LPCS
        stop_pid "$RS"
    else
        log "rsyslog with omkafka not installed: skipped"
    fi

    # syslog-ng: file source (no parsing) -> kafka-c, acks=all.
    SN_WALL="" SN_CPU="" SN_HWM="" SN_LPCS=""
    if [ -x "$SNG_PREFIX/usr/sbin/syslog-ng" ]; then
        rm -rf "$BENCH_DIR/sng"
        mkdir -p "$BENCH_DIR/sng"
        cat >"$BENCH_DIR/sng/syslog-ng.conf" <<EOF
@version: 3.38
options { stats_freq(0); log-fifo-size(200000); keep-hostname(yes); };
source s_file { wildcard-file(base-dir("$BENCH_DIR/logs-in")
    filename-pattern("access.log") flags(no-parse) follow-freq(1)
    log-iw-size(200000) log-fetch-limit(10000) max-files(10)); };
destination d_kafka { kafka-c(bootstrap-servers("127.0.0.1:$CPORT")
    topic("ship-syslog-ng") message("\$MESSAGE")
    config("acks" => "all" "linger.ms" => "5" "batch.size" => "524288"
           "queue.buffering.max.messages" => "1000000")); };
log { source(s_file); destination(d_kafka); flags(flow-control); };
EOF
        s=$(now_ms)
        bg_start syslog-ng "$BENCH_DIR/sng/syslog-ng.log" env \
            LD_LIBRARY_PATH="$SNG_PREFIX/usr/lib/syslog-ng" \
            "$SNG_PREFIX/usr/sbin/syslog-ng" -F -f "$BENCH_DIR/sng/syslog-ng.conf" \
            --module-path="$SNG_PREFIX/usr/lib/syslog-ng/3.38" \
            -p "$BENCH_DIR/sng/pid" -R "$BENCH_DIR/sng/persist" \
            -c "$BENCH_DIR/sng/ctl" --no-caps
        SN=$BG_PID
        wait_shipped ship-syslog-ng "$lines" "$SN" syslog-ng "$s"
        SN_WALL=$SHIP_WALL SN_CPU=$SHIP_CPU SN_HWM=$SHIP_HWM SN_LPCS=$SHIP_LPCS
        stop_pid "$SN"
    else
        log "syslog-ng not unpacked under $SNG_PREFIX: skipped"
    fi
    stop_collector

    for mode in plain pcre2; do
        eval "w=\$A_${mode}_WALL c=\$A_${mode}_CPU h=\$A_${mode}_HWM l=\$A_${mode}_LPCS"
        wl="ship ${LOG_MB}MiB agent $mode"
        result 3 "$wl" "wall s" "$w" "rsyslog" "$RS_WALL"
        result 3 "$wl" "wall s" "$w" "syslog-ng" "$SN_WALL"
        result 3 "$wl" "CPU s" "$c" "rsyslog" "$RS_CPU"
        result 3 "$wl" "CPU s" "$c" "syslog-ng" "$SN_CPU"
        result 3 "$wl" "lines/CPU-s" "$l" "rsyslog" "$RS_LPCS"
        result 3 "$wl" "lines/CPU-s" "$l" "syslog-ng" "$SN_LPCS"
        result 3 "$wl" "peak RSS KiB" "$h" "rsyslog" "$RS_HWM"
        result 3 "$wl" "peak RSS KiB" "$h" "syslog-ng" "$SN_HWM"
    done
    # The journal's cost: exactly once (default) against exactly_once = false.
    wl="ship ${LOG_MB}MiB agent plain, exactly once"
    result 3 "$wl" "wall s" "$A_plain_WALL" "exactly_once = false" "$A_alo_WALL"
    result 3 "$wl" "CPU s" "$A_plain_CPU" "exactly_once = false" "$A_alo_CPU"
    result 3 "$wl" "lines/CPU-s" "$A_plain_LPCS" "exactly_once = false" "$A_alo_LPCS"
    result 3 "$wl" "median CPU s of 5" "$(median $EO_CPUS)" "exactly_once = false" "$(median $ALO_CPUS)"
    if [ -n "$NEW_CPUS" ]; then
        result 3 "ship ${LOG_MB}MiB agent, this build" "median CPU s of 5" "$(median $NEW_CPUS)" \
            "BENCH_AGENT_BASELINE" "$(median $BASE_CPUS)"
    fi
    rm -f "$f"
}

# --- 4: growth ------------------------------------------------------------
fill_mb() {
    # $1 topic, $2 MiB of 1 KiB records appended
    ours "fill-$1-$2" produce -t "$1" -n $(( $2 * 1024 )) -s 1000 --acks 1
}

section4() {
    log "section 4: growth (${GROW_SMALL_MB} vs ${GROW_LARGE_MB} MiB stored)"
    start_collector
    fill_mb grow "$GROW_SMALL_MB"
    ours grow-small produce -t grow -n "$N100" -s 100 --acks 1
    small=$(json_get "$BENCH_DIR/grow-small.out" records_per_sec)
    fill_mb grow $(( GROW_LARGE_MB - GROW_SMALL_MB ))
    ours grow-large produce -t grow -n "$N100" -s 100 --acks 1
    large=$(json_get "$BENCH_DIR/grow-large.out" records_per_sec)
    result 4 "100B acks=1, ${GROW_LARGE_MB} vs ${GROW_SMALL_MB} MiB stored" "produce rec/s" \
        "$(fmt "$large")" "same, ${GROW_SMALL_MB} MiB" "$(fmt "$small")"
    result 5 "collector RSS with ${GROW_LARGE_MB} MiB stored" "KiB" \
        "$(rss_kib "$COLLECTOR_PID" VmRSS)" "" ""
    stop_collector

    start_collector
    base=""
    for parts in 1 100 1000; do
        ours "parts-$parts" produce -t "parts-$parts" -p "$parts" -n "$N100" -s 100 --acks 1
        v=$(json_get "$BENCH_DIR/parts-$parts.out" records_per_sec)
        [ "$parts" = 1 ] && base=$v
        result 4 "100B acks=1, $parts partitions" "produce rec/s" "$(fmt "$v")" \
            "same, 1 partition" "$(fmt "$base")"
    done
    stop_collector

    # Agent following 1 vs 1000 files of 1000 lines each.
    start_collector
    for nf in 1 1000; do
        d=$BENCH_DIR/logs-in/files-$nf
        rm -rf "$d"
        mkdir -p "$d"
        /usr/bin/python3 - "$d" "$nf" <<'PY'
import os, sys
d, nf = sys.argv[1], int(sys.argv[2])
line = '10.0.0.1 - - [23/Nov/2026:13:00:00 +0000] "GET /index.html HTTP/1.1" 200 512 "-" "curl/7.88.1"\n'
per = 1000000 // nf if nf > 1 else 1000000
for i in range(nf):
    with open(os.path.join(d, "f%04d.log" % i), "w") as f:
        f.write(line * (per if nf == 1 else 1000))
PY
        total=$(( nf == 1 ? 1000000 : nf * 1000 ))
        s=$(now_ms)
        run_agent "files-$nf" "files-$nf" "$d/*.log" ""
        wait_shipped "files-$nf" "$total" "$AGENT_PID" "agent $nf files" "$s"
        sleep 3
        rss=$(rss_kib "$AGENT_PID" VmRSS)
        cpu=$(cpu_seconds "$AGENT_PID")
        stop_pid "$AGENT_PID"
        eval "F${nf}_RSS=\$rss F${nf}_CPU=\$cpu F${nf}_HWM=\$SHIP_HWM"
        rm -rf "$d"
    done
    result 4 "agent following 1000 vs 1 file(s) (1000 lines each / 1M lines)" \
        "RSS KiB" "$F1000_RSS" "same, 1 file" "$F1_RSS"
    result 4 "agent following 1000 vs 1 file(s)" "peak RSS KiB" "$F1000_HWM" "same, 1 file" "$F1_HWM"
    result 4 "agent following 1000 vs 1 file(s)" "CPU s" "$F1000_CPU" "same, 1 file" "$F1_CPU"
    stop_collector
}

# --- 5: memory ------------------------------------------------------------
section5() {
    log "section 5: memory"
    start_collector
    sleep 2
    result 5 "collector RSS idle" "KiB" "$(rss_kib "$COLLECTOR_PID" VmRSS)" "" ""
    ours mem-load produce -t mem -n "$N100" -s 100 --acks 1
    result 5 "collector peak RSS under load" "KiB" "$(rss_kib "$COLLECTOR_PID" VmHWM)" "" ""
    mkdir -p "$BENCH_DIR/logs-in/idle"
    run_agent idle idle "$BENCH_DIR/logs-in/idle/*.log" ""
    sleep 3
    result 5 "agent RSS idle (no files)" "KiB" "$(rss_kib "$AGENT_PID" VmRSS)" "" ""
    stop_pid "$AGENT_PID"
    if [ -n "${A_plain_HWM:-}" ]; then
        result 5 "agent peak RSS at full speed (section 3)" "KiB" "$A_plain_HWM" "" ""
    fi
    stop_collector
}

section6() {
    log "section 6: metrics on vs off"
    _n=5000000
    [ "$QUICK" = 1 ] && _n=500000
    METRICS_RECORDS=$_n METRICS_SUMMARY="$BENCH_DIR/metrics-summary" \
        BENCH_DIR="$BENCH_DIR/metrics" BENCH_PORT=$((PORT + 200)) \
        "$SRC/bench/metrics.sh" "$BUILD" >&2 || { log "section 6 failed"; return; }
    set -- $(cat "$BENCH_DIR/metrics-summary")
    result 6 "produce 100 B acks=1, metrics on (median of 7)" "records/s" "$1" \
        "metrics off" "$2" "$(awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.1f%%", (a - b) * 100 / b }')"
    result 6 "collector CPU per 1M records, metrics on" "s" "$3" \
        "metrics off" "$4" "$(awk -v a="$3" -v b="$4" 'BEGIN { printf "%+.1f%%", (a - b) * 100 / b }')"
}

for s in $SECTIONS; do
    case $s in
    1 | 2 | 3 | 4 | 5 | 6) "section$s" ;;
    *) log "unknown section $s" ;;
    esac
done

{
    echo "Tributary bench, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
    /usr/bin/python3 "$SRC/bench/table.py" "$RESULTS"
} | tee "$BENCH_DIR/table.txt"
mkdir -p "$BUILD/bench-results"
cp "$RESULTS" "$BENCH_DIR/table.txt" "$BUILD/bench-results/" 2>/dev/null || true
