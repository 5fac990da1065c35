"""KIP-951: answers that say "not the leader" name the leader, so clients skip a metadata round.

A Produce (v10+) or Fetch (v16+) partition answered NOT_LEADER_OR_FOLLOWER or
FENCED_LEADER_EPOCH carries ``current_leader`` (the leader and its epoch as this broker's
metadata has them), and the answer's ``node_endpoints`` lists where those leaders are reached
on the listener the request came in on. librdkafka (2.4+) and the Java clients move the
partition at once instead of refreshing metadata first: after a controlled shutdown, a
preferred-leader election or a reassignment. (A leader killed outright answers nothing: see
tidelog.broker.liveness for that case.)

A leader is named only when the metadata has one that is registered, unfenced and not this
broker, with an address on the request's listener; otherwise the fields keep their defaults
(leader -1) and the client refreshes metadata as before.
"""

from __future__ import annotations

from collections.abc import Iterable

from tidelog.broker import session
from tidelog.broker.core import BrokerCore
from tidelog.protocol.data import Struct
from tidelog.protocol.errors import ErrorCode

#: The errors whose answers name the current leader (Kafka's KIP-951 set).
NOT_LEADER = frozenset({int(ErrorCode.NOT_LEADER_OR_FOLLOWER),
                        int(ErrorCode.FENCED_LEADER_EPOCH)})


def name_leaders(core: BrokerCore, answers: Iterable[tuple[str | None, Struct]],
                 index_field: str) -> list[Struct]:
    """Set ``current_leader`` on each (topic, partition answer) refused as not the leader's;
    returns the ``node_endpoints`` to send with them. ``index_field`` names the partition
    answer's index: ``index`` (Produce) or ``partition_index`` (Fetch)."""
    refused = [(topic, answer) for topic, answer in answers
               if topic is not None and answer.error_code in NOT_LEADER]
    if not refused:
        return []  # the common case, on every Produce: no lookups
    listener = session.current().listener
    image = core.image
    endpoints: dict[int, Struct] = {}
    for topic, answer in refused:
        t = image.topic(topic)
        part = t.partitions.get(getattr(answer, index_field)) if t is not None else None
        if part is None or part.leader < 0 or part.leader == core.node_id:
            continue
        broker = image.brokers.get(part.leader)
        addr = core.address_on(part.leader, listener)
        if broker is None or broker.fenced or addr is None:
            continue
        answer.current_leader = Struct(leader_id=part.leader, leader_epoch=part.leader_epoch)
        endpoints[part.leader] = Struct(node_id=part.leader, host=addr[0], port=addr[1],
                                        rack=broker.rack)
    return [endpoints[b] for b in sorted(endpoints)]
