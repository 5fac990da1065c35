"""The replication throttles of this broker, from the metadata it has replayed.

One :class:`~tidelog.replication.throttle.RateLimit` for what this broker sends as leader and
one for what it fetches as follower, each at this broker's rate config (its own entry, else the
cluster default; see :mod:`tidelog.replication.throttle` for the names and rules). A partition
counts against a limit only when its topic lists this broker's replica and the follower is not
in the ISR; everything else replicates at full speed. Rates are re-read from the image on every
use (a dict lookup), so a config change applies to the next fetch.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from tidelog.metadata.image import MetadataImage
from tidelog.metadata.records import RESOURCE_BROKER
from tidelog.replication.throttle import (
    FOLLOWER_RATE,
    FOLLOWER_REPLICAS,
    LEADER_RATE,
    LEADER_REPLICAS,
    RateLimit,
    parse_rate,
    throttled,
)


class Throttles:
    def __init__(self, node_id: int, image: Callable[[], MetadataImage],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.node_id = node_id
        self._image = image
        self.clock = clock
        self._limits: dict[str, RateLimit] = {}

    def _limit(self, rate_name: str, list_name: str, topic: str, partition: int
               ) -> RateLimit | None:
        image = self._image()
        rate = None
        for resource in (str(self.node_id), ""):
            raw = image.configs.get((RESOURCE_BROKER, resource), {}).get(rate_name)
            if raw is not None:
                try:
                    rate = parse_rate(raw)
                except ValueError:
                    rate = None  # refused when set; an old malformed value limits nothing
                break
        if rate is None or not throttled(image.topic_configs(topic), list_name, partition,
                                         self.node_id):
            return None
        limit = self._limits.get(rate_name)
        if limit is None:
            limit = self._limits[rate_name] = RateLimit(rate)
        elif limit.rate != rate:
            limit.set_rate(rate, self.clock())
        return limit

    def leader(self, topic: str, partition: int, follower_in_sync: bool) -> RateLimit | None:
        """The limit a fetch by a follower of ``partition`` counts against, if any."""
        if follower_in_sync:
            return None
        return self._limit(LEADER_RATE, LEADER_REPLICAS, topic, partition)

    def follower(self, topic: str, partition: int, in_sync: bool) -> RateLimit | None:
        """The limit this broker's fetches for ``partition`` count against, if any."""
        if in_sync:
            return None
        return self._limit(FOLLOWER_RATE, FOLLOWER_REPLICAS, topic, partition)
