"""Client quotas with unmodified clients: AlterClientQuotas and DescribeClientQuotas on the
wire, a confluent-kafka producer (default settings) held near its producer_byte_rate, and the
KIP-219 throttle on the wire: throttle_time_ms in the answer and the connection muted after
it, an old Produce version's answer held back instead, a consumer_byte_rate on Fetch.

One broker for the module; every test uses its own client id (quotas are per client id).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from compat_common import TIMEOUT
from kafka_wire import WireClient, batch, fetch_body, produce_body
from logd_harness import Logd
from tidelog.protocol import ApiKey, ErrorCode

K = ApiKey
#: The byte rate the producer test holds a producer to (bytes per second).
QUOTA = 256 * 1024


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Logd]:
    logd = Logd(tmp_path_factory.mktemp("quotas")).start()
    try:
        yield logd
        assert logd.stop() == 0, logd.log()
    finally:
        logd.kill()
        print(logd.log())


def _set(c: WireClient, entity: dict[str, str | None], **values: float) -> Any:
    return c.request(K.ALTER_CLIENT_QUOTAS, 1, {"entries": [{
        "entity": [{"entity_type": t, "entity_name": n} for t, n in entity.items()],
        "ops": [{"key": k, "value": v, "remove": False} for k, v in values.items()],
    }], "validate_only": False})


def _create(c: WireClient, name: str) -> None:
    made = c.request(K.CREATE_TOPICS, 4, {"topics": [{
        "name": name, "num_partitions": 1, "replication_factor": 1}], "timeout_ms": 5000})
    assert made.topics[0].error_code == 0, made


def test_alter_and_describe_client_quotas(broker: Logd) -> None:
    with WireClient(broker.bootstrap) as c:
        done = _set(c, {"user": "alice", "client-id": None}, producer_byte_rate=1024.0,
                    request_percentage=25.0)
        assert [e.error_code for e in done.entries] == [0]
        bad = _set(c, {"user": "alice"}, producer_byte_rate=1.5)
        assert bad.entries[0].error_code == ErrorCode.INVALID_REQUEST
        assert "whole number" in bad.entries[0].error_message
        found = c.request(K.DESCRIBE_CLIENT_QUOTAS, 1, {"components": [
            {"entity_type": "user", "match_type": 0, "match": "alice"}], "strict": False})
        assert found.error_code == 0
        (entry,) = found.entries
        assert {(e.entity_type, e.entity_name) for e in entry.entity} == {
            ("user", "alice"), ("client-id", None)}
        assert {(v.key, v.value) for v in entry.values} == {
            ("producer_byte_rate", 1024.0), ("request_percentage", 25.0)}
        strict = c.request(K.DESCRIBE_CLIENT_QUOTAS, 0, {"components": [
            {"entity_type": "user", "match_type": 0, "match": "alice"}], "strict": True})
        assert strict.entries == []
        removed = c.request(K.ALTER_CLIENT_QUOTAS, 0, {"entries": [{
            "entity": [{"entity_type": "user", "entity_name": "alice"},
                       {"entity_type": "client-id", "entity_name": None}],
            "ops": [{"key": k, "value": 0.0, "remove": True}
                    for k in ("producer_byte_rate", "request_percentage")]}],
            "validate_only": False})
        assert [e.error_code for e in removed.entries] == [0]
        everything = c.request(K.DESCRIBE_CLIENT_QUOTAS, 1, {"components": [],
                                                              "strict": False})
        assert everything.entries == []


def test_a_throttled_producer_stays_within_ten_percent_of_its_quota(broker: Logd) -> None:
    """confluent-kafka with default settings, producing as fast as it can for a while: the
    bytes it has delivered in a window of several seconds (after its first second, whose
    burst the quota's one-second window allows) are at most 10% above the quota."""
    import confluent_kafka as ck

    with WireClient(broker.bootstrap) as c:
        _create(c, "quota-produce")
        assert _set(c, {"client-id": "quota-producer"},
                    producer_byte_rate=float(QUOTA)).entries[0].error_code == 0
    delivered = [0]

    def on_delivery(err: Any, msg: Any) -> None:
        if err is None:
            delivered[0] += len(msg.value())

    producer = ck.Producer({"bootstrap.servers": broker.bootstrap,
                            "client.id": "quota-producer"})
    value = b"q" * 1024
    start = time.monotonic()
    marks: dict[str, tuple[float, int]] = {}
    while time.monotonic() - start < 9.0:
        # Up to 64 KiB queued: more than the quota lets out, in requests of a quarter second of
        # it at most (one request over the quota is let through whole, then paid back).
        if len(producer) < 64:
            producer.produce("quota-produce", value, on_delivery=on_delivery)
            producer.poll(0)
        else:
            producer.poll(0.01)
        elapsed = time.monotonic() - start
        second = f"{int(elapsed)}"
        if second not in marks:
            marks[second] = (time.monotonic(), delivered[0])
        if "from" not in marks and elapsed >= 2.0:
            marks["from"] = (time.monotonic(), delivered[0])
    marks["to"] = (time.monotonic(), delivered[0])
    producer.purge()
    producer.flush(TIMEOUT)
    (t0, b0), (t1, b1) = marks["from"], marks["to"]
    rate = (b1 - b0) / (t1 - t0)
    print("delivered by second:", sorted(marks.items()))
    print(f"delivered {b1 - b0} bytes in {t1 - t0:.2f} s: {rate:.0f} B/s, quota {QUOTA}")
    # Request bytes (what the quota counts) are a little more than the values delivered.
    assert rate <= 1.1 * QUOTA, rate
    # Generous: a starved machine may deliver less (measured at 1.00 of the quota at load 10).
    assert rate >= 0.5 * QUOTA, rate


def test_throttled_answers_carry_the_time_and_mute_the_connection(broker: Logd) -> None:
    with WireClient(broker.bootstrap) as c:
        _create(c, "quota-wire")
        assert _set(c, {"client-id": "quota-wire"},
                    producer_byte_rate=10_000.0).entries[0].error_code == 0
    records = batch([b"w" * 15_000])  # one and a half seconds of the quota in one request
    with WireClient(broker.bootstrap, timeout=30, client_id="quota-wire") as c:
        sent = time.monotonic()
        first = c.request(K.PRODUCE, 7, produce_body("quota-wire", records))
        answered = time.monotonic()
        assert first.responses[0].partition_responses[0].error_code == 0
        throttle = first.throttle_time_ms / 1000
        assert throttle > 0
        # KIP-219: the answer comes at once, and the connection serves nothing more until
        # the throttle time (counted from before the request was sent) is over
        c.request(K.API_VERSIONS, 3, {"client_software_name": "t",
                                      "client_software_version": "1"})
        assert time.monotonic() - sent >= throttle
        print(f"produce answered in {answered - sent:.3f} s, throttle {throttle:.3f} s")
    with WireClient(broker.bootstrap, timeout=30, client_id="quota-wire") as c:
        # Produce v5 predates KIP-219: the broker holds the answer back for the throttle
        sent = time.monotonic()
        old = c.request(K.PRODUCE, 5, produce_body("quota-wire", records))
        assert old.throttle_time_ms > 0
        assert time.monotonic() - sent >= old.throttle_time_ms / 1000


def test_a_consumer_over_its_byte_rate_is_throttled(broker: Logd) -> None:
    with WireClient(broker.bootstrap) as c:
        _create(c, "quota-fetch")
        produced = c.request(K.PRODUCE, 7, produce_body("quota-fetch", batch([b"f" * 50_000])))
        assert produced.responses[0].partition_responses[0].error_code == 0
        assert _set(c, {"client-id": "quota-consumer"},
                    consumer_byte_rate=10_000.0).entries[0].error_code == 0
    with WireClient(broker.bootstrap, timeout=30, client_id="quota-consumer") as c:
        fetched = c.request(K.FETCH, 11, fetch_body("quota-fetch", 0))
        assert fetched.responses[0].partitions[0].records  # answered with its records
        assert fetched.throttle_time_ms > 0


def test_request_percentage_counts_the_time_requests_take(broker: Logd) -> None:
    with WireClient(broker.bootstrap) as c:
        assert _set(c, {"user": None, "client-id": "quota-cpu"},
                    request_percentage=0.001).entries[0].error_code == 0
    with WireClient(broker.bootstrap, timeout=30, client_id="quota-cpu") as c:
        # Metadata v6+ throttles itself: the answer comes at once, the mute after it
        answer = c.request(K.METADATA, 8, {"topics": None, "allow_auto_topic_creation": False,
                                           "include_cluster_authorized_operations": False,
                                           "include_topic_authorized_operations": False})
        assert answer.throttle_time_ms > 0
    with WireClient(broker.bootstrap, client_id="quota-other") as c:  # another client: free
        answer = c.request(K.METADATA, 8, {"topics": None, "allow_auto_topic_creation": False,
                                           "include_cluster_authorized_operations": False,
                                           "include_topic_authorized_operations": False})
        assert answer.throttle_time_ms == 0
