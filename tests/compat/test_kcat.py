"""kcat (librdkafka's CLI), unmodified: -L metadata, -P produce, -C -e consume, -Q offsets,
100,000 records with a logd restart in the middle."""

from __future__ import annotations

import shutil
import subprocess

from compat_common import RECORDS, TIMEOUT
from logd_harness import Logd


def kcat(logd: Logd, *args: str, stdin: bytes | None = None) -> bytes:
    exe = shutil.which("kcat")
    assert exe, "kcat is not installed (.ci/run installs it with apt-get)"
    result = subprocess.run(
        [exe, "-b", logd.bootstrap, *args], input=stdin, capture_output=True, timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout


def test_kcat_metadata_produce_consume_query_across_a_restart(logd: Logd) -> None:
    half = RECORDS // 2
    first = b"".join(b"line-%06d\n" % i for i in range(half))
    second = b"".join(b"line-%06d\n" % i for i in range(half, RECORDS))
    kcat(logd, "-P", "-t", "kc", stdin=first)
    listing = kcat(logd, "-L").decode()
    assert f"broker 1 at {logd.bootstrap}" in listing
    assert 'topic "kc" with 1 partitions' in listing
    logd.restart()
    kcat(logd, "-P", "-t", "kc", "-K:", stdin=second.replace(b"line", b"key:line", 10))
    out = kcat(logd, "-C", "-t", "kc", "-e", "-q").splitlines()
    assert len(out) == RECORDS
    assert out == [b"line-%06d" % i for i in range(RECORDS)]
    keyed = kcat(logd, "-C", "-t", "kc", "-o", str(half), "-c", "3", "-e", "-q", "-f", "%k=%s\n")
    assert keyed.splitlines() == [b"key=line-%06d" % i for i in range(half, half + 3)]
    query = kcat(logd, "-Q", "-t", "kc:0:-1").decode()
    assert f"offset {RECORDS}" in query
    query = kcat(logd, "-Q", "-t", "kc:0:-2").decode()
    assert "offset 0" in query
