#!/bin/bash
# tls.sh -- produce and consume throughput over TLS next to plaintext, in
# one run, against one collector with a PLAINTEXT and an SSL listener.
#
# Usage: bench/tls.sh BUILD_DIR
#
# The client is kcat (librdkafka), the only client here that speaks TLS at
# full speed: it produces TLS_RECORDS records of TLS_SIZE bytes from a file
# (acks=1) to a topic of its own per listener, then consumes them from the
# beginning to /dev/null. The certificates are made with openssl (RSA 2048,
# TLS 1.3 negotiates TLS_AES_256_GCM_SHA384). Fetches on the SSL listener
# go through the read-and-encrypt path (docs/security.md), on PLAINTEXT
# through sendfile.
#
# The agent part: tributary-agent ships a log file of TLS_AGENT_LINES
# access-log lines (about 120 bytes) to the PLAINTEXT listener and, with
# SCRAM-SHA-512, to a SASL_SSL listener; the time is from the agent's start
# to the topic's end offset reaching the line count (polled every 0.2 s).
#
# Environment: TLS_PARTS ("kcat agent": which parts run), TLS_RECORDS
# (1000000), TLS_SIZE (1000), TLS_AGENT_LINES (1000000), TLS_ROUNDS (3: the
# best time of each kept), BENCH_PORT (19200),
# BENCH_DIR (a temporary directory, removed unless BENCH_KEEP=1).
set -u

BUILD=${1:-}
if [ -z "$BUILD" ] || [ ! -x "$BUILD/collector/tributary-collector" ]; then
    echo "usage: $0 BUILD_DIR (with collector/tributary-collector built)" >&2
    exit 2
fi
BUILD=$(cd "$BUILD" && pwd)
SRC=$(cd "$(dirname "$0")/.." && pwd)
. "$SRC/bench/lib.sh"

