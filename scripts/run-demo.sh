#!/usr/bin/env bash
# A first look at Tributary: build it, start one collector with the default
# settings, send a few keyed records with kcat and read them back, then start
# an agent that ships a growing access log and show its lines arriving at a
# consumer, then stop everything.
#
#   scripts/run-demo.sh
#
# The collector listens on 127.0.0.1:9092 and keeps its data under
# ./var/collector, so records from earlier runs are still there; this run
# reads back the records it wrote itself. Its log goes to var/demo-collector.log.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
builddir=${TR_DEMO_BUILDDIR:-build-demo}
"$root/scripts/setup.sh" --builddir "$builddir"

cd "$root"
case $builddir in
/*) bin=$builddir/collector/tributary-collector ;;
*) bin=$root/$builddir/collector/tributary-collector ;;
esac
broker=127.0.0.1:9092
topic=demo
mkdir -p var
log=var/demo-collector.log

port_open() { (exec 3<>/dev/tcp/127.0.0.1/9092) 2>/dev/null; }

if port_open; then
    echo "run-demo: something already listens on $broker; stop it first" >&2
    exit 1
fi

echo "==> starting $bin (defaults: $broker, data in ./var/collector)"
"$bin" </dev/null 2>"$log" &
pid=$!
stop() {
    if kill -0 "$pid" 2>/dev/null; then
        echo "==> stopping the collector (SIGTERM)"
        kill -TERM "$pid"
        for _ in $(seq 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            echo "run-demo: the collector did not stop within 10 s; killing it" >&2
            kill -KILL "$pid"
        fi
    fi
    wait "$pid" 2>/dev/null || true
}
trap stop EXIT

for _ in $(seq 300); do
    port_open && break
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "run-demo: the collector exited while starting; its log:" >&2
        cat "$log" >&2
        exit 1
    fi
    sleep 0.1
done
port_open || { echo "run-demo: the collector is not listening after 30 s" >&2; cat "$log" >&2; exit 1; }

run=$(date +%Y%m%dT%H%M%S)-$$
records=$(
    for host in web-1 web-2 db-1 web-1 cache-1; do
        echo "$host:$run $host sshd[4242]: Accepted publickey for deploy from 192.0.2.7 port 51234"
    done
)
echo "==> producing 5 records to topic '$topic' (kcat -P, key:value)"
printf '%s\n' "$records" | sed 's/^/    /'
printf '%s\n' "$records" | timeout 60 kcat -b "$broker" -P -t "$topic" -p 0 -K: -z gzip

echo "==> consuming them back (kcat -C -e, the last 5 records)"
out=$(timeout 60 kcat -b "$broker" -C -t "$topic" -p 0 -o -5 -e -q -f '%k:%s\n')
timeout 60 kcat -b "$broker" -C -t "$topic" -p 0 -o -5 -e -q \
    -f '    partition %p offset %o key %k: %s\n'

if [ "$out" != "$records" ]; then
    echo "run-demo: the records read back differ from those sent" >&2
    exit 1
fi
echo "==> the 5 records went through the collector and came back unchanged"

# The main job: an agent tails a growing access log and ships every line,
# keyed by the client address it extracts with PCRE2.
agent=${bin%/collector/tributary-collector}/agent/tributary-agent
demo=var/demo-$run
mkdir -p "$demo/logs" "$demo/state"
access=$demo/logs/access.log
cat >"$demo/agent.conf" <<CONF
[agent]
state_dir = $root/$demo/state

[output]
brokers = $broker

[input nginx]
paths = $root/$demo/logs/access.log*
exclude = *.gz
topic = access-$run
pattern = ^(?<client>[0-9.]+) 
key = \${client}
read_from = beginning
CONF
writer() {
    local i=0
    while [ $i -lt 2000 ]; do
        i=$((i + 1))
        printf '192.0.2.%d - - [%s] "GET /item/%d HTTP/1.1" 200 %d "-" "curl/7.88"\n' \
            $((i % 7 + 1)) "$(date -u +%d/%b/%Y:%H:%M:%S\ +0000)" "$i" $((i * 13 % 5000)) >>"$access"
        [ $((i % 200)) -eq 0 ] && sleep 0.2
    done
}
echo "==> starting $agent, tailing $access (a writer appends 2000 lines)"
: >"$access"
"$agent" --config "$demo/agent.conf" </dev/null 2>"$demo/agent.log" &
agent_pid=$!
stop_all() {
    if kill -0 "$agent_pid" 2>/dev/null; then
        echo "==> stopping the agent (SIGTERM)"
        kill -TERM "$agent_pid"
        wait "$agent_pid" 2>/dev/null || true
    fi
    stop
}
trap stop_all EXIT
writer
got=0
for _ in $(seq 300); do
    got=$(timeout 30 kcat -b "$broker" -C -t "access-$run" -e -q -f 'x\n' 2>/dev/null | wc -l)
    [ "$got" -ge 2000 ] && break
    sleep 0.2
done
echo "==> the consumer sees $got of 2000 lines in topic 'access-$run'; the last three:"
timeout 30 kcat -b "$broker" -C -t "access-$run" -p 0 -e -q -o -3 \
    -f '    partition %p offset %o key %k: %s\n' | tail -3
if [ "$got" -ne 2000 ]; then
    echo "run-demo: expected 2000 lines, got $got (agent log: $demo/agent.log)" >&2
    exit 1
fi
echo "==> every line of the growing log arrived, keyed by client address"
echo "==> topic metadata (kcat -L):"
timeout 30 kcat -b "$broker" -L -t "$topic" | sed 's/^/    /'
echo "==> the collector's log is in $log; its data stays in ./var/collector"
