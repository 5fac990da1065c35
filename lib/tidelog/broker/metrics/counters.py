"""What the broker counts as it serves requests (the hot path's share of the metrics).

:class:`BrokerMetrics` holds only what cannot be read from state at scrape time: records and
bytes in and out per topic (Kafka's BrokerTopicMetrics), requests and their times per API and
version (RequestMetrics), ISR shrinks and expands (ReplicaManager), log flush times
(LogFlushStats). Gauges (partition counts, log sizes, lag, quorum) are computed when scraped,
by :mod:`tidelog.broker.metrics.collect`.

Cost: a produce adds to two integers of one per-topic object; a request adds one dict
increment and one :class:`~tidelog.broker.metrics.timer.Timer` observation. With metrics off
(no ``metrics_listen``) the broker holds no BrokerMetrics and the hooks are one ``None`` test.
``scripts/bench/metrics_overhead.py`` measures the difference.

Counters only grow (a deleted topic's counts stay in the all-topics totals, as they are part
of what the broker did); they start at zero when the process starts, which Prometheus's
``rate()`` expects. Not thread safe except the flush timer: everything else is counted on the
event loop.
"""

from __future__ import annotations

import time

from tidelog.broker.metrics.timer import LockedTimer, Timer


class TopicCounts:
    """One topic's traffic through this broker (as leader)."""

    __slots__ = ("bytes_in", "bytes_out", "messages_in", "replication_bytes_out")

    def __init__(self) -> None:
        self.messages_in = 0
        self.bytes_in = 0
        self.bytes_out = 0  # to consumers
        self.replication_bytes_out = 0  # to followers


class BrokerMetrics:
    def __init__(self) -> None:
        self.topics: dict[str, TopicCounts] = {}
        #: (api key, version) -> requests answered (or failed) since start.
        self.requests: dict[tuple[int, int], int] = {}
        #: api key -> time from a decoded request to its encoded answer.
        self.request_times: dict[int, Timer] = {}
        self.isr_shrinks = 0
        self.isr_expands = 0
        self.flush_times = LockedTimer()
        self.start_time = time.time()

    def topic(self, name: str) -> TopicCounts:
        counts = self.topics.get(name)
        if counts is None:
            counts = self.topics[name] = TopicCounts()
        return counts

    def produced(self, topic: str, records: int, nbytes: int) -> None:
        """A leader appended ``records`` records in ``nbytes`` bytes of batches."""
        counts = self.topics.get(topic) or self.topic(topic)
        counts.messages_in += records
        counts.bytes_in += nbytes

    def request(self, api_key: int, version: int, started: float) -> None:
        """A request of ``api_key``/``version`` decoded at ``started`` (perf_counter) is
        answered now."""
        now = time.perf_counter()
        key = (api_key, version)
        self.requests[key] = self.requests.get(key, 0) + 1
        timer = self.request_times.get(api_key)
        if timer is None:
            timer = self.request_times[api_key] = Timer()
        timer.observe((now - started) * 1000.0, now)

    def flushed(self, seconds: float) -> None:
        """Storage fdatasync'd a log (called on its worker thread)."""
        self.flush_times.observe(seconds * 1000.0, time.perf_counter())

    def isr_changed(self, before: int, after: int) -> None:
        """A partition this broker leads changed ISR size from ``before`` to ``after``."""
        if after < before:
            self.isr_shrinks += 1
        elif after > before:
            self.isr_expands += 1
