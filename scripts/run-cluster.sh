#!/usr/bin/env bash
# A collector cluster on this machine: one ZooKeeper and three collectors on
# loopback, coordinated under the /tributary chroot, until Ctrl-C.
#
#   scripts/run-cluster.sh [--builddir DIR] [--zk-port PORT]
#                          [--ports P1,P2,P3] [--set KEY=VALUE]...
#
# --builddir DIR   where the programs were built (default: build, or
#                  $TR_CLUSTER_BUILDDIR); build it first with
#                  scripts/setup.sh --builddir DIR
# --zk-port PORT   ZooKeeper's client port (default: $TR_ZK_PORT, else 2181,
#                  or a free port when 2181 is taken)
# --ports LIST     the brokers' ports, comma-separated, one broker each
#                  (default: $TR_BROKER_PORTS, else 9092,9093,9094); broker
#                  ids are 1, 2, 3... in that order
# --set KEY=VALUE  one more collector setting for every broker (repeatable)
#
# Data stays under ./var/cluster between runs: ZooKeeper's in
# var/cluster/zookeeper, broker N's in var/cluster/broker-N. Logs go to
# var/cluster/zookeeper.log and var/cluster/broker-N.log. Ctrl-C (or
# SIGTERM) stops the collectors with SIGTERM, one after the other, then
# ZooKeeper. ZooKeeper is Debian's (package zookeeper, installed by
# scripts/setup.sh --tests), run in the foreground with java.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
builddir=${TR_CLUSTER_BUILDDIR:-build}
zk_port=${TR_ZK_PORT:-}
ports=${TR_BROKER_PORTS:-9092,9093,9094}
extra_sets=()
while [ $# -gt 0 ]; do
    case $1 in
    --builddir | --zk-port | --ports | --set)
        [ $# -ge 2 ] || { echo "run-cluster: $1 needs a value" >&2; exit 2; }
        case $1 in
        --builddir) builddir=$2 ;;
        --zk-port) zk_port=$2 ;;
        --ports) ports=$2 ;;
        --set) extra_sets+=(--set "$2") ;;
        esac
        shift 2
        ;;
    --builddir=*) builddir=${1#*=}; shift ;;
    --zk-port=*) zk_port=${1#*=}; shift ;;
    --ports=*) ports=${1#*=}; shift ;;
    --set=*) extra_sets+=(--set "${1#*=}"); shift ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "run-cluster: unknown argument '$1' (see --help)" >&2
        exit 2
        ;;
    esac
done

