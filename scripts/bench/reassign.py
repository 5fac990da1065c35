#!/usr/bin/env python3
"""Benchmark: MB/s a reassignment moves, against a plain copy of the same segment bytes.

Three combined ``logd`` nodes on this machine, default settings (a follower fdatasyncs what it
fetched, fetching on meanwhile, and joins the ISR once it is on disk). A one-partition topic with replication factor 1 is filled
with ``--mb`` MiB through ``kcat -P``; then, alternating, (a) its segment files are copied with
``shutil.copyfile`` and fdatasync'd into a scratch directory (the baseline: the same bytes,
the same disk, no network or broker in between) and (b) ``log-reassign execute`` moves the
partition to another broker, timed from the execute until ListPartitionReassignments reports
the move done. Prints MiB/s of each (median of ``--runs``) and the ratio move / copy (goal at
least 0.5). Then one move with ``--throttle`` (default: the bytes over 8 s) and the ratio of
its rate to the throttle (goal within 10%).

Usage: python scripts/bench/reassign.py [--mb 200] [--runs 3] [--throttle BYTES]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_cluster import BenchCluster, wait_for

TOPIC = "moved"


def fill(bootstrap: str, mib: int, scratch: Path) -> None:
    records = scratch / "records.txt"
    line = b"y" * 1023 + b"\n"
    with records.open("wb") as f:
        for _ in range(mib):
            f.write(line * 1024)
    with records.open("rb") as src:
        done = subprocess.run(["kcat", "-b", bootstrap, "-P", "-t", TOPIC, "-q"], stdin=src,
                              stderr=subprocess.PIPE, timeout=900, check=False)
    if done.returncode != 0:
        raise SystemExit(f"kcat -P failed: {done.stderr.decode(errors='replace')[-2000:]}")
    records.unlink()


def segments(cluster: BenchCluster, broker: int) -> list[Path]:
    return sorted((cluster.nodes[broker].data / f"{TOPIC}-0").glob("*.log"))


def plain_copy(files: list[Path], scratch: Path) -> float:
    target = scratch / "copy"
    target.mkdir(exist_ok=True)
    start = time.perf_counter()
    for f in files:
        out = target / f.name
        shutil.copyfile(f, out)
        fd = os.open(out, os.O_RDONLY)
        try:
            os.fdatasync(fd)
        finally:
            os.close(fd)
    elapsed = time.perf_counter() - start
    shutil.rmtree(target)
    return elapsed


def moving(bootstrap: str) -> bool:
    from tidelog.client import Cluster, reassignments
    from tidelog.client.retry import RetryPolicy

    async def ask() -> bool:
        hosts = [tuple(h.split(":")) for h in bootstrap.split(",")]
        async with Cluster([(h, int(p)) for h, p in hosts],
                           retry=RetryPolicy(attempts=3)) as c:
            return bool(await reassignments.ongoing(c, [(TOPIC, 0)]))

    return asyncio.run(asyncio.wait_for(ask(), 10))


def move(cluster: BenchCluster, to: int, throttle: int | None) -> float:
    plan = f'{{"version":1,"partitions":[{{"topic":"{TOPIC}","partition":0,"replicas":[{to}]}}]}}'
    cmd = [sys.executable, "-m", "tidelog.tools.log_reassign", "-q", "-b", cluster.bootstrap(),
           "execute", "-"]
    if throttle is not None:
        cmd += ["--throttle", str(throttle)]
    start = time.perf_counter()
    subprocess.run(cmd, input=plan.encode(), stdout=subprocess.DEVNULL, check=True, timeout=60)
    while moving(cluster.bootstrap()):
        time.sleep(0.02)
    elapsed = time.perf_counter() - start
    # the throttles go once nothing moves (what watch or verify does at the end)
    subprocess.run([sys.executable, "-m", "tidelog.tools.log_reassign", "-q", "-b",
                    cluster.bootstrap(), "verify"], stdout=subprocess.DEVNULL, check=True,
                   timeout=60)
    wait_for(f"{TOPIC} on broker {to}", lambda: cluster.partition(TOPIC)[1] == [to], 30, 0.05)
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--mb", type=int, default=200, help="MiB in the partition")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--throttle", type=int, help="bytes/s of the throttled move")
    args = parser.parse_args()
    if not shutil.which("kcat"):
        print("kcat is not installed", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="bench-reassign-") as tmp:
        scratch = Path(tmp)
        (scratch / "cluster").mkdir()
        cluster = BenchCluster(scratch / "cluster")
        try:
            cluster.start()
            cluster.create_topic(TOPIC, 1)
            fill(cluster.bootstrap(), args.mb, scratch)
            leader = cluster.partition(TOPIC)[0]
            size = sum(f.stat().st_size for f in segments(cluster, leader))
            copies, moves = [], []
            here = leader
            for run in range(args.runs):
                copies.append(plain_copy(segments(cluster, here), scratch))
                there = next(b for b in (1, 2, 3) if b != here)
                moves.append(move(cluster, there, None))
                print(f"  run {run + 1}: copy {size / copies[-1] / 2**20:7.1f} MiB/s, move "
                      f"{here}->{there} {size / moves[-1] / 2**20:7.1f} MiB/s", file=sys.stderr)
                here = there
            throttle = args.throttle or max(1, size // 8)
            there = next(b for b in (1, 2, 3) if b != here)
            throttled = move(cluster, there, throttle)
        finally:
            cluster.close()
    copy_rate = size / statistics.median(copies) / 2**20
    move_rate = size / statistics.median(moves) / 2**20
    print(f"reassignment of {size / 2**20:.0f} MiB (one partition, replication factor 1), "
          f"median of {args.runs} runs, load average {os.getloadavg()[0]:.1f}:")
    print(f"  plain copy + fdatasync: {copy_rate:8.1f} MiB/s")
    print(f"  reassignment:           {move_rate:8.1f} MiB/s")
    print(f"  ratio move / copy: {move_rate / copy_rate:.2f} (goal >= 0.5)")
    rate = size / throttled
    print(f"  throttled to {throttle / 2**20:.2f} MiB/s: moved at {rate / 2**20:.2f} MiB/s, "
          f"ratio {rate / throttle:.2f} (goal 0.9 to 1.1)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
