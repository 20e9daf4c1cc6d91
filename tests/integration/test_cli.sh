#!/bin/sh
# The collector's command line: --help, --version, configuration errors
# (exit status 2 with FILE:LINE:), unknown keys (a warning), the data
# directory lock, and a clean stop on SIGINT.
set -u

here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=${top_srcdir:-$(cd "$here/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
export top_srcdir top_builddir
bin=$top_builddir/collector/tributary-collector
harness="/usr/bin/python3 $here/harness.py"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tributary-it-cli-XXXXXX")
pid=
failures=0

cleanup() {
    if [ -n "$pid" ]; then
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ok() { echo "ok - $*"; }
not_ok() {
    echo "not ok - $*"
    for f in "$tmp"/out "$tmp"/err; do
        [ -s "$f" ] && { echo "--- $(basename "$f"):"; tail -n 20 "$f"; }
    done
    failures=$((failures + 1))
}

if [ ! -x "$bin" ]; then
    echo "FAIL: collector binary not found at $bin"
    exit 1
fi

# run SECONDS ARGS...: runs the collector with a time limit; sets $rc.
run() {
    limit=$1
    shift
    timeout -k 5 "$limit" "$bin" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
    rc=$?
}

run 10 --help
if [ "$rc" -eq 0 ] && grep -q -- --config "$tmp/out" "$tmp/err"; then
    ok "--help exits 0 and describes --config"
else
    not_ok "--help: status $rc"
fi

run 10 --version
if [ "$rc" -eq 0 ] && grep -Eq '[0-9]+\.[0-9]+' "$tmp/out" "$tmp/err"; then
    ok "--version exits 0 and prints a version: $(head -n 1 "$tmp/out")"
else
    not_ok "--version: status $rc"
fi

run 10 --no-such-option
if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && [ -s "$tmp/err" ]; then
    ok "an unknown option fails with status $rc and a message"
else
    not_ok "an unknown option: status $rc"
fi

port=$($harness free-port)
cfg=$tmp/bad.properties
printf '# a comment\nlisteners=PLAINTEXT://127.0.0.1:%s\nnum.partitions=abc\nlog.dirs=%s\n' \
    "$port" "$tmp/data-bad" >"$cfg"
run 10 --config "$cfg"
if [ "$rc" -eq 2 ] && grep -qF "$cfg:3:" "$tmp/err"; then
    ok "num.partitions=abc on line 3 exits 2 with '$cfg:3:'"
else
    not_ok "invalid config line: status $rc (expected 2 and '$cfg:3:' in stderr)"
fi

run 10 --config "$tmp/does-not-exist.properties" --set "log.dirs=$tmp/data-missing"
if [ "$rc" -eq 2 ] && grep -qF "does-not-exist.properties" "$tmp/err"; then
    ok "a missing config file exits 2 and names the file"
else
    not_ok "missing config file: status $rc (expected 2 and the file name in stderr)"
fi

run 10 --set "listeners=PLAINTEXT://127.0.0.1:$port" --set "log.dirs=$tmp/data-set" --set num.partitions=abc
if [ "$rc" -eq 2 ] && grep -q "num.partitions" "$tmp/err"; then
    ok "--set num.partitions=abc exits 2 and names the key"
else
    not_ok "--set num.partitions=abc: status $rc (expected 2)"
fi

run 10 --set "listeners=PLAINTEXT://127.0.0.1:$port" --set "log.dirs=$tmp/data-set" --set message.max.bytes=-5
if [ "$rc" -eq 2 ]; then
    ok "--set message.max.bytes=-5 exits 2"
else
    not_ok "--set message.max.bytes=-5: status $rc (expected 2)"
fi

# An unknown key: a warning naming it, and the collector starts.
cfg=$tmp/unknown.properties
printf 'num.partitions=2\nno.such.key=1\n' >"$cfg"
# shellcheck disable=SC2016
if $harness exec --name unknown-key --config "$cfg" -- \
    sh -c 'grep -q "no.such.key" "$TR_COLLECTOR_LOG"' >"$tmp/out" 2>&1; then
    ok "an unknown key is warned about and the collector starts"
else
    not_ok "unknown key"
fi

# A second collector on the same log.dirs must refuse to start.
# shellcheck disable=SC2016
if $harness exec --name first -- sh -c '
    port2=$(/usr/bin/python3 "$0" free-port)
    timeout -k 5 20 "$TR_COLLECTOR" --set "listeners=PLAINTEXT://127.0.0.1:$port2" \
        --set "log.dirs=$TR_DATA_DIR" </dev/null >"$TR_WORK_DIR/second.out" 2>"$TR_WORK_DIR/second.err"
    rc=$?
    echo "second collector: status $rc"
    cat "$TR_WORK_DIR/second.err"
    [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && [ "$rc" -lt 128 ] && grep -qi "lock" "$TR_WORK_DIR/second.err"
' "$here/harness.py" >"$tmp/out" 2>&1; then
    ok "a second collector on the same log.dirs refuses to start: $(grep -i lock "$tmp/out" | head -n 1)"
else
    not_ok "second collector on the same log.dirs"
fi

# SIGINT stops it cleanly (harness checks exit status 0 within 10 s).
if $harness exec --name sigint --stop-signal INT -- true >"$tmp/out" 2>&1; then
    ok "SIGINT stops the collector with status 0"
else
    not_ok "SIGINT"
fi

# A data directory that cannot be created is a clear error, not a crash.
: >"$tmp/a-file"
port=$($harness free-port)
run 20 --set "listeners=PLAINTEXT://127.0.0.1:$port" --set "log.dirs=$tmp/a-file/data"
if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && [ "$rc" -lt 128 ] && [ -s "$tmp/err" ]; then
    ok "an unusable log.dirs fails with status $rc and a message"
else
    not_ok "unusable log.dirs: status $rc"
fi

# A port already in use is a clear error, not a crash.
# shellcheck disable=SC2016
if $harness exec --name busy-port -- sh -c '
    timeout -k 5 20 "$TR_COLLECTOR" --set "listeners=PLAINTEXT://$TR_BROKER" \
        --set "log.dirs=$TR_WORK_DIR/other-data" </dev/null >/dev/null 2>"$TR_WORK_DIR/second.err"
    rc=$?
    echo "second collector on a busy port: status $rc"
    cat "$TR_WORK_DIR/second.err"
    [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && [ "$rc" -lt 128 ] && [ -s "$TR_WORK_DIR/second.err" ]
' >"$tmp/out" 2>&1; then
    ok "a listener port already in use fails with a message"
else
    not_ok "busy port"
fi

if [ "$failures" -ne 0 ]; then
    echo "FAIL: test_cli: $failures check(s) failed"
    exit 1
fi
echo "PASS: test_cli"
