"""The metrics building blocks: the hand-written text format parses with prometheus_client,
timer quantiles stay within their bucket error and forget old windows, sd_notify sends one
datagram, request names are Kafka's."""

from __future__ import annotations

import math
import os
import random
import socket
import tempfile

import pytest
from prometheus_client.parser import text_string_to_metric_families
from tidelog.broker.metrics import timer as timer_module
from tidelog.broker.metrics.collect import request_name
from tidelog.broker.metrics.counters import BrokerMetrics
from tidelog.broker.metrics.exposition import Exposition, number
from tidelog.broker.metrics.health import readiness
from tidelog.broker.metrics.notify import notify
from tidelog.broker.metrics.timer import Timer


def test_exposition_parses_with_awkward_labels_and_values() -> None:
    out = Exposition()
    out.add("a_total", "counter", "help with \\ backslash", 3, {"topic": 'q"uo\\te\nx'})
    out.add("g", "gauge", "a gauge", 0.25)
    out.add("a_total", "counter", "ignored: first help wins", 4, {"topic": "plain"})
    out.add("inf", "gauge", "infinite", math.inf)
    families = {f.name: f for f in text_string_to_metric_families(out.text())}
    a = families["a"]
    assert a.type == "counter"
    assert [(s.labels["topic"], s.value) for s in a.samples] == [('q"uo\\te\nx', 3), ("plain", 4)]
    assert families["g"].samples[0].value == 0.25
    assert families["inf"].samples[0].value == math.inf
    assert number(2.0) == "2" and number(math.nan) == "NaN" and number(-math.inf) == "-Inf"


def test_timer_quantiles_are_within_bucket_error() -> None:
    t = Timer()
    rng = random.Random(7)
    values = sorted(rng.lognormvariate(0, 1.5) for _ in range(5000))
    now = 1.0
    for v in values:
        t.observe(v, now)
    got = dict(t.quantiles())
    for q, ms in got.items():
        exact = values[min(len(values) - 1, int(q * len(values)))]
        assert exact / 1.3 <= ms <= exact * 1.3, (q, ms, exact)
    assert t.count == 5000 and t.sum_ms == pytest.approx(sum(values))


def test_timer_forgets_windows_older_than_two(monkeypatch: pytest.MonkeyPatch) -> None:
    t = Timer()
    start = t._rotate_at - timer_module.WINDOW_S
    for _ in range(100):
        t.observe(1000.0, start)
    t.observe(1.0, start + timer_module.WINDOW_S + 1)  # the slow ones are the previous window
    assert dict(t.quantiles(start + timer_module.WINDOW_S + 2))[0.5] > 500
    assert t.quantiles(start + 4 * timer_module.WINDOW_S) == []  # both windows are stale
    assert t.count == 101  # the totals keep everything


def test_counters() -> None:
    m = BrokerMetrics()
    m.produced("t", 10, 500)
    m.produced("t", 1, 50)
    m.isr_changed(3, 2)
    m.isr_changed(2, 3)
    m.isr_changed(3, 3)
    m.request(0, 9, 0.0)
    assert (m.topics["t"].messages_in, m.topics["t"].bytes_in) == (11, 550)
    assert (m.isr_shrinks, m.isr_expands) == (1, 1)
    assert m.requests == {(0, 9): 1} and m.request_times[0].count == 1


def test_request_names_are_kafkas() -> None:
    assert request_name(2) == "ListOffsets"
    assert request_name(22) == "InitProducerId"
    assert request_name(23) == "OffsetForLeaderEpoch"
    assert request_name(9999) == "9999"


def test_notify_sends_one_datagram_and_is_quiet_without_a_socket() -> None:
    assert notify("READY=1", env={}) is False
    where = tempfile.mkdtemp(dir="/tmp")
    path = os.path.join(where, "n")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(path)
        assert notify("READY=1", "STATUS=up", env={"NOTIFY_SOCKET": path})
        assert sock.recv(100) == b"READY=1\nSTATUS=up"
    os.unlink(path)
    os.rmdir(where)
    # a socket nobody listens on is a warning, never an exception
    assert notify("READY=1", env={"NOTIFY_SOCKET": path}) is False


def test_not_ready_before_start() -> None:
    assert readiness(None) == ["the log dir and metadata log are not loaded yet"]
