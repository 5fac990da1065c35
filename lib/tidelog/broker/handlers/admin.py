"""Handlers: CreateTopics (19), DeleteTopics (20), CreatePartitions (37), DescribeConfigs (32),
AlterConfigs (33), IncrementalAlterConfigs (44).

Each topic or resource of a request is judged on its own: one refused topic gets its error code
and message, the others go ahead (Kafka's behaviour). Changes commit to the metadata log through
:class:`~tidelog.broker.core.BrokerCore` before they are answered. Manual replica assignments
are accepted only when every replica is this broker (a single-node cluster).

AlterConfigs is the legacy whole-set form (kafkajs uses only it): the resource's overrides
become exactly the configs named, so an override it does not name is removed, as in Kafka; it
goes through the same validation and metadata path as IncrementalAlterConfigs.

DescribeConfigs reports, for a topic, every topic config with its effective value and source
(1 topic override, 5 default); for a broker, every broker setting (source 4, static), plus
Kafka's ``advertised.listeners`` (``PLAINTEXT://host:port``, where clients connect).
"""

from __future__ import annotations

import dataclasses

from tidelog.broker.core import BrokerCore
from tidelog.broker.handlers.base import Handler, error_of, message_of
from tidelog.broker.quorum import ops
from tidelog.metadata.controller_ops import AlterConfigOp, ConfigChange
from tidelog.metadata.errors import ControllerError
from tidelog.metadata.records import RESOURCE_BROKER, RESOURCE_TOPIC
from tidelog.protocol.apis import ApiKey
from tidelog.protocol.data import Struct
from tidelog.protocol.errors import ErrorCode
from tidelog.protocol.header import RequestHeader
from tidelog.replication.throttle import BROKER_CONFIGS
from tidelog.storage.errors import StorageError

_SOURCE_TOPIC = 1
_SOURCE_DYNAMIC_BROKER = 2
_SOURCE_DYNAMIC_DEFAULT_BROKER = 3
_SOURCE_STATIC_BROKER = 4
_SOURCE_DEFAULT = 5
_TYPE_STRING = 2
ADVERTISED_LISTENERS = "advertised.listeners"
_TYPE_LONG = 5


def _fail(exc: Exception) -> tuple[int, str]:
    return int(error_of(exc)), message_of(exc)


async def create_topics(core: BrokerCore, header: RequestHeader, req: Struct) -> Struct:
    results = []
    seen: set[str] = set()
    for t in req.topics:
        res = Struct(
            name=t.name, topic_id=None, error_code=0, error_message=None,
            num_partitions=-1, replication_factor=-1, configs=None,
        )
        results.append(res)
        if t.name in seen:
            res.error_code, res.error_message = int(ErrorCode.INVALID_REQUEST), "named twice"
            continue
        seen.add(t.name)
        partitions, factor = t.num_partitions, t.replication_factor
        if t.assignments:
            if any(set(a.broker_ids) - set(core.broker_ids) for a in t.assignments):
                res.error_code = int(ErrorCode.INVALID_REPLICA_ASSIGNMENT)
                res.error_message = f"this cluster has only broker {core.node_id}"
                continue
            partitions, factor = len(t.assignments), len(t.assignments[0].broker_ids)
        configs = {c.name: c.value for c in t.configs}
        try:
            topic = await ops.create_topic(
                core, t.name, partitions, factor, configs, validate_only=req.validate_only
            )
        except (ControllerError, StorageError) as exc:
            res.error_code, res.error_message = _fail(exc)
            continue
        res.topic_id = topic.topic_id
        res.num_partitions = len(topic.partitions)
        res.replication_factor = len(topic.partitions[0].replicas)
        overrides = {k: v for k, v in configs.items() if v is not None}
        res.configs = _topic_config_entries(core, overrides, None, with_synonyms=False)
    for res in results:
        if res.topic_id is None:
            del res.topic_id  # the encoder's default (all zeros) for failed topics
    return Struct(throttle_time_ms=0, topics=results)


def create_topics_fallback(req: Struct, version: int, code: ErrorCode) -> Struct:
    return Struct(
        topics=[Struct(name=t.name, error_code=int(code), error_message=code.message)
                for t in req.topics]
    )


