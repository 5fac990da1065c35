#!/usr/bin/env python3
"""Benchmark: ``log-topics describe`` of a wide topic against ``kcat -L``, in one run.

Starts a logd on a free port of 127.0.0.1 with a temporary data directory, creates a topic of
``--partitions`` partitions (5,000 by default) with ``log-topics create``, writes one record to
a few of them (so some logs exist and some do not, as on a real broker), then times, best of
``--repeat`` runs each:

* ``log-topics describe TOPIC`` (metadata, log start offsets and high watermarks of every
  partition, printed as a table);
* ``kcat -L -t TOPIC`` (metadata only: the baseline, measured in the same run because these
  machines are noisy).

The programs run with their bytecode cached (PYTHONPYCACHEPREFIX in the temporary directory,
warmed up once), as installed programs do. Prints both times, the ratio and the goal (describe
under 1 s for 5,000 partitions); ``--json`` prints one JSON document. Beside wall time it
reports the CPU seconds of the program and the broker together, which a shared machine's load
does not inflate as much.

Usage: python scripts/bench/describe_topics.py [--partitions 5000] [--repeat 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# The sibling benchmark's helpers (this directory is sys.path[0] when the script runs).
from tools_vs_kcat import program, start_logd

#: The environment of the programs timed (bytecode cached in this run's directory).
ENV = dict(os.environ)
#: The broker's pid, once it runs (its CPU time counts toward each run).
LOGD_PID: list[int] = []


def _cpu(pid: int) -> float:
    """CPU seconds (user + system) the process ``pid`` has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(cmd: list[str], expect_lines: int | None = None) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the program and of the broker) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    broker_before = _cpu(LOGD_PID[0]) if LOGD_PID else 0.0
    start = time.perf_counter()
    result = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, check=False,
                            env=ENV)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if LOGD_PID:
        cpu += _cpu(LOGD_PID[0]) - broker_before
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {result.stderr.decode(errors='replace')}")
    got = result.stdout.count(b"\n")
    if expect_lines is not None and got < expect_lines:
        raise SystemExit(f"{' '.join(cmd)}: {got} lines, expected {expect_lines}")
    return elapsed, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partitions", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    kcat = program("kcat")
    topics, produce = program("log-topics"), program("log-produce")
    with tempfile.TemporaryDirectory(prefix="describe-topics-") as tmp:
        root = Path(tmp)
        ENV.pop("PYTHONDONTWRITEBYTECODE", None)
        ENV["PYTHONPYCACHEPREFIX"] = str(root / "pycache")
        proc, bootstrap, _ = start_logd(root / "data")
        LOGD_PID.append(proc.pid)
        best: dict[str, float] = {}
        best_cpu: dict[str, float] = {}
        try:
            subprocess.run([topics, "-b", bootstrap, "-q", "create", "wide", "--partitions",
                            str(args.partitions)], check=True, env=ENV)
            for p in range(0, args.partitions, max(1, args.partitions // 10)):
                subprocess.run([produce, "-b", bootstrap, "-q", "-t", "wide", "-p", str(p)],
                               input=b"one\n", check=True, env=ENV)
            timed([topics, "--help"])  # compile the program's bytecode once
            runs = {
                "log-topics describe": ([topics, "-b", bootstrap, "describe", "wide"],
                                        args.partitions),
                "kcat -L": ([kcat, "-b", bootstrap, "-L", "-t", "wide"], args.partitions),
            }
            for _ in range(args.repeat):
                for label, (cmd, lines) in runs.items():
                    elapsed, cpu = timed(cmd, lines)
                    best[label] = min(best.get(label, elapsed), elapsed)
                    best_cpu[label] = min(best_cpu.get(label, cpu), cpu)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    report = {
        "partitions": args.partitions,
        "seconds": {k: round(v, 3) for k, v in best.items()},
        "cpu_seconds": {k: round(v, 3) for k, v in best_cpu.items()},
        "ratio": round(best["log-topics describe"] / best["kcat -L"], 2),
        "goal_s": 1.0,
    }
    if args.json:
        print(json.dumps(report))
        return 0
    for label, seconds in best.items():
        print(f"{label:20} {seconds:7.3f} s wall  {best_cpu[label]:7.3f} s CPU (program + "
              "broker)")
    print(f"ratio describe/kcat -L: {report['ratio']:.2f}x; describe of {args.partitions} "
          f"partitions {'meets' if best['log-topics describe'] < 1.0 else 'misses'} the goal "
          "(< 1 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
