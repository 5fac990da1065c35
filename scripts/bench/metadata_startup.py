#!/usr/bin/env python3
"""Benchmark: opening a controller's metadata log of many topics, with and without a snapshot.

Builds one metadata log of ``--topics`` topics (one partition each: a TopicRecord and a
PartitionRecord per topic, 1000 topics per batch, then ``--changes`` rounds of an ISR shrink
and expand per partition, as a log that has lived a while holds) in a temporary directory,
copies it, and
lets the copy write a snapshot (Kafka's ``.checkpoint``) of its image. Then it times, in the
same run and several times each, :meth:`MetadataQuorum.open` (what ``logd`` does on start:
load the latest snapshot, replay the log after it, elect itself) on both: the whole log
replayed (the baseline) and the snapshot loaded. It prints the best times and the ratio.

Usage: python scripts/bench/metadata_startup.py [--topics 100000] [--runs 3]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "lib")]

from tidelog.broker.quorum import MetadataQuorum  # noqa: E402
from tidelog.metadata.records import (  # noqa: E402
    ClusterIdRecord,
    MetadataRecord,
    PartitionChangeRecord,
    PartitionRecord,
    TopicRecord,
)

NEVER = 1 << 62


def build(data_dir: Path, topics: int, changes: int) -> None:
    quorum = MetadataQuorum.open(data_dir, snapshot_bytes=NEVER)
    quorum.append([ClusterIdRecord("bench")])
    for start in range(0, topics, 1000):
        batch: list[MetadataRecord] = []
        for i in range(start, min(start + 1000, topics)):
            tid = uuid.UUID(int=i + 1)
            batch += [TopicRecord(f"topic-{i:06d}", tid), PartitionRecord(tid, 0, (1,), (1,), 1)]
        quorum.append(batch)
    for _ in range(changes):
        for isr in ((), (1,)):
            for start in range(0, topics, 1000):
                quorum.append([
                    PartitionChangeRecord(uuid.UUID(int=i + 1), 0, isr=isr or (1,),
                                          leader=-1 if not isr else 1)
                    for i in range(start, min(start + 1000, topics))])
    quorum.close()


def best_open(data_dir: Path, runs: int) -> tuple[float, int]:
    best = float("inf")
    count = 0
    for _ in range(runs):
        start = time.perf_counter()
        quorum = MetadataQuorum.open(data_dir, snapshot_bytes=NEVER)
        best = min(best, time.perf_counter() - start)
        count = len(quorum.image.topic_ids_by_name)
        quorum.close()
    return best, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--topics", type=int, default=100_000)
    parser.add_argument("--changes", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="metadata-startup-") as tmp:
        plain, snap = Path(tmp) / "log-only", Path(tmp) / "with-snapshot"
        t0 = time.perf_counter()
        build(plain, args.topics, args.changes)
        shutil.copytree(plain, snap)
        MetadataQuorum.open(snap, snapshot_bytes=1024).close()  # replays, then snapshots
        (checkpoint,) = (snap / "__cluster_metadata-0").glob("*.checkpoint")
        log_bytes = sum(p.stat().st_size for p in (plain / "__cluster_metadata-0").glob("*.log"))
        print(f"built {args.topics} topics in {time.perf_counter() - t0:.1f} s: metadata log "
              f"{log_bytes / 1e6:.1f} MB, snapshot {checkpoint.stat().st_size / 1e6:.1f} MB")
        replay, n1 = best_open(plain, args.runs)
        loaded, n2 = best_open(snap, args.runs)
        assert n1 == n2 == args.topics, (n1, n2)
        print(f"open, whole log replayed (baseline) {replay:7.3f} s")
        print(f"open, snapshot loaded               {loaded:7.3f} s "
              f"({loaded / replay:.2f} x the baseline)")


if __name__ == "__main__":
    main()