async def delete_topics(core: BrokerCore, header: RequestHeader, req: Struct) -> Struct:
    version = header.api_version
    wanted = (
        [(t.name, t.topic_id) for t in req.topics] if version >= 6
        else [(name, None) for name in req.topic_names]
    )
    responses = []
    for name, topic_id in wanted:
        res = Struct(name=name, error_code=0, error_message=None)
        if topic_id is not None:
            res.topic_id = topic_id
        responses.append(res)
        try:
            if name is not None:
                res.name = await ops.delete_topic(core, name)
            else:
                res.name = await ops.delete_topic(core, None, topic_id)
        except (ControllerError, StorageError, OSError) as exc:
            res.error_code, res.error_message = _fail(exc)
    return Struct(throttle_time_ms=0, responses=responses)


def delete_topics_fallback(req: Struct, version: int, code: ErrorCode) -> Struct:
    names = [t.name for t in req.topics] if version >= 6 else list(req.topic_names)
    return Struct(responses=[Struct(name=n, error_code=int(code)) for n in names])


async def create_partitions(core: BrokerCore, header: RequestHeader, req: Struct) -> Struct:
    results = []
    for t in req.topics:
        res = Struct(name=t.name, error_code=0, error_message=None)
        results.append(res)
        if t.assignments and any(
            set(a.broker_ids) - set(core.broker_ids) for a in t.assignments
        ):
            res.error_code = int(ErrorCode.INVALID_REPLICA_ASSIGNMENT)
            res.error_message = f"this cluster has only broker {core.node_id}"
            continue
        try:
            await ops.create_partitions(core, t.name, t.count, validate_only=req.validate_only)
        except (ControllerError, StorageError) as exc:
            res.error_code, res.error_message = _fail(exc)
    return Struct(throttle_time_ms=0, results=results)


def create_partitions_fallback(req: Struct, version: int, code: ErrorCode) -> Struct:
    return Struct(results=[Struct(name=t.name, error_code=int(code)) for t in req.topics])


def _entry(name: str, value: str | None, source: int, read_only: bool = False) -> Struct:
    is_number = value is not None and value.lstrip("-").isdigit()
    return Struct(
        name=name, value=value, read_only=read_only, config_source=source, is_sensitive=False,
        synonyms=[], config_type=_TYPE_LONG if is_number else _TYPE_STRING, documentation=None,
    )


def _topic_config_entries(
    core: BrokerCore, overrides: dict[str, str], keys: list[str] | None, *, with_synonyms: bool
) -> list[Struct]:
    defaults = core.topic_defaults()
    names = sorted(set(defaults) | set(overrides))
    out = []
    for name in names:
        if keys is not None and name not in keys:
            continue
        if name in overrides:
            entry = _entry(name, overrides[name], _SOURCE_TOPIC)
            if with_synonyms:
                entry.synonyms = [Struct(name=name, value=overrides[name], source=_SOURCE_TOPIC)]
        else:
            entry = _entry(name, defaults[name], _SOURCE_DEFAULT)
        out.append(entry)
    return out


def _broker_config_entries(core: BrokerCore, keys: list[str] | None) -> list[Struct]:
    out = []
    for f in dataclasses.fields(core.config):
        if f.name == "sources" or (keys is not None and f.name not in keys):
            continue
        value = getattr(core.config, f.name)
        text = None if value is None else str(value).lower() if isinstance(value, bool) else str(
            value
        )
        source = _SOURCE_DEFAULT if core.config.sources.get(f.name) == "default" else (
            _SOURCE_STATIC_BROKER
        )
        out.append(_entry(f.name, text, source, read_only=True))
    # Kafka's name for where clients connect, which admin tools read (kafka-configs, UIs).
    if keys is None or ADVERTISED_LISTENERS in keys:
        adv = core.config.advertised
        source = _SOURCE_DEFAULT if core.config.advertised_listen is None else (
            _SOURCE_STATIC_BROKER
        )
        out.append(_entry(ADVERTISED_LISTENERS, f"PLAINTEXT://{adv.host}:{adv.port}", source,
                          read_only=True))
    # the dynamic ones (replication throttle rates), where set: this broker's, else the
    # cluster default's
    image = core.image
    for name in sorted(BROKER_CONFIGS):
        if keys is not None and name not in keys:
            continue
        own = image.configs.get((RESOURCE_BROKER, str(core.node_id)), {}).get(name)
        default = image.configs.get((RESOURCE_BROKER, ""), {}).get(name)
        if own is not None:
            out.append(_entry(name, own, _SOURCE_DYNAMIC_BROKER))
        elif default is not None:
            out.append(_entry(name, default, _SOURCE_DYNAMIC_DEFAULT_BROKER))
    return out


