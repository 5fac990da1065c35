"""Client quotas, sans-I/O: the sampled rate and Kafka's throttle formula, quota resolution
order, AlterClientQuotas rules and DescribeClientQuotas filters over the image, the metadata
record, and the handler-time measurement. A simulated producer that obeys its throttle times
stays within 10% of its byte rate."""

from __future__ import annotations

import asyncio
import time

import pytest
from tidelog.broker.quota import changes
from tidelog.broker.quota.manager import FETCH, PRODUCE, REQUEST, QuotaManager, resolve
from tidelog.broker.quota.rates import Rate, throttle_s
from tidelog.broker.quota.throttle import Timed, client_throttles
from tidelog.metadata.image import EMPTY_IMAGE
from tidelog.metadata.records import ClientQuotaRecord, decode_record, encode_record
from tidelog.protocol.apis import ApiKey


def test_rate_is_measured_over_at_least_one_window_and_forgets_old_ones() -> None:
    rate = Rate(samples=3, window=1.0)
    rate.record(500, 10.0)
    assert rate.measure(10.1) == 500  # a first burst counts against a whole second
    rate.record(500, 11.5)
    assert rate.measure(12.0) == pytest.approx(1000 / 2.0)
    assert not rate.idle(12.0)
    assert rate.measure(13.5) == pytest.approx(500 / 2.0)  # the window of 10.0 is forgotten
    assert rate.idle(14.5) and rate.measure(14.6) == 0


def test_throttle_is_what_brings_the_rate_back_to_the_quota() -> None:
    rate = Rate(samples=11, window=1.0)
    for t in range(10):
        rate.record(200, 100.0 + t)
    now = 109.5
    assert rate.measure(now) == pytest.approx(2000 / 9.5)
    wait = throttle_s(rate, 200.0, now)
    # waiting it, the same bytes over the longer window are exactly the quota
    assert 0 < wait < 1
    assert 2000 / (9.5 + wait) == pytest.approx(200.0)
    assert throttle_s(rate, 10_000.0, now) == 0
    assert throttle_s(rate, 1.0, now) == 11 * rate.window  # capped at the window kept


def test_a_producer_that_obeys_its_throttle_stays_within_its_quota() -> None:
    manager = QuotaManager()
    quotas = {(("user", "alice"),): {PRODUCE: 100_000.0}}
    now, sent, started = 1000.0, 0, None
    while now < 1060.0:
        wait = manager.record(quotas, PRODUCE, "alice", "p1", 16_384, now)
        sent += 16_384
        if started is None and now >= 1005.0:
            started, sent_then = now, sent
        now += 0.002 + wait  # 2 ms per request, then what the broker asked for
    assert started is not None
    rate = (sent - sent_then) / (now - started)
    assert 0.9 * 100_000 <= rate <= 1.1 * 100_000, rate


def test_resolution_follows_kafkas_order_and_shares_rates_by_entity() -> None:
    quotas = {
        (("client-id", None),): {PRODUCE: 8.0},
        (("client-id", "c1"),): {PRODUCE: 7.0},
        (("user", None),): {PRODUCE: 6.0, FETCH: 60.0},
        (("client-id", None), ("user", None)): {PRODUCE: 5.0},
        (("client-id", "c1"), ("user", None)): {PRODUCE: 4.0},
        (("user", "alice"),): {PRODUCE: 3.0},
        (("client-id", None), ("user", "alice")): {PRODUCE: 2.0},
        (("client-id", "c1"), ("user", "alice")): {PRODUCE: 1.0},
    }
    assert resolve(quotas, PRODUCE, "alice", "c1") == (1.0, ("alice", "c1"))
    assert resolve(quotas, PRODUCE, "alice", "c2") == (2.0, ("alice", "c2"))
    assert resolve(quotas, PRODUCE, "bob", "c1") == (4.0, ("bob", "c1"))
    assert resolve(quotas, PRODUCE, "bob", "c2") == (5.0, ("bob", "c2"))
    assert resolve(quotas, FETCH, "bob", "c2") == (60.0, ("bob", ""))  # per user
    del quotas[(("client-id", "c1"), ("user", "alice"))]
    del quotas[(("client-id", None), ("user", "alice"))]
    assert resolve(quotas, PRODUCE, "alice", "c1") == (3.0, ("alice", ""))  # shared by ids
    only_clients = {(("client-id", None),): {PRODUCE: 8.0}, (("client-id", "c1"),): {
        PRODUCE: 7.0}}
    assert resolve(only_clients, PRODUCE, "x", "c1") == (7.0, ("", "c1"))
    assert resolve(only_clients, PRODUCE, "x", "c9") == (8.0, ("", "c9"))
    assert resolve(only_clients, REQUEST, "x", "c9") is None


def _alter(image: object, entity: list[list[object]], *ops: list[object],
           validate_only: bool = False) -> tuple[list[object], list[str | None]]:
    return changes.alter(image, {"entries": [{"entity": entity, "ops": list(ops)}],  # type: ignore[arg-type]
                                 "validate_only": validate_only})


