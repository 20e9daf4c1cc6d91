# lib.sh -- helpers shared by the bench scripts (sourced, not run).
#
# Every process a script starts goes through bg_start, which records its
# PID; bench_cleanup (installed as an EXIT trap by run.sh) stops them all by
# PID, TERM first and KILL after a bounded wait. Every wait loop is bounded.

BENCH_PIDS=""

log() {
    printf '%s bench: %s\n' "$(date +%H:%M:%S)" "$*" >&2
}

# bg_start NAME LOGFILE CMD... -- starts CMD in the background; sets BG_PID.
bg_start() {
    _name=$1
    _log=$2
    shift 2
    "$@" >"$_log" 2>&1 &
    BG_PID=$!
    BENCH_PIDS="$BENCH_PIDS $BG_PID"
    log "started $_name (pid $BG_PID)"
}

# stop_pid PID -- TERM, wait up to 10 s, then KILL.
stop_pid() {
    _p=$1
    if [ -z "$_p" ] || ! kill -0 "$_p" 2>/dev/null; then
        return 0
    fi
    kill -TERM "$_p" 2>/dev/null || true
    _i=0
    while kill -0 "$_p" 2>/dev/null && [ $_i -lt 100 ]; do
        sleep 0.1
        _i=$((_i + 1))
    done
    if kill -0 "$_p" 2>/dev/null; then
        kill -KILL "$_p" 2>/dev/null || true
    fi
    wait "$_p" 2>/dev/null || true
    _rest=""
    for _q in $BENCH_PIDS; do
        [ "$_q" = "$_p" ] || _rest="$_rest $_q"
    done
    BENCH_PIDS=$_rest
}

bench_cleanup() {
    for _q in $BENCH_PIDS; do
        stop_pid "$_q"
    done
}

# bench_setup BUILD_DIR NAME -- for a script run as `SCRIPT BUILD_DIR`:
# exits 2 with a usage line unless BUILD_DIR holds a built collector; sets
# BUILD (absolute) and DIR ($BENCH_DIR, or a new /tmp/tributary-NAME-bench.*,
# removed on exit unless BENCH_KEEP=1) and traps exit to stop every process
# started with bg_start.
bench_setup() {
    if [ -z "$1" ] || [ ! -x "$1/collector/tributary-collector" ]; then
        echo "usage: $0 BUILD_DIR (with collector/tributary-collector built)" >&2
        exit 2
    fi
    BUILD=$(cd "$1" && pwd)
    DIR=${BENCH_DIR:-$(mktemp -d "/tmp/tributary-$2-bench.XXXXXX")}
    mkdir -p "$DIR"
    trap 'bench_cleanup; [ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$DIR"' EXIT INT TERM
}

# wait_port PORT [SECONDS] -- until something accepts on 127.0.0.1:PORT.
wait_port() {
    _i=0
    _max=$(( ${2:-20} * 10 ))
    while [ $_i -lt $_max ]; do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
            return 0
        fi
        sleep 0.1
        _i=$((_i + 1))
    done
    log "nothing listens on port $1"
    return 1
}

# json_get FILE KEY[.SUB] -- a field of the last JSON line of FILE, or "".
json_get() {
    /usr/bin/python3 - "$1" "$2" <<'PY' 2>/dev/null || true
import json, sys
path, key = sys.argv[1], sys.argv[2]
obj = None
for line in open(path, errors="replace"):
    line = line.strip()
    if line.startswith("{"):
        try:
            obj = json.loads(line)
        except ValueError:
            pass
for k in key.split("."):
    if not isinstance(obj, dict) or k not in obj:
        sys.exit(0)
    obj = obj[k]
print(obj)
PY
}

# cpu_seconds PID -- user+system CPU seconds of a live process.
cpu_seconds() {
    awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$1/stat" 2>/dev/null || echo ""
}

# rss_kib PID FIELD -- VmRSS or VmHWM of a live process, in KiB.
rss_kib() {
    awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null || echo ""
}

# result SECTION WORKLOAD METRIC OURS PEER PEER_VALUE [NOTE] -- one table row.
result() {
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$6" "${7:-}" >>"$RESULTS"
}

# end_offset PORT TOPIC [PARTITIONS] -- sum of the partitions' end offsets.
end_offset() {
    _sum=0
    _p=0
    while [ $_p -lt "${3:-1}" ]; do
        _o=$(kcat -Q -b "127.0.0.1:$1" -t "$2:$_p:-1" 2>/dev/null | awk '{ print $NF }')
        case $_o in
        '' | *[!0-9]*) _o=0 ;;
        esac
        _sum=$((_sum + _o))
        _p=$((_p + 1))
    done
    echo $_sum
}
