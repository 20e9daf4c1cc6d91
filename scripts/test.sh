#!/usr/bin/env bash
# Builds Tributary with AddressSanitizer and UndefinedBehaviorSanitizer and
# runs every test: 'make check' (cmocka unit tests, then the integration
# tests that drive the collector with kcat, confluent-kafka, kafka-python and
# kafkajs), then 'make distcheck' (the release tarball builds and passes its
# tests from a read-only source tree).
#
#   scripts/test.sh [--no-distcheck]
#
# The build lives in build-ci (TR_TEST_BUILDDIR overrides it). The last line
# printed sums up 'make check': "check: N passed, N failed, N skipped".
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
builddir=${TR_TEST_BUILDDIR:-build-ci}
distcheck=yes
for a in "$@"; do
    case $a in
    --no-distcheck) distcheck=no ;;
    *)
        echo "usage: scripts/test.sh [--no-distcheck]" >&2
        exit 2
        ;;
    esac
done

"$root/scripts/setup.sh" --tests --builddir "$builddir" --enable-sanitizers
case $builddir in
/*) ;;
*) builddir=$root/$builddir ;;
esac
cd "$builddir"

# distcheck unpacks the tarball without node_modules: point the kafkajs test
# at the copy setup.sh installed.
export TR_NODE_MODULES=$root/tests/integration/node_modules
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

summary() {
    local log=$1
    [ -f "$log" ] || { echo "check: 0 passed, 1 failed (no $log)"; return; }
    awk '
        /^# PASS:/ { pass = $3 }
        /^# SKIP:/ { skip = $3 }
        /^# XFAIL:/ { xfail = $3 }
        /^# FAIL:/ { fail = $3 }
        /^# XPASS:/ { xpass = $3 }
        /^# ERROR:/ { error = $3 }
        END {
            printf "check: %d passed, %d failed, %d skipped\n",
                pass + xfail, fail + xpass + error, skip
        }' "$log"
}

echo "==> make style-check cppcheck (clang-format, banned functions, cppcheck)"
make style-check cppcheck

start=$(date +%s)
echo "==> make check (in $builddir)"
status=0
make -j2 check VERBOSE=1 || status=$?
result=$(summary "$builddir/test-suite.log")
echo "==> make check: $result ($(($(date +%s) - start)) s)"
if [ "$status" -ne 0 ]; then
    echo "==> make check failed; the logs of failing tests are above"
    echo "$result"
    exit "$status"
fi

if [ "$distcheck" = yes ]; then
    start=$(date +%s)
    echo "==> make distcheck (in $builddir)"
    make -j2 distcheck VERBOSE=1
    echo "==> make distcheck passed ($(($(date +%s) - start)) s)"
fi
echo "$result"
