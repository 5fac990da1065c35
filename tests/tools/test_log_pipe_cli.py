"""log-pipe (issue 14): consume -> command -> produce with the offsets in the transaction.
kill -9 at random points (a seeded random progress of the output), then a restart to the
end, leaves each input's output exactly once for read_committed readers, in both modes
(one long-running command, or one command per transaction); a failing command aborts its
transaction; a missing topic and bad usage exit as tidelog(7) says."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator

import orjson
import pytest
from client_tools_env import TIMEOUT, env_for, module_broker, run, tool
from logd_harness import Logd
from tidelog.client import BEGINNING, Admin, Cluster, Consumer, ConsumerConfig, Producer
from tidelog.client.offsets import LATEST, list_offsets
from tidelog.records.record import Record

INPUTS = 600


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Logd]:
    yield from module_broker(tmp_path_factory, "--num-partitions", "2")


def _cluster(broker: Logd) -> Cluster:
    return Cluster([("127.0.0.1", broker.port)])


def setup(broker: Logd, topics: dict[str, int], source: str,
          values: list[tuple[bytes | None, bytes]]) -> None:
    """Create ``topics`` (name -> partitions) and write ``values`` (key, value) to
    ``source``, in this process (a program start costs a second on a loaded machine)."""
    async def main() -> None:
        async with _cluster(broker) as cluster:
            for name, partitions in topics.items():
                await Admin(cluster).create_topic(name, partitions)
            async with Producer(cluster) as producer:
                for key, value in values:
                    await producer.send(source, value, key)
            assert producer.stats.records == len(values), producer.stats.errors

    asyncio.run(asyncio.wait_for(main(), TIMEOUT))


def read(broker: Logd, topic: str, committed_only: bool = True) -> list[Record]:
    async def main() -> list[Record]:
        async with _cluster(broker) as cluster:
            info = await cluster.topic(topic)
            consumer = Consumer(cluster, ConsumerConfig(max_wait_ms=100,
                                                        isolation_level=int(committed_only)))
            await consumer.assign([(topic, p, BEGINNING) for p in info.partitions])
            out: list[Record] = []
            while not consumer.all_at_end:
                for fetched in await consumer.poll():
                    out.extend(fetched.records)
            return out

    result: list[Record] = asyncio.run(asyncio.wait_for(main(), TIMEOUT))
    return result


def written(broker: Logd, topic: str) -> int:
    """Records (and markers) in ``topic`` so far, committed or not: the sum of its ends."""
    async def main() -> int:
        async with _cluster(broker) as cluster:
            try:
                info = await cluster.topic(topic, auto_create=False)
            except Exception:
                return 0
            ends = await list_offsets(cluster, topic, sorted(info.partitions), LATEST)
            return sum(offset for offset, _ in ends.values())

    result: int = asyncio.run(asyncio.wait_for(main(), TIMEOUT))
    return result


def start_pipe(broker: Logd, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([tool("log-pipe"), *args], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env_for(broker))


@pytest.mark.parametrize("mode", ["one-to-one", "per-chunk"])
def test_kill_9_at_random_points_then_a_restart_gives_each_output_once(
        broker: Logd, mode: str) -> None:
    seed = int.from_bytes(os.urandom(4), "big")
    print(f"seed {seed}")  # shown when the test fails
    rng = random.Random(seed)
    source, dest, group = f"pipe-in-{mode}", f"pipe-out-{mode}", f"pipe-{mode}"
    setup(broker, {source: 2, dest: 2}, source,
          [(b"k%05d" % i, b"v%05d" % i) for i in range(INPUTS)])
    args = ["-g", group, "-t", source, "-T", dest, "-n", "20", "-e",
            *(["--one-to-one"] if mode == "one-to-one" else []), "--", "sed", "s/^/out-/"]
    kills = 0
    for _ in range(2):
        target = written(broker, dest) + rng.randrange(20, 200)
        proc = start_pipe(broker, *args)
        deadline = time.monotonic() + TIMEOUT
        while proc.poll() is None and written(broker, dest) < target \
                and time.monotonic() < deadline:
            time.sleep(0.02)
        if proc.poll() is not None:  # it got to the end before this kill
            assert proc.returncode == 0, proc.stderr.read() if proc.stderr else b""
            break
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=TIMEOUT)
        kills += 1
    assert kills >= 1
    final = start_pipe(broker, "--json", *args)
    out, err = final.communicate(timeout=TIMEOUT * 2)
    assert final.returncode == 0, err.decode()
    report = orjson.loads(out)
    assert report["aborted"] == 0 and report["records_in"] == report["records_out"]
    records = read(broker, dest)
    counts = Counter(r.value for r in records)
    expected = {b"out-v%05d" % i for i in range(INPUTS)}
    assert set(counts) == expected, f"seed {seed}: missing {sorted(expected - set(counts))[:5]}"
    assert max(counts.values()) == 1, f"seed {seed}: repeated {counts.most_common(3)}"
    if mode == "one-to-one":  # the output keeps its input's key
        assert all(r.key == b"k" + r.value[5:] for r in records)  # type: ignore[index]
    # the killed runs' unfinished work is in the log, and aborted
    assert len(read(broker, dest, committed_only=False)) >= INPUTS


def test_a_failing_command_aborts_its_transaction_and_exits_1(broker: Logd) -> None:
    setup(broker, {"pipe-fail-in": 1, "pipe-fail-out": 1}, "pipe-fail-in",
          [(None, b"a"), (None, b"b"), (None, b"c")])
    result = run(broker, "log-pipe", "-g", "pf", "-t", "pipe-fail-in", "-T", "pipe-fail-out",
                 "-e", "--", "sh", "-c", "cat; exit 3", check=1)
    assert b"exited with status 3" in result.stderr
    assert read(broker, "pipe-fail-out", committed_only=False) == []
    # the input was not consumed: a command that works now pipes all of it
    run(broker, "log-pipe", "-g", "pf", "-t", "pipe-fail-in", "-T", "pipe-fail-out", "-e",
        "--", "tr", "a-z", "A-Z")
    assert sorted(r.value for r in read(broker, "pipe-fail-out")) == [b"A", b"B", b"C"]


def test_usage_errors_and_a_missing_topic(broker: Logd) -> None:
    assert b"does not exist" in run(broker, "log-pipe", "-g", "g", "-t", "pipe-nope", "-T",
                                    "x", "--timeout", "1", "--", "cat", check=5).stderr
    run(broker, "log-pipe", "-g", "g", "-t", "same", "-T", "same", "--", "cat", check=2)
    run(broker, "log-pipe", "-g", "g", "-t", "a", "-T", "b", check=2)  # no command
