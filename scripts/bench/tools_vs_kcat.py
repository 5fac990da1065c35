#!/usr/bin/env python3
"""Benchmark: log-produce and log-consume against kcat, through the same logd, in one run.

Starts a logd on a free port of 127.0.0.1 with a temporary data directory, writes N lines of
100 bytes (99 characters and a newline) to a file, then:

* pipes the file into ``log-produce -t ours`` and into ``kcat -P -t theirs`` (each topic has
  one partition, both with their default acks=all);
* reads the topics back to /dev/null with ``log-consume -o beginning -e`` and
  ``kcat -C -o beginning -e``;
* times ``log-produce --help`` (the median of 5 runs).

The programs run with their bytecode cached (PYTHONPYCACHEPREFIX in the temporary directory,
warmed up once), as installed programs do.

Each step is repeated ``--repeat`` times (fresh topics each time) and the best time counts,
since these machines are noisy. Prints lines/s per program and the ratios ours/kcat (goals:
produce >= 1.0, consume >= 0.7, ``--help`` under 300 ms); ``--json`` prints one JSON document.

Usage: python scripts/bench/tools_vs_kcat.py [--lines 1000000] [--repeat 2] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def program(name: str) -> str:
    found = BIN / name
    if found.exists():
        return str(found)
    path = shutil.which(name)
    if path is None:
        raise SystemExit(f"{name} is not installed")
    return path


def start_logd(data: Path) -> tuple[subprocess.Popen[bytes], str, Path]:
    err = data.parent / "logd.stderr"
    with err.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tidelog.tools.logd", "--data-dir", str(data),
             "--listen", "127.0.0.1:0", "--num-partitions", "1"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=sink, cwd=ROOT,
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = re.search(r"listening on (127\.0\.0\.1:\d+)", err.read_text(errors="replace"))
        if found:
            return proc, found.group(1), err
        if proc.poll() is not None:
            raise SystemExit(f"logd exited: {err.read_text()}")
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("logd did not start")


#: The environment of the programs timed: bytecode is written and reused (in a cache of this
#: run), as an installed program has its .pyc files even where PYTHONDONTWRITEBYTECODE is set.
ENV = dict(os.environ)


def timed(cmd: list[str], stdin: Path | None = None) -> float:
    with (stdin.open("rb") if stdin else open(os.devnull, "rb")) as src, \
            open(os.devnull, "wb") as sink:
        start = time.perf_counter()
        result = subprocess.run(cmd, stdin=src, stdout=sink, stderr=subprocess.PIPE,
                                check=False, env=ENV)
        elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {result.stderr.decode(errors='replace')}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    kcat = program("kcat")
    produce, consume, topics = (program(p) for p in ("log-produce", "log-consume",
                                                     "log-topics"))
    with tempfile.TemporaryDirectory(prefix="tools-vs-kcat-") as tmp:
        root = Path(tmp)
        ENV.pop("PYTHONDONTWRITEBYTECODE", None)
        ENV["PYTHONPYCACHEPREFIX"] = str(root / "pycache")
        lines = root / "lines.txt"
        filler = b"x" * 89 + b"\n"
        with lines.open("wb") as f:
            for start in range(0, args.lines, 100_000):
                f.write(b"".join(b"%010d" % i + filler
                                 for i in range(start, min(args.lines, start + 100_000))))
        proc, bootstrap, _ = start_logd(root / "data")
        best: dict[str, float] = {}
        try:
            for warm in (produce, consume):  # compile the programs' bytecode once
                timed([warm, "--help"])
            for round_ in range(args.repeat):
                ours, theirs = f"ours-{round_}", f"theirs-{round_}"
                for name in (ours, theirs):
                    subprocess.run([topics, "-b", bootstrap, "-q", "create", name,
                                    "--partitions", "1"], check=True)
                runs = {
                    "log-produce": ([produce, "-b", bootstrap, "-q", "-t", ours], lines),
                    "kcat -P": ([kcat, "-b", bootstrap, "-P", "-t", theirs], lines),
                    "log-consume": ([consume, "-b", bootstrap, "-q", "-t", ours, "-o",
                                     "beginning", "-e"], None),
                    "kcat -C": ([kcat, "-b", bootstrap, "-C", "-q", "-t", theirs, "-o",
                                 "beginning", "-e"], None),
                }
                for label, (cmd, src) in runs.items():
                    elapsed = timed(cmd, src)
                    best[label] = min(best.get(label, elapsed), elapsed)
            helps = [timed([produce, "--help"]) for _ in range(5)]
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    rate = {label: args.lines / seconds for label, seconds in best.items()}
    report = {
        "lines": args.lines,
        "seconds": {k: round(v, 3) for k, v in best.items()},
        "lines_per_s": {k: round(v) for k, v in rate.items()},
        "produce_ratio": round(rate["log-produce"] / rate["kcat -P"], 2),
        "consume_ratio": round(rate["log-consume"] / rate["kcat -C"], 2),
        "help_ms": round(statistics.median(helps) * 1000),
    }
    if args.json:
        print(json.dumps(report))
        return 0
    for label in ("log-produce", "kcat -P", "log-consume", "kcat -C"):
        print(f"{label:12} {best[label]:7.3f} s  {rate[label]:>11,.0f} lines/s")
    print(f"produce ratio log-produce/kcat -P: {report['produce_ratio']:.2f}x (goal >= 1.0)")
    print(f"consume ratio log-consume/kcat -C: {report['consume_ratio']:.2f}x (goal >= 0.7)")
    print(f"log-produce --help: {report['help_ms']} ms (goal < 300 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
