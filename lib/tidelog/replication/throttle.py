"""Replication throttles (Kafka's replication quotas, KIP-73), sans-I/O: what is throttled and
how many bytes may go now.

Configs, with Kafka's names and formats:

* broker ``leader.replication.throttled.rate`` / ``follower.replication.throttled.rate``
  (bytes per second; the broker's own entry, else the cluster default ``""``; unset: no limit)
  bound what a leader sends to, and a follower fetches for, *throttled* replicas;
* topic ``leader.replication.throttled.replicas`` / ``follower.replication.throttled.replicas``:
  ``PARTITION:BROKER,...`` or ``*`` — on the leader the entries naming the leader's broker,
  on the follower those naming the follower's. ``log-reassign execute --throttle`` sets them
  on the moving partitions only (leader side: the replicas before the move, follower side:
  the replicas being added).

A replica in the ISR is never throttled (as in Kafka): throttles slow down catching up, never
the replication acks=all waits for.

:class:`RateLimit` is a token bucket: ``rate`` bytes per second with a burst of at most
:data:`BURST_S` seconds' worth (small, so a move of a few seconds already averages to its
rate); a transfer may take it into debt (a fetch is not cut in the middle of a batch), and
nothing throttled goes until the debt is paid, so over a move the bytes average to the rate.
Time is passed in (seconds, monotonic), so tests and simulations drive it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

LEADER_RATE = "leader.replication.throttled.rate"
FOLLOWER_RATE = "follower.replication.throttled.rate"
LEADER_REPLICAS = "leader.replication.throttled.replicas"
FOLLOWER_REPLICAS = "follower.replication.throttled.replicas"
#: Seconds of the rate a bucket holds at most (its burst).
BURST_S = 0.1
#: The dynamic broker configs IncrementalAlterConfigs may set.
BROKER_CONFIGS = frozenset({LEADER_RATE, FOLLOWER_RATE})


def parse_rate(value: str | None) -> int | None:
    """A rate config's bytes per second (None: no limit); ValueError when malformed."""
    if value is None or value.strip() == "":
        return None
    rate = int(value.strip())
    if rate < 0:
        raise ValueError(f"a replication throttle rate cannot be negative ({rate})")
    return rate


def parse_replicas(value: str | None) -> frozenset[tuple[int, int]] | None:
    """A throttled-replicas list as (partition, broker) pairs; None for ``*`` (every
    replica); ValueError when an entry is not ``PARTITION:BROKER``."""
    if value is None:
        return frozenset()
    items = [item.strip() for item in value.split(",") if item.strip()]
    if items == ["*"]:
        return None
    pairs = set()
    for item in items:
        partition, sep, broker = item.partition(":")
        if not sep or not partition.isdigit() or not broker.isdigit():
            raise ValueError(f"{item!r} is not PARTITION:BROKER (or the list is not *)")
        pairs.add((int(partition), int(broker)))
    return frozenset(pairs)


def throttled(topic_configs: Mapping[str, str], name: str, partition: int, broker: int
              ) -> bool:
    """Whether ``broker``'s replica of ``partition`` is in the topic's list ``name``."""
    try:
        pairs = parse_replicas(topic_configs.get(name))
    except ValueError:
        return False  # refused when set; an old malformed value throttles nothing
    return pairs is None or (partition, broker) in pairs


@dataclasses.dataclass(slots=True)
class RateLimit:
    """A token bucket of ``rate`` bytes per second (see the module docstring)."""

    rate: int
    tokens: float = 0.0
    at: float | None = None

    def _refill(self, now: float) -> None:
        burst = self.rate * BURST_S
        if self.at is None:
            self.tokens = burst  # start with a full (small) bucket
        else:
            self.tokens = min(burst, self.tokens + (now - self.at) * self.rate)
        self.at = now

    def set_rate(self, rate: int, now: float) -> None:
        self._refill(now)
        self.rate = rate
        self.tokens = min(self.tokens, rate * BURST_S)

    def exceeded(self, now: float) -> bool:
        """Nothing throttled may go now (the bucket is empty or in debt)."""
        self._refill(now)
        return self.tokens <= 0

    def record(self, nbytes: int, now: float) -> None:
        self._refill(now)
        self.tokens -= nbytes

    def wait_time(self, now: float) -> float:
        """Seconds until something throttled may go again (0: now)."""
        self._refill(now)
        if self.tokens > 0:
            return 0.0
        return (1 - self.tokens) / self.rate if self.rate > 0 else 1.0