def test_alterations_follow_kafkas_rules() -> None:
    image = EMPTY_IMAGE
    records, errors = _alter(image, [["user", "alice"], ["client-id", None]],
                             [PRODUCE, 1024.0, False], [REQUEST, 50.5, False])
    assert errors == [None] and len(records) == 2
    image = image.apply_all(records)  # type: ignore[arg-type]
    assert image.client_quotas == {(("client-id", None), ("user", "alice")): {
        PRODUCE: 1024.0, REQUEST: 50.5}}
    refused = {
        "unknown entity type": ([["group", "g"]], [PRODUCE, 1.0, False]),
        "given twice": ([["user", "a"], ["user", "b"]], [PRODUCE, 1.0, False]),
        "ip entity cannot be combined": ([["ip", "1.2.3.4"], ["user", "a"]],
                                          [PRODUCE, 1.0, False]),
        "not supported": ([["ip", None]], ["connection_creation_rate", 1.0, False]),
        "unknown quota key": ([["user", "a"]], ["controller_mutation_rate", 1.0, False]),
        "above 0": ([["user", "a"]], [FETCH, 0.0, False]),
        "whole number": ([["user", "a"]], [FETCH, 1.5, False]),
        "at least one": ([], [PRODUCE, 1.0, False]),
    }
    for why, (entity, op) in refused.items():
        records, errors = _alter(image, entity, op)
        assert records == [] and errors[0] is not None and why in errors[0], (why, errors)
    # validate_only stores nothing; removing a quota never set is no error and no record
    assert _alter(image, [["user", "bob"]], [PRODUCE, 5.0, False], validate_only=True) == (
        [], [None])
    assert _alter(image, [["user", "bob"]], [PRODUCE, 0.0, True]) == ([], [None])
    records, _ = _alter(image, [["user", "alice"], ["client-id", None]],
                        [PRODUCE, 0.0, True], [REQUEST, 0.0, True])
    assert image.apply_all(records).client_quotas == {}  # type: ignore[arg-type]


def test_describe_filters_as_kafka_does() -> None:
    quotas = {
        (("user", "alice"),): {PRODUCE: 1.0},
        (("user", None),): {PRODUCE: 2.0},
        (("client-id", "c1"), ("user", "alice")): {FETCH: 3.0},
        (("client-id", "c1"),): {FETCH: 4.0},
    }

    def entities(*components: tuple[str, int, str | None], strict: bool = False) -> object:
        found = changes.describe(quotas, list(components), strict)
        return found if isinstance(found, str) else [dict(e) for e, _ in found]

    assert entities(("user", changes.EXACT, "alice")) == [
        {"client-id": "c1", "user": "alice"}, {"user": "alice"}]
    assert entities(("user", changes.EXACT, "alice"), strict=True) == [{"user": "alice"}]
    assert entities(("user", changes.DEFAULT, None)) == [{"user": None}]
    assert entities(("user", changes.ANY, None), strict=True) == [{"user": "alice"}]
    assert len(entities()) == 4  # type: ignore[arg-type]
    assert entities(strict=True) == []
    assert "twice" in str(entities(("user", 2, None), ("user", 1, None)))
    assert "unknown entity type" in str(entities(("group", 2, None)))
    assert "EXACT" in str(entities(("user", changes.EXACT, None)))


def test_quota_record_round_trip_and_checks() -> None:
    record = ClientQuotaRecord((("client-id", None), ("user", "alice")), PRODUCE, 1024.0)
    assert decode_record(encode_record(record)) == record
    for bad in ((("user", "a"), ("client-id", "c")), (("group", "g"),), ()):
        with pytest.raises(Exception, match="entity"):
            ClientQuotaRecord(bad, PRODUCE, 1.0)  # type: ignore[arg-type]


def test_timed_counts_the_steps_a_handler_ran_not_its_waits() -> None:
    async def handler() -> str:
        end = time.perf_counter() + 0.05
        while time.perf_counter() < end:  # 50 ms of work on the loop
            pass
        await asyncio.sleep(0.3)  # a long-poll wait: not the broker's work
        return "done"

    async def scenario() -> tuple[str, float]:
        timed = Timed(handler())
        return await timed, timed.elapsed

    result, elapsed = asyncio.run(scenario())
    assert result == "done"
    assert 0.04 <= elapsed < 0.25, elapsed

    async def cancelled() -> None:
        task = asyncio.ensure_future(Timed(asyncio.sleep(10)))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancelled())


def test_which_versions_throttle_themselves() -> None:
    assert client_throttles(ApiKey.PRODUCE, 6) and not client_throttles(ApiKey.PRODUCE, 5)
    assert client_throttles(ApiKey.FETCH, 8) and not client_throttles(ApiKey.FETCH, 7)
    assert client_throttles(ApiKey.DESCRIBE_CLIENT_QUOTAS, 0)