RECORDS=${TLS_RECORDS:-1000000}
ROUNDS=${TLS_ROUNDS:-3}
SIZE=${TLS_SIZE:-1000}
AGENT_LINES=${TLS_AGENT_LINES:-1000000}
PARTS=${TLS_PARTS:-kcat agent}
PORT=${BENCH_PORT:-19200}
PPORT=$((PORT + 1))
SPORT=$((PORT + 2))
TPORT=$((PORT + 3))
DIR=${BENCH_DIR:-$(mktemp -d /tmp/tributary-tls-bench.XXXXXX)}
mkdir -p "$DIR"
cleanup() {
    bench_cleanup
    [ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$DIR"
}
trap cleanup EXIT INT TERM

certs() {
    (
        cd "$DIR" || exit 1
        openssl req -x509 -newkey rsa:2048 -sha256 -days 30 -nodes \
            -keyout ca.key -out ca.crt -subj "/CN=bench CA" \
            -addext "basicConstraints=critical,CA:TRUE" 2>/dev/null
        openssl req -newkey rsa:2048 -nodes -keyout server.key \
            -out server.csr -subj "/CN=localhost" 2>/dev/null
        printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >server.ext
        openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key \
            -CAcreateserial -days 30 -sha256 -extfile server.ext \
            -out server.crt 2>/dev/null
        cat server.key server.crt ca.crt >server.keystore.pem
    ) || { log "openssl failed"; exit 1; }
}

# now -- seconds since the epoch, with nanoseconds.
now() { date +%s.%N; }

# run_kcat LABEL BROKER TOPIC [-X ...]: prints "produce_s consume_s".
run_kcat() {
    _broker=$1
    _topic=$2
    shift 2
    _t0=$(now)
    kcat -b "$_broker" -t "$_topic" -p 0 -P -X acks=1 \
        -X linger.ms=5 -X batch.num.messages=10000 "$@" <"$DIR/records" ||
        { log "kcat produce to $_topic failed"; exit 1; }
    _t1=$(now)
    _n=$(kcat -b "$_broker" -t "$_topic" -p 0 -C -o beginning -e -q \
        -X fetch.message.max.bytes=4194304 "$@" | wc -l)
    _t2=$(now)
    [ "$_n" -eq "$RECORDS" ] ||
        { log "consumed $_n of $RECORDS records from $_topic"; exit 1; }
    echo "$(echo "$_t1 - $_t0" | bc) $(echo "$_t2 - $_t1" | bc)"
}

# run_agent LABEL TOPIC [OUTPUT LINES]: ships $DIR/access.log with a fresh
# registry; prints the seconds until TOPIC holds every line, the agent's
# CPU seconds and the collector's CPU seconds meanwhile.
run_agent() {
    _label=$1
    _topic=$2
    rm -rf "$DIR/agent-state"
    mkdir -p "$DIR/agent-state"
    printf '[agent]\nstate_dir = %s\nlog_level = warn\n[output]\n%s\n[input bench]\npaths = %s\ntopic = %s\n' \
        "$DIR/agent-state" "$3" "$DIR/access.log" "$_topic" >"$DIR/agent-$_label.conf"
    _c0=$(cpu_seconds "$COLLECTOR_PID")
    _t0=$(now)
    bg_start "agent $_label" "$DIR/agent-$_label.log" "$BUILD/agent/tributary-agent" \
        --config "$DIR/agent-$_label.conf"
    _pid=$BG_PID
    _i=0
    while [ "$(end_offset "$PPORT" "$_topic")" -lt "$AGENT_LINES" ]; do
        if ! kill -0 "$_pid" 2>/dev/null || [ $_i -gt 3000 ]; then
            log "agent $_label: did not ship $AGENT_LINES lines"
            cat "$DIR/agent-$_label.log" >&2
            exit 1
        fi
        sleep 0.2
        _i=$((_i + 1))
    done
    _t1=$(now)
    _acpu=$(cpu_seconds "$_pid")
    _ccpu=$(echo "$(cpu_seconds "$COLLECTOR_PID") - $_c0" | bc)
    stop_pid "$_pid"
    echo "$(echo "$_t1 - $_t0" | bc) $_acpu $_ccpu"
}

certs
case " $PARTS " in
*" kcat "*)
    log "writing $RECORDS records of $SIZE bytes"
    head -c $((SIZE - 1)) /dev/zero | tr '\0' 'x' >"$DIR/line"
    echo >>"$DIR/line"
    yes "$(cat "$DIR/line")" 2>/dev/null | head -n "$RECORDS" >"$DIR/records"
    ;;
esac
case " $PARTS " in
*" agent "*)
    log "writing an access log of $AGENT_LINES lines"
    awk -v n="$AGENT_LINES" 'BEGIN { for (i = 0; i < n; i++)
        printf "10.1.%d.%d - - [07/Dec/2026:11:00:00 +0000] \"GET /item?id=%09d HTTP/1.1\" 200 %d \"-\" \"bench\"\n",
            i % 256, i % 199, i, 100 + i % 9000 }' >"$DIR/access.log"
    ;;
esac
"$BUILD/collector/tributary-collector" --set "log.dirs=$DIR/data" \
    --add-scram 'SCRAM-SHA-512=[name=bench,password=bench-secret]' >/dev/null ||
    { log "--add-scram failed"; exit 1; }

bg_start collector "$DIR/collector.log" "$BUILD/collector/tributary-collector" \
    --set "listeners=PLAINTEXT://127.0.0.1:$PPORT,SSL://127.0.0.1:$SPORT,SASL_SSL://127.0.0.1:$TPORT" \
    --set "advertised.listeners=PLAINTEXT://127.0.0.1:$PPORT,SSL://localhost:$SPORT,SASL_SSL://localhost:$TPORT" \
    --set "ssl.keystore.location=$DIR/server.keystore.pem" \
    --set "log.dirs=$DIR/data" --set "num.partitions=1"
COLLECTOR_PID=$BG_PID
wait_port "$PPORT" 20 || { log "collector did not start"; exit 1; }

