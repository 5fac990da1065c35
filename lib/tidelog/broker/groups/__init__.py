"""The group coordinator inside ``logd``: consumer groups and their committed offsets.

Modules: ``schema`` (``__consumer_offsets`` keys and values in Kafka's binary format, pure),
``group`` (a group's members, generation, protocol and offsets; its states), ``store``
(appending to and replaying ``__consumer_offsets``), ``coordinator`` (the classic group
protocol: joins, syncs, heartbeats, sessions, rebalances, static members, offsets, expiry),
``handlers`` (the group APIs on the wire).
"""

from tidelog.broker.groups.coordinator import CLIENT_PEER, GroupCoordinator
from tidelog.broker.groups.group import Group, GroupState, Member
from tidelog.broker.groups.store import OFFSETS_TOPIC

__all__ = ["CLIENT_PEER", "OFFSETS_TOPIC", "Group", "GroupCoordinator", "GroupState", "Member"]
