"""Encode and decode a message body for one version, compiled from its schema.

:func:`compile_body` walks a :class:`MessageSchema` once per (schema, version) and returns a
:class:`BodyCodec` whose ``read``/``write`` are chains of small closures: no schema lookups
at run time and no class per version. Flexible versions switch every string, bytes, array and
records field to its compact form and add a tagged-field section to every struct. A nullable
single struct is preceded by an int8 marker (-1 null, 1 present), as in Kafka.

Tagged fields: on read, known tags are decoded (each must consume exactly its declared
size), unknown tags are skipped; on write, a tagged field is sent only when it differs from
its default, tags in ascending order.

Zero copy: a records field decodes to a memoryview slice of the frame. On encode the
:class:`Writer` does not copy records either: it closes the current bytes chunk and appends
the caller's object itself as a part (anything with ``__len__``, e.g. a file region the
server will sendfile); every size prefix is computed from ``len()``.

Fields outside the encoded version are ignored on write (Kafka's generated code would refuse a
non-default value in a non-ignorable field; tidelog leaves that policy to callers, which pick
the version), and take their defaults on read.

Errors: readers raise only ProtocolError subclasses (bounds are checked before every read,
array counts against the bytes left); writers raise EncodeError for values that do not fit.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Callable, Mapping, Sized
from typing import Any

import tidelog.protocol.primitives as p
from tidelog.protocol.data import Struct
from tidelog.protocol.exceptions import (
    EncodeError,
    MalformedMessageError,
    ProtocolError,
    TrailingBytesError,
    TruncatedMessageError,
)
from tidelog.protocol.schema import _UNSET, Field, MessageSchema, TypeSpec, in_range


class Writer(bytearray):
    """An output buffer that can also carry opaque parts (records) without copying them."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[Sized] = []

    def add_part(self, obj: Sized) -> None:
        if self:
            self.parts.append(bytes(self))
            del self[:]
        self.parts.append(obj)

    def finish(self) -> list[Sized]:
        """All parts in order: bytes chunks and the opaque objects between them."""
        if self or not self.parts:
            self.parts.append(bytes(self))
            del self[:]
        return self.parts


Reader = Callable[[memoryview, int], tuple[Any, int]]
WriteFn = Callable[[Writer, Any], None]
Factory = Callable[[], Any]


class _Codec:
    __slots__ = ("default", "min_size", "read", "write")

    def __init__(self, read: Reader, write: WriteFn, min_size: int, default: Factory) -> None:
        self.read = read
        self.write = write
        self.min_size = min_size
        self.default = default


class BodyCodec:
    """A message body's reader and writer for one version."""

    def __init__(self, schema: MessageSchema, version: int) -> None:
        self.schema = schema
        self.version = version
        self.flexible = schema.is_flexible(version)
        self._codec = _struct_codec(schema.fields, version, self.flexible)

    def read(self, buf: memoryview, pos: int) -> tuple[Struct, int]:
        value, end = self._codec.read(buf, pos)
        return value, end

    def read_exact(self, buf: memoryview, pos: int) -> Struct:
        """Decode a body that must end exactly where ``buf`` does."""
        value, end = self.read(buf, pos)
        if end != len(buf):
            raise TrailingBytesError(
                f"{len(buf) - end} bytes left after {self.schema.name} v{self.version}", end
            )
        return value

    def write(self, out: Writer, body: Struct | Mapping[str, Any]) -> None:
        try:
            self._codec.write(out, body)
        except (TypeError, AttributeError, ValueError, struct.error, OverflowError) as exc:
            raise EncodeError(f"cannot encode {self.schema.name} v{self.version}: {exc}") from exc


@functools.cache
def compile_body(schema: MessageSchema, version: int) -> BodyCodec:
    return BodyCodec(schema, version)


# -- compilation ---------------------------------------------------------------------------

_FIXED: dict[str, tuple[Reader, Callable[[bytearray, Any], None], int, Any]] = {
    "int8": (p.read_int8, p.write_int8, 1, 0),
    "int16": (p.read_int16, p.write_int16, 2, 0),
    "int32": (p.read_int32, p.write_int32, 4, 0),
    "int64": (p.read_int64, p.write_int64, 8, 0),
    "uint16": (p.read_uint16, p.write_uint16, 2, 0),
    "uint32": (p.read_uint32, p.write_uint32, 4, 0),
    "float64": (p.read_float64, p.write_float64, 8, 0.0),
    "bool": (p.read_bool, p.write_bool, 1, False),
    "uuid": (p.read_uuid, p.write_uuid, 16, p.ZERO_UUID),
}

