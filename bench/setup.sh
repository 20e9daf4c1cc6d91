#!/bin/sh
# setup.sh -- install the peers `make bench` compares against, from Debian's
# packages. Idempotent: installs only what is missing. Needs root (or sudo).
#
# Daemons are never started by the packages (a temporary policy-rc.d denies
# it); the bench scripts start their own loopback instances.
#
# rsyslog and syslog-ng-core conflict as packages (both provide
# system-log-daemon), so rsyslog is installed normally and syslog-ng is
# unpacked from its .debs into $BENCH_PREFIX (default /opt/tributary-bench),
# with its libraries' dependencies installed from apt.
set -eu

BENCH_PREFIX=${BENCH_PREFIX:-/opt/tributary-bench}
PKGS="redis-server redis-tools nats-server libnats-dev rsyslog rsyslog-kafka
kcat librdkafka-dev python3-confluent-kafka strace time
libcap2 libglib2.0-0 libivykis0 libjson-c5 libnet1 libpcre3 libssl3 libwrap0"

SUDO=""
if [ "$(id -u)" != 0 ]; then
    SUDO="sudo"
fi

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
        missing="$missing $p"
    fi
done
need_sng=0
if [ ! -x "$BENCH_PREFIX/syslog-ng/usr/sbin/syslog-ng" ] ||
   [ ! -e "$BENCH_PREFIX/syslog-ng/usr/lib/syslog-ng/3.38/libkafka.so" ]; then
    need_sng=1
fi
if [ -z "$missing" ] && [ "$need_sng" = 0 ]; then
    echo "setup: all peers installed"
    exit 0
fi

policy=/usr/sbin/policy-rc.d
made_policy=0
tmp=""
cleanup() {
    if [ "$made_policy" = 1 ]; then
        $SUDO rm -f "$policy"
    fi
    if [ -n "$tmp" ]; then
        rm -rf "$tmp"
    fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
if [ -n "$missing" ]; then
    echo "setup: installing$missing"
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
        $SUDO chmod 755 "$policy"
        made_policy=1
    fi
    # shellcheck disable=SC2086
    $SUDO apt-get install -y -qq --no-install-recommends $missing
fi
if [ "$need_sng" = 1 ]; then
    echo "setup: unpacking syslog-ng into $BENCH_PREFIX/syslog-ng"
    tmp=$(mktemp -d)
    chmod 755 "$tmp"
    (cd "$tmp" && apt-get download syslog-ng-core syslog-ng-mod-rdkafka >/dev/null)
    $SUDO mkdir -p "$BENCH_PREFIX/syslog-ng"
    for deb in "$tmp"/*.deb; do
        $SUDO dpkg-deb -x "$deb" "$BENCH_PREFIX/syslog-ng"
    done
fi
echo "setup: done"