cd "$root"
case $builddir in
/*) ;;
*) builddir=$root/$builddir ;;
esac
bin=$builddir/collector/tributary-collector
tool=$builddir/tools/tributary
if [ ! -x "$bin" ]; then
    echo "run-cluster: no collector at $bin; build it with: scripts/setup.sh --builddir ${builddir#"$root"/}" >&2
    exit 1
fi
java=$(command -v java || true)
zk_classpath=/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar
if [ -z "$java" ] || [ ! -f /usr/share/java/zookeeper.jar ]; then
    echo "run-cluster: ZooKeeper needs java and /usr/share/java/zookeeper.jar; install them with scripts/setup.sh --tests" >&2
    exit 1
fi

IFS=, read -r -a broker_ports <<<"${ports// /,}"
count=${#broker_ports[@]}
for p in "${broker_ports[@]}"; do
    case $p in
    '' | *[!0-9]*) echo "run-cluster: bad broker port '$p' in '$ports'" >&2; exit 2 ;;
    esac
done
[ "$count" -ge 1 ] || { echo "run-cluster: no broker ports" >&2; exit 2; }
replication=$((count < 3 ? count : 3))
min_isr=$((replication < 2 ? 1 : 2))

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A four-letter command to ZooKeeper ('srvr', 'ruok', ...); prints the reply.
zk_cmd() {
    # shellcheck disable=SC2016 # $1 and $2 belong to the inner bash
    timeout 3 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && printf %s "$2" >&3 && cat <&3' _ "$zk_port" "$1" 2>/dev/null || true
}

for p in "${broker_ports[@]}"; do
    if port_open "$p"; then
        echo "run-cluster: something already listens on 127.0.0.1:$p; stop it first (or choose --ports)" >&2
        exit 1
    fi
done
if [ -n "$zk_port" ]; then
    if port_open "$zk_port"; then
        echo "run-cluster: something already listens on 127.0.0.1:$zk_port; choose another --zk-port" >&2
        exit 1
    fi
elif ! port_open 2181; then
    zk_port=2181
else
    zk_port=$(/usr/bin/python3 "$root/tests/integration/harness.py" free-port)
    echo "==> 127.0.0.1:2181 is taken; ZooKeeper will use $zk_port"
fi

dir=$root/var/cluster
mkdir -p "$dir/zookeeper"
zk_cfg=$dir/zookeeper.cfg
zk_log=$dir/zookeeper.log
cat >"$zk_cfg" <<CFG
# written by scripts/run-cluster.sh
tickTime=2000
initLimit=10
syncLimit=5
dataDir=$dir/zookeeper
clientPort=$zk_port
clientPortAddress=127.0.0.1
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=*
autopurge.snapRetainCount=3
autopurge.purgeInterval=1
CFG

zk_pid=
broker_pids=()

alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }

# SIGTERM the given pids, wait up to $1 s for all, then SIGKILL the rest.
term_and_wait() {
    local secs=$1 pid
    shift
    for pid in "$@"; do
        if alive "$pid"; then
            kill -TERM "$pid" 2>/dev/null || true
        fi
    done
    for _ in $(seq $((secs * 10))); do
        local any=
        for pid in "$@"; do
            alive "$pid" && any=1
        done
        [ -z "$any" ] && break
        sleep 0.1
    done
    for pid in "$@"; do
        if alive "$pid"; then
            echo "run-cluster: pid $pid did not stop within $secs s; killing it" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
    done
}

stopped=
stop_all() {
    [ -z "$stopped" ] || return 0
    stopped=1
    trap '' INT TERM HUP
    # One at a time, highest id first: each hands its partitions over to
    # the brokers still running.
    local k
    for ((k = ${#broker_pids[@]} - 1; k >= 0; k--)); do
        if alive "${broker_pids[k]}"; then
            echo "==> stopping broker $((k + 1)) (SIGTERM)"
            term_and_wait 30 "${broker_pids[k]}"
        fi
    done
    if alive "$zk_pid"; then
        echo "==> stopping ZooKeeper (SIGTERM)"
        term_and_wait 10 "$zk_pid"
    fi
}
trap stop_all EXIT
trap 'echo; exit 0' INT TERM HUP

# Each server runs in its own session, so that Ctrl-C reaches only this
# script, which then stops them in order.
echo "==> starting ZooKeeper on 127.0.0.1:$zk_port (data in var/cluster/zookeeper)"
echo "=== $(date '+%F %T') run-cluster.sh: ZooKeeper on 127.0.0.1:$zk_port" >>"$zk_log"
setsid "$java" -Xmx512m -XX:+UseSerialGC \
    -Dorg.slf4j.simpleLogger.showDateTime=true \
    "-Dorg.slf4j.simpleLogger.dateTimeFormat=yyyy-MM-dd HH:mm:ss,SSS" \
    -cp "$zk_classpath" org.apache.zookeeper.server.quorum.QuorumPeerMain "$zk_cfg" \
    </dev/null >>"$zk_log" 2>&1 &
zk_pid=$!
for _ in $(seq 600); do
    case $(zk_cmd srvr) in *"Mode: "*) break ;; esac
    if ! alive "$zk_pid"; then
        echo "run-cluster: ZooKeeper exited while starting; the end of $zk_log:" >&2
        tail -n 30 "$zk_log" >&2
        exit 1
    fi
    sleep 0.1
done
case $(zk_cmd srvr) in
*"Mode: "*) ;;
*)
    echo "run-cluster: ZooKeeper does not serve on 127.0.0.1:$zk_port after 60 s; the end of $zk_log:" >&2
    tail -n 30 "$zk_log" >&2
    exit 1
    ;;
esac

bootstrap=
for i in $(seq "$count"); do
    port=${broker_ports[$((i - 1))]}
    log=$dir/broker-$i.log
    echo "==> starting broker $i on 127.0.0.1:$port (data in var/cluster/broker-$i)"
    echo "=== $(date '+%F %T') run-cluster.sh: broker $i on 127.0.0.1:$port" >>"$log"
    setsid "$bin" \
        --set "broker.id=$i" \
        --set "listeners=PLAINTEXT://127.0.0.1:$port" \
        --set "log.dirs=$dir/broker-$i" \
        --set "zookeeper.connect=127.0.0.1:$zk_port/tributary" \
        --set zookeeper.session.timeout.ms=6000 \
        --set zookeeper.connection.timeout.ms=10000 \
        --set replica.lag.time.max.ms=10000 \
        --set "default.replication.factor=$replication" \
        --set "min.insync.replicas=$min_isr" \
        --set "offsets.topic.replication.factor=$replication" \
        "${extra_sets[@]+"${extra_sets[@]}"}" \
        </dev/null >>"$log" 2>&1 &
    broker_pids+=($!)
    bootstrap=${bootstrap:+$bootstrap,}127.0.0.1:$port
done
for i in $(seq "$count"); do
    port=${broker_ports[$((i - 1))]}
    pid=${broker_pids[$((i - 1))]}
    log=$dir/broker-$i.log
    for _ in $(seq 300); do
        port_open "$port" && break
        if ! alive "$pid"; then
            echo "run-cluster: broker $i exited while starting; the end of $log:" >&2
            tail -n 30 "$log" >&2
            exit 1
        fi
        sleep 0.1
    done
    if ! port_open "$port"; then
        echo "run-cluster: broker $i is not listening on 127.0.0.1:$port after 30 s; the end of $log:" >&2
        tail -n 30 "$log" >&2
        exit 1
    fi
done

zkcli=/usr/share/zookeeper/bin/zkCli.sh
cat <<EOF
==> the cluster is up: ZooKeeper 127.0.0.1:$zk_port, $count brokers
    bootstrap servers   $bootstrap
    ZooKeeper           127.0.0.1:$zk_port/tributary (chroot)
    data and logs       var/cluster/ (zookeeper.log, broker-N.log)

  Try:
    $tool cluster -b $bootstrap
    $tool topics create -b $bootstrap app --partitions 3 --replication-factor $replication
    $tool topics describe -b $bootstrap app
    kcat -b $bootstrap -L
    printf 'one\ntwo\n' | kcat -b $bootstrap -P -t app
    kcat -b $bootstrap -C -t app -o beginning -e
    $zkcli -server 127.0.0.1:$zk_port ls -R /tributary
    $zkcli -server 127.0.0.1:$zk_port/tributary get /controller

==> Ctrl-C stops the collectors, then ZooKeeper
EOF

# Wait until Ctrl-C; report any server that exits on its own meanwhile.
names=()
pids=("$zk_pid" "${broker_pids[@]}")
names[0]="ZooKeeper ($zk_log)"
for i in $(seq "$count"); do
    names[i]="broker $i ($dir/broker-$i.log)"
done
reported=()
while :; do
    running=
    for k in "${!pids[@]}"; do
        if alive "${pids[k]}"; then
            running=1
        elif [ -z "${reported[k]:-}" ]; then
            reported[k]=1
            status=0
            wait "${pids[k]}" 2>/dev/null || status=$?
            echo "run-cluster: ${names[k]} exited with status $status" >&2
        fi
    done
    [ -n "$running" ] || { echo "run-cluster: every server has exited" >&2; exit 1; }
    # (wait, unlike sleep, returns at once when Ctrl-C arrives)
    { sleep 1 & wait $!; } 2>/dev/null || true
done
