"""tidelog.streams applications against a real logd (one broker for the module): a word count
over random lines that stops, loses its local state and restores it from the changelog, then
continues to the model's counts; two instances that share the tasks and hand them over when
one leaves; and log-stream killed with SIGKILL mid-stream and started again, which loses no
input (at-least-once) and, with exactly-once, counts nothing twice."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from logd_harness import TEST_BROKER_ENV, Logd, serving
from tidelog.client import BEGINNING, Admin, Cluster, Consumer, ConsumerConfig, Producer
from tidelog.streams import INT_TEXT, STR, StreamsApp, StreamsBuilder, StreamsConfig

WORDS = ["ant", "bee", "cat", "dog", "eel", "fox", "gnu"]
WAIT_S = 60.0


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Logd]:
    """One broker; groups form at once, and a killed member leaves after 1.5 s."""
    yield from serving(tmp_path_factory.mktemp("streams"), env={
        **TEST_BROKER_ENV, "TIDELOG_GROUP_MIN_SESSION_TIMEOUT_MS": "1000"})


def cluster(broker: Logd) -> Cluster:
    return Cluster([(broker.host, broker.port)])


async def create(broker: Logd, **topics: int) -> None:
    async with cluster(broker) as c:
        for name, partitions in topics.items():
            await Admin(c).create_topic(name.replace("_", "-"), partitions, 1)


async def produce(broker: Logd, topic: str, records: list[tuple[bytes | None, bytes]]) -> None:
    async with cluster(broker) as c:
        producer = Producer(c)
        for key, value in records:
            await producer.send(topic, value, key)
        await producer.flush()
        assert producer.stats.failed == 0, producer.stats.errors


async def history(broker: Logd, topic: str, read_committed: bool = False
                  ) -> dict[str, list[int]]:
    """Every count ``topic`` holds, per key, in order (to its end, or its last stable offset
    with ``read_committed``)."""
    async with cluster(broker) as c:
        info = await c.topic(topic)
        consumer = Consumer(c, ConsumerConfig(isolation_level=int(read_committed)))
        await consumer.assign([(topic, p, BEGINNING) for p in info.partitions])
        rows: dict[str, list[int]] = {}
        while not consumer.all_at_end:
            for fetched in await consumer.poll(max_wait_ms=50):
                for r in fetched.records:
                    assert r.key is not None and r.value is not None
                    rows.setdefault(r.key.decode(), []).append(int(r.value))
        return rows


async def table(broker: Logd, topic: str, read_committed: bool = False) -> dict[str, int]:
    """``topic`` read as a table of decimal counts."""
    return {k: v[-1] for k, v in (await history(broker, topic, read_committed)).items()}


async def until(what: str, probe: Callable[[], Awaitable[bool] | bool]) -> None:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        result = probe()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def word_count(app_id: str, source: str, sink: str) -> StreamsBuilder:
    b = StreamsBuilder()
    (b.stream(source, value=STR).flat_map_values(str.split)
        .group_by(lambda _k, w: w, key=STR, value=STR, name="words").count("counts")
        .to_stream().to(sink, key=STR, value=INT_TEXT))
    return b


def test_word_count_restores_its_state_from_the_changelog(broker: Logd, tmp_path: Path
                                                          ) -> None:
    rng = random.Random(15)
    batches = [[" ".join(rng.choices(WORDS, k=rng.randrange(1, 5))) for _ in range(200)]
               for _ in range(2)]

    async def run_until(state: Path, lines: list[str], model: Counter[str]) -> StreamsApp:
        await produce(broker, "lines", [(None, line.encode()) for line in lines])
        app = StreamsApp(word_count("wc", "lines", "wc-out").build("wc"), cluster(broker),
                         StreamsConfig(state, commit_interval_ms=200))
        stop = asyncio.Event()
        running = asyncio.ensure_future(app.run(stop))
        words = sum(len(line.split()) for line in lines)
        # Each line is read once from "lines" and each word once from the repartition topic.
        await until("the lines processed", lambda: running.done()
                    or app.stats.processed >= len(lines) + words)
        stop.set()
        await running
        assert await table(broker, "wc-out") == dict(model)
        return app

    async def scenario() -> None:
        await create(broker, lines=3, wc_out=2)
        model = Counter(w for line in batches[0] for w in line.split())
        first = await run_until(tmp_path / "a", batches[0], model)
        assert first.stats.restored == 0
        # A new instance with no local state: everything comes back from the changelog.
        model.update(w for line in batches[1] for w in line.split())
        second = await run_until(tmp_path / "b", batches[1], model)
        assert second.stats.restored >= len(first.stats.tasks) and second.stats.restored > 0
        # Its checkpoints say the stores are up to date: nothing to restore the next time.
        third = await run_until(tmp_path / "b", [], model)
        assert third.stats.restored == 0

    asyncio.run(scenario())


def test_two_instances_share_the_tasks_and_hand_them_over(broker: Logd, tmp_path: Path
                                                           ) -> None:
    rng = random.Random(2)
    keys = [f"k{i}" for i in range(20)]

    def builder() -> StreamsBuilder:
        b = StreamsBuilder()
        b.stream("events", key=STR).group_by_key(key=STR).count("n").to_stream().to(
            "events-out", key=STR, value=INT_TEXT)
        return b

    async def scenario() -> None:
        await create(broker, events=4, events_out=2)
        stops = [asyncio.Event(), asyncio.Event()]
        apps = [StreamsApp(builder().build("share"), cluster(broker),
                           StreamsConfig(tmp_path / name, commit_interval_ms=200,
                                         session_timeout_ms=3000))
                for name in ("a", "b")]
        runs = [asyncio.ensure_future(apps[0].run(stops[0]))]
        await until("a has every task", lambda: len(apps[0].stats.tasks) == 4)
        model: Counter[str] = Counter()
        first = rng.choices(keys, k=400)
        model.update(first)
        await produce(broker, "events", [(k.encode(), b"") for k in first])
        runs.append(asyncio.ensure_future(apps[1].run(stops[1])))
        await until("the tasks shared", lambda: len(apps[0].stats.tasks) == 2
                    and len(apps[1].stats.tasks) == 2)
        assert set(apps[0].stats.tasks).isdisjoint(apps[1].stats.tasks)
        second = rng.choices(keys, k=400)
        model.update(second)
        await produce(broker, "events", [(k.encode(), b"") for k in second])

        async def converged() -> bool:
            return await table(broker, "events-out") == dict(model)

        await until("both instances' counts", converged)
        assert apps[1].stats.processed > 0
        restored_before = apps[0].stats.restored
        stops[1].set()  # b leaves: a takes its tasks over, restoring their stores
        await runs[1]
        await until("a has every task again", lambda: len(apps[0].stats.tasks) == 4)
        assert apps[0].stats.restored > restored_before
        third = rng.choices(keys, k=300)
        model.update(third)
        await produce(broker, "events", [(k.encode(), b"") for k in third])
        await until("a's counts after the handover", converged)
        stops[0].set()
        await runs[0]

    asyncio.run(scenario())


@pytest.mark.parametrize("guarantee", ["at_least_once", "exactly_once"])
def test_log_stream_killed_and_restarted(broker: Logd, tmp_path: Path, guarantee: str) -> None:
    """At-least-once loses nothing; exactly-once, read with read_committed, also counts
    nothing twice: every key's committed counts only go up, and end at the model's."""
    rng = random.Random(9)
    keys = [f"user{i}" for i in range(30)]
    clicks = rng.choices(keys, k=3000)
    model = Counter(clicks)
    source, sink = (f"{what}-{guarantee.replace('_', '-')}" for what in ("clicks", "counts"))
    eos = guarantee == "exactly_once"
    cmd = [str(Path(sys.executable).parent / "log-stream"), "count", "-t", source,
           "-T", sink, "--state-dir", str(tmp_path / "state"), "--commit-interval",
           "100", "--session-timeout", "1500", "--guarantee", guarantee, "--json"]
    env = {**os.environ, "TIDELOG_BOOTSTRAP": broker.bootstrap}

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    async def scenario() -> None:
        await create(broker, **{source.replace("-", "_"): 2, sink.replace("-", "_"): 2})
        job = start()
        try:
            await produce(broker, source, [(k.encode(), b"") for k in clicks[:1500]])

            async def some_done() -> bool:
                return sum((await table(broker, sink, eos)).values()) > 100

            await until("some counts", some_done)
            job.send_signal(signal.SIGKILL)  # mid-stream: no commit, no goodbye
            job.wait(WAIT_S)
            await produce(broker, source, [(k.encode(), b"") for k in clicks[1500:]])
            job = start()

            async def all_counted() -> bool:
                rows = await table(broker, sink, eos)
                return all(rows.get(k, 0) >= n for k, n in model.items())

            await until("every click counted after the restart", all_counted)
            if eos:
                counts = await history(broker, sink, read_committed=True)
                assert {k: v[-1] for k, v in counts.items()} == dict(model)
                for key, seen in counts.items():
                    assert seen == sorted(set(seen)), (key, seen)  # never counted twice
            job.send_signal(signal.SIGTERM)
            out, err = job.communicate(timeout=WAIT_S)
            assert job.returncode == 130, err.decode()
            events = [line for line in out.decode().splitlines() if line]
            assert any('"event":"restored"' in e for e in events)
            assert '"event":"stopped"' in events[-1]
        finally:
            if job.poll() is None:
                job.kill()
                job.wait()

    asyncio.run(scenario())
