#!/usr/bin/env python3
"""Benchmark: end-to-end latency at a steady rate with replication factor 3 and acks=all.

Three combined ``logd`` nodes on this machine, default settings (a consumer reads below the
high watermark, which with the default flush policy means every in-sync replica has
fdatasync'd the record). For replication factor 3 and, as the baseline of the same run,
factor 1, a one-partition topic is created; a confluent-kafka producer (acks=all, otherwise
the client's defaults) in its own process writes ``--rate`` records per second (default
10,000) for ``--seconds``, each value holding the wall-clock time it was handed to the client
(microseconds since the epoch, 16 decimal digits, padded to ``--size`` bytes); a
confluent-kafka consumer (default settings) in this process reads them and takes
``now - that time`` per record. The first ``--warmup`` seconds are left out. Prints p50, p99
and max per factor, the rate the producer reached, and the ratios factor 3 / factor 1.

Usage: python scripts/bench/replication_latency.py [--rate 10000] [--seconds 20]
       [--warmup 3] [--size 100]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_cluster import BenchCluster


def produce(bootstrap: str, topic: str, rate: int, seconds: float, size: int) -> int:
    """Write ``rate`` records/s for ``seconds`` (paced against a schedule, so a stall is
    caught up rather than lowering the rate); print the rate reached on stdout."""
    import confluent_kafka as ck

    producer = ck.Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    failed: list[ck.KafkaError] = []

    def delivered(err: ck.KafkaError | None, _: ck.Message) -> None:
        if err is not None:
            failed.append(err)

    pad = b"x" * max(0, size - 16)
    start = time.perf_counter()
    total = int(rate * seconds)
    sent = 0
    while sent < total:
        due = int((time.perf_counter() - start) * rate) + 1
        while sent < min(due, total):
            try:
                producer.produce(topic, b"%016d" % (time.time_ns() // 1000) + pad,
                                 on_delivery=delivered)
            except BufferError:
                producer.poll(0.001)
                continue
            sent += 1
        producer.poll(0)
        ahead = sent / rate - (time.perf_counter() - start)
        if ahead > 0:
            time.sleep(min(ahead, 0.001))
    elapsed = time.perf_counter() - start
    left = producer.flush(60)
    if left or failed:
        print(f"{left} records not delivered, {len(failed)} failed: {failed[:3]}",
              file=sys.stderr)
        return 1
    print(f"{sent / elapsed:.0f}")
    return 0


def measure(cluster: BenchCluster, topic: str, args: argparse.Namespace) -> tuple[list[float],
                                                                                   float]:
    """Latencies in ms (after the warm-up) and the producer's rate."""
    import confluent_kafka as ck

    bootstrap = cluster.bootstrap()
    consumer = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": f"latency-{topic}",
                            "enable.auto.commit": False})
    consumer.assign([ck.TopicPartition(topic, 0, ck.OFFSET_BEGINNING)])
    # the consumer is connected and fetching before the first record is written
    consumer.poll(1.0)
    writer = subprocess.Popen(
        [sys.executable, __file__, "--produce", bootstrap, topic, "--rate", str(args.rate),
         "--seconds", str(args.seconds), "--size", str(args.size)],
        stdout=subprocess.PIPE, text=True)
    total = int(args.rate * args.seconds)
    skip = int(args.rate * args.warmup)
    latencies: list[float] = []
    seen = 0
    deadline = time.monotonic() + args.seconds + 120
    try:
        while seen < total and time.monotonic() < deadline:
            # poll, not consume(num_messages=N): a batch call waits to fill its batch
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            value = msg.value()
            if msg.error() or value is None:
                continue
            now_us = time.time_ns() // 1000
            seen += 1
            if seen > skip:
                latencies.append((now_us - int(value[:16])) / 1000)
    finally:
        consumer.close()
        out, _ = writer.communicate(timeout=120)
    if writer.returncode != 0 or seen < total:
        raise SystemExit(f"{topic}: {seen} of {total} records read, producer exit "
                         f"{writer.returncode}")
    return latencies, float(out.strip())


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000, method="inclusive")[int(q * 10) - 1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--rate", type=int, default=10_000, help="records per second")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--size", type=int, default=100, help="bytes per record value (>= 16)")
    parser.add_argument("--produce", nargs=2, metavar=("BOOTSTRAP", "TOPIC"),
                        help=argparse.SUPPRESS)  # the producer process
    args = parser.parse_args()
    if args.produce:
        return produce(args.produce[0], args.produce[1], args.rate, args.seconds, args.size)
    results: dict[int, tuple[list[float], float]] = {}
    with tempfile.TemporaryDirectory(prefix="repl-latency-") as tmp:
        cluster = BenchCluster(Path(tmp))
        try:
            cluster.start()
            for rf in (1, 3):
                topic = f"latency-rf{rf}"
                cluster.create_topic(topic, rf)
                results[rf] = measure(cluster, topic, args)
        finally:
            cluster.close()
    print(f"end-to-end latency, {args.rate} records/s of {args.size} bytes for "
          f"{args.seconds:.0f} s (first {args.warmup:.0f} s left out), acks=all, 3 nodes, "
          f"load average {os.getloadavg()[0]:.1f}:")
    stats = {}
    for rf, (lat, reached) in results.items():
        stats[rf] = (pct(lat, 50), pct(lat, 99), max(lat))
        print(f"  replication factor {rf}: p50 {stats[rf][0]:.1f} ms, p99 {stats[rf][1]:.1f} ms, "
              f"max {stats[rf][2]:.1f} ms ({len(lat)} records; producer reached "
              f"{reached:,.0f} records/s)")
    print(f"  ratio factor 3 / factor 1: p50 {stats[3][0] / stats[1][0]:.2f}, "
          f"p99 {stats[3][1] / stats[1][1]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
