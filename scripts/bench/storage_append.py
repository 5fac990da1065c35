#!/usr/bin/env python3
"""Benchmark: appending through PartitionLog against plain os.write of the same bytes.

Appends 1 MiB record batches (1 KiB records, uncompressed) through ``PartitionLog.append`` and,
in the same run and on the same disk, writes the identical bytes with ``os.write`` to a plain
file; both once without and once with ``fdatasync`` after every batch. Prints MB/s and the
ratio log/raw per mode (goal: >= 0.8 in both). Runs are interleaved and repeated; the median
is reported, because this machine is noisy and absolute numbers do not repeat.

Usage: python scripts/bench/storage_append.py [--total-mib 512] [--sync-total-mib 128] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tidelog.records.builder import build_batch
from tidelog.records.record import NewRecord
from tidelog.storage.config import LogConfig
from tidelog.storage.log import PartitionLog

RECORD_SIZE = 1024
BATCH_BYTES = 1 << 20


def make_batch() -> bytes:
    value = os.urandom(RECORD_SIZE)
    count = BATCH_BYTES // (RECORD_SIZE + 16)
    return build_batch([NewRecord(value=value) for _ in range(count)])


def run_log(batch: bytes, total: int, sync: bool, workdir: Path) -> float:
    log_dir = Path(tempfile.mkdtemp(dir=workdir, prefix="bench-0"))
    log = PartitionLog.open(log_dir / "bench-0", LogConfig())
    # A pool of writable copies: append rewrites baseOffset in place, like a broker's buffers.
    pool = [bytearray(batch) for _ in range(8)]
    count = total // len(batch)
    start = time.perf_counter()
    for i in range(count):
        log.append(pool[i % len(pool)], leader_epoch=0)
        if sync:
            log.flush()
    log.flush()
    elapsed = time.perf_counter() - start
    log.close()
    return count * len(batch) / elapsed / 1e6


def run_raw(batch: bytes, total: int, sync: bool, workdir: Path) -> float:
    path = Path(tempfile.mkdtemp(dir=workdir, prefix="raw")) / "raw.log"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    count = total // len(batch)
    start = time.perf_counter()
    for _ in range(count):
        os.write(fd, batch)
        if sync:
            os.fdatasync(fd)
    os.fdatasync(fd)
    elapsed = time.perf_counter() - start
    os.close(fd)
    return count * len(batch) / elapsed / 1e6


def median_of(runs: int, fn: Callable[[], float]) -> float:
    return statistics.median(fn() for _ in range(runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--total-mib", type=int, default=512)
    parser.add_argument("--sync-total-mib", type=int, default=128)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None, help="where to write (default: tmp)")
    args = parser.parse_args()
    batch = make_batch()
    print(f"batch: {len(batch)} bytes, {RECORD_SIZE}-byte records")
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        workdir = Path(tmp)
        for sync, total_mib in ((False, args.total_mib), (True, args.sync_total_mib)):
            total = total_mib << 20
            log_rates, raw_rates = [], []
            for _ in range(args.runs):  # interleave so drift hits both alike
                raw_rates.append(run_raw(batch, total, sync, workdir))
                log_rates.append(run_log(batch, total, sync, workdir))
            log_mbs, raw_mbs = statistics.median(log_rates), statistics.median(raw_rates)
            mode = "fdatasync per batch" if sync else "no fsync per batch"
            print(
                f"{mode:22s} log {log_mbs:8.1f} MB/s  raw os.write {raw_mbs:8.1f} MB/s  "
                f"ratio {log_mbs / raw_mbs:5.2f}  ({total_mib} MiB x {args.runs} runs, median)"
            )


if __name__ == "__main__":
    main()
