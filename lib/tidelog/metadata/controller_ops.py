"""Controller operations: admin requests in, metadata records out (pure functions).

Each function checks a request against the current :class:`MetadataImage` and returns the
records that carry it out, without applying them: the caller appends them to the metadata log
as one batch (so a topic and its partitions commit together) and then applies them. A refused
request raises :class:`ControllerError` with the Kafka error name and code to answer with;
nothing is returned half-done.

Topic names follow Kafka's rules: 1 to 249 characters from ``[a-zA-Z0-9._-]``, not ``.`` or
``..``, and no collision with an existing name that differs only by ``.`` versus ``_`` (Kafka
uses both in metric names, where they clash). ``__cluster_metadata`` is reserved.

Replica placement is deterministic round robin over the sorted live broker ids, starting at a
caller-chosen broker index (``start``), so tests and simulations replay exactly.
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from collections.abc import Mapping, Sequence
from enum import IntEnum

from tidelog.metadata.errors import ControllerError
from tidelog.metadata.image import MetadataImage
from tidelog.metadata.records import (
    RESOURCE_BROKER,
    RESOURCE_TOPIC,
    ConfigRecord,
    MetadataRecord,
    PartitionRecord,
    ProducerIdsRecord,
    RemoveTopicRecord,
    TopicRecord,
)
from tidelog.metadata.topic_configs import validate_topic_configs
from tidelog.metadata.uuids import random_uuid, uuid_to_str

MAX_TOPIC_NAME_LENGTH = 249
METADATA_TOPIC = "__cluster_metadata"
#: Kafka's internal topics (``Topic.isInternal``): clients may read them, never write them,
#: and only the broker creates them, with their own partition counts.
INTERNAL_TOPICS = frozenset({"__consumer_offsets", "__transaction_state"})
#: Upper bound on partitions per topic: everything that can grow has a maximum (design.md).
MAX_PARTITIONS = 100_000
#: Producer ids handed to a broker per ProducerIdsRecord, as Kafka does.
PRODUCER_ID_BLOCK_SIZE = 1000
_MAX_INT64 = (1 << 63) - 1

_LEGAL_NAME = re.compile(r"[a-zA-Z0-9._-]+")

#: Topic configs whose value is a comma-separated list (APPEND and SUBTRACT apply to these).
LIST_CONFIGS = frozenset(
    {
        "cleanup.policy",
        "leader.replication.throttled.replicas",
        "follower.replication.throttled.replicas",
    }
)


class AlterConfigOp(IntEnum):
    """IncrementalAlterConfigs operation types, with Kafka's numbering."""

    SET = 0
    DELETE = 1
    APPEND = 2
    SUBTRACT = 3


@dataclasses.dataclass(frozen=True, slots=True)
class ConfigChange:
    """One entry of an IncrementalAlterConfigs request."""

    name: str
    op: AlterConfigOp
    value: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class ProducerIdBlock:
    """Producer ids ``first .. first + size - 1`` now belong to ``broker_id``."""

    broker_id: int
    first: int
    size: int

    @property
    def next_block_start(self) -> int:
        return self.first + self.size


def validate_topic_name(name: str) -> None:
    """Raise ControllerError(INVALID_TOPIC_EXCEPTION) unless ``name`` is a legal topic name."""
    if not name:
        raise ControllerError("INVALID_TOPIC_EXCEPTION", "topic name is empty")
    if name in (".", ".."):
        raise ControllerError("INVALID_TOPIC_EXCEPTION", f"topic name cannot be {name!r}")
    if len(name) > MAX_TOPIC_NAME_LENGTH:
        raise ControllerError(
            "INVALID_TOPIC_EXCEPTION",
            f"topic name is {len(name)} characters long, the maximum is {MAX_TOPIC_NAME_LENGTH}",
        )
    if not _LEGAL_NAME.fullmatch(name):
        raise ControllerError(
            "INVALID_TOPIC_EXCEPTION",
            f"topic name {name!r} has characters outside [a-zA-Z0-9._-]",
        )


def _collision_key(name: str) -> str:
    return name.replace(".", "_")


def assign_replicas(
    partitions: range, replication_factor: int, broker_ids: Sequence[int], start: int = 0
) -> list[tuple[int, ...]]:
    """Round-robin placement: partition p gets brokers ``start+p, start+p+1, ...`` (mod n)."""
    brokers = sorted(set(broker_ids))
    n = len(brokers)
    return [
        tuple(brokers[(start + p + i) % n] for i in range(replication_factor)) for p in partitions
    ]


def _check_replication(replication_factor: int, broker_ids: Sequence[int]) -> None:
    if replication_factor <= 0:
        raise ControllerError(
            "INVALID_REPLICATION_FACTOR",
            f"replication factor must be positive, not {replication_factor}",
        )
    live = len(set(broker_ids))
    if replication_factor > live:
        raise ControllerError(
            "INVALID_REPLICATION_FACTOR",
            f"replication factor {replication_factor} is larger than the {live} available "
            "broker(s)",
        )


