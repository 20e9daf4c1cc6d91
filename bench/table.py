#!/usr/bin/python3
"""table.py -- prints bench/run.sh's results.tsv as one aligned table.

Columns: section, workload, metric, Tributary's figure, the peer, the
peer's figure, and ratio = ours / peer. For throughput and lines per
CPU-second higher is better; for seconds, latency and RSS lower is better.
"""
import sys


def num(s):
    try:
        return float(s)
    except (TypeError, ValueError):
        return None


def main(path):
    rows = []
    for line in open(path):
        f = line.rstrip("\n").split("\t")
        if len(f) < 6:
            continue
        sec, work, metric, ours, peer, peerv = f[:6]
        a, b = num(ours), num(peerv)
        ratio = "%.2fx" % (a / b) if a is not None and b else ""
        rows.append([sec, work, metric, ours or "n/a", peer, peerv if peer else "",
                     ratio])
    head = ["#", "workload", "metric", "tributary", "peer", "peer value", "ratio"]
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
    fmt = " | ".join("%%-%ds" % w for w in widths)
    print(fmt % tuple(head))
    print("-+-".join("-" * w for w in widths))
    for r in rows:
        print(fmt % tuple(r))


if __name__ == "__main__":
    main(sys.argv[1])
