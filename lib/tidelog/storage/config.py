"""Per-log configuration with Apache Kafka's topic config names, defaults and checks.

:class:`LogConfig` is immutable; :meth:`LogConfig.from_properties` builds one from Kafka-style
string properties (a topic's config overrides) on top of a base (the broker's defaults, or
Kafka's built-in ones) and :meth:`LogConfig.to_properties` turns it back. The compaction
settings (``cleanup.policy``, ``delete.retention.ms``, ``min.cleanable.dirty.ratio``,
``min.compaction.lag.ms``, ``max.compaction.lag.ms``) live here because the log and its cleaner
follow them. Keys this layer does not own (``min.insync.replicas``, ...) are ignored here: other
layers check them. A value that does not parse or is out of Kafka's range raises
:class:`~tidelog.storage.errors.InvalidConfigError` naming the key. No I/O.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tidelog.storage.errors import InvalidConfigError

LONG_MAX = (1 << 63) - 1
INT_MAX = (1 << 31) - 1
CREATE_TIME = "CreateTime"
LOG_APPEND_TIME = "LogAppendTime"
DELETE = "delete"
COMPACT = "compact"


def _prop(name: str, kind: str, minimum: int | None = None) -> dict[str, Any]:
    return {"kafka_name": name, "kind": kind, "min": minimum}


@dataclass(frozen=True)
class LogConfig:
    """The settings one partition log follows (Kafka names in the field metadata)."""

    segment_bytes: int = field(default=1073741824, metadata=_prop("segment.bytes", "int", 14))
    segment_ms: int = field(default=604800000, metadata=_prop("segment.ms", "long", 1))
    segment_index_bytes: int = field(
        default=10485760, metadata=_prop("segment.index.bytes", "int", 4)
    )
    index_interval_bytes: int = field(
        default=4096, metadata=_prop("index.interval.bytes", "int", 0)
    )
    #: -1 keeps segments forever.
    retention_ms: int = field(default=604800000, metadata=_prop("retention.ms", "long", -1))
    #: -1 means no size limit.
    retention_bytes: int = field(default=-1, metadata=_prop("retention.bytes", "long"))
    max_message_bytes: int = field(default=1048588, metadata=_prop("max.message.bytes", "int", 0))
    message_timestamp_type: str = field(
        default=CREATE_TIME, metadata=_prop("message.timestamp.type", "timestamp_type")
    )
    #: Long.MAX_VALUE (Kafka's default): never flush because of a message count.
    flush_messages: int = field(default=LONG_MAX, metadata=_prop("flush.messages", "long", 1))
    #: Long.MAX_VALUE (Kafka's default): never flush because of elapsed time.
    flush_ms: int = field(default=LONG_MAX, metadata=_prop("flush.ms", "long", 0))
    file_delete_delay_ms: int = field(
        default=60000, metadata=_prop("file.delete.delay.ms", "long", 0)
    )
    #: "delete", "compact" or "compact,delete" (normalised; Kafka accepts either order).
    cleanup_policy: str = field(default=DELETE, metadata=_prop("cleanup.policy", "policy"))
    #: How long a tombstone stays readable after the cleaner first saw it (its delete horizon).
    delete_retention_ms: int = field(
        default=86400000, metadata=_prop("delete.retention.ms", "long", 0)
    )
    min_compaction_lag_ms: int = field(
        default=0, metadata=_prop("min.compaction.lag.ms", "long", 0)
    )
    max_compaction_lag_ms: int = field(
        default=LONG_MAX, metadata=_prop("max.compaction.lag.ms", "long", 1)
    )
    min_cleanable_dirty_ratio: float = field(
        default=0.5, metadata=_prop("min.cleanable.dirty.ratio", "ratio")
    )

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            _check(f.metadata["kafka_name"], f.metadata, getattr(self, f.name))

    @property
    def log_append_time(self) -> bool:
        return self.message_timestamp_type == LOG_APPEND_TIME

    @property
    def compact(self) -> bool:
        """The cleaner keeps the latest record per key (cleanup.policy has compact)."""
        return COMPACT in self.cleanup_policy.split(",")

    @property
    def delete(self) -> bool:
        """retention.ms / retention.bytes delete old segments (cleanup.policy has delete)."""
        return DELETE in self.cleanup_policy.split(",")

    @property
    def max_segment_ms(self) -> int:
        """The age at which a segment rolls: segment.ms, or max.compaction.lag.ms when that is
        smaller on a compacted log (as Kafka does: the active segment is never cleaned, so it
        must roll for the lag to be kept)."""
        if self.compact:
            return min(self.segment_ms, self.max_compaction_lag_ms)
        return self.segment_ms

    @classmethod
    def from_properties(
        cls, props: Mapping[str, str], base: LogConfig | None = None
    ) -> LogConfig:
        """A config from Kafka-named string properties over ``base`` (Kafka's defaults if None).

        Unknown keys are ignored (other layers own them); a bad value raises InvalidConfigError.
        """
        changes: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            name = f.metadata["kafka_name"]
            if name in props:
                changes[f.name] = _parse(name, f.metadata, props[name])
        return dataclasses.replace(base if base is not None else cls(), **changes)

    def to_properties(self) -> dict[str, str]:
        """Every setting as Kafka-named string properties."""
        return {
            f.metadata["kafka_name"]: str(getattr(self, f.name)) for f in dataclasses.fields(self)
        }


def normalize_policy(raw: str) -> str | None:
    """``"delete,compact"`` -> ``"compact,delete"``; None unless every item is delete or compact
    (and there is at least one)."""
    items = {item.strip() for item in raw.split(",") if item.strip()}
    if not items or items - {DELETE, COMPACT}:
        return None
    return ",".join(sorted(items))


def _parse(name: str, meta: Mapping[str, Any], raw: str) -> Any:
    if not isinstance(raw, str):
        raise InvalidConfigError(name, f"expected a string, got {type(raw).__name__}")
    text = raw.strip()
    if meta["kind"] == "policy":
        policy = normalize_policy(text)
        if policy is None:
            raise InvalidConfigError(name, f"{raw!r} is not delete, compact or compact,delete")
        return policy
    if meta["kind"] == "ratio":
        try:
            ratio = float(text)
        except ValueError:
            raise InvalidConfigError(name, f"{raw!r} is not a number") from None
        _check(name, meta, ratio)
        return ratio
    if meta["kind"] == "timestamp_type":
        if text not in (CREATE_TIME, LOG_APPEND_TIME):
            raise InvalidConfigError(name, f"{raw!r} is not CreateTime or LogAppendTime")
        return text
    try:
        value = int(text, 10)
    except ValueError:
        raise InvalidConfigError(name, f"{raw!r} is not an integer") from None
    _check(name, meta, value)
    return value


def _check(name: str, meta: Mapping[str, Any], value: Any) -> None:
    kind = meta["kind"]
    if kind == "policy":
        if not isinstance(value, str) or normalize_policy(value) != value:
            raise InvalidConfigError(name, f"{value!r} is not delete, compact or compact,delete")
        return
    if kind == "ratio":
        if not isinstance(value, float) or not 0.0 <= value <= 1.0:
            raise InvalidConfigError(name, f"{value!r} is not a number in [0, 1]")
        return
    if kind == "timestamp_type":
        if value not in (CREATE_TIME, LOG_APPEND_TIME):
            raise InvalidConfigError(name, f"{value!r} is not CreateTime or LogAppendTime")
        return
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidConfigError(name, f"{value!r} is not an integer")
    top = INT_MAX if kind == "int" else LONG_MAX
    if value > top or value < -top - 1:
        raise InvalidConfigError(name, f"{value} does not fit a {kind}")
    if meta["min"] is not None and value < meta["min"]:
        raise InvalidConfigError(name, f"{value} is below the minimum {meta['min']}")
