#!/usr/bin/env bash
# Prepares a Debian 12 machine to build (and, with --tests, to test)
# Tributary, then builds it.
#
#   scripts/setup.sh [--tests] [--builddir DIR] [CONFIGURE-ARGS...]
#
# 1. Installs the Debian packages that are missing (apt-get, as root or
#    through sudo): what the build needs, and kcat for the demo. Nothing is
#    installed when everything is there already.
# 2. With --tests, also what the test suite needs: the Kafka client modules
#    for Python, ZooKeeper (with its Java runtime) and kazoo for the cluster
#    tests, logrotate, valgrind, clang-format, cppcheck, clang 14 with
#    libFuzzer (make fuzz), debhelper and lintian (the Debian packages'
#    test), prometheus (promtool and a server for the metrics test),
#    chromium (headless, for the web console's test),
#    Node.js, and
#    kafkajs (pinned in tests/integration/package-lock.json, installed with
#    npm into tests/integration/node_modules). Without --tests nothing comes
#    from npm: hosts in a data centre often cannot reach it.
# 3. Runs ./autogen.sh if there is no configure script, configures an
#    out-of-tree build in DIR (default: build) with CONFIGURE-ARGS (for
#    example --enable-sanitizers), and runs make -j2 there.
#
# Running it again only does what is left to do: it reconfigures only when
# the configure arguments changed, and make rebuilds only what changed.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
builddir=build
configure_args=()
tests=no
while [ $# -gt 0 ]; do
    case $1 in
    --tests)
        tests=yes
        shift
        ;;
    --builddir)
        builddir=${2:?--builddir needs a directory}
        shift 2
        ;;
    --builddir=*)
        builddir=${1#--builddir=}
        shift
        ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        configure_args+=("$1")
        shift
        ;;
    esac
done
case $builddir in
/*) ;;
*) builddir=$root/$builddir ;;
esac

say() { printf '==> %s\n' "$*"; }

packages=(
    build-essential autoconf automake libtool pkg-config
    libevent-dev zlib1g-dev libpcre2-dev libcmocka-dev
    libzstd-dev liblz4-dev libsnappy-dev libzookeeper-mt-dev libssl-dev
    kcat
)
test_packages=(
    python3-confluent-kafka python3-kafka
    python3-zstandard python3-lz4 python3-snappy
    zookeeper python3-kazoo
    logrotate valgrind clang-format cppcheck
    clang-14 libclang-rt-14-dev openssl
    debhelper lintian
    prometheus
    chromium curl
)
if [ "$tests" = yes ]; then
    packages+=("${test_packages[@]}")
fi

installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q '^install ok installed$'
}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        echo "setup.sh: need root to run: $*" >&2
        exit 1
    fi
}

missing=()
for p in "${packages[@]}"; do
    installed "$p" || missing+=("$p")
done
# Node.js may come from elsewhere (/usr/local/bin, a vendor package); only
# fall back to Debian's when there is no node or no npm at all.
if [ "$tests" = yes ] && ! command -v node >/dev/null 2>&1; then
    installed nodejs || missing+=(nodejs)
fi
if [ "$tests" = yes ] && ! command -v npm >/dev/null 2>&1; then
    installed npm || missing+=(npm)
fi

if [ ${#missing[@]} -gt 0 ]; then
    say "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get update -q
    as_root apt-get install -y -q --no-install-recommends "${missing[@]}"
else
    say "Debian packages: all present"
fi

if [ "$tests" = yes ]; then
    # The Kafka and ZooKeeper client modules are Debian's and load only in
    # Debian's python3.
    /usr/bin/python3 -c 'import confluent_kafka, kafka, kazoo' ||
        { echo "setup.sh: /usr/bin/python3 cannot import confluent_kafka, kafka and kazoo" >&2; exit 1; }

    it=$root/tests/integration
    want=$(node -p 'require(process.argv[1]).dependencies.kafkajs' "$it/package.json")
    have=$(node -p 'try { require(process.argv[1]).version } catch (e) { "" }' \
        "$it/node_modules/kafkajs/package.json")
    if [ "$have" = "$want" ]; then
        say "kafkajs $have: present"
    else
        say "installing kafkajs $want with npm"
        if [ -f "$it/package-lock.json" ]; then
            (cd "$it" && npm ci --no-audit --no-fund --loglevel=error)
        else
            (cd "$it" && npm install --no-audit --no-fund --loglevel=error)
        fi
    fi
fi

cd "$root"
if [ ! -x configure ]; then
    say "./autogen.sh"
    ./autogen.sh
fi

mkdir -p "$builddir"
cd "$builddir"
stamp=.setup-configure-args
args_now=$(printf '%s\n' "${configure_args[@]+"${configure_args[@]}"}")
if [ ! -f Makefile ] || [ ! -f config.status ] || [ "$(cat "$stamp" 2>/dev/null)" != "$args_now" ]; then
    say "configure ${configure_args[*]+"${configure_args[*]}"} (in $builddir)"
    "$root/configure" "${configure_args[@]+"${configure_args[@]}"}"
    printf '%s' "$args_now" >"$stamp"
else
    say "configure: up to date in $builddir"
fi

say "make -j2 (in $builddir)"
make -j2
say "built $builddir/collector/tributary-collector"
