#!/bin/sh
# kafkajs 2.2.4 against a collector started by harness.py (see test_kafkajs.js).
#
# kafkajs comes from npm: scripts/setup.sh runs 'npm ci' in tests/integration.
# TR_NODE_MODULES may point at another node_modules directory (make
# distcheck unpacks a source tree without one). Missing kafkajs fails the
# test, except under 'make distcheck', where it is skipped (status 77).
set -u

here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=${top_srcdir:-$(cd "$here/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
export top_srcdir top_builddir

modules=
for d in "${TR_NODE_MODULES:-}" "$here/node_modules" "$top_builddir/tests/integration/node_modules"; do
    if [ -n "$d" ] && [ -f "$d/kafkajs/package.json" ]; then
        modules=$(cd "$d" && pwd)
        break
    fi
done

missing=
if ! command -v node >/dev/null 2>&1; then
    missing="node is not installed"
elif [ -z "$modules" ]; then
    missing="kafkajs is not installed (run scripts/setup.sh, or npm ci in tests/integration)"
fi
if [ -n "$missing" ]; then
    if /usr/bin/python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); import harness; sys.exit(0 if harness.in_distcheck() else 1)' "$here"; then
        echo "SKIP: test_kafkajs: $missing"
        exit 77
    fi
    echo "FAIL: test_kafkajs: $missing"
    exit 1
fi

version=$(node -p 'require(process.argv[1] + "/kafkajs/package.json").version' "$modules")
if [ "$version" != "2.2.4" ]; then
    echo "FAIL: test_kafkajs: kafkajs $version in $modules, expected 2.2.4"
    exit 1
fi
echo "# kafkajs $version from $modules, node $(node --version)"

NODE_PATH=$modules
KAFKAJS_NO_PARTITIONER_WARNING=1
export NODE_PATH KAFKAJS_NO_PARTITIONER_WARNING
exec /usr/bin/python3 "$here/harness.py" exec --name kafkajs -- node "$here/test_kafkajs.js"