# Rounds alternate plaintext and TLS; the best time of each is kept, as
# the fairest figure on a machine shared with other work.
best() { awk -v a="$1" -v b="$2" 'BEGIN { print (b == "" || a < b) ? a : b }'; }
if [ "${PARTS#*agent}" != "$PARTS" ]; then
    ap="" as="" apc="" asc=""
    sasl="security.protocol = SASL_SSL
ssl.ca.location = $DIR/ca.crt
sasl.mechanism = SCRAM-SHA-512
sasl.username = bench
sasl.password = bench-secret"
    for r in $(seq 1 "$ROUNDS"); do
        set -- $(run_agent "plain-$r" "agent-plain-$r" "brokers = 127.0.0.1:$PPORT") || exit 1
        [ "$(best "$1" "$ap")" = "$1" ] && ap=$1 apc="$2 $3" # CPU of the best round
        set -- $(run_agent "sasl-ssl-$r" "agent-sasl-ssl-$r" "brokers = localhost:$TPORT
$sasl") || exit 1
        [ "$(best "$1" "$as")" = "$1" ] && as=$1 asc="$2 $3"
        log "round $r: agent PLAINTEXT $ap s, SASL_SSL $as s (best)"
    done
    amb=$(du -m "$DIR/access.log" | awk '{ print $1 }')
    awk -v mb="$amb" -v n="$AGENT_LINES" -v p="$ap" -v s="$as" -v pc="$apc" -v sc="$asc" 'BEGIN {
        split(pc, P, " "); split(sc, S, " ");
        printf "%-18s %10s %8s %7s %10s %14s\n", "agent shipping", "lines/s", "MB/s", "s", "agent CPU", "collector CPU";
        printf "%-18s %10.0f %8.1f %7.2f %10.2f %14.2f\n", "PLAINTEXT", n/p, mb/p, p, P[1], P[2];
        printf "%-18s %10.0f %8.1f %7.2f %10.2f %14.2f\n", "SASL_SSL SCRAM-512", n/s, mb/s, s, S[1], S[2];
        printf "%-18s %9.2fx %8s %7s %9.2fx %13.2fx\n", "SASL_SSL/plain", p/s, "", "", S[1]/P[1], S[2]/P[2];
    }'
fi
[ "${PARTS#*kcat}" != "$PARTS" ] || exit 0

pp="" pc="" tp="" tc=""
for r in $(seq 1 "$ROUNDS"); do
    set -- $(run_kcat "127.0.0.1:$PPORT" "bench-plain-$r")
    pp=$(best "$1" "$pp") pc=$(best "$2" "$pc")
    set -- $(run_kcat "localhost:$SPORT" "bench-tls-$r" \
        -X security.protocol=ssl -X "ssl.ca.location=$DIR/ca.crt")
    tp=$(best "$1" "$tp") tc=$(best "$2" "$tc")
    log "round $r: plaintext $pp/$pc s, TLS $tp/$tc s (best produce/consume)"
done
plain="$pp $pc"
tls="$tp $tc"

mb=$(echo "$RECORDS * $SIZE / 1000000" | bc -l)
awk -v mb="$mb" -v n="$RECORDS" -v p="$plain" -v t="$tls" 'BEGIN {
    split(p, P, " "); split(t, T, " ");
    printf "%-10s %14s %14s %14s %14s\n", "", "produce MB/s", "produce rec/s", "consume MB/s", "consume rec/s";
    printf "%-10s %14.1f %14.0f %14.1f %14.0f\n", "PLAINTEXT", mb/P[1], n/P[1], mb/P[2], n/P[2];
    printf "%-10s %14.1f %14.0f %14.1f %14.0f\n", "SSL", mb/T[1], n/T[1], mb/T[2], n/T[2];
    printf "%-10s %14.2fx %13s %14.2fx\n", "TLS/plain", P[1]/T[1], "", P[2]/T[2];
}'
