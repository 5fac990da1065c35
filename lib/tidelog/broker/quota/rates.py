"""A sampled rate and the throttle time it asks for, as Kafka's quota sensors compute them
(sans-I/O: every call is given the time, in seconds).

A :class:`Rate` keeps ``samples`` windows of ``window`` seconds (Kafka's quota.window.num = 11
and quota.window.size.seconds = 1); a window starts with the first value recorded after the
previous one ended, and windows older than ``samples * window`` are forgotten. The rate is
the total of the kept windows over the time since the oldest began, but never over less than
one window, so a client's first burst is measured against a second instead of a few
milliseconds. (Kafka pads to ``samples - 1`` windows, which lets a new client send ten
seconds of its quota at once before it is throttled; one window keeps it near its quota from
the start.)

:func:`throttle_s` is Kafka's formula: a client measured at rate O against quota T waits
``(O - T) / T * W`` (W the measured window), so that it would have been at T had it waited;
at most the whole window kept (11 s): a cap of one second would let a client sending 1 MB
requests through at 1 MB/s whatever its quota.
"""

from __future__ import annotations

import collections

SAMPLES = 11
WINDOW_S = 1.0


class Rate:
    __slots__ = ("_samples", "last", "samples", "window")

    def __init__(self, samples: int = SAMPLES, window: float = WINDOW_S) -> None:
        self.samples = samples
        self.window = window
        #: [window start, total] per kept window, oldest first.
        self._samples: collections.deque[list[float]] = collections.deque()
        #: When a value was last recorded (for forgetting idle sensors).
        self.last = 0.0

    def _purge(self, now: float) -> None:
        horizon = now - self.samples * self.window
        while self._samples and self._samples[0][0] <= horizon:
            self._samples.popleft()

    def record(self, value: float, now: float) -> None:
        self._purge(now)
        if not self._samples or now >= self._samples[-1][0] + self.window:
            self._samples.append([now, 0.0])
        self._samples[-1][1] += value
        self.last = now

    def elapsed(self, now: float) -> float:
        """The time the rate is measured over (at least one window)."""
        oldest = self._samples[0][0] if self._samples else now
        return max(now - oldest, self.window)

    def measure(self, now: float) -> float:
        """Per second, over :meth:`elapsed`."""
        self._purge(now)
        return sum(s[1] for s in self._samples) / self.elapsed(now)

    def idle(self, now: float) -> bool:
        """Nothing recorded in the kept windows: forgetting it changes no measurement."""
        return now - self.last >= self.samples * self.window


def throttle_s(rate: Rate, quota: float, now: float) -> float:
    """How long a client measured by ``rate`` waits for ``quota`` (0: it is within it)."""
    observed = rate.measure(now)
    if observed <= quota:
        return 0.0
    return min((observed - quota) / quota * rate.elapsed(now), rate.samples * rate.window)
