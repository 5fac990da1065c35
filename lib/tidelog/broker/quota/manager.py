"""Which client quota applies to a request, and how long its client is throttled.

Quotas live in the metadata image (``client_quotas``: entity -> {key: value}), set by
AlterClientQuotas (:mod:`.changes`). Keys: ``producer_byte_rate`` (Produce request bytes per
second), ``consumer_byte_rate`` (Fetch response bytes per second) and ``request_percentage``
(the time the broker spends running the client's requests, in percent of one request
handler: 100 = one busy core).

Resolution is Kafka's (the first of these entities that sets the key wins):
``user=U,client-id=C``, ``user=U,client-id=<default>``, ``user=U``,
``user=<default>,client-id=C``, ``user=<default>,client-id=<default>``, ``user=<default>``,
``client-id=C``, ``client-id=<default>``. The user is the principal's name (``ANONYMOUS`` on
PLAINTEXT listeners). Clients sharing the quota's entity share its rate: a quota on
``user=alice`` is shared by all of alice's client ids, one on ``client-id=<default>`` is
measured per client id.

Exempt (Kafka's rule for what is not a client's own work): ApiVersions and the SASL exchange,
and broker-to-broker requests (a follower's Fetch and OffsetForLeaderEpoch, WriteTxnMarkers).

Memory: one :class:`~.rates.Rate` per (key, user tag, client tag) in use; rates idle for
their whole window are dropped (their measurement is 0, so nothing is lost), checked at most
every :data:`PURGE_INTERVAL_S`.
"""

from __future__ import annotations

from collections.abc import Mapping

from tidelog.broker.quota.rates import Rate, throttle_s
from tidelog.metadata.records import QuotaEntity

PRODUCE, FETCH, REQUEST = "producer_byte_rate", "consumer_byte_rate", "request_percentage"
KEYS = (PRODUCE, FETCH, REQUEST)
PURGE_INTERVAL_S = 30.0


def _candidates(user: str, client: str) -> tuple[tuple[QuotaEntity, tuple[str, str]], ...]:
    """Kafka's resolution order: (entity, the (user, client id) tags of its shared rate)."""
    both = (user, client)
    return (
        ((("client-id", client), ("user", user)), both),
        ((("client-id", None), ("user", user)), both),
        ((("user", user),), (user, "")),
        ((("client-id", client), ("user", None)), both),
        ((("client-id", None), ("user", None)), both),
        ((("user", None),), (user, "")),
        ((("client-id", client),), ("", client)),
        ((("client-id", None),), ("", client)),
    )


def resolve(quotas: Mapping[QuotaEntity, Mapping[str, float]], key: str, user: str,
            client: str) -> tuple[float, tuple[str, str]] | None:
    """The quota of ``key`` for a user's client and the tags of the rate it shares."""
    for entity, tags in _candidates(user, client):
        values = quotas.get(entity)
        if values is not None and key in values:
            return values[key], tags
    return None


class QuotaManager:
    def __init__(self) -> None:
        self._rates: dict[tuple[str, str, str], Rate] = {}
        self._purged = 0.0

    def record(self, quotas: Mapping[QuotaEntity, Mapping[str, float]], key: str, user: str,
               client: str, amount: float, now: float) -> float:
        """Record ``amount`` (bytes, or percent-seconds) against the client's quota of
        ``key``; how long it must now wait, in seconds (0: within its quota or none set)."""
        found = resolve(quotas, key, user, client)
        if found is None:
            return 0.0
        quota, (user_tag, client_tag) = found
        rate = self._rates.get((key, user_tag, client_tag))
        if rate is None:
            rate = self._rates[(key, user_tag, client_tag)] = Rate()
        rate.record(amount, now)
        if now - self._purged >= PURGE_INTERVAL_S:
            self._purge(now)
        return throttle_s(rate, quota, now)

    def applies(self, quotas: Mapping[QuotaEntity, Mapping[str, float]], key: str, user: str,
                client: str) -> bool:
        return resolve(quotas, key, user, client) is not None

    def _purge(self, now: float) -> None:
        self._purged = now
        for tags in [t for t, r in self._rates.items() if r.idle(now)]:
            del self._rates[tags]

    @property
    def rates(self) -> int:
        """How many rates are kept (for tests and metrics)."""
        return len(self._rates)
