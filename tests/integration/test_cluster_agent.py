#!/usr/bin/python3
"""The agent ships through a failover and a rolling restart, losing no line.

The real tributary-agent tails a log file that grows at about 2,000 lines/s
and ships to a three-collector cluster (topic auto-created with replication
factor 3, min.insync.replicas=2; the agent's default acks=-1, idempotent).
While it runs, the leader of every partition it writes to is SIGKILLed and
restarted, then every broker is stopped with SIGTERM and started again in
turn, then the agent itself is SIGKILLed twice and restarted (it resumes
its producer id from its journal, asking the partitions' leaders with
DescribeProducers). At the end every line the file received is in the
topic exactly once.
"""

import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster  # noqa: E402
import harness  # noqa: E402
import test_agent_common as ac  # noqa: E402
from harness import check, note  # noqa: E402

TOPIC = "app"
PARTITIONS = 2
LINES = 60000


def body(ws):
    cl = cluster.Cluster(ws, settings={"num.partitions": str(PARTITIONS)}).start()
    logs = os.path.join(ws.path, "logs")
    os.mkdir(logs)
    path = os.path.join(logs, "app.log")
    open(path, "w").close()
    inputs = "[input app]\npaths = %s/*.log\ntopic = %s\n" % (logs, TOPIC)
    agent = ac.Agent(ws, cl.bootstrap, inputs)
    agent.start()
    writer = ac.Writer(path, LINES, rate=2000)
    writer.start()
    cl.wait_for(lambda: ac.topic_counts(cl.bootstrap, TOPIC, PARTITIONS) > 2000,
                timeout=60, what="the agent's first lines in the topic")

    killed = cl.wait_leader(TOPIC, 0)
    t0 = time.time()
    cl.kill(killed)
    cl.wait_leader(TOPIC, 0, not_in=(killed,), timeout=30)
    note("SIGKILL of broker %d (leader of %s-0): new leader after %.1f s" %
         (killed, TOPIC, time.time() - t0))
    cl.restart(killed)
    cl.wait_isr(TOPIC, 0, size=3, timeout=60)
    for i in (1, 2, 3):
        cl.stop(i)
        cl.restart(i)
        for p in range(PARTITIONS):
            cl.wait_isr(TOPIC, p, size=3, timeout=60)
    note("rolling restart done; %d of %d lines written so far" % (writer.written, LINES))

    # The agent itself SIGKILLed twice while lines keep coming: its journal
    # and DescribeProducers, answered by each partition's leader, make the
    # restarted agent resume its producer id instead of resending blindly.
    for k in (1, 2):
        time.sleep(1.5)
        agent.kill()
        agent.start()
        cl.wait_for(lambda: agent.log().count(b"exactly once: producer id") >= k or
                    agent.log().count(b"cannot resume producer id") > 0,
                    timeout=60, what="restarted agent %d to resume or give up" % k)
    check(b"cannot resume producer id" not in agent.log(),
          "the agent resumed its producer id after both SIGKILLs (no at-least-once fallback)")
    note("agent SIGKILLed twice; it resumed its producer id through DescribeProducers")

    writer.join(120)
    check(writer.written == LINES, "the log got all %d lines" % LINES)
    ac.wait_count(cl.bootstrap, TOPIC, PARTITIONS, LINES, 180, agent)
    time.sleep(1)
    seen = ac.numbers(ac.read_topic(cl.bootstrap, TOPIC, PARTITIONS))
    dups = ac.check_all(seen, LINES, "lines shipped through the failover")
    note("lost 0, duplicated %d" % dups)
    check(dups == 0, "no line sent twice (idempotent agent, exactly once across its SIGKILLs)")
    check(agent.stop() == 0, "agent exits 0 on SIGTERM")


if __name__ == "__main__":
    cluster.skip_without_zookeeper()
    sys.exit(harness.main(body, timeout=400))
