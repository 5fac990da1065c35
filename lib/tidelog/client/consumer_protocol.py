"""The "consumer" group protocol's payloads, and the range and roundrobin assignors.

Every Kafka consumer puts these bytes in JoinGroup (its subscription) and SyncGroup (the
leader's assignment), so a tidelog member can share a group with librdkafka, kafka-python,
aiokafka or Java consumers:

* Subscription: ``int16 version, [string topic], nullable bytes user_data`` and, from v1,
  owned partitions ``[string topic, [int32]]``, v2 ``int32 generation``, v3 ``nullable string
  rack``. We write v0 and read any version (only the topics matter to our assignors).
* Assignment: ``int16 version, [string topic, [int32 partition]], nullable bytes user_data``.

Assignors (pure functions from subscriptions to assignments, as Kafka's):

* ``range`` -- per topic, the members subscribed to it sorted by member id each take a
  contiguous run of partitions; the first ``partitions % members`` take one more.
* ``roundrobin`` -- all subscribed partitions sorted by (topic, partition) dealt out in turn
  to the members (sorted by id), skipping members not subscribed to the partition's topic.

Malformed payloads raise :class:`~tidelog.client.errors.ClientError`.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping, Sequence

from tidelog.client.errors import ClientError

_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")

Assignment = dict[str, list[int]]
#: member id -> subscribed topics; topic -> partition count; answer: member id -> assignment.
Assignor = Callable[[Mapping[str, Sequence[str]], Mapping[str, int]], dict[str, Assignment]]


def _str(s: str) -> bytes:
    raw = s.encode()
    return _I16.pack(len(raw)) + raw


def encode_subscription(topics: Sequence[str]) -> bytes:
    return b"".join([_I16.pack(0), _I32.pack(len(topics)), *(_str(t) for t in topics),
                     _I32.pack(-1)])


def encode_assignment(assignment: Mapping[str, Sequence[int]]) -> bytes:
    parts = [_I16.pack(0), _I32.pack(len(assignment))]
    for topic, partitions in sorted(assignment.items()):
        parts += [_str(topic), _I32.pack(len(partitions)),
                  struct.pack(f">{len(partitions)}i", *sorted(partitions))]
    parts.append(_I32.pack(-1))
    return b"".join(parts)


class _Cursor:
    def __init__(self, buf: bytes, what: str) -> None:
        self.buf, self.pos, self.what = buf, 0, what

    def take(self, s: struct.Struct) -> int:
        if self.pos + s.size > len(self.buf):
            raise ClientError(f"{self.what} is truncated at byte {self.pos}")
        (value,) = s.unpack_from(self.buf, self.pos)
        self.pos += s.size
        return int(value)

    def string(self) -> str:
        n = self.take(_I16)
        if n < 0 or self.pos + n > len(self.buf):
            raise ClientError(f"{self.what}: bad string length {n} at byte {self.pos}")
        try:
            s = self.buf[self.pos:self.pos + n].decode()
        except UnicodeDecodeError as exc:
            raise ClientError(f"{self.what}: topic name is not UTF-8 ({exc})") from None
        self.pos += n
        return s

    def count(self) -> int:
        n = self.take(_I32)
        if n < 0 or n > len(self.buf):
            raise ClientError(f"{self.what}: bad array length {n}")
        return n


def decode_subscription(buf: bytes) -> list[str]:
    """The topics of a Subscription (any version)."""
    cur = _Cursor(bytes(buf), "group subscription")
    cur.take(_I16)
    return [cur.string() for _ in range(cur.count())]


def decode_assignment(buf: bytes) -> Assignment:
    """topic -> partitions of an Assignment (any version; empty bytes: nothing assigned)."""
    if not buf:
        return {}
    cur = _Cursor(bytes(buf), "group assignment")
    cur.take(_I16)
    result: Assignment = {}
    for _ in range(cur.count()):
        topic = cur.string()
        result.setdefault(topic, []).extend(cur.take(_I32) for _ in range(cur.count()))
    return result


def range_assign(subscriptions: Mapping[str, Sequence[str]],
                 partitions: Mapping[str, int]) -> dict[str, Assignment]:
    result: dict[str, Assignment] = {m: {} for m in subscriptions}
    for topic in sorted({t for ts in subscriptions.values() for t in ts}):
        count = partitions.get(topic, 0)
        members = sorted(m for m, ts in subscriptions.items() if topic in ts)
        if not members or count <= 0:
            continue
        share, extra = divmod(count, len(members))
        start = 0
        for i, m in enumerate(members):
            n = share + (1 if i < extra else 0)
            if n:
                result[m][topic] = list(range(start, start + n))
            start += n
    return result


def roundrobin_assign(subscriptions: Mapping[str, Sequence[str]],
                      partitions: Mapping[str, int]) -> dict[str, Assignment]:
    result: dict[str, Assignment] = {m: {} for m in subscriptions}
    members = sorted(subscriptions)
    if not members:
        return result
    subscribed = {m: set(ts) for m, ts in subscriptions.items()}
    i = 0
    for topic in sorted({t for ts in subscriptions.values() for t in ts}):
        for p in range(partitions.get(topic, 0)):
            for _ in range(len(members)):
                m = members[i % len(members)]
                i += 1
                if topic in subscribed[m]:
                    result[m].setdefault(topic, []).append(p)
                    break
    return result


ASSIGNORS: dict[str, Assignor] = {"range": range_assign, "roundrobin": roundrobin_assign}
