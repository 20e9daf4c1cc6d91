#!/usr/bin/python3
"""make check's short run of the cluster fault checker (torture.py): one
seed, 20 seconds of faults. 'make torture' runs long ones with many seeds."""

import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torture  # noqa: E402

if __name__ == "__main__":
    sys.exit(torture.main(["--seconds", "20", "--seed",
                           os.environ.get("TORTURE_SEED", "7")]))
