#!/usr/bin/env python3
"""Benchmark: start-up time of each program's ``--help`` against a bare interpreter start.

Runs every console script of the distribution with ``--help`` (and ``python -c pass`` as the
baseline in the same run), several times each, and prints the best wall time and the
difference. Goal (design.md): ``--help`` well under 300 ms.

Usage: python scripts/bench/startup.py [--runs 10]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def best_time(command: list[str], runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    baseline = best_time([sys.executable, "-c", "pass"], args.runs)
    print(f"{'python -c pass':24s} {baseline * 1000:7.1f} ms (baseline)")
    for name in sorted(scripts):
        path = shutil.which(name)
        if path is None:
            print(f"{name:24s} not installed (pip install -e .)")
            continue
        elapsed = best_time([path, "--help"], args.runs)
        print(f"{name + ' --help':24s} {elapsed * 1000:7.1f} ms "
              f"(+{(elapsed - baseline) * 1000:.1f} ms over the baseline; goal < 300 ms)")


if __name__ == "__main__":
    main()
