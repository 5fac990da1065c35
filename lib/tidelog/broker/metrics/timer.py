"""A latency recorder for the hot path: log-scale buckets, quantiles over a sliding window.

Kafka's request and flush timers (Yammer histograms) report the 50th ... 99.9th percentiles
of recent events; the JMX exporter turns them into ``quantile`` labelled gauges. Here each
event costs one ``bisect`` and three additions: the value falls in one of :data:`BOUNDS`
(geometric, ratio 1.25, 0.01 ms to about 2 minutes, so a quantile is off by at most 25 %,
less after interpolation), counted in the current window. Windows rotate every
:data:`WINDOW_S` seconds; quantiles are computed at scrape time from the current and the
previous window (the last one to two minutes), while ``count`` and ``sum`` cover the whole
life of the process (what Prometheus's ``rate()`` needs).

Not thread safe by itself: the event loop records requests; storage's flush threads go
through :class:`LockedTimer`.
"""

from __future__ import annotations

import bisect
import threading
import time

#: Upper bounds of the buckets, in milliseconds (a last bucket catches anything longer).
BOUNDS: tuple[float, ...] = tuple(0.01 * 1.25**i for i in range(75))
#: Seconds per window.
WINDOW_S = 60.0
#: The quantiles reported, as Kafka's histograms give them.
QUANTILES = (0.5, 0.75, 0.95, 0.98, 0.99, 0.999)


class Timer:
    __slots__ = ("_current", "_previous", "_rotate_at", "count", "sum_ms")

    def __init__(self) -> None:
        self.count = 0
        self.sum_ms = 0.0
        self._current = [0] * (len(BOUNDS) + 1)
        self._previous = [0] * (len(BOUNDS) + 1)
        self._rotate_at = time.perf_counter() + WINDOW_S

    def observe(self, ms: float, now: float) -> None:
        """One event that took ``ms`` milliseconds, ending at ``now`` (time.perf_counter)."""
        if now >= self._rotate_at:
            self._rotate(now)
        self._current[bisect.bisect_left(BOUNDS, ms)] += 1
        self.count += 1
        self.sum_ms += ms

    def _rotate(self, now: float) -> None:
        late = now - self._rotate_at >= WINDOW_S  # idle for a whole window: both are stale
        self._previous = [0] * len(self._current) if late else self._current
        self._current = [0] * len(self._previous)
        self._rotate_at = now + WINDOW_S

    def quantiles(self, now: float | None = None) -> list[tuple[float, float]]:
        """(quantile, milliseconds) over the recent windows; empty when nothing happened."""
        if now is not None and now >= self._rotate_at:
            self._rotate(now)
        counts = [a + b for a, b in zip(self._current, self._previous, strict=True)]
        total = sum(counts)
        if total == 0:
            return []
        out = []
        for q in QUANTILES:
            rank = q * total
            seen = 0
            for i, c in enumerate(counts):
                if c and seen + c >= rank:
                    low = BOUNDS[i - 1] if i > 0 else 0.0
                    high = BOUNDS[i] if i < len(BOUNDS) else BOUNDS[-1]
                    out.append((q, low + (high - low) * (rank - seen) / c))
                    break
                seen += c
        return out


class LockedTimer(Timer):
    """A :class:`Timer` fed from worker threads (log flushes)."""

    __slots__ = ("_lock",)

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def observe(self, ms: float, now: float) -> None:
        with self._lock:
            super().observe(ms, now)

    def quantiles(self, now: float | None = None) -> list[tuple[float, float]]:
        with self._lock:
            return super().quantiles(now)
