"""The four compression codecs of Kafka record batches (attribute bits 0-2), both directions.

Formats, as Kafka clients write them (the records section of a batch is compressed as one unit):

- 1 gzip: a gzip stream (RFC 1952) through zlib. Several concatenated members are read as one.
- 2 snappy: written in the xerial framing of the Java client and kafka-python: the 8-byte magic
  ``82 'SNAPPY' 00``, int32 version 1, int32 compatible-version 1, then per 32 KiB of input an
  int32 big-endian block length and one raw snappy block. Read: that framing, or one plain raw
  snappy block (what librdkafka sends).
- 3 lz4: one LZ4 frame with independent blocks (Kafka's Java reader refuses linked blocks) and
  no stored content size, like the Java client's writer.
- 4 zstd: zstd frames. Java's streaming writer stores no content size, so the reader never relies
  on it.

Invariants: decompression never produces more than ``max_size`` bytes in memory (plus at most a
few MiB of one overshooting step), so a small "zip bomb" batch cannot exhaust memory;
truncated or trailing data is an error, not silently ignored.

Crash behaviour: an unknown codec id raises :class:`UnsupportedCodecError`; bad compressed data,
or output beyond ``max_size``, raises :class:`CorruptRecordError` (``position`` -1: the caller
knows where the payload sits and re-raises with it). No zlib/lz4/zstd/cramjam exception escapes.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable

import cramjam
import lz4.frame
import zstandard

from tidelog.records.batch_header import Compression
from tidelog.records.crc import BytesLike
from tidelog.records.errors import CorruptRecordError, UnsupportedCodecError

#: Default bound on one batch's decompressed records section.
DEFAULT_MAX_DECOMPRESSED_SIZE = 256 * 1024 * 1024

XERIAL_MAGIC = b"\x82SNAPPY\x00"
_XERIAL_HEADER = struct.Struct(">8sii")
XERIAL_HEADER = _XERIAL_HEADER.pack(XERIAL_MAGIC, 1, 1)
XERIAL_BLOCK_SIZE = 32 * 1024
_INT32 = struct.Struct(">i")

# zstd: the largest expansion of one compressed byte is about 2**15 (a 4-byte RLE block yields
# 128 KiB), so feeding at most budget >> 15 input bytes per step keeps each step's output within
# the remaining budget; the floor bounds the overshoot at 2 MiB.
_ZSTD_MIN_STEP = 64
_ZSTD_EXPANSION_SHIFT = 15
_ZSTD = zstandard.ZstdDecompressor()


def compress(codec: int, data: BytesLike, level: int | None = None) -> bytes:
    """Compress a records section with ``codec`` (a :class:`Compression` id).

    ``level`` is the codec's own level (gzip 1-9, lz4 0-16, zstd -7..22); None picks the
    codec's default. Codec 0 returns the data unchanged.
    """
    if codec == Compression.NONE:
        return bytes(data)
    if codec == Compression.GZIP:
        c = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION if level is None else level,
                             zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        return c.compress(data) + c.flush()
    if codec == Compression.SNAPPY:
        return _snappy_xerial(data)
    if codec == Compression.LZ4:
        out: bytes = lz4.frame.compress(
            data,
            compression_level=0 if level is None else level,
            block_linked=False,
            store_size=False,
            content_checksum=False,
        )
        return out
    if codec == Compression.ZSTD:
        cctx = zstandard.ZstdCompressor(level=3 if level is None else level)
        return cctx.compress(data)
    raise UnsupportedCodecError(f"unknown compression codec {codec}")


def decompress(
    codec: int, data: BytesLike, max_size: int = DEFAULT_MAX_DECOMPRESSED_SIZE
) -> bytes:
    """Decompress a records section; at most ``max_size`` bytes of output are accepted."""
    decoder = _DECODERS.get(codec)
    if decoder is None:
        raise UnsupportedCodecError(f"unknown compression codec {codec}")
    if codec == Compression.NONE:
        return bytes(data)
    if len(data) == 0:
        raise CorruptRecordError(f"empty {Compression.NAMES[codec]} payload")
    try:
        return decoder(data, max_size)
    except CorruptRecordError:
        raise
    except Exception as exc:  # any failure inside a C codec is corrupt input to us
        raise CorruptRecordError(
            f"{Compression.NAMES[codec]} payload does not decompress: {exc}"
        ) from exc


def _too_big(name: str, max_size: int) -> CorruptRecordError:
    return CorruptRecordError(f"{name} payload decompresses to more than {max_size} bytes")


def _snappy_xerial(data: BytesLike) -> bytes:
    view = memoryview(data)
    parts = [XERIAL_HEADER]
    for start in range(0, len(view), XERIAL_BLOCK_SIZE):
        block = bytes(cramjam.snappy.compress_raw(view[start : start + XERIAL_BLOCK_SIZE]))
        parts.append(_INT32.pack(len(block)))
        parts.append(block)
    return b"".join(parts)


def _snappy_block(block: BytesLike, budget: int, max_size: int) -> bytes:
    # The raw format states its decompressed length up front: check it before allocating.
    if cramjam.snappy.decompress_raw_len(block) > budget:
        raise _too_big("snappy", max_size)
    return bytes(cramjam.snappy.decompress_raw(block))


def _decode_none(data: BytesLike, max_size: int) -> bytes:
    return bytes(data)


def _decode_snappy(data: BytesLike, max_size: int) -> bytes:
    view = memoryview(data)
    if len(view) < _XERIAL_HEADER.size or view[:8] != XERIAL_MAGIC:
        return _snappy_block(view, max_size, max_size)
    # Versions are not checked: some producers write them little-endian, and only one
    # framing version exists.
    pos = _XERIAL_HEADER.size
    end = len(view)
    parts: list[bytes] = []
    total = 0
    while pos < end:
        if end - pos < 4:
            raise CorruptRecordError(f"xerial snappy block length cut off at byte {pos}")
        (length,) = _INT32.unpack_from(view, pos)
        pos += 4
        if length < 0 or length > end - pos:
            raise CorruptRecordError(
                f"xerial snappy block at byte {pos - 4} claims {length} bytes, "
                f"{end - pos} remain"
            )
        block = _snappy_block(view[pos : pos + length], max_size - total, max_size)
        total += len(block)
        parts.append(block)
        pos += length
    return b"".join(parts)


def _decode_gzip(data: BytesLike, max_size: int) -> bytes:
    parts: list[bytes] = []
    total = 0
    rest: BytesLike = data
    while True:
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        # The +1 lets an oversized stream show itself without holding more than the limit.
        piece = d.decompress(rest, max_size - total + 1)
        total += len(piece)
        if total > max_size:
            raise _too_big("gzip", max_size)
        parts.append(piece)
        if not d.eof:
            raise CorruptRecordError("gzip payload is truncated")
        rest = d.unused_data
        if not rest:
            return b"".join(parts)


def _decode_lz4(data: BytesLike, max_size: int) -> bytes:
    d = lz4.frame.LZ4FrameDecompressor()
    out: bytes = d.decompress(data, max_length=max_size + 1)
    if len(out) > max_size:
        raise _too_big("lz4", max_size)
    if not d.eof:
        raise CorruptRecordError("lz4 payload is truncated")
    if d.unused_data:
        raise CorruptRecordError(f"lz4 payload has {len(d.unused_data)} bytes after its frame")
    return out


def _decode_zstd(data: BytesLike, max_size: int) -> bytes:
    view = memoryview(data)
    end = len(view)
    parts: list[bytes] = []
    total = 0
    pos = 0
    pending = b""
    obj = _ZSTD.decompressobj()
    in_frame = False
    while pos < end or pending:
        if pending:
            chunk: BytesLike = pending
            pending = b""
        else:
            step = max(_ZSTD_MIN_STEP, (max_size - total) >> _ZSTD_EXPANSION_SHIFT)
            chunk = view[pos : pos + step]
            pos += len(chunk)
        in_frame = True
        piece = obj.decompress(chunk)
        total += len(piece)
        if total > max_size:
            raise _too_big("zstd", max_size)
        parts.append(piece)
        if obj.eof:
            # One object decodes one frame; the rest of the input starts the next frame.
            pending = obj.unused_data
            obj = _ZSTD.decompressobj()
            in_frame = False
    if in_frame:
        raise CorruptRecordError("zstd payload is truncated")
    return b"".join(parts)


_DECODERS: dict[int, Callable[[BytesLike, int], bytes]] = {
    Compression.NONE: _decode_none,
    Compression.GZIP: _decode_gzip,
    Compression.SNAPPY: _decode_snappy,
    Compression.LZ4: _decode_lz4,
    Compression.ZSTD: _decode_zstd,
}