def _partition_records(
    topic_id: uuid.UUID, first: int, assignments: Sequence[tuple[int, ...]]
) -> list[MetadataRecord]:
    return [
        PartitionRecord(
            topic_id=topic_id,
            partition=first + i,
            replicas=replicas,
            isr=replicas,
            leader=replicas[0],
            leader_epoch=0,
            partition_epoch=0,
        )
        for i, replicas in enumerate(assignments)
    ]


def create_topic(
    image: MetadataImage,
    name: str,
    partitions: int,
    replication_factor: int,
    configs: Mapping[str, str | None],
    broker_ids: Sequence[int],
    *,
    default_partitions: int = 1,
    default_replication_factor: int = 1,
    topic_id: uuid.UUID | None = None,
    start: int = 0,
) -> list[MetadataRecord]:
    """Records that create topic ``name``: a TopicRecord, its ConfigRecords, its partitions.

    ``partitions`` or ``replication_factor`` of -1 (CreateTopics v4+) take the defaults.
    ``broker_ids`` are the brokers replicas may go to. Raises ControllerError with
    TOPIC_ALREADY_EXISTS, INVALID_TOPIC_EXCEPTION, INVALID_PARTITIONS,
    INVALID_REPLICATION_FACTOR or INVALID_CONFIG.
    """
    validate_topic_name(name)
    if name == METADATA_TOPIC:
        raise ControllerError("INVALID_TOPIC_EXCEPTION", f"{name!r} is reserved for metadata")
    if image.topic(name) is not None:
        raise ControllerError("TOPIC_ALREADY_EXISTS", f"topic {name!r} already exists")
    key = _collision_key(name)
    for existing in image.topic_ids_by_name:
        if _collision_key(existing) == key:
            raise ControllerError(
                "INVALID_TOPIC_EXCEPTION",
                f"topic {name!r} collides with existing topic {existing!r} ('.' and '_' clash)",
            )
    if partitions == -1:
        partitions = default_partitions
    if replication_factor == -1:
        replication_factor = default_replication_factor
    if not 0 < partitions <= MAX_PARTITIONS:
        raise ControllerError(
            "INVALID_PARTITIONS",
            f"number of partitions must be between 1 and {MAX_PARTITIONS}, not {partitions}",
        )
    _check_replication(replication_factor, broker_ids)
    for config_name, value in configs.items():
        if value is None:  # CreateTopics allows null values; Kafka refuses them too.
            raise ControllerError("INVALID_CONFIG", f"config {config_name!r} has a null value")
    given = {k: v for k, v in configs.items() if v is not None}
    validate_topic_configs(given)

    if topic_id is None:
        topic_id = random_uuid()
    records: list[MetadataRecord] = [TopicRecord(name, topic_id)]
    records += [ConfigRecord(RESOURCE_TOPIC, name, k, v) for k, v in sorted(given.items())]
    records += _partition_records(
        topic_id, 0, assign_replicas(range(partitions), replication_factor, broker_ids, start)
    )
    return records


def delete_topic(
    image: MetadataImage, name: str | None = None, *, topic_id: uuid.UUID | None = None
) -> list[MetadataRecord]:
    """Records that delete a topic named by ``name`` or by ``topic_id`` (exactly one).

    Unknown names raise UNKNOWN_TOPIC_OR_PARTITION, unknown ids UNKNOWN_TOPIC_ID.
    """
    if (name is None) == (topic_id is None):
        raise ControllerError("INVALID_REQUEST", "name exactly one of topic name and topic id")
    if topic_id is not None:
        topic = image.topic_by_id(topic_id)
        if topic is None:
            raise ControllerError("UNKNOWN_TOPIC_ID", f"no topic has id {uuid_to_str(topic_id)}")
    else:
        assert name is not None
        topic = image.topic(name)
        if topic is None:
            raise ControllerError("UNKNOWN_TOPIC_OR_PARTITION", f"topic {name!r} does not exist")
    return [RemoveTopicRecord(topic.topic_id)]