async def describe_configs(core: BrokerCore, header: RequestHeader, req: Struct) -> Struct:
    results = []
    for r in req.resources:
        res = Struct(
            error_code=0, error_message=None, resource_type=r.resource_type,
            resource_name=r.resource_name, configs=[],
        )
        results.append(res)
        keys = None if r.configuration_keys is None else list(r.configuration_keys)
        if r.resource_type == RESOURCE_TOPIC:
            if core.image.topic(r.resource_name) is None:
                res.error_code = int(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
                res.error_message = f"topic {r.resource_name!r} does not exist"
                continue
            overrides = dict(core.image.topic_configs(r.resource_name))
            res.configs = _topic_config_entries(
                core, overrides, keys, with_synonyms=req.include_synonyms
            )
        elif r.resource_type == RESOURCE_BROKER:
            if r.resource_name not in ("", str(core.node_id)):
                res.error_code = int(ErrorCode.INVALID_REQUEST)
                res.error_message = f"this is broker {core.node_id}, not {r.resource_name!r}"
                continue
            res.configs = _broker_config_entries(core, keys)
        else:
            res.error_code = int(ErrorCode.INVALID_REQUEST)
            res.error_message = f"resource type {r.resource_type} has no configs here"
    return Struct(throttle_time_ms=0, results=results)


def describe_configs_fallback(req: Struct, version: int, code: ErrorCode) -> Struct:
    return Struct(results=[
        Struct(error_code=int(code), error_message=code.message, resource_type=r.resource_type,
               resource_name=r.resource_name, configs=[])
        for r in req.resources
    ])


async def incremental_alter_configs(
    core: BrokerCore, header: RequestHeader, req: Struct
) -> Struct:
    responses = []
    for r in req.resources:
        res = Struct(
            error_code=0, error_message=None, resource_type=r.resource_type,
            resource_name=r.resource_name,
        )
        responses.append(res)
        try:
            changes = [ConfigChange(c.name, AlterConfigOp(c.config_operation), c.value)
                       for c in r.configs]
        except ValueError:
            res.error_code = int(ErrorCode.INVALID_REQUEST)
            res.error_message = "unknown config operation"
            continue
        try:
            await ops.alter_configs(
                core, r.resource_type, r.resource_name, changes, validate_only=req.validate_only
            )
        except (ControllerError, StorageError) as exc:
            res.error_code, res.error_message = _fail(exc)
    return Struct(throttle_time_ms=0, responses=responses)


def incremental_alter_configs_fallback(req: Struct, version: int, code: ErrorCode) -> Struct:
    return Struct(responses=[
        Struct(error_code=int(code), error_message=code.message, resource_type=r.resource_type,
               resource_name=r.resource_name)
        for r in req.resources
    ])


async def alter_configs(core: BrokerCore, header: RequestHeader, req: Struct) -> Struct:
    responses = []
    for r in req.resources:
        res = Struct(
            error_code=0, error_message=None, resource_type=r.resource_type,
            resource_name=r.resource_name,
        )
        responses.append(res)
        named = {c.name for c in r.configs}
        current = core.image.configs.get((r.resource_type, r.resource_name), {})
        changes = [
            ConfigChange(c.name, AlterConfigOp.SET if c.value is not None else AlterConfigOp.DELETE,
                         c.value)
            for c in r.configs
        ] + [ConfigChange(name, AlterConfigOp.DELETE, None)
             for name in sorted(current) if name not in named]
        try:
            await ops.alter_configs(
                core, r.resource_type, r.resource_name, changes, validate_only=req.validate_only
            )
        except (ControllerError, StorageError) as exc:
            res.error_code, res.error_message = _fail(exc)
    return Struct(throttle_time_ms=0, responses=responses)


HANDLERS = {
    ApiKey.CREATE_TOPICS: Handler(create_topics, create_topics_fallback),
    ApiKey.DELETE_TOPICS: Handler(delete_topics, delete_topics_fallback),
    ApiKey.CREATE_PARTITIONS: Handler(create_partitions, create_partitions_fallback),
    ApiKey.DESCRIBE_CONFIGS: Handler(describe_configs, describe_configs_fallback),
    # The same answer shape as the incremental form, so the same fallback.
    ApiKey.ALTER_CONFIGS: Handler(alter_configs, incremental_alter_configs_fallback),
    ApiKey.INCREMENTAL_ALTER_CONFIGS: Handler(
        incremental_alter_configs, incremental_alter_configs_fallback
    ),
}
