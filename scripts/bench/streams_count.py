#!/usr/bin/env python3
"""Benchmark: tidelog.streams' count by key, and restoring a store from its changelog.

1. Throughput: N keyed records (``--records``, over ``--keys`` keys) in a topic of
   ``--partitions`` partitions are counted by key by a StreamsApp (RocksDB store, compacted
   changelog, at-least-once commits every second) writing every new count to an output topic;
   the baseline, measured in the same run on the same records, is a plain consume-and-produce
   loop (tidelog.client Consumer -> Producer, the same acks=all idempotent producer) that copies
   every record to another topic. Both are timed from their first fetch to the last output
   acknowledged. Printed: records/s of each and the ratio (goal: at least 0.5), by the wall
   clock and by this process's CPU time (the broker runs in its own process; on a loaded
   machine the CPU figure is the steadier one).
2. Restore: a changelog topic of ``--restore-keys`` distinct keys (default one million) is
   restored into an empty RocksDB store (what a new instance does), against reading the same
   topic to its end with the Consumer alone. Printed: seconds of each and the ratio.

Usage: python scripts/bench/streams_count.py [--records 200000] [--keys 10000]
       [--partitions 2] [--restore-keys 1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "lib")]

from tidelog.client import BEGINNING, Admin, Cluster, Consumer, Producer  # noqa: E402
from tidelog.client.producer import ProducerConfig  # noqa: E402
from tidelog.streams import INT_TEXT, STR, StreamsApp, StreamsBuilder, StreamsConfig  # noqa: E402
from tidelog.streams.restore import restore  # noqa: E402
from tidelog.streams.stores import RocksStore  # noqa: E402


def start_logd(data: Path) -> tuple[subprocess.Popen[bytes], int]:
    env = dict(os.environ, TIDELOG_GROUP_INITIAL_REBALANCE_DELAY_MS="0")
    env.pop("TIDELOG_CONFIG", None)
    log_path = data.parent / "logd.stderr"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "tidelog.tools.logd", "--data-dir",
                                 str(data), "--listen", "127.0.0.1:0"], cwd=ROOT, stderr=log,
                                stdout=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        m = re.search(r"listening on 127\.0\.0\.1:(\d+)", log_path.read_text())
        if m:
            return proc, int(m.group(1))
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("logd did not start")


async def fill(cluster: Cluster, topic: str, keys: list[bytes], partitions: int) -> None:
    await Admin(cluster).create_topic(topic, partitions, 1)
    producer = Producer(cluster)
    for key in keys:
        await producer.send(topic, b"v", key)
    await producer.flush()


async def copy(cluster: Cluster, source: str, sink: str, n: int) -> tuple[float, float]:
    """The baseline: consume every record and produce it again; seconds taken."""
    info = await cluster.topic(source)
    consumer = Consumer(cluster)
    await consumer.assign([(source, p, BEGINNING) for p in info.partitions])
    producer = Producer(cluster, ProducerConfig(acks=-1, idempotent=True))
    await producer.start()
    start, cpu = time.perf_counter(), time.process_time()
    seen = 0
    while seen < n:
        for fetched in await consumer.poll():
            for r in fetched.records:
                await producer.send(sink, r.value, r.key, timestamp=r.timestamp)
            seen += len(fetched.records)
    await producer.flush()
    return time.perf_counter() - start, time.process_time() - cpu


async def count(cluster: Cluster, source: str, sink: str, n: int, state: Path
                ) -> tuple[float, float]:
    b = StreamsBuilder()
    b.stream(source, key=STR).group_by_key(key=STR).count("counts").to_stream().to(
        sink, key=STR, value=INT_TEXT)
    started: list[tuple[float, float]] = []
    app = StreamsApp(b.build("bench-count"), cluster, StreamsConfig(
        state, on_assign=lambda _tasks: started.append((time.perf_counter(),
                                                        time.process_time()))))
    stop = asyncio.Event()
    running = asyncio.ensure_future(app.run(stop))
    while app.stats.processed < n:
        if running.done():
            running.result()
        await asyncio.sleep(0.01)
    stop.set()
    await running  # the last commit: every output acknowledged
    return time.perf_counter() - started[-1][0], time.process_time() - started[-1][1]


async def restore_bench(cluster: Cluster, keys: int, state: Path) -> tuple[float, float]:
    topic = "bench-restore-changelog"
    await Admin(cluster).create_topic(topic, 1, 1, {"cleanup.policy": "compact"})
    producer = Producer(cluster)
    value = (1).to_bytes(8, "big")
    for i in range(keys):
        await producer.send(topic, value, b"key-%09d" % i, partition=0)
    await producer.flush()
    consumer = Consumer(cluster)
    start = time.perf_counter()
    await consumer.assign([(topic, 0, BEGINNING)])
    read = 0
    while not consumer.all_at_end:
        for fetched in await consumer.poll():
            read += len(fetched.records)
    read_s = time.perf_counter() - start
    store = RocksStore(state / "restore")
    start = time.perf_counter()
    done = await restore(cluster, store, "restore", topic, 0, state / "restore.checkpoint")
    restore_s = time.perf_counter() - start
    store.close()
    assert done.records == keys == read, (done, read)
    return read_s, restore_s


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        proc, port = start_logd(Path(tmp) / "data")
        try:
            cluster = Cluster([("127.0.0.1", port)])
            keys = [b"key-%d" % (i % args.keys) for i in range(args.records)]
            await fill(cluster, "bench-in", keys, args.partitions)
            for topic in ("bench-copy", "bench-counts"):
                await Admin(cluster).create_topic(topic, args.partitions, 1)
            base, base_cpu = await copy(cluster, "bench-in", "bench-copy", args.records)
            streams, streams_cpu = await count(cluster, "bench-in", "bench-counts",
                                               args.records, Path(tmp) / "state")
            n = args.records
            print(f"consume+produce  {n / base:10.0f} records/s  {n / base_cpu:10.0f} per CPU s")
            print(f"count by key     {n / streams:10.0f} records/s  {n / streams_cpu:10.0f} "
                  f"per CPU s")
            print(f"ratio            {base / streams:10.2f} wall        "
                  f"{base_cpu / streams_cpu:10.2f} CPU (goal >= 0.5)")
            if args.restore_keys:
                read_s, restore_s = await restore_bench(cluster, args.restore_keys,
                                                        Path(tmp) / "state")
                print(f"read changelog   {read_s:8.2f} s for {args.restore_keys} keys")
                print(f"restore store    {restore_s:8.2f} s  ratio {restore_s / read_s:.2f}")
            await cluster.close()
        finally:
            proc.terminate()
            proc.wait(30)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--keys", type=int, default=10_000)
    parser.add_argument("--partitions", type=int, default=2)
    parser.add_argument("--restore-keys", type=int, default=1_000_000)
    asyncio.run(main(parser.parse_args()))
