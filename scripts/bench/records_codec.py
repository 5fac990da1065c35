#!/usr/bin/env python3
"""Benchmark tidelog's record batch v2 builder and reader against kafka-python's, same run.

Builds and decodes N records of 100-byte values in batches of 1,000 (uncompressed and lz4) with
``tidelog.records`` and with ``kafka.record.default_records`` (the baseline), and prints
records/s for each and the ratio tidelog / kafka-python. Machines here are noisy, so only the
ratio within one run means anything. Each measurement is the best of ``--repeat`` runs.

Usage: python scripts/bench/records_codec.py [--records 1000000] [--batch 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

from kafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder
from tidelog.records import Compression, NewRecord, build_batch, decode_batch

VALUE_SIZE = 100
TIMESTAMP = 1_700_000_000_000


def _best(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    n_batches = args.records // args.batch
    # Distinct values per record in a batch (random bytes do not compress: a fair lz4 load is
    # partly repetitive, so half of each value is shared text).
    values = [os.urandom(VALUE_SIZE // 2) + b"x" * (VALUE_SIZE // 2) for _ in range(args.batch)]
    ours_in = [NewRecord(v, timestamp=TIMESTAMP + i) for i, v in enumerate(values)]
    total = n_batches * args.batch

    print(f"{total} records of {VALUE_SIZE} bytes in batches of {args.batch}, "
          f"best of {args.repeat}")
    print(f"{'codec':6} {'op':7} {'tidelog rec/s':>14} {'kafka-python rec/s':>19} {'ratio':>7}")
    for codec in (Compression.NONE, Compression.LZ4):
        ours_batch = build_batch(ours_in, compression=codec)

        def ours_build(codec: int = codec) -> None:
            for _ in range(n_batches):
                build_batch(ours_in, compression=codec)

        def theirs_build(codec: int = codec) -> None:
            for _ in range(n_batches):
                b = DefaultRecordBatchBuilder(2, codec, False, -1, -1, -1, 1 << 30)
                for i, v in enumerate(values):
                    b.append(i, TIMESTAMP + i, None, v, [])
                b.build()

        theirs_batch = bytes(_theirs_one(values, codec))

        def ours_decode(buf: bytes = ours_batch) -> None:
            for _ in range(n_batches):
                for _r in decode_batch(buf).records():
                    pass

        def theirs_decode(buf: bytes = theirs_batch) -> None:
            for _ in range(n_batches):
                batch = DefaultRecordBatch(buf)
                batch.validate_crc()
                for _r in batch:
                    pass

        name = Compression.NAMES[codec]
        for op, ours, theirs in (
            ("build", ours_build, theirs_build),
            ("decode", ours_decode, theirs_decode),
        ):
            t_ours = _best(ours, args.repeat)
            t_theirs = _best(theirs, args.repeat)
            print(
                f"{name:6} {op:7} {total / t_ours:14,.0f} {total / t_theirs:19,.0f} "
                f"{t_theirs / t_ours:6.2f}x"
            )


def _theirs_one(values: list[bytes], codec: int) -> bytearray:
    b = DefaultRecordBatchBuilder(2, codec, False, -1, -1, -1, 1 << 30)
    for i, v in enumerate(values):
        b.append(i, TIMESTAMP + i, None, v, [])
    out: bytearray = b.build()
    return out


if __name__ == "__main__":
    main()
