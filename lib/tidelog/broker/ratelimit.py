"""Log lines that a client can provoke at will, rate-limited.

A client that fails authentication (or sends garbage) on purpose must not fill the broker's
log: :class:`RateLimitedLog` writes at most ``burst`` lines per ``period`` seconds; the first
line of a later window is preceded by one saying how many the last window left out. State is
two integers and a timestamp; no task, no lock (every caller is on the event loop).
"""

from __future__ import annotations

import logging
import time


class RateLimitedLog:
    def __init__(self, logger: logging.Logger, burst: int = 10, period: float = 60.0) -> None:
        self.logger = logger
        self.burst = burst
        self.period = period
        self._window = -period
        self._count = 0
        self._dropped = 0

    def warning(self, message: str, *args: object) -> None:
        now = time.monotonic()
        if now - self._window >= self.period:
            if self._dropped:
                self.logger.warning("(%d similar lines left out in the last %.0f s)",
                                    self._dropped, self.period)
            self._window, self._count, self._dropped = now, 0, 0
        if self._count < self.burst:
            self._count += 1
            self.logger.warning(message, *args)
        else:
            self._dropped += 1