def create_partitions(
    image: MetadataImage,
    name: str,
    new_total: int,
    broker_ids: Sequence[int],
    *,
    start: int = 0,
) -> list[MetadataRecord]:
    """Records that grow topic ``name`` to ``new_total`` partitions, with the replication
    factor of its partition 0. Raises UNKNOWN_TOPIC_OR_PARTITION, INVALID_PARTITIONS or
    INVALID_REPLICATION_FACTOR."""
    topic = image.topic(name)
    if topic is None:
        raise ControllerError("UNKNOWN_TOPIC_OR_PARTITION", f"topic {name!r} does not exist")
    current = len(topic.partitions)
    if new_total <= current:
        raise ControllerError(
            "INVALID_PARTITIONS",
            f"topic {name!r} has {current} partitions; the new count {new_total} must be larger",
        )
    if new_total > MAX_PARTITIONS:
        raise ControllerError(
            "INVALID_PARTITIONS", f"{new_total} partitions exceeds the maximum of {MAX_PARTITIONS}"
        )
    replication_factor = len(topic.partitions[0].replicas) if current else 1
    _check_replication(replication_factor, broker_ids)
    assignments = assign_replicas(range(current, new_total), replication_factor, broker_ids, start)
    return _partition_records(topic.topic_id, current, assignments)


def _split_list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def alter_configs(
    image: MetadataImage,
    resource_type: int,
    resource_name: str,
    changes: Sequence[ConfigChange],
    *,
    valid_broker_configs: frozenset[str] | None = None,
) -> list[MetadataRecord]:
    """Records for an IncrementalAlterConfigs on one resource (a topic, or a broker).

    SET replaces a value, DELETE removes the override (back to the default), APPEND and
    SUBTRACT add or remove items of list configs. Topic results are validated as a whole
    against LogConfig. Broker config names are checked against ``valid_broker_configs`` when
    given. Raises UNKNOWN_TOPIC_OR_PARTITION, INVALID_CONFIG or INVALID_REQUEST.
    """
    if resource_type == RESOURCE_TOPIC:
        if image.topic(resource_name) is None:
            raise ControllerError(
                "UNKNOWN_TOPIC_OR_PARTITION", f"topic {resource_name!r} does not exist"
            )
    elif resource_type == RESOURCE_BROKER:
        if resource_name and not (resource_name.isascii() and resource_name.isdigit()):
            raise ControllerError(
                "INVALID_REQUEST", f"broker resource {resource_name!r} is neither '' nor an id"
            )
    else:
        raise ControllerError(
            "INVALID_REQUEST", f"resource type {resource_type} cannot have configs altered"
        )
    names = [c.name for c in changes]
    if len(set(names)) != len(names):
        raise ControllerError("INVALID_REQUEST", f"a config is named twice in {names}")

    current = dict(image.configs.get((resource_type, resource_name), {}))
    after = dict(current)
    for change in changes:
        if not change.name:
            raise ControllerError("INVALID_CONFIG", "config name is empty")
        if (
            resource_type == RESOURCE_BROKER
            and valid_broker_configs is not None
            and change.name not in valid_broker_configs
        ):
            raise ControllerError(
                "INVALID_CONFIG", f"{change.name!r} is not a dynamic broker config"
            )
        if change.op == AlterConfigOp.DELETE:
            after.pop(change.name, None)
            continue
        if change.value is None:
            raise ControllerError(
                "INVALID_CONFIG", f"{change.op.name} of {change.name!r} needs a value"
            )
        if change.op == AlterConfigOp.SET:
            after[change.name] = change.value
            continue
        if change.name not in LIST_CONFIGS:
            raise ControllerError(
                "INVALID_CONFIG", f"{change.op.name} needs a list config; {change.name!r} is not"
            )
        existing = _split_list(after.get(change.name, _list_default(change.name)))
        items = _split_list(change.value)
        if change.op == AlterConfigOp.APPEND:
            existing += [item for item in items if item not in existing]
        else:
            existing = [item for item in existing if item not in items]
        after[change.name] = ",".join(existing)

    if resource_type == RESOURCE_TOPIC:
        validate_topic_configs(after)

    records: list[MetadataRecord] = []
    for config_name in sorted(set(current) | set(after)):
        old, new = current.get(config_name), after.get(config_name)
        if old != new:
            records.append(ConfigRecord(resource_type, resource_name, config_name, new))
    return records


def _list_default(name: str) -> str:
    # APPEND to a config that has no override starts from Kafka's default value.
    return "delete" if name == "cleanup.policy" else ""


def allocate_producer_ids(
    image: MetadataImage, broker_id: int, block_size: int = PRODUCER_ID_BLOCK_SIZE
) -> tuple[list[MetadataRecord], ProducerIdBlock]:
    """Hand the next block of producer ids to ``broker_id``: the record that reserves it and
    the block. Raises INVALID_REQUEST if the int64 id space is exhausted."""
    if block_size <= 0:
        raise ControllerError("INVALID_REQUEST", f"block size must be positive, not {block_size}")
    first = image.next_producer_id
    if first > _MAX_INT64 - block_size:
        raise ControllerError("INVALID_REQUEST", "the producer id space is exhausted")
    block = ProducerIdBlock(broker_id, first, block_size)
    return [ProducerIdsRecord(broker_id, block.next_block_start)], block