# struct format letters for arrays of fixed-width numbers: decoded in one unpack_from call.
_ARRAY_FORMATS = {"int8": "b", "int16": "h", "int32": "i", "int64": "q", "uint16": "H",
                  "uint32": "I", "float64": "d"}


def _const(value: Any) -> Factory:
    if isinstance(value, list):
        return lambda: list(value)
    return lambda: value


def _field_default(field: Field, version: int, flexible: bool) -> Factory:
    if field.default is not _UNSET:
        return _const(field.default)
    t = field.type
    if isinstance(t, list) or (isinstance(t, str) and t.startswith("[]")):
        return list
    if isinstance(t, tuple):
        inner = _struct_codec(t, version, flexible)
        return inner.default
    if t == "string":
        return _const("")
    if t == "bytes":
        return _const(b"")
    if t == "records":
        return _const(None)
    return _const(_FIXED[t][3])


def _type_codec(t: TypeSpec, version: int, flexible: bool, nullable: bool, name: str) -> _Codec:
    if isinstance(t, tuple):
        inner = _struct_codec(t, version, flexible)
        return _nullable_struct_codec(inner, name) if nullable else inner
    if isinstance(t, list):
        return _array_codec(_struct_codec(tuple(t), version, flexible), flexible, nullable, name)
    if t.startswith("[]"):
        elem = t[2:]
        fmt = _ARRAY_FORMATS.get(elem)
        if fmt is not None:
            return _number_array_codec(fmt, flexible, nullable, name)
        return _array_codec(_type_codec(elem, version, flexible, False, name),
                            flexible, nullable, name)
    if t in _FIXED:
        read, write, size, zero = _FIXED[t]
        return _Codec(read, write, size, _const(zero))
    compact = flexible
    if t == "string":
        def read_s(buf: memoryview, pos: int) -> tuple[Any, int]:
            return p.read_string(buf, pos, compact, nullable)

        def write_s(out: Writer, value: Any) -> None:
            p.write_string(out, value, compact, nullable)

        return _Codec(read_s, write_s, 1 if compact else 2, _const(""))
    if t == "bytes":
        def read_b(buf: memoryview, pos: int) -> tuple[Any, int]:
            return p.read_bytes(buf, pos, compact, nullable)

        def write_b(out: Writer, value: Any) -> None:
            p.write_bytes(out, value, compact, nullable)

        return _Codec(read_b, write_b, 1 if compact else 4, _const(b""))
    if t == "records":
        def read_r(buf: memoryview, pos: int) -> tuple[Any, int]:
            return p.read_bytes_view(buf, pos, compact, nullable)

        def write_r(out: Writer, value: Any) -> None:
            if value is None:
                if not nullable:
                    raise EncodeError(f"None in non-nullable records field {name!r}")
                p.write_length(out, -1, compact, True)
                return
            size = len(value)
            p.write_length(out, size, compact, True)
            if size:
                out.add_part(value)

        return _Codec(read_r, write_r, 1 if compact else 4, _const(None))
    raise ValueError(f"unknown type {t!r}")  # pragma: no cover - rejected by schema.f


def _nullable_struct_codec(inner: _Codec, name: str) -> _Codec:
    """Kafka's nullable struct: an int8 marker, -1 for null or 1 before the struct (``name``
    is the field's, kept for symmetry with the other codecs' error messages)."""
    read_inner, write_inner = inner.read, inner.write

    def read(buf: memoryview, pos: int) -> tuple[Any, int]:
        marker, q = p.read_int8(buf, pos)
        if marker < 0:  # Kafka reads any non-negative marker as "present"
            return None, q
        return read_inner(buf, q)

    def write(out: Writer, value: Any) -> None:
        if value is None:
            p.write_int8(out, -1)
            return
        p.write_int8(out, 1)
        write_inner(out, value)

    return _Codec(read, write, 1, inner.default)


def _check_count(count: int, min_size: int, buf: memoryview, pos: int, name: str) -> None:
    # An array can not hold more elements than the bytes left could encode: reject absurd
    # counts before allocating anything.
    if count * max(min_size, 1) > len(buf) - pos:
        raise TruncatedMessageError(f"array {name!r} of {count} elements exceeds the message",
                                    pos)


