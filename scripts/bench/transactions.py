#!/usr/bin/env python3
"""Benchmark: transactions against the same records without them, through one logd, in one run.

Starts a logd (as tools_vs_kcat.py does) and, with confluent-kafka (librdkafka, so the client
is not the bottleneck):

* produces N records of 100 bytes with a plain producer (acks=all, idempotence off, the
  default) and with a transactional producer committing every 1,000 records; both to their
  own one-partition topic;
* reads the transactional topic back with a read_uncommitted and a read_committed consumer;
* does the same two produces with tidelog's own client (``tidelog.client``: Producer, and
  TransactionalProducer committing every 1,000 records), for the ratio of its transactional
  producer to its plain one (the client is the bottleneck there, so only the ratio counts).

Each step runs ``--repeat`` times (fresh topics) and the best time counts, as these machines
are noisy. Prints records/s and the ratios transactional/plain (goal >= 0.8) and
read_committed/read_uncommitted (goal >= 0.9); ``--json`` prints one JSON document.

Usage: python scripts/bench/transactions.py [--records 200000] [--repeat 2] [--json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from functools import partial
from pathlib import Path

import confluent_kafka as ck
from tools_vs_kcat import start_logd

VALUE = b"x" * 100
PER_TXN = 1000


def produce(bootstrap: str, topic: str, n: int, transactional: bool) -> float:
    conf = {"bootstrap.servers": bootstrap, "linger.ms": 5}
    if transactional:
        conf["transactional.id"] = f"bench-{topic}"
    producer = ck.Producer(conf)
    if transactional:
        producer.init_transactions(30)
    start = time.perf_counter()
    for base in range(0, n, PER_TXN):
        if transactional:
            producer.begin_transaction()
        for _ in range(min(PER_TXN, n - base)):
            while True:
                try:
                    producer.produce(topic, VALUE)
                    break
                except BufferError:
                    producer.poll(0.01)
        if transactional:
            producer.commit_transaction(60)
    producer.flush(60)
    return time.perf_counter() - start


def produce_tidelog(bootstrap: str, topic: str, n: int, transactional: bool) -> float:
    """The same records through tidelog.client (acks=all, as the transactional one needs)."""
    import asyncio

    from tidelog.client import Cluster, Producer, TransactionalProducer

    host, port = bootstrap.rsplit(":", 1)

    async def run() -> float:
        async with Cluster([(host, int(port))]) as cluster:
            producer = TransactionalProducer(cluster, f"bench-{topic}") if transactional \
                else Producer(cluster)
            await producer.start()
            await producer.topic(topic)  # created before the clock starts, as above
            start = time.perf_counter()
            for base in range(0, n, PER_TXN):
                values: list[bytes | None] = [VALUE] * min(PER_TXN, n - base)
                if isinstance(producer, TransactionalProducer):
                    producer.begin_transaction()
                    await producer.send_values(topic, values, partition=0)
                    await producer.commit_transaction()
                else:
                    await producer.send_values(topic, values, partition=0)
            await producer.flush()
            elapsed = time.perf_counter() - start
            assert producer.stats.failed == 0, producer.stats.errors
            return elapsed

    return asyncio.run(run())


def consume(bootstrap: str, topic: str, n: int, isolation: str) -> float:
    consumer = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": f"b-{isolation}",
                            "isolation.level": isolation})
    consumer.assign([ck.TopicPartition(topic, 0, ck.OFFSET_BEGINNING)])
    got = 0
    start = time.perf_counter()
    while got < n:
        got += sum(1 for m in consumer.consume(10_000, 1.0) if not m.error())
    elapsed = time.perf_counter() - start
    consumer.close()
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    n = args.records
    with tempfile.TemporaryDirectory() as tmp:
        proc, bootstrap, _ = start_logd(Path(tmp) / "data")
        try:
            best: dict[str, float] = {}
            for run in range(args.repeat):
                plain, txn = f"plain-{run}", f"txn-{run}"
                steps = (
                    ("plain", partial(produce, bootstrap, plain, n, False)),
                    ("transactional", partial(produce, bootstrap, txn, n, True)),
                    ("read_uncommitted", partial(consume, bootstrap, txn, n, "read_uncommitted")),
                    ("read_committed", partial(consume, bootstrap, txn, n, "read_committed")),
                    ("tidelog_plain", partial(produce_tidelog, bootstrap, f"t{plain}", n, False)),
                    ("tidelog_transactional",
                     partial(produce_tidelog, bootstrap, f"t{txn}", n, True)),
                )
                for name, step in steps:
                    elapsed = step()
                    best[name] = min(best.get(name, elapsed), elapsed)
        finally:
            proc.terminate()
            proc.wait(30)
    rates = {k: n / v for k, v in best.items()}
    ratios = {"transactional/plain": rates["transactional"] / rates["plain"],
              "read_committed/read_uncommitted":
                  rates["read_committed"] / rates["read_uncommitted"],
              "tidelog transactional/plain":
                  rates["tidelog_transactional"] / rates["tidelog_plain"]}
    if args.json:
        print(json.dumps({"records": n, "records_per_s": rates, "ratios": ratios}))
    else:
        for name, rate in rates.items():
            print(f"{name:22} {rate:12,.0f} records/s")
        for name, ratio in ratios.items():
            print(f"{name:32} {ratio:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
