#!/usr/bin/env python3
"""Benchmark: opening a log directory of many partitions after a clean shutdown.

Builds a log directory of 1,000 partitions x 10 segments through the storage API, shuts it down
cleanly, then opens it in a fresh child process and prints the wall time of
``LogManager.startup()`` and the child's peak RSS, next to the same child's RSS before startup
(the interpreter and imports) as the baseline. Goal: under 2 s and under 200 MB.

Usage: python scripts/bench/open_logdir.py [--partitions 1000] [--segments 10]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tidelog.records.builder import build_batch
from tidelog.records.record import NewRecord
from tidelog.storage.config import LogConfig
from tidelog.storage.manager import LogManager
from tidelog.storage.topic_partition import TopicPartition

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from tidelog.storage.config import LogConfig
from tidelog.storage.manager import LogManager
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
manager = LogManager(Path(sys.argv[1]), LogConfig())
manager.startup()
elapsed = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
# Logs load their segment lists lazily; touching every log end offset forces the full load.
start = time.perf_counter()
count = sum(1 for log in manager.logs().values() if log.log_end_offset >= 0)
loaded = time.perf_counter() - start
loaded_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
manager.shutdown()
print(json.dumps({"seconds": elapsed, "rss_before_kib": before, "rss_peak_kib": peak,
                  "load_seconds": loaded, "rss_loaded_kib": loaded_peak, "partitions": count}))
"""


def build(root: Path, partitions: int, segments: int) -> None:
    batch = build_batch([NewRecord(value=b"x" * 100) for _ in range(10)])
    manager = LogManager(root, LogConfig())
    manager.startup()
    for p in range(partitions):
        log = manager.get_or_create_log(TopicPartition(f"bench-{p // 10}", p % 10))
        for segment in range(segments):
            if segment:
                log.roll()
            log.append(bytearray(batch), leader_epoch=0)
    manager.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--partitions", type=int, default=1000)
    parser.add_argument("--segments", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "logs"
        start = time.perf_counter()
        build(root, args.partitions, args.segments)
        print(f"built {args.partitions} partitions x {args.segments} segments "
              f"in {time.perf_counter() - start:.1f} s")
        child = subprocess.run([sys.executable, "-c", CHILD, str(root)],
                               capture_output=True, text=True)
        if child.returncode != 0:
            sys.exit(f"the child failed:\n{child.stderr}")
        out = child.stdout
        result = json.loads(out)
        print(f"open after clean shutdown: {result['seconds']:.2f} s (goal < 2 s), "
              f"peak RSS {result['rss_peak_kib'] / 1024:.0f} MB (goal < 200 MB; "
              f"{result['rss_before_kib'] / 1024:.0f} MB before startup), "
              f"{result['partitions']} partitions")
        print(f"then loading every partition's segments: {result['load_seconds']:.2f} s more, "
              f"peak RSS {result['rss_loaded_kib'] / 1024:.0f} MB")


if __name__ == "__main__":
    main()