def _array_codec(elem: _Codec, flexible: bool, nullable: bool, name: str) -> _Codec:
    compact = flexible
    read_elem = elem.read
    write_elem = elem.write
    min_size = elem.min_size

    def read(buf: memoryview, pos: int) -> tuple[Any, int]:
        count, q = p.read_length(buf, pos, compact, True)
        if count < 0:
            if not nullable:
                raise MalformedMessageError(f"null in non-nullable array {name!r}", pos)
            return None, q
        _check_count(count, min_size, buf, q, name)
        items = []
        for _ in range(count):
            item, q = read_elem(buf, q)
            items.append(item)
        return items, q

    def write(out: Writer, value: Any) -> None:
        if value is None:
            if not nullable:
                raise EncodeError(f"None in non-nullable array {name!r}")
            p.write_length(out, -1, compact, True)
            return
        p.write_length(out, len(value), compact, True)
        for item in value:
            write_elem(out, item)

    return _Codec(read, write, 1 if compact else 4, list)


def _number_array_codec(fmt: str, flexible: bool, nullable: bool, name: str) -> _Codec:
    compact = flexible
    size = struct.calcsize(">" + fmt)

    unpackers: dict[int, Callable[..., tuple[Any, ...]]] = {}

    def read(buf: memoryview, pos: int) -> tuple[Any, int]:
        # Wide answers hold thousands of these (replicas and ISR per partition): a short
        # compact count is read inline, and each count's unpacker is compiled once.
        if compact and pos < len(buf) and buf[pos] < 0x80:
            count, q = buf[pos] - 1, pos + 1
        else:
            count, q = p.read_length(buf, pos, compact, True)
        if count <= 0:
            if count == 0:
                return [], q
            if not nullable:
                raise MalformedMessageError(f"null in non-nullable array {name!r}", pos)
            return None, q
        end = q + count * size
        if end > len(buf):
            _check_count(count, size, buf, q, name)
        unpack = unpackers.get(count)
        if unpack is None:
            unpack = struct.Struct(f">{count}{fmt}").unpack_from
            if len(unpackers) < 64:  # bounded: counts seen are few (replication factors)
                unpackers[count] = unpack
        return list(unpack(buf, q)), end

    def write(out: Writer, value: Any) -> None:
        if value is None:
            if not nullable:
                raise EncodeError(f"None in non-nullable array {name!r}")
            p.write_length(out, -1, compact, True)
            return
        p.write_length(out, len(value), compact, True)
        try:
            out += struct.pack(f">{len(value)}{fmt}", *value)
        except struct.error as exc:
            raise EncodeError(f"array {name!r}: {exc}") from None

    return _Codec(read, write, 1 if compact else 4, list)


class _Entry:
    __slots__ = ("codec", "default", "name", "tag")

    def __init__(self, name: str, codec: _Codec, default: Factory, tag: int | None) -> None:
        self.name = name
        self.codec = codec
        self.default = default
        self.tag = tag


@functools.cache
def _struct_codec(fields: tuple[Field, ...], version: int, flexible: bool) -> _Codec:
    plain: list[tuple[str, Reader, WriteFn, Factory]] = []
    tagged: dict[int, _Entry] = {}
    absent: list[tuple[str, Factory]] = []
    min_size = 1 if flexible else 0
    for fld in fields:
        default = _field_default(fld, version, flexible)
        present = in_range(version, fld.versions)
        if not present or (fld.tag is not None and not flexible):
            absent.append((fld.name, default))
            continue
        codec = _type_codec(fld.type, version, flexible, in_range(version, fld.nullable),
                            fld.name)
        if fld.tag is not None:
            tagged[fld.tag] = _Entry(fld.name, codec, default, fld.tag)
            absent.append((fld.name, default))
        else:
            plain.append((fld.name, codec.read, codec.write, default))
            min_size += codec.min_size
    tag_order = sorted(tagged.values(), key=lambda e: e.tag or 0)
    steps = _read_steps(fields, version, flexible, plain)

    def read(buf: memoryview, pos: int) -> tuple[Any, int]:
        vals: dict[str, Any] = {}
        for name, factory in absent:
            vals[name] = factory()
        for names, read_field in steps:
            if names.__class__ is str:
                vals[names], pos = read_field(buf, pos)
            else:  # a run of fixed-width numbers, read by one unpack_from
                run, pos = read_field(buf, pos)
                vals.update(zip(names, run, strict=True))
        if flexible:
            pos = _read_tags(buf, pos, tagged, vals)
        obj = Struct.__new__(Struct)
        obj.__dict__.update(vals)
        return obj, pos

    def write(out: Writer, value: Any) -> None:
        if isinstance(value, Struct):
            vals: Mapping[str, Any] = value.__dict__
        elif isinstance(value, Mapping):
            vals = value
        else:
            raise EncodeError(f"a struct needs a Struct or a mapping, got {type(value).__name__}")
        for name, _, write_field, factory in plain:
            v = vals.get(name, _UNSET)
            write_field(out, factory() if v is _UNSET else v)
        if flexible:
            _write_tags(out, vals, tag_order)

    def make_default() -> Struct:
        obj = Struct.__new__(Struct)
        for name, factory in absent:
            obj.__dict__[name] = factory()
        for name, _, _, factory in plain:
            obj.__dict__[name] = factory()
        return obj

    return _Codec(read, write, min_size, make_default)


