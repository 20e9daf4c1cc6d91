#!/usr/bin/python3
"""Consumer groups with kafkajs 2.2.4 (run by test_groups_kafkajs.sh).

Three subscribe()d consumers in one group share a 6-partition topic:
every record is consumed exactly once across them (kafkajs reports
assignments but no revocations, so ownership overlap is checked only for
the librdkafka and kafka-python tests); a consumer in a second group
receives everything as well. Then one member is killed with SIGKILL while records keep coming: its partitions move to
the others within the session timeout and, since every record was
committed after it was written, nothing is skipped. See
test_groups_common.py.
"""

import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import test_groups_common  # noqa: E402


def body(ws):
    test_groups_common.group_scenario(ws, "kafkajs", check_assign_events=False)


if __name__ == "__main__":
    sys.exit(harness.main(body, timeout=150))
