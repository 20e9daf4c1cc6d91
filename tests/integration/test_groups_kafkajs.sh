#!/bin/sh
# kafkajs 2.2.4 consumer groups (see test_groups_kafkajs.py), with kafkajs
# found as test_kafkajs.sh finds it.
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
if ! command -v node >/dev/null 2>&1 || [ -z "$modules" ]; then
    if /usr/bin/python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); import harness; sys.exit(0 if harness.in_distcheck() else 1)' "$here"; then
        echo "SKIP: test_groups_kafkajs: node or kafkajs missing"
        exit 77
    fi
    echo "FAIL: test_groups_kafkajs: node or kafkajs missing (run scripts/setup.sh)"
    exit 1
fi
NODE_PATH=$modules
KAFKAJS_NO_PARTITIONER_WARNING=1
export NODE_PATH KAFKAJS_NO_PARTITIONER_WARNING
exec /usr/bin/python3 "$here/test_groups_kafkajs.py"