def _read_steps(fields: tuple[Field, ...], version: int, flexible: bool,
                plain: list[tuple[str, Reader, WriteFn, Factory]]
                ) -> list[tuple[str | tuple[str, ...], Reader]]:
    """The plain fields' readers in order, where consecutive fixed-width numbers (two or
    more) are merged into one reader that unpacks them with one ``struct`` call: wide
    answers (a Metadata or ListOffsets partition per element, thousands of them) cost one
    call per element instead of one per field."""
    types = {f.name: f.type for f in fields}
    steps: list[tuple[str | tuple[str, ...], Reader]] = []
    run: list[str] = []

    def close_run() -> None:
        if len(run) == 1:
            steps.append((run[0], _FIXED[str(types[run[0]])][0]))
        elif run:
            steps.append((tuple(run), _run_reader(
                "".join(_ARRAY_FORMATS[str(types[n])] for n in run), ", ".join(run))))
        run.clear()

    for name, read_field, _, _ in plain:
        t = types[name]
        if isinstance(t, str) and t in _ARRAY_FORMATS:
            run.append(name)
            continue
        close_run()
        steps.append((name, read_field))
    close_run()
    return steps


def _run_reader(fmt: str, what: str) -> Reader:
    st = struct.Struct(">" + fmt)
    size = st.size
    unpack_from = st.unpack_from

    def read(buf: memoryview, pos: int) -> tuple[Any, int]:
        end = pos + size
        if end > len(buf):
            raise TruncatedMessageError(f"message ends inside {what}", pos)
        return unpack_from(buf, pos), end

    return read


def _read_tags(buf: memoryview, pos: int, tagged: dict[int, _Entry], vals: dict[str, Any]) -> int:
    if pos < len(buf) and buf[pos] == 0:  # no tagged fields: nearly every struct
        return pos + 1
    count, pos = p.read_uvarint(buf, pos)
    for _ in range(count):
        start = pos
        tag, pos = p.read_uvarint(buf, pos)
        size, pos = p.read_uvarint(buf, pos)
        end = pos + size
        if end > len(buf):
            raise TruncatedMessageError(f"tagged field {tag} of {size} bytes is cut off", start)
        entry = tagged.get(tag)
        if entry is not None:
            # A bounded view keeps a lying size from reading past the field.
            vals[entry.name], q = entry.codec.read(buf[:end], pos)
            if q != end:
                raise MalformedMessageError(
                    f"tagged field {entry.name!r} used {q - pos} of its {size} bytes", start
                )
        pos = end
    return pos


def _write_tags(out: Writer, vals: Mapping[str, Any], tag_order: list[_Entry]) -> None:
    chunks: list[tuple[int, bytes]] = []
    for entry in tag_order:
        v = vals.get(entry.name, _UNSET)
        if v is _UNSET or v == entry.default():
            continue
        sub = Writer()
        entry.codec.write(sub, v)
        if sub.parts:
            raise EncodeError(f"tagged field {entry.name!r} cannot hold records")
        chunks.append((entry.tag or 0, bytes(sub)))
    out += p.uvarint_bytes(len(chunks))
    for tag, data in chunks:
        out += p.uvarint_bytes(tag)
        out += p.uvarint_bytes(len(data))
        out += data


def decode_body(
    schema: MessageSchema, version: int, buf: memoryview, pos: int, *, exact: bool = True
) -> Struct:
    """Decode a body; any stray exception becomes a ProtocolError.

    ``exact``: the body must end where ``buf`` does (TrailingBytesError otherwise). With
    ``exact=False`` bytes after the last field are ignored, as Kafka's brokers ignore them in
    requests (librdkafka 2.x sends 3 extra bytes in an all-topics Metadata v9+ request).
    """
    codec = compile_body(schema, version)
    try:
        if not exact:
            return codec.read(buf, pos)[0]
        return codec.read_exact(buf, pos)
    except ProtocolError:
        raise
    except (struct.error, IndexError, ValueError, UnicodeDecodeError, OverflowError) as exc:
        # Belt and braces: the readers check bounds themselves, so reaching this is a bug in
        # a reader, but a remote peer must never see anything but a ProtocolError.
        raise MalformedMessageError(f"cannot decode {schema.name} v{version}: {exc}", pos) from exc


__all__ = ["BodyCodec", "Writer", "compile_body", "decode_body"]
