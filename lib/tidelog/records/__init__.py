"""Kafka record batch v2 (magic 2): varints, CRC32C, compression codecs, batch builder and reader.

This package is sans-I/O: bytes in, bytes or records out. Malformed input raises
:class:`CorruptRecordError` (or a subclass), never a low-level exception. See each module's
docstring for its format and invariants.
"""

from tidelog.records.batch_header import (
    HEADER_SIZE,
    BatchHeader,
    Compression,
    TimestampType,
    check_header,
    iter_batches,
    parse_header,
    read_size,
    restamp_crc,
    set_base_offset,
    set_log_append_time,
    set_partition_leader_epoch,
    validate_batch,
)
from tidelog.records.builder import build_batch
from tidelog.records.compression import DEFAULT_MAX_DECOMPRESSED_SIZE, compress, decompress
from tidelog.records.crc import BytesLike, crc32c
from tidelog.records.errors import CorruptRecordError, TruncatedBatchError, UnsupportedCodecError
from tidelog.records.reader import DecodedBatch, decode_batch, iter_decoded_batches
from tidelog.records.record import Header, NewRecord, Record
from tidelog.records.varint import decode_varint, decode_varlong, encode_varint, encode_varlong

__all__ = [
    "DEFAULT_MAX_DECOMPRESSED_SIZE",
    "HEADER_SIZE",
    "BatchHeader",
    "BytesLike",
    "Compression",
    "CorruptRecordError",
    "DecodedBatch",
    "Header",
    "NewRecord",
    "Record",
    "TimestampType",
    "TruncatedBatchError",
    "UnsupportedCodecError",
    "build_batch",
    "check_header",
    "compress",
    "crc32c",
    "decode_batch",
    "decode_varint",
    "decode_varlong",
    "decompress",
    "encode_varint",
    "encode_varlong",
    "iter_batches",
    "iter_decoded_batches",
    "parse_header",
    "read_size",
    "restamp_crc",
    "set_base_offset",
    "set_log_append_time",
    "set_partition_leader_epoch",
    "validate_batch",
]
