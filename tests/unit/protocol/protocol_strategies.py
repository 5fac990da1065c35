"""Hypothesis strategies that build message bodies from tidelog's own schemas.

Values are what the decoder returns for that version: fields outside the version hold their
default, tagged fields are random or default, nullable fields are sometimes None. So
``decode(encode(value)) == value`` must hold exactly.
"""

from __future__ import annotations

import functools
import uuid
from typing import Any

from hypothesis import strategies as st
from tidelog.protocol.codec import _field_default
from tidelog.protocol.data import Struct
from tidelog.protocol.schema import Field, MessageSchema, in_range

_INTS = {
    "int8": (-(1 << 7), (1 << 7) - 1),
    "int16": (-(1 << 15), (1 << 15) - 1),
    "int32": (-(1 << 31), (1 << 31) - 1),
    "int64": (-(1 << 63), (1 << 63) - 1),
    "uint16": (0, (1 << 16) - 1),
    "uint32": (0, (1 << 32) - 1),
}

_SMALL = {"max_size": 2}


def _primitive(t: str) -> st.SearchStrategy[Any]:
    if t in _INTS:
        lo, hi = _INTS[t]
        return st.integers(lo, hi)
    if t == "bool":
        return st.booleans()
    if t == "float64":
        return st.floats(allow_nan=False)
    if t == "uuid":
        return st.builds(uuid.UUID, int=st.integers(0, (1 << 128) - 1))
    if t == "string":
        return st.text(max_size=8)
    if t in ("bytes", "records"):
        return st.binary(max_size=12)
    raise AssertionError(t)


def _type(field: Field, version: int, flexible: bool) -> st.SearchStrategy[Any]:
    t = field.type
    if isinstance(t, tuple):
        return struct_strategy(t, version, flexible)
    if isinstance(t, list):
        return st.lists(struct_strategy(tuple(t), version, flexible), **_SMALL)
    if t.startswith("[]"):
        return st.lists(_primitive(t[2:]), **_SMALL)
    return _primitive(t)


@functools.cache
def struct_strategy(
    fields: tuple[Field, ...], version: int, flexible: bool
) -> st.SearchStrategy[Struct]:
    parts: dict[str, st.SearchStrategy[Any]] = {}
    for fld in fields:
        default = _field_default(fld, version, flexible)
        if not in_range(version, fld.versions) or (fld.tag is not None and not flexible):
            parts[fld.name] = st.just(None).map(lambda _, d=default: d())
            continue
        base = _type(fld, version, flexible)
        if in_range(version, fld.nullable):
            base = st.one_of(st.none(), base)
        if fld.tag is not None:
            base = st.one_of(st.just(None).map(lambda _, d=default: d()), base)
        parts[fld.name] = base
    return st.fixed_dictionaries(parts).map(lambda d: Struct(**d))


@functools.cache
def body_strategy(schema: MessageSchema, version: int) -> st.SearchStrategy[Struct]:
    return struct_strategy(schema.fields, version, schema.is_flexible(version))
