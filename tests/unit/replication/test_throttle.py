"""Replication throttles: Kafka's config formats, the token bucket's average rate, and which
replicas a broker throttles (listed, not in the ISR, with a rate set)."""

from __future__ import annotations

import uuid

import pytest
from tidelog.broker.replication.throttles import Throttles
from tidelog.metadata.image import MetadataImage
from tidelog.metadata.records import ConfigRecord, PartitionRecord, TopicRecord
from tidelog.replication.throttle import RateLimit, parse_rate, parse_replicas, throttled


def test_config_formats() -> None:
    assert parse_rate(None) is None and parse_rate("") is None and parse_rate("100") == 100
    with pytest.raises(ValueError):
        parse_rate("-1")
    with pytest.raises(ValueError):
        parse_rate("fast")
    assert parse_replicas("0:1, 1:2") == {(0, 1), (1, 2)}
    assert parse_replicas("*") is None and parse_replicas(None) == frozenset()
    with pytest.raises(ValueError):
        parse_replicas("0-1")
    configs = {"leader.replication.throttled.replicas": "0:1,2:3"}
    assert throttled(configs, "leader.replication.throttled.replicas", 0, 1)
    assert not throttled(configs, "leader.replication.throttled.replicas", 0, 3)
    assert not throttled(configs, "follower.replication.throttled.replicas", 0, 1)
    assert throttled({"x": "*"}, "x", 5, 9)
    assert not throttled({"x": "bad"}, "x", 0, 1)


def test_the_bucket_averages_to_its_rate() -> None:
    limit = RateLimit(1000)
    now, sent = 0.0, 0
    while now < 20.0:
        if not limit.exceeded(now):
            limit.record(300, now)  # transfers larger than what is left: debt, then a wait
            sent += 300
        now += max(limit.wait_time(now), 0.01)
    # a tenth of a second of burst at the start, then the rate (and one transfer of debt)
    assert 20_000 <= sent <= 20_000 + 100 + 300
    assert limit.wait_time(now) >= 0


def test_a_rate_change_applies_at_once() -> None:
    limit = RateLimit(10)
    limit.record(10, 0.0)
    assert limit.exceeded(0.0)
    limit.set_rate(1_000_000, 0.5)
    assert not limit.exceeded(0.6)


def test_which_replicas_a_broker_throttles() -> None:
    tid = uuid.UUID(int=3)
    image = MetadataImage().apply_all([
        TopicRecord("t", tid), PartitionRecord(tid, 0, (1, 2), (1, 2), 1),
        PartitionRecord(tid, 1, (1, 2), (1, 2), 1),
        ConfigRecord(2, "t", "leader.replication.throttled.replicas", "0:1"),
        ConfigRecord(2, "t", "follower.replication.throttled.replicas", "0:2"),
        ConfigRecord(4, "", "leader.replication.throttled.rate", "500"),
        ConfigRecord(4, "2", "follower.replication.throttled.rate", "700"),
    ])
    one, two = Throttles(1, lambda: image), Throttles(2, lambda: image)
    limit = one.leader("t", 0, follower_in_sync=False)
    assert limit is not None and limit.rate == 500  # the cluster default
    assert one.leader("t", 0, follower_in_sync=True) is None  # in sync: never throttled
    assert one.leader("t", 1, follower_in_sync=False) is None  # not listed
    assert one.follower("t", 0, in_sync=False) is None  # broker 1 is not a listed follower
    limit = two.follower("t", 0, in_sync=False)
    assert limit is not None and limit.rate == 700  # its own entry
    assert two.leader("t", 0, follower_in_sync=False) is None  # 0:2 is not a leader entry
