"""Admin changes that work on one node and in a cluster: what request handlers call.

On a single node (no ``--quorum``) each function is the synchronous BrokerCore method. In a
cluster the change is sent to the active controller (:meth:`ClusterNode.submit`), which
computes its metadata records with the builders of :data:`BUILDERS` on its own image, commits
them through Raft and answers with the offset to wait for; the function returns once this
node's image has applied that offset. Errors are ControllerErrors carrying Kafka's error name
(NOT_CONTROLLER or REQUEST_TIMED_OUT when no controller could take the change; clients retry).

The builders are pure functions of (core, the controller's working image, JSON arguments):
arguments travel between nodes as JSON, so UUIDs are strings and config changes
``[name, op, value]`` triples.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from tidelog.broker.acl import changes as acl_changes
from tidelog.broker.quota import changes as quota_changes
from tidelog.broker.sasl import credentials
from tidelog.broker.services import Broker
from tidelog.metadata import controller_ops, elections, reassignment
from tidelog.metadata.controller_ops import AlterConfigOp, ConfigChange, ProducerIdBlock
from tidelog.metadata.errors import ControllerError
from tidelog.metadata.image import MetadataImage, TopicImage
from tidelog.metadata.records import (
    RESOURCE_BROKER,
    ConfigRecord,
    MetadataRecord,
    RegisterBrokerRecord,
)
from tidelog.replication.throttle import BROKER_CONFIGS, parse_rate
from tidelog.storage.config import LogConfig

Built = tuple[list[MetadataRecord], Any]


def live_brokers(image: MetadataImage) -> list[int]:
    """The brokers new partitions may go to: registered and not fenced."""
    return sorted(b for b, img in image.brokers.items() if not img.fenced)


def _create_topic(core: Broker, image: MetadataImage, a: dict[str, Any]) -> Built:
    configs: dict[str, str | None] = dict(a["configs"])
    records = controller_ops.create_topic(
        image, a["name"], int(a["partitions"]), int(a["replication_factor"]), configs,
        live_brokers(image),
        default_partitions=core.config.num_partitions,
        default_replication_factor=core.config.default_replication_factor,
        start=len(image.topics_by_id),  # spread single-partition topics over the brokers
    )
    given = {k: v for k, v in configs.items() if v is not None}
    LogConfig.from_properties(given, base=core.default_log_config)
    return records, None


def _delete_topic(core: Broker, image: MetadataImage, a: dict[str, Any]) -> Built:
    tid = uuid.UUID(a["topic_id"]) if a.get("topic_id") else None
    name = a.get("name")
    records = controller_ops.delete_topic(image, name, topic_id=tid)
    topic = image.topic(name) if name is not None else image.topic_by_id(tid)  # type: ignore[arg-type]
    return records, topic.name if topic is not None else name


def _create_partitions(core: Broker, image: MetadataImage, a: dict[str, Any]) -> Built:
    records = controller_ops.create_partitions(
        image, a["name"], int(a["count"]), live_brokers(image)
    )
    return records, None


def _alter_configs(core: Broker, image: MetadataImage, a: dict[str, Any]) -> Built:
    resource_type, resource_name = int(a["resource_type"]), str(a["resource_name"])
    changes = [ConfigChange(n, AlterConfigOp(op), v) for n, op, v in a["changes"]]
    records = controller_ops.alter_configs(
        image, resource_type, resource_name, changes, valid_broker_configs=BROKER_CONFIGS
    )
    check_broker_values(records)
    if resource_type == 2 and records:
        props = dict(image.topic_configs(resource_name))
        for change in records:
            if isinstance(change, ConfigRecord):
                if change.value is None:
                    props.pop(change.name, None)
                else:
                    props[change.name] = change.value
        LogConfig.from_properties(props, base=core.default_log_config)
    return list(records), None


def check_broker_values(records: Sequence[MetadataRecord]) -> None:
    """The dynamic broker configs (the replication throttle rates) must be byte counts."""
    for record in records:
        if isinstance(record, ConfigRecord) and record.resource_type == RESOURCE_BROKER:
            try:
                parse_rate(record.value)
            except ValueError:
                raise ControllerError("INVALID_CONFIG", f"{record.name} = {record.value!r} "
                                      "is not a rate in bytes per second") from None


def _producer_ids(core: Broker, image: MetadataImage, a: dict[str, Any]) -> Built:
    records, block = controller_ops.allocate_producer_ids(image, int(a["broker"]))
    return records, {"first": block.first, "size": block.size}


def _alter_partition(core: Broker, image: MetadataImage, a: dict[str, Any]) -> Built:
    records = elections.alter_partition(
        image, uuid.UUID(str(a["topic_id"])), int(a["partition"]), int(a["leader"]),
        int(a["leader_epoch"]), int(a["partition_epoch"]), tuple(int(b) for b in a["isr"]),
    )
    # a moving partition whose target replicas are now all in sync finishes its move in the
    # same record (tidelog.metadata.reassignment)
    return list(reassignment.complete_after(image, records)), None


def _alter_reassignments(core: Broker, image: MetadataImage, a: dict[str, Any]) -> Built:
    moves = [(str(t), int(p), None if r is None else tuple(int(b) for b in r))
             for t, p, r in a["moves"]]
    records, results = reassignment.alter_reassignments(
        image, moves, allow_replication_factor_change=bool(a.get("allow_rf_change", True)))
    return list(records), [r.to_json() for r in results]


def _elect_leaders(core: Broker, image: MetadataImage, a: dict[str, Any]) -> Built:
    wanted = None if a.get("partitions") is None else \
        [(str(t), int(p)) for t, p in a["partitions"]]
    records, results = reassignment.elect_leaders(image, int(a["type"]), wanted)
    return list(records), [r.to_json() for r in results]


def _controlled_shutdown(core: Broker, image: MetadataImage, a: dict[str, Any]) -> Built:
    """A broker stops (SIGTERM): fence it so nothing elects it, and move its leaderships
    and ISR memberships to the other replicas first (Kafka's controlled shutdown)."""
    bid = int(a["broker"])
    b = image.brokers.get(bid)
    if b is None:
        return [], None
    records: list[MetadataRecord] = [] if b.fenced else [RegisterBrokerRecord(
        bid, b.incarnation_id, b.broker_epoch, b.endpoints, b.rack, True)]
    records += elections.without_broker(
        image, bid, unclean_default=core.config.unclean_leader_election_enable)
    return records, None


def _alter_scram(core: Broker, image: MetadataImage, a: dict[str, Any]) -> Built:
    records, refused = credentials.build(image, a)
    return records, {user: list(why) for user, why in refused.items()}


def _create_acls(core: Broker, image: MetadataImage, a: dict[str, Any]) -> Built:
    records, errors = acl_changes.create(image, list(a["creations"]))
    return records, errors


def _alter_client_quotas(core: Broker, image: MetadataImage, a: dict[str, Any]) -> Built:
    return quota_changes.alter(image, a)


def _delete_acls(core: Broker, image: MetadataImage, a: dict[str, Any]) -> Built:
    records, found = acl_changes.delete(image, list(a["filters"]))
    return records, found


BUILDERS = {
    "create_topic": _create_topic,
    "delete_topic": _delete_topic,
    "create_partitions": _create_partitions,
    "alter_configs": _alter_configs,
    "producer_ids": _producer_ids,
    "alter_partition": _alter_partition,
    "controlled_shutdown": _controlled_shutdown,
    "alter_reassignments": _alter_reassignments,
    "elect_leaders": _elect_leaders,
    "alter_scram": _alter_scram,
    "create_acls": _create_acls,
    "delete_acls": _delete_acls,
    "alter_client_quotas": _alter_client_quotas,
}


async def _run(core: Broker, op: str, args: dict[str, Any]) -> Any:
    """Run builder ``op`` on the active controller, or on this node's own image when it is
    a single node (which commits the records itself)."""
    if core.cluster is not None:
        return await core.cluster.submit(op, args)
    records, result = BUILDERS[op](core, core.image, args)
    if records:
        core.commit(records)
    return result


def _results(raw: Any) -> list[reassignment.Result]:
    return [reassignment.Result(str(t), int(p), e, m) for t, p, e, m in raw]


async def alter_reassignments(
    core: Broker, moves: Sequence[tuple[str, int, Sequence[int] | None]], *,
    allow_replication_factor_change: bool = True,
) -> list[reassignment.Result]:
    """Start, replace or (replicas None) cancel replica moves; one result per entry."""
    raw = await _run(core, "alter_reassignments", {
        "moves": [[t, p, None if r is None else list(r)] for t, p, r in moves],
        "allow_rf_change": allow_replication_factor_change,
    })
    return _results(raw)


async def elect_leaders(core: Broker, election_type: int,
                        partitions: Sequence[tuple[str, int]] | None
                        ) -> list[reassignment.Result]:
    """Preferred (0) or unclean (1) leader elections; one result per partition asked for
    (every partition that needed one when ``partitions`` is None)."""
    raw = await _run(core, "elect_leaders", {
        "type": election_type,
        "partitions": None if partitions is None else [[t, p] for t, p in partitions],
    })
    return _results(raw)


async def create_topic(
    core: Broker,
    name: str,
    partitions: int,
    replication_factor: int,
    configs: Mapping[str, str | None],
    *,
    validate_only: bool = False,
) -> TopicImage:
    if core.cluster is None or validate_only:
        return core.create_topic(
            name, partitions, replication_factor, configs, validate_only=validate_only
        )
    await core.cluster.submit("create_topic", {
        "name": name, "partitions": partitions, "replication_factor": replication_factor,
        "configs": dict(configs),
    })
    topic = core.image.topic(name)
    if topic is None:  # deleted again in between
        raise ControllerError("UNKNOWN_TOPIC_OR_PARTITION", f"{name} is gone")
    return topic


async def delete_topic(core: Broker, name: str | None, topic_id: uuid.UUID | None = None
                       ) -> str:
    if core.cluster is None:
        return core.delete_topic(name, topic_id)
    result = await core.cluster.submit("delete_topic", {
        "name": name, "topic_id": None if topic_id is None else str(topic_id)})
    return str(result)


async def create_partitions(
    core: Broker, name: str, count: int, *, validate_only: bool = False
) -> None:
    if core.cluster is None or validate_only:
        core.create_partitions(name, count, validate_only=validate_only)
        return
    await core.cluster.submit("create_partitions", {"name": name, "count": count})


async def alter_configs(
    core: Broker,
    resource_type: int,
    resource_name: str,
    changes: Sequence[ConfigChange],
    *,
    validate_only: bool = False,
) -> None:
    if core.cluster is None or validate_only:
        core.alter_configs(resource_type, resource_name, changes, validate_only=validate_only)
        return
    await core.cluster.submit("alter_configs", {
        "resource_type": resource_type, "resource_name": resource_name,
        "changes": [[c.name, int(c.op), c.value] for c in changes],
    })


async def allocate_producer_id(core: Broker) -> int:
    if core.cluster is None:
        return core.allocate_producer_id()
    pid = core.producer_ids.take()
    while pid is None:
        result = await core.cluster.submit("producer_ids", {"broker": core.node_id})
        core.producer_ids.refill(
            ProducerIdBlock(core.node_id, int(result["first"]), int(result["size"])))
        pid = core.producer_ids.take()
    return pid


async def alter_scram(core: Broker, args: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """AlterUserScramCredentials (see :mod:`tidelog.broker.sasl.credentials`): the users
    refused, with Kafka's error name and a message; the others' changes are committed."""
    if core.cluster is None:
        records, refused = credentials.build(core.image, args)
        if records:
            core.commit(records)
        return refused
    result = await core.cluster.submit("alter_scram", args)
    return {str(u): (str(why[0]), str(why[1])) for u, why in dict(result or {}).items()}


async def alter_client_quotas(core: Broker, args: dict[str, Any]) -> list[str | None]:
    """AlterClientQuotas (see :mod:`tidelog.broker.quota.changes`): per entry, why it was
    refused or None; the others' quotas are committed."""
    return [None if e is None else str(e) for e in await _run(core, "alter_client_quotas", args)]


async def change_acls(core: Broker, op: str, args: dict[str, Any]) -> Any:
    """CreateAcls (``create_acls``: per creation, why it was refused or None) or DeleteAcls
    (``delete_acls``: per filter, the ACLs removed), committed on the active controller."""
    if core.cluster is None:
        records, result = BUILDERS[op](core, core.image, args)
        if records:
            core.commit(records)
        return result
    return await core.cluster.submit(op, args)
