"""The catalog of topic config names a controller accepts, and their validation.

Storage's :class:`~tidelog.storage.config.LogConfig` owns the configs a partition log follows
(``segment.bytes``, ``retention.ms``, ``cleanup.policy`` and the other compaction settings, ...)
and ignores every other name. The remaining Kafka topic configs (``min.insync.replicas``,
``compression.type``, ...) are
checked here, so that a topic config override is either known and valid or refused with
INVALID_CONFIG, as Kafka refuses it. Values are Kafka's strings. Pure; no I/O.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

from tidelog.errors import TidelogError
from tidelog.metadata.errors import ControllerError
from tidelog.storage.config import LogConfig

_LONG_MAX = (1 << 63) - 1
_INT_MAX = (1 << 31) - 1


def _integer(low: int, high: int) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        try:
            number = int(value.strip(), 10)
        except ValueError:
            return f"{value!r} is not an integer"
        if not low <= number <= high:
            return f"{number} is outside [{low}, {high}]"
        return None

    return check


def _boolean(value: str) -> str | None:
    return None if value.strip().lower() in ("true", "false") else f"{value!r} is not a boolean"


def _one_of(*choices: str) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        return None if value.strip() in choices else f"{value!r} is not one of {', '.join(choices)}"

    return check


def _replica_list(value: str) -> str | None:
    # Kafka's "*" or "partition:broker,..." throttled replica lists.
    text = value.strip()
    if text in ("", "*"):
        return None
    for item in text.split(","):
        parts = item.strip().split(":")
        if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
            return f"{item!r} is not partition:broker"
    return None


#: Topic configs outside LogConfig: name -> check returning an error text or None.
OTHER_TOPIC_CONFIGS: Mapping[str, Callable[[str], str | None]] = {
    "min.insync.replicas": _integer(1, _INT_MAX),
    "compression.type": _one_of("uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"),
    "unclean.leader.election.enable": _boolean,
    "message.timestamp.before.max.ms": _integer(0, _LONG_MAX),
    "message.timestamp.after.max.ms": _integer(0, _LONG_MAX),
    "preallocate": _boolean,
    "leader.replication.throttled.replicas": _replica_list,
    "follower.replication.throttled.replicas": _replica_list,
}

#: Kafka's defaults of the configs above, for describing a topic.
OTHER_TOPIC_DEFAULTS: Mapping[str, str] = {
    "min.insync.replicas": "1",
    "compression.type": "producer",
    "unclean.leader.election.enable": "false",
    "message.timestamp.before.max.ms": str(_LONG_MAX),
    "message.timestamp.after.max.ms": "3600000",
    "preallocate": "false",
    "leader.replication.throttled.replicas": "",
    "follower.replication.throttled.replicas": "",
}

LOG_CONFIG_NAMES: frozenset[str] = frozenset(
    f.metadata["kafka_name"] for f in dataclasses.fields(LogConfig)
)
TOPIC_CONFIG_NAMES: frozenset[str] = LOG_CONFIG_NAMES | frozenset(OTHER_TOPIC_CONFIGS)


def validate_topic_configs(props: Mapping[str, str]) -> None:
    """Raise ControllerError(INVALID_CONFIG) unless every entry is a known, valid topic config."""
    for name, value in props.items():
        if name not in TOPIC_CONFIG_NAMES:
            raise ControllerError("INVALID_CONFIG", f"unknown topic config {name!r}")
        check = OTHER_TOPIC_CONFIGS.get(name)
        problem = check(value) if check is not None else None
        if problem is not None:
            raise ControllerError("INVALID_CONFIG", f"invalid value for {name}: {problem}")
    try:
        LogConfig.from_properties(dict(props))
    except TidelogError as exc:
        raise ControllerError("INVALID_CONFIG", str(exc)) from None
