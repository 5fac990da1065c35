"""AlterClientQuotas and DescribeClientQuotas over the quotas of the metadata image (pure).

Arguments travel to the active controller as JSON: an alteration is ``{"entity": [[type,
name-or-null], ...], "ops": [[key, value, remove], ...]}``. Kafka's rules: entity types are
``user``, ``client-id`` and ``ip``, each at most once, ``ip`` alone; keys are the ones this
broker enforces (:data:`~.manager.KEYS`, for user and client-id entities), byte rates whole
numbers, every value above 0. An entry breaking one is refused whole with INVALID_REQUEST
and its reason; the others are stored (unless ``validate_only``). Removing a quota that is
not set is no error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tidelog.broker.quota.manager import FETCH, KEYS, PRODUCE
from tidelog.metadata.image import MetadataImage
from tidelog.metadata.records import (
    QUOTA_ENTITY_TYPES,
    ClientQuotaRecord,
    MetadataRecord,
    QuotaEntity,
)

EXACT, DEFAULT, ANY = 0, 1, 2


def entity_of(pairs: list[list[Any]] | list[tuple[str, str | None]]) -> QuotaEntity | str:
    """The canonical entity, or why ``pairs`` is none."""
    if not pairs:
        return "an entity names at least one entity type"
    types = [str(t) for t, _ in pairs]
    unknown = [t for t in types if t not in QUOTA_ENTITY_TYPES]
    if unknown:
        return f"unknown entity type {unknown[0]!r} (user, client-id or ip)"
    if len(set(types)) != len(types):
        return "an entity type is given twice"
    if "ip" in types and len(types) > 1:
        return "an ip entity cannot be combined with user or client-id"
    if any(n is not None and not str(n) for _, n in pairs):
        return "an entity name is empty (the default entity is a null name)"
    return tuple(sorted((str(t), None if n is None else str(n)) for t, n in pairs))


def _invalid_op(entity: QuotaEntity, key: str, value: float, remove: bool) -> str | None:
    if entity[0][0] == "ip":
        return "ip quotas (connection_creation_rate) are not supported by this broker"
    if key not in KEYS:
        return f"unknown quota key {key!r} (one of {', '.join(KEYS)})"
    if remove:
        return None
    if not value > 0:
        return f"{key} must be above 0, not {value}"
    if key in (PRODUCE, FETCH) and value != int(value):
        return f"{key} must be a whole number of bytes per second, not {value}"
    return None


def alter(image: MetadataImage, args: dict[str, Any]
          ) -> tuple[list[MetadataRecord], list[str | None]]:
    """Records for the valid alterations and, per entry, why it was refused (None: not)."""
    records: list[MetadataRecord] = []
    errors: list[str | None] = []
    for entry in args["entries"]:
        entity = entity_of(entry["entity"])
        if isinstance(entity, str):
            errors.append(entity)
            continue
        ops = [(str(k), float(v), bool(r)) for k, v, r in entry["ops"]]
        keys = [k for k, _, _ in ops]
        why = next((w for w in (_invalid_op(entity, *op) for op in ops) if w), None)
        if why is None and len(set(keys)) != len(keys):
            why = "a quota key is altered twice in one entry"
        errors.append(why)
        if why is not None or args.get("validate_only"):
            continue
        present = image.client_quotas.get(entity, {})
        records += [ClientQuotaRecord(entity, k, 0.0 if r else v, r) for k, v, r in ops
                    if not (r and k not in present)]
    return records, errors


def describe(quotas: Mapping[QuotaEntity, Mapping[str, float]],
             components: list[tuple[str, int, str | None]], strict: bool
             ) -> list[tuple[QuotaEntity, Mapping[str, float]]] | str:
    """The entities matching Kafka's filter components, or why the filter is invalid."""
    types = [t for t, _, _ in components]
    if len(set(types)) != len(types):
        return "an entity type is filtered twice"
    for entity_type, match_type, match in components:
        if entity_type not in QUOTA_ENTITY_TYPES:
            return f"unknown entity type {entity_type!r}"
        if match_type not in (EXACT, DEFAULT, ANY):
            return f"unknown match type {match_type}"
        if match_type == EXACT and match is None:
            return "an EXACT match names the entity"
    found = []
    for entity, values in sorted(quotas.items(), key=lambda e: repr(e[0])):
        names = dict(entity)
        if strict and set(names) != set(types):
            continue
        if all(_matches(names, c) for c in components):
            found.append((entity, values))
    return found


def _matches(names: dict[str, str | None], component: tuple[str, int, str | None]) -> bool:
    entity_type, match_type, match = component
    if entity_type not in names:
        return False
    name = names[entity_type]
    if match_type == EXACT:
        return name == match
    if match_type == DEFAULT:
        return name is None
    return name is not None  # ANY: every entity of the type that is named
