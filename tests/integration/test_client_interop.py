"""Interop of the client programs with real Kafka clients through logd: kcat reads what
log-produce wrote and log-consume reads what kcat wrote, keys and headers included; keyed
records land on the partitions confluent-kafka (librdkafka) picks with
partitioner=murmur2_random."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import confluent_kafka as ck
from logd_harness import Logd
from tidelog.client.murmur2 import partition_for_key

TIMEOUT = 60
BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    found = BIN / name
    return str(found) if found.exists() else name


def run(logd: Logd, *cmd: str, stdin: bytes = b"") -> bytes:
    env = dict(os.environ, TIDELOG_BOOTSTRAP=logd.bootstrap)
    result = subprocess.run(cmd, input=stdin, capture_output=True, timeout=TIMEOUT, env=env,
                            check=False)
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout


def kcat(logd: Logd, *args: str, stdin: bytes = b"") -> bytes:
    exe = shutil.which("kcat")
    assert exe, "kcat is not installed (.ci/run installs it with apt-get)"
    return run(logd, exe, "-b", logd.bootstrap, *args, stdin=stdin)


def test_kcat_reads_log_produce_and_log_consume_reads_kcat(logd: Logd) -> None:
    run(logd, tool("log-topics"), "create", "ours", "--partitions", "1")
    run(logd, tool("log-topics"), "create", "theirs", "--partitions", "1")
    lines = b"".join(b"key%d:value %d\n" % (i, i) for i in range(1000))
    run(logd, tool("log-produce"), "-t", "ours", "-K", ":", "-H", "origin=tidelog",
        "-z", "zstd", stdin=lines)
    seen = kcat(logd, "-C", "-t", "ours", "-o", "beginning", "-e", "-q", "-f", "%k:%s %h\n")
    assert seen.splitlines() == [b"key%d:value %d origin=tidelog" % (i, i)
                                 for i in range(1000)]
    kcat(logd, "-P", "-t", "theirs", "-K", ":", "-z", "lz4", stdin=lines)
    got = run(logd, tool("log-consume"), "-t", "theirs", "-o", "beginning", "-e", "-K", ":")
    assert got == lines
    fmt = run(logd, tool("log-consume"), "-t", "theirs", "-o", "-2", "-e",
              "-f", "%o %k %s\\n")
    assert fmt == b"998 key998 value 998\n999 key999 value 999\n"


def test_keyed_records_land_where_librdkafka_puts_them(logd: Logd) -> None:
    partitions = 7
    run(logd, tool("log-topics"), "create", "ck-keys", "--partitions", str(partitions))
    run(logd, tool("log-topics"), "create", "our-keys", "--partitions", str(partitions))
    keys = [b"user-%d" % i for i in range(300)] + [b"", b"\x00\xff", b"a" * 37]
    placed: dict[bytes, int] = {}

    def report(err: object, msg: ck.Message) -> None:
        assert err is None, err
        placed[msg.key()] = msg.partition()

    producer = ck.Producer({"bootstrap.servers": logd.bootstrap,
                            "partitioner": "murmur2_random"})
    for key in keys:
        producer.produce("ck-keys", value=b"v", key=key, on_delivery=report)
    assert producer.flush(TIMEOUT) == 0
    assert len(placed) == len(keys)
    text_keys = [k for k in keys if k and b":" not in k and b"\n" not in k]
    run(logd, tool("log-produce"), "-t", "our-keys", "-K", ":",
        stdin=b"".join(k + b":v\n" for k in text_keys))
    ours = run(logd, tool("log-consume"), "-t", "our-keys", "-o", "beginning", "-e",
               "-f", "%k %p\\n")
    mine = {line.split(b" ")[0]: int(line.split(b" ")[1]) for line in ours.splitlines()}
    assert mine == {k: placed[k] for k in text_keys}
    # Keys the line format cannot carry (and the empty key, which is hashed, not random),
    # checked against the partitioner directly.
    for key in keys:
        assert partition_for_key(key, partitions) == placed[key], key
