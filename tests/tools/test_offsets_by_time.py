"""Programs that position by time land on the exact record, not its batch (issue 9):
``log-consume -o @TS`` and ``log-groups reset-offsets --to-datetime``, against a real logd."""

from __future__ import annotations

import json

import pytest
from client_tools_env import broker, run
from kafka_wire import WireClient, produce_body
from logd_harness import Logd
from tidelog.protocol import ApiKey
from tidelog.records.builder import build_batch
from tidelog.records.record import NewRecord

__all__ = ["broker"]

TOPIC = "by-time"


@pytest.fixture(scope="module")
def stamped(broker: Logd) -> Logd:
    """One batch of two records, timestamps 1234 ms and 999999999999 ms (offsets 0 and 1)."""
    run(broker, "log-topics", "create", TOPIC, "--partitions", "1")
    batch = build_batch([NewRecord(b"old", timestamp=1234),
                         NewRecord(b"new", timestamp=999_999_999_999)])
    with WireClient(broker.bootstrap) as c:
        answer = c.request(ApiKey.PRODUCE, 7, produce_body(TOPIC, batch))
    assert answer.responses[0].partition_responses[0].error_code == 0
    return broker


@pytest.mark.parametrize(("start", "expected"), [
    ("@1234", b"old\nnew\n"),
    ("@1235", b"new\n"),
    ("@1970-01-01T00:00:01.235", b"new\n"),
    ("@999999999999", b"new\n"),
])
def test_log_consume_from_a_timestamp(stamped: Logd, start: str, expected: bytes) -> None:
    assert run(stamped, "log-consume", "-t", TOPIC, "-o", start, "-e").stdout == expected


def test_log_groups_reset_to_datetime(stamped: Logd) -> None:
    args = ("reset-offsets", "by-time-group", "-t", TOPIC, "--to-datetime",
            "1970-01-01T00:00:01.235", "--execute", "--json")
    [row] = [json.loads(line) for line in run(stamped, "log-groups", *args).stdout.splitlines()]
    assert (row["partition"], row["new_offset"]) == (0, 1)
    out = run(stamped, "log-groups", "describe", "by-time-group", "--json").stdout
    [described] = [json.loads(line) for line in out.splitlines()]
    assert (described["current_offset"], described["lag"]) == (1, 1)
