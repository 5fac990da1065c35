"""The client follows leader changes: retry budgets (time-bounded, shared by nested loops,
short before any broker answered), the producer re-sending a batch to the new leader after
NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH, a partition without leader or a dropped
connection, unkeyed records avoiding a partition without leader, and a consumer poll that
waits out a missing leader instead of failing. Two scripted in-process brokers stand in for a
cluster whose leadership moves."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from test_client_connection import FakeBroker, run
from tidelog.client.cluster import Cluster
from tidelog.client.consumer import Consumer, PartitionState
from tidelog.client.errors import BrokerError, NeverReached
from tidelog.client.producer import Producer, ProducerConfig
from tidelog.client.retry import RetryPolicy, current_deadline, retrying
from tidelog.protocol import ApiKey, RequestHeader, Struct
from tidelog.protocol.errors import ErrorCode


def test_budget_bounds_retries_in_time() -> None:
    calls: list[float] = []

    async def always() -> None:
        calls.append(time.monotonic())
        raise BrokerError(ErrorCode.NOT_LEADER_OR_FOLLOWER)

    started = time.monotonic()
    with pytest.raises(BrokerError, match="NOT_LEADER_OR_FOLLOWER"):
        # a budget that a starved process on a loaded machine still gets several tries in
        run(retrying(always, RetryPolicy(attempts=None, backoff=0.01, max_backoff=0.05,
                                         budget=3.0)))
    elapsed = time.monotonic() - started
    assert len(calls) > 3, "retried while the budget lasted"
    assert elapsed < 30, "and stopped when it ran out"
    # The budget runs from the first try (calls[0]), a little after ``started`` when the
    # process is starved: measured from ``started`` a try that kept to the budget overran it.
    assert calls[-1] - calls[0] < 3.0, "no try starts after the deadline"


def test_nested_loops_share_the_outer_deadline() -> None:
    inner_deadlines: list[float | None] = []

    async def inner() -> None:
        inner_deadlines.append(current_deadline())
        raise BrokerError(ErrorCode.LEADER_NOT_AVAILABLE)

    async def outer() -> None:
        # The inner loop's own budget is 60 s; the outer one's 0.4 s must win.
        await retrying(inner, RetryPolicy(attempts=None, backoff=0.01, budget=60))

    started = time.monotonic()
    with pytest.raises(BrokerError):
        run(retrying(outer, RetryPolicy(attempts=None, backoff=0.01, budget=0.4)))
    assert time.monotonic() - started < 5
    assert inner_deadlines and all(d is not None and d <= started + 0.5
                                   for d in inner_deadlines)
    assert current_deadline() is None


def test_a_cluster_never_reached_fails_fast_despite_a_long_budget() -> None:
    async def main() -> None:
        cluster = Cluster([("127.0.0.1", 1)], connect_timeout=1, retry=RetryPolicy(
            attempts=None, backoff=0.01, budget=120, unreached_attempts=3))
        with pytest.raises(NeverReached, match="no broker reachable"):
            await cluster.refresh()
        await cluster.close()

    started = time.monotonic()
    run(main())
    assert time.monotonic() - started < 10


class MovingCluster:
    """Two fake brokers (node ids 1 and 2) serving one topic whose leadership moves: each
    answers Metadata with the current leaders, and Produce/Fetch through ``on_produce``."""

    def __init__(self, partitions: int = 1) -> None:
        self.leaders = dict.fromkeys(range(partitions), 1)
        self.ports: dict[int, int] = {}
        self.produced: dict[int, list[int]] = {1: [], 2: []}  # node -> partitions written
        self.fail_once: dict[int, Any] = {}  # node -> answer to its next produce
        self.brokers = {n: FakeBroker(self._handler(n)) for n in (1, 2)}
        self.epoch = 0
        self.fetch_epochs: list[int] = []

    async def start(self) -> None:
        for node, broker in self.brokers.items():
            self.ports[node] = await broker.start()

    async def stop(self) -> None:
        for broker in self.brokers.values():
            await broker.stop()

    @property
    def bootstrap(self) -> list[tuple[str, int]]:
        return [("127.0.0.1", self.ports[1])]

    def metadata(self, topics: list[str]) -> Struct:
        return Struct(
            brokers=[Struct(node_id=n, host="127.0.0.1", port=p, rack=None)
                     for n, p in self.ports.items()],
            cluster_id="c", controller_id=1,
            topics=[Struct(error_code=0, name=t, topic_id=None, is_internal=False, partitions=[
                Struct(error_code=0 if leader >= 0 else int(ErrorCode.LEADER_NOT_AVAILABLE),
                       partition_index=p, leader_id=leader, leader_epoch=self.epoch,
                       replica_nodes=[1, 2], isr_nodes=[1, 2],
                       offline_replicas=[] if leader >= 0 else [1])
                for p, leader in sorted(self.leaders.items())]) for t in topics])

    def _handler(self, node: int) -> Any:
        async def handle(header: RequestHeader, body: Struct) -> Any:
            if header.api_key == ApiKey.METADATA:
                return self.metadata([t.name for t in body.topics or []] or ["t"])
            if header.api_key == ApiKey.PRODUCE:
                part = body.topic_data[0].partition_data[0]
                if node in self.fail_once:
                    answer = self.fail_once.pop(node)
                    if answer is None or answer == "silent":
                        return answer
                    code = answer
                elif self.leaders.get(part.index) != node:
                    code = int(ErrorCode.NOT_LEADER_OR_FOLLOWER)
                else:
                    self.produced[node].append(part.index)
                    code = 0
                return Struct(responses=[Struct(name=body.topic_data[0].name,
                                                partition_responses=[Struct(
                                                    index=part.index, error_code=code,
                                                    base_offset=0 if code == 0 else -1)])],
                              throttle_time_ms=0)
            if header.api_key == ApiKey.FETCH:
                self.fetch_epochs += [p.current_leader_epoch for t in body.topics
                                      for p in t.partitions]
                return Struct(throttle_time_ms=0, error_code=0, session_id=0, responses=[
                    Struct(topic=t.topic, partitions=[Struct(
                        partition_index=p.partition,
                        error_code=0 if self.leaders.get(p.partition) == node else
                        int(ErrorCode.NOT_LEADER_OR_FOLLOWER),
                        high_watermark=0, last_stable_offset=0, log_start_offset=0,
                        aborted_transactions=None, preferred_read_replica=-1, records=b"")
                        for p in t.partitions]) for t in body.topics])
            raise AssertionError(f"unexpected request {header.api_key}")

        return handle


def _producer(cluster: Cluster) -> Producer:
    return Producer(cluster, ProducerConfig(acks=-1, linger_ms=1, idempotent=False))


def _cluster(moving: MovingCluster) -> Cluster:
    return Cluster(moving.bootstrap, connect_timeout=2, request_timeout=5, retry=RetryPolicy(
        attempts=None, backoff=0.01, max_backoff=0.05, budget=10))


@pytest.mark.parametrize("refusal", [
    int(ErrorCode.NOT_LEADER_OR_FOLLOWER), int(ErrorCode.FENCED_LEADER_EPOCH), None])
def test_producer_follows_the_leader_to_another_broker(refusal: int | None) -> None:
    async def main() -> None:
        moving = MovingCluster()
        await moving.start()
        cluster = _cluster(moving)
        producer = _producer(cluster)
        await producer.send_values("t", [b"a", b"b"], partition=0)
        await producer.flush()
        assert moving.produced[1] == [0] and producer.stats.records == 2
        # Leadership moves to node 2; node 1 refuses (or drops the connection) once.
        moving.leaders[0] = 2
        moving.fail_once[1] = refusal
        await producer.send_values("t", [b"c"], partition=0)
        await producer.flush()
        assert producer.stats.failed == 0, producer.stats.errors
        assert producer.stats.records == 3
        assert moving.produced[2] == [0], "the batch went to the new leader"
        await cluster.close()
        await moving.stop()

    run(main())


def test_producer_waits_for_a_partition_without_leader() -> None:
    async def main() -> None:
        moving = MovingCluster()
        await moving.start()
        moving.leaders[0] = -1  # an election is running
        cluster = _cluster(moving)
        producer = _producer(cluster)
        loop = asyncio.get_running_loop()
        loop.call_later(0.3, moving.leaders.__setitem__, 0, 2)
        await producer.send_values("t", [b"a"], partition=0)
        await producer.flush()
        assert producer.stats.failed == 0, producer.stats.errors
        assert moving.produced[2] == [0]
        await cluster.close()
        await moving.stop()

    run(main())


def test_unkeyed_records_avoid_a_partition_without_leader() -> None:
    async def main() -> None:
        moving = MovingCluster(partitions=3)
        await moving.start()
        moving.leaders[1] = -1
        cluster = _cluster(moving)
        producer = Producer(cluster, ProducerConfig(acks=-1, linger_ms=0, batch_size=200))
        for i in range(40):
            await producer.send("t", b"x" * 50 + str(i).encode())
        await producer.flush()
        assert producer.stats.failed == 0
        written = moving.produced[1]
        assert len(written) > 3 and set(written) <= {0, 2}, written
        await cluster.close()
        await moving.stop()

    run(main())


def test_consumer_poll_waits_out_a_missing_leader() -> None:
    async def main() -> None:
        moving = MovingCluster(partitions=2)
        await moving.start()
        cluster = _cluster(moving)
        consumer = Consumer(cluster)
        for p in (0, 1):
            consumer.partitions[("t", p)] = PartitionState("t", p, position=0)
        assert await consumer.poll(0) == [] and consumer.failing_since is None
        moving.leaders[0] = -1
        cluster.forget("t")
        assert await consumer.poll(0) == []  # no error: partition 1 was still fetched
        assert consumer.failing_since is not None
        assert "LEADER_NOT_AVAILABLE" in str(consumer.last_error)
        # the leader is back, on the other broker; the stale one answers NOT_LEADER first
        moving.leaders[0] = 2
        moving.epoch = 7
        await consumer.poll(0)
        await consumer.poll(0)
        assert consumer.failing_since is None and consumer.last_error is None
        assert consumer.partitions[("t", 0)].position == 0
        assert moving.fetch_epochs[0] == 0 and moving.fetch_epochs[-1] == 7, \
            "fetches carry the leader epoch of the metadata they were routed by (KIP-320)"
        await cluster.close()
        await moving.stop()

    run(main())
