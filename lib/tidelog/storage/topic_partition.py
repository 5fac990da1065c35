"""Topic-partition names and the ``<topic>-<partition>`` directory names Kafka gives them.

A topic name may itself contain ``-``, so a directory name is split on its last ``-``. Kafka
renames directories it is deleting to ``<topic>-<partition>.<uuid>-delete`` and those of a
replica being moved between log dirs to ``...-future``; both are not partition directories here.
Pure functions: no I/O.
"""

from __future__ import annotations

from typing import NamedTuple

_MAX_PARTITION = (1 << 31) - 1


class TopicPartition(NamedTuple):
    topic: str
    partition: int

    def __str__(self) -> str:
        return f"{self.topic}-{self.partition}"


def partition_dir_name(tp: TopicPartition) -> str:
    """``TopicPartition("a-b", 3)`` -> ``"a-b-3"``."""
    return f"{tp.topic}-{tp.partition}"


def parse_partition_dir_name(name: str) -> TopicPartition | None:
    """The partition a directory name stands for, or None when it is not one.

    Directories being deleted (``*-delete``) or moved (``*-future``) give None.
    """
    if name.endswith("-delete") or name.endswith("-future") or name.endswith("-stray"):
        return None
    topic, sep, number = name.rpartition("-")
    if not sep or not topic or not number.isascii() or not number.isdigit():
        return None
    if len(number) > 1 and number.startswith("0"):
        return None  # Kafka never writes leading zeros; "t-01" is not partition 1's dir
    partition = int(number)
    if partition > _MAX_PARTITION:
        return None
    return TopicPartition(topic, partition)
