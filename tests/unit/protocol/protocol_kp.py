"""kafka-python 3.0.12's message classes by (api_key, "request"|"response"), for cross-checks."""

from __future__ import annotations

import importlib
from typing import Any

from kafka.protocol.api_message import ApiMessage

for _module in (
    "admin.cluster", "admin.configs", "admin.groups", "admin.topics", "consumer.fetch",
    "consumer.group", "consumer.offsets", "metadata.api_versions", "metadata.find_coordinator",
    "metadata.metadata", "producer.produce", "producer.transaction",
):
    importlib.import_module(f"kafka.protocol.{_module}")


def _all_subclasses(cls: type) -> list[type]:
    out = []
    for sub in cls.__subclasses__():
        out.append(sub)
        out.extend(_all_subclasses(sub))
    return out


KP: dict[tuple[int, str], Any] = {
    (c._json["apiKey"], c._json["type"]): c
    for c in _all_subclasses(ApiMessage)
    if getattr(c, "_class_version", None) is None and getattr(c, "_json", None) is not None
}


def kp_reencode(api_key: int, kind: str, version: int, ours: bytes) -> bytes:
    """Decode a body with kafka-python and encode it again with kafka-python."""
    obj = KP[(api_key, kind)].decode(ours, version=version)
    obj._header = None  # kafka-python's decode leaves it unset; encode reads it
    return bytes(obj.encode(version=version))
