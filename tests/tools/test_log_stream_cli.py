"""log-stream and log-table as programs against one logd: the README walk-through as written,
the window job (tumbling, --final) and the join job (inner and --left) checked record by
record, log-table get/dump/watch and --json, and the usage errors and exit statuses."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from client_tools_env import TIMEOUT, env_for, module_broker, run, tool
from logd_harness import Logd

ROOT = Path(__file__).resolve().parents[2]
MINUTE = 60_000


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Logd]:
    """One broker; a job's group forms at once (no initial rebalance delay)."""
    yield from module_broker(tmp_path_factory, "--num-partitions", "1")


def _walkthrough() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("### Stream processing: log-stream, log-table", 1)[1]
    block = re.findall(r"```sh\n(.+?)\n```", section, flags=re.S)[0]
    return [line.split("  #", 1)[0].strip() for line in block.splitlines() if line.strip()]


def _until(what: str, probe: Any, timeout: float = TIMEOUT) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_readme_walkthrough_runs_as_written(broker: Logd, tmp_path: Path) -> None:
    commands = _walkthrough()
    assert commands[2].endswith("&") and commands[-1] == "kill %1"
    env = {**env_for(broker), "TIDELOG_STATE_DIR": str(tmp_path / "state")}
    job: subprocess.Popen[bytes] | None = None
    outputs: dict[str, bytes] = {}
    try:
        for command in commands:
            if command.endswith("&"):
                job = subprocess.Popen(["sh", "-c", f"exec {command[:-1]}"], env=env,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                continue
            if command == "kill %1":
                assert job is not None
                job.send_signal(signal.SIGTERM)
                _, err = job.communicate(timeout=TIMEOUT)
                assert job.returncode == 130, err.decode()
                continue

            def attempt(command: str = command) -> subprocess.CompletedProcess[bytes] | None:
                result = subprocess.run(["sh", "-c", command], env=env, capture_output=True,
                                        timeout=TIMEOUT, check=False)
                # log-table get fails (5) until the job has counted: only it is retried
                if command.startswith("log-table get") and result.stdout != b"2\n":
                    return None
                assert result.returncode == 0, (command, result.stderr.decode())
                return result

            outputs[command] = _until(command, attempt).stdout
    finally:
        if job is not None and job.poll() is None:
            job.kill()
            job.wait()
    assert outputs["log-table dump -t click-counts"] == b"alice\t2\nbob\t1\n"


async def _produce(broker: Logd, topic: str,
                   records: list[tuple[bytes | None, bytes | None, int]]) -> None:
    from tidelog.client import Cluster, Producer

    async with Cluster([(broker.host, broker.port)]) as cluster:
        producer = Producer(cluster)
        for key, value, ts in records:
            await producer.send(topic, value, key, timestamp=ts)
        await producer.flush()
        assert producer.stats.failed == 0, producer.stats.errors


def _consume_json(broker: Logd, topic: str, count: int) -> list[dict[str, Any]]:
    """The first ``count`` records of ``topic`` (waiting for them), read in process (a
    program run costs a second or more on a loaded machine) as log-consume --json has them."""
    from tidelog.client import BEGINNING, Cluster, Consumer

    async def read() -> list[dict[str, Any]]:
        async with Cluster([(broker.host, broker.port)]) as cluster:
            info = await cluster.topic(topic)
            consumer = Consumer(cluster)
            await consumer.assign([(topic, p, BEGINNING) for p in info.partitions])
            found: list[dict[str, Any]] = []
            deadline = time.monotonic() + TIMEOUT
            while len(found) < count and time.monotonic() < deadline:
                for fetched in await consumer.poll(max_wait_ms=200):
                    found += [{"key": r.key and r.key.decode(),
                               "value": r.value and r.value.decode()}
                              for r in fetched.records]
            assert len(found) >= count, found
            return found[:count]

    return asyncio.run(read())


async def _create(broker: Logd, **topics: tuple[int, dict[str, str]]) -> None:
    from tidelog.client import Admin, Cluster

    async with Cluster([(broker.host, broker.port)]) as cluster:
        for name, (partitions, configs) in topics.items():
            await Admin(cluster).create_topic(name.replace("_", "-"), partitions, 1, configs)


def _job(broker: Logd, tmp_path: Path, *args: str) -> subprocess.Popen[bytes]:
    env = {**env_for(broker), "TIDELOG_STATE_DIR": str(tmp_path / "state")}
    return subprocess.Popen([tool("log-stream"), *args, "--commit-interval", "100"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _stop(job: subprocess.Popen[bytes]) -> bytes:
    job.send_signal(signal.SIGTERM)
    out, err = job.communicate(timeout=TIMEOUT)
    assert job.returncode == 130, err.decode()
    return out


def test_window_job_writes_each_closed_minute_once(broker: Logd, tmp_path: Path) -> None:
    asyncio.run(_create(broker, w_clicks=(1, {}), w_out=(1, {})))
    base = 1_000 * MINUTE
    records = [(b"a", b"", base + 1), (b"b", b"", base + 2), (b"a", b"", base + MINUTE - 1),
               (b"a", b"", base + MINUTE + 5),
               (b"b", b"", base + 10),  # late (stream time is past minute 0's end)
               (b"a", b"", base + 2 * MINUTE)]  # closes minute 1
    asyncio.run(_produce(broker, "w-clicks", records))
    job = _job(broker, tmp_path, "window", "-t", "w-clicks", "--tumbling", "1m", "--count",
               "--final", "-T", "w-out", "--json")
    try:
        rows = [r for r in (json.loads(x["value"]) for x in _consume_json(broker, "w-out", 3))]
    finally:
        out = _stop(job)
    assert sorted(rows, key=lambda r: (r["start"], r["key"])) == [
        {"key": "a", "start": base, "end": base + MINUTE, "count": 2},
        {"key": "b", "start": base, "end": base + MINUTE, "count": 1},
        {"key": "a", "start": base + MINUTE, "end": base + 2 * MINUTE, "count": 1}]
    events = [json.loads(line) for line in out.splitlines()]
    assert events[-1]["event"] == "stopped" and events[-1]["dropped_late"] == 1
    assert events[-1]["processed"] == len(records)


def test_join_job_inner_and_left(broker: Logd, tmp_path: Path) -> None:
    asyncio.run(_create(broker, customers=(2, {"cleanup.policy": "compact"}), orders=(2, {}),
                        enriched=(1, {}), enriched_all=(1, {})))
    asyncio.run(_produce(broker, "customers", [(b"c1", b'{"name": "Ann"}', 0),
                                               (b"c2", b"Bob", 0)]))
    inner = _job(broker, tmp_path, "join", "-t", "orders", "--table", "customers", "-T",
                 "enriched", "--json")
    left = _job(broker, tmp_path, "join", "-t", "orders", "--table", "customers", "--left",
                "-T", "enriched-all", "--json")
    try:
        # The orders go after the customers were read: wait for both jobs to run.
        for job in (inner, left):
            assert job.stdout is not None
            while b'"assigned"' not in job.stdout.readline():
                assert job.poll() is None, job.communicate()[1].decode()
        asyncio.run(_produce(broker, "orders", [(b"c1", b'{"n": 1}', 0), (b"c3", b"x", 0),
                                                (b"c2", b"2", 0)]))
        got = {(r["key"], r["value"]) for r in _consume_json(broker, "enriched", 2)}
        got_all = {(r["key"], r["value"]) for r in _consume_json(broker, "enriched-all", 3)}
    finally:
        _stop(inner)
        _stop(left)
    assert {(k, json.dumps(json.loads(v), sort_keys=True)) for k, v in got} == {
        ("c1", '{"table": {"name": "Ann"}, "value": {"n": 1}}'),
        ("c2", '{"table": "Bob", "value": 2}')}
    assert ("c3", '{"value":"x","table":null}') in got_all and len(got_all) == 3


def test_log_table_get_dump_watch(broker: Logd) -> None:
    asyncio.run(_create(broker, flags=(2, {"cleanup.policy": "compact"})))
    asyncio.run(_produce(broker, "flags", [(b"dark", b"on", 0), (b"beta", b"no", 0),
                                           (b"beta", b"yes", 0), (b"old", b"1", 0),
                                           (b"old", None, 0)]))
    assert run(broker, "log-table", "get", "-t", "flags", "beta").stdout == b"yes\n"
    missing = run(broker, "log-table", "get", "-t", "flags", "old", check=5)
    assert b"no row with key 'old'" in missing.stderr
    assert run(broker, "log-table", "dump", "-t", "flags", "-K", "=").stdout == \
        b"beta=yes\ndark=on\n"
    rows = [json.loads(line) for line in
            run(broker, "log-table", "dump", "-t", "flags", "--json").stdout.splitlines()]
    assert [(r["key"], r["value"]) for r in rows] == [("beta", "yes"), ("dark", "on")]
    assert set(rows[0]) == {"topic", "partition", "offset", "timestamp", "key", "value",
                            "headers"}
    run(broker, "log-table", "get", "-t", "nope", "k", check=5)
    watch = subprocess.Popen([tool("log-table"), "watch", "-t", "flags", "-Z"],
                             env=env_for(broker), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
    try:
        assert watch.stdout is not None
        assert watch.stdout.readline() == b"beta\tyes\n"
        assert watch.stdout.readline() == b"dark\ton\n"
        asyncio.run(_produce(broker, "flags", [(b"dark", None, 0), (b"new", b"1", 0)]))
        changes = {watch.stdout.readline(), watch.stdout.readline()}
        assert changes == {b"dark\tNULL\n", b"new\t1\n"}
    finally:
        watch.send_signal(signal.SIGINT)
        watch.communicate(timeout=TIMEOUT)
    assert watch.returncode == 130


@pytest.mark.parametrize(("argv", "message"), [
    (["window", "-t", "x", "-T", "y"], "one of --tumbling SIZE or --hopping SIZE"),
    (["window", "-t", "x", "-T", "y", "--tumbling", "60"], "is not a duration"),
    (["window", "-t", "x", "-T", "y", "--hopping", "1m"], "needs --advance"),
    (["window", "-t", "x", "-T", "y", "--hopping", "1m", "--advance", "2m"], "advance"),
    (["count", "-t", "x", "-T", "y", "--table", "z"], "--table and --left are for join"),
    (["count", "-t", "x", "-T", "y", "--final"], "are for window"),
    (["count", "-t", "x", "-T", "y", "--by", "nothing"], "use key, value or json:FIELD"),
    (["join", "-t", "x", "-T", "y"], "join needs --table TOPIC"),
    (["count", "-t", "x"], "Missing option"),
    (["sum", "-t", "x", "-T", "y"], "Invalid value"),
])
@pytest.mark.script_launch_mode("inprocess")
def test_usage_errors(script_runner, argv: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    result = script_runner.run(["log-stream", *argv])
    assert result.returncode == 2 and message in result.stderr, result.stderr


def test_missing_topics_and_co_partitioning(broker: Logd, tmp_path: Path) -> None:
    env = {**os.environ, **env_for(broker), "TIDELOG_STATE_DIR": str(tmp_path)}
    missing = subprocess.run([tool("log-stream"), "count", "-t", "no-such", "-T", "out"],
                             env=env, capture_output=True, timeout=TIMEOUT, check=False)
    assert missing.returncode == 5 and b"'no-such' does not exist" in missing.stderr
    asyncio.run(_create(broker, three=(3, {}), one=(1, {})))
    mismatch = subprocess.run([tool("log-stream"), "join", "-t", "three", "--table", "one",
                               "-T", "out"], env=env, capture_output=True, timeout=TIMEOUT,
                              check=False)
    assert mismatch.returncode == 1
    assert b"co-partitioned" in mismatch.stderr and b"one has 1, three has 3" in \
        mismatch.stderr


@pytest.mark.script_launch_mode("inprocess")
def test_log_table_usage_errors(script_runner) -> None:  # type: ignore[no-untyped-def]
    for args, message in ((["get", "-t", "x"], "get takes one KEY"),
                          (["dump", "-t", "x", "k"], "get takes one KEY"),
                          (["dump"], "give the topic with -t TOPIC")):
        result = script_runner.run(["log-table", *args])
        assert result.returncode == 2 and message in result.stderr, result.stderr
