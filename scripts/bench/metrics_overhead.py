#!/usr/bin/env python3
"""Benchmark: produce throughput of logd with metrics on against metrics off, in the same run.

Starts two ``logd`` processes on free ports of 127.0.0.1 (data on disk, default flush policy),
one with ``--metrics-listen`` (counting on the hot path; a scraper fetches ``/metrics`` every
second while it runs, as Prometheus would) and one without. Each run, brokers alternating,
``kcat -P`` (C, from Debian: the load generator is not the bottleneck) writes the same file of
records into a new topic of each, in two shapes: kcat's default batching, and one record per
Produce request (``linger.ms=0``, ``batch.num.messages=1``), the worst case for per-request
counting. Prints records/s per broker and shape, the median over the runs, and the ratio
on/off (goal: at least 0.97; this machine is noisy, so look at the median).

Usage: python scripts/bench/metrics_overhead.py [--records 200000] [--runs 5] [--size 100]
       [--log-flush always|interval]
"""

from __future__ import annotations

import argparse
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_cluster import free_port, wait_for  # noqa: E402

SHAPES = {
    "batched": [],
    "1 record/request": ["-X", "linger.ms=0", "-X", "batch.num.messages=1"],
}


def wait_port(port: int) -> None:
    def listening() -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        except OSError:
            return False
        return True

    wait_for(f"a listener on port {port}", listening, timeout=20.0)


def start_logd(work: Path, name: str, metrics_port: int | None,
               log_flush: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port("127.0.0.1")
    cmd = [sys.executable, "-m", "tidelog.tools.logd", "--data-dir", str(work / name),
           "--listen", f"127.0.0.1:{port}", "--log-level", "warning", "--log-flush", log_flush]
    if metrics_port is not None:
        cmd += ["--metrics-listen", f"127.0.0.1:{metrics_port}"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stderr=(work / f"{name}.err").open("wb"))
    wait_port(port)
    return proc, f"127.0.0.1:{port}"


def scraper(port: int, stop: threading.Event, scrapes: list[int]) -> None:
    while not stop.wait(1.0):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                r.read()
            scrapes[0] += 1
        except OSError as exc:
            print(f"scrape failed: {exc}", file=sys.stderr)


def produce(bootstrap: str, topic: str, data: Path, extra: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(["kcat", "-P", "-b", bootstrap, "-t", topic, "-l", str(data), *extra],
                   check=True, timeout=600)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--size", type=int, default=100, help="bytes per record")
    parser.add_argument("--log-flush", choices=("always", "interval"), default="always",
                        help="both brokers' flush policy (interval: no fdatasync per request, "
                        "so the per-request CPU cost shows)")
    args = parser.parse_args()
    if not shutil.which("kcat"):
        print("kcat is not installed", file=sys.stderr)
        return 1
    work = Path(tempfile.mkdtemp(prefix="bench-metrics-"))
    data = work / "records.txt"
    line = b"x" * (args.size - 1) + b"\n"
    data.write_bytes(line * args.records)
    mport = free_port("127.0.0.1")
    on, on_bs = start_logd(work, "on", mport, args.log_flush)
    off, off_bs = start_logd(work, "off", None, args.log_flush)
    stop = threading.Event()
    scrapes = [0]
    thread = threading.Thread(target=scraper, args=(mport, stop, scrapes), daemon=True)
    thread.start()
    try:
        for shape, extra in SHAPES.items():
            count = args.records if shape == "batched" else max(1, args.records // 10)
            shaped = data
            if count != args.records:
                shaped = work / f"records-{count}.txt"
                shaped.write_bytes(line * count)
            rates: dict[str, list[float]] = {"on": [], "off": []}
            for run in range(args.runs):
                order = [("on", on_bs), ("off", off_bs)]
                if run % 2:
                    order.reverse()
                for name, bootstrap in order:
                    took = produce(bootstrap, f"bench-{shape[0]}-{run}", shaped, extra)
                    rates[name].append(count / took)
            med = {k: statistics.median(v) for k, v in rates.items()}
            print(f"{shape:>18}: metrics on {med['on']:>10,.0f} rec/s  "
                  f"off {med['off']:>10,.0f} rec/s  ratio on/off {med['on'] / med['off']:.3f}"
                  f"  (runs on {[round(r) for r in rates['on']]}, "
                  f"off {[round(r) for r in rates['off']]})")
        print(f"{scrapes[0]} scrapes of the metrics broker during the run")
    finally:
        stop.set()
        for proc in (on, off):
            proc.send_signal(signal.SIGTERM)
        for proc in (on, off):
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
