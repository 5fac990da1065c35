#!/usr/bin/env python3
"""Benchmark: the log cleaner over a dirty log against a plain read-and-write copy.

Builds a compacted log of ``--size-mib`` MiB (default 1024) of uncompressed batches of 100
records (``--value-bytes`` values) whose keys cycle over ``--distinct`` of the record count
(default 10%), then in the same run and on the same disk:

- copy: reads every segment file in 1 MiB chunks and writes the bytes to another file, then
  fdatasyncs it (what any rewrite of the log costs at least);
- cleaner: one full clean (``clean_log``: map building plus rewriting, every pass it needs)
  with a dedupe buffer of ``--dedupe-mib`` MiB (default 128, Kafka's default).

Prints MB/s of both over the log's size and the ratio cleaner/copy (the issue's goal is at
least 0.5; the CPU seconds of both are printed too, as on a loaded machine the CPU-bound
cleaner loses more wall time to other processes than the disk-bound copy), the records kept,
and the cleaner's peak memory: the process's peak RSS growth
during the clean (the log is built in a child process, so the parent's peak is the clean's)
against the dedupe buffer. Machines here are noisy: compare the ratio, not absolute numbers.

Usage: python scripts/bench/cleaner.py [--size-mib 1024] [--distinct 0.1] [--dedupe-mib 128]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

from tidelog.records.builder import build_batch
from tidelog.records.record import NewRecord
from tidelog.storage.cleaner import clean_log
from tidelog.storage.cleaner_map import OffsetMap
from tidelog.storage.config import LogConfig
from tidelog.storage.log import PartitionLog

PER_BATCH = 100
CONFIG = LogConfig(segment_bytes=128 << 20, cleanup_policy="compact", retention_ms=-1)


def build(path: Path, size: int, distinct: float, value_bytes: int) -> None:
    """The dirty log (run in a child process: its memory is not the cleaner's)."""
    plog = PartitionLog.open(path, CONFIG)
    value = os.urandom(value_bytes)
    record_bytes = value_bytes + 20
    total = size // record_bytes
    keys = max(1, int(total * distinct))
    i = 0
    while plog.size_in_bytes < size:
        records = [NewRecord(value, b"key-%09d" % ((i + j) % keys), (), None)
                   for j in range(PER_BATCH)]
        plog.append(bytearray(build_batch(records)), leader_epoch=0)
        i += PER_BATCH
    plog.roll()
    plog.close()


def rss_kib() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def copy(src: Path, dst: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of a plain read-and-write copy of the segment files."""
    start, cpu = time.perf_counter(), time.process_time()
    out = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        for seg in sorted(src.glob("*.log")):
            fd = os.open(seg, os.O_RDONLY)
            try:
                pos = 0
                while chunk := os.pread(fd, 1 << 20, pos):
                    os.write(out, chunk)
                    pos += len(chunk)
            finally:
                os.close(fd)
        os.fdatasync(out)
    finally:
        os.close(out)
    return time.perf_counter() - start, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--distinct", type=float, default=0.1)
    parser.add_argument("--value-bytes", type=int, default=100)
    parser.add_argument("--dedupe-mib", type=int, default=128)
    parser.add_argument("--dir", type=Path, default=None, help="work directory (a temp dir)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-cleaner-", dir=args.dir))
    try:
        path = work / "dirty-0"
        child = multiprocessing.get_context("fork").Process(
            target=build, args=(path, args.size_mib << 20, args.distinct, args.value_bytes)
        )
        child.start()
        child.join()
        assert child.exitcode == 0
        size = sum(f.stat().st_size for f in path.glob("*.log"))
        copy_s, copy_cpu = copy(path, work / "copy")
        (work / "copy").unlink()
        plog = PartitionLog.open(path, CONFIG, clean_shutdown=True)
        base_rss = rss_kib()
        start, cpu = time.perf_counter(), time.process_time()
        _, _, stats = clean_log(plog, -1, OffsetMap(args.dedupe_mib << 20),
                                now_ms=time.time_ns() // 1_000_000)
        clean_s, clean_cpu = time.perf_counter() - start, time.process_time() - cpu
        peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        after = sum(f.stat().st_size for f in path.glob("*.log"))
        plog.close()
        mb = size / 1e6
        print(f"log: {mb:.0f} MB, {stats.records_read} records read, "
              f"{stats.records_kept} kept, {stats.passes} passes, "
              f"{stats.segments_before} -> {stats.segments_after} segments, "
              f"{after / 1e6:.0f} MB after")
        print(f"copy:    {mb / copy_s:8.1f} MB/s ({copy_s:.1f} s, {copy_cpu:.1f} s CPU)")
        print(f"cleaner: {mb / clean_s:8.1f} MB/s ({clean_s:.1f} s, {clean_cpu:.1f} s CPU)")
        print(f"ratio cleaner/copy: {copy_s / clean_s:.3f} (goal >= 0.5)")
        grow = max(0, peak_kib - base_rss) / 1024
        print(f"peak memory growth: {grow:.1f} MiB, dedupe buffer {args.dedupe_mib} MiB, "
              f"map peak {stats.map_entries} keys")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
