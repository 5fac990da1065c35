"""CRC32C: the standard check value, continuation, zero-copy buffers, and the light loader."""

from __future__ import annotations

import subprocess
import sys

from tidelog.records.crc import crc32c


def test_check_value_and_continuation() -> None:
    # The CRC-32C "check" value of the Rocksoft model: CRC of ASCII "123456789".
    assert crc32c(b"123456789") == 0xE3069283
    assert crc32c(b"456789", crc32c(b"123")) == 0xE3069283
    assert crc32c(b"") == 0


def test_accepts_every_buffer_type() -> None:
    data = bytearray(b"123456789")
    assert crc32c(memoryview(data)) == crc32c(data) == crc32c(bytes(data)) == 0xE3069283
    assert crc32c(memoryview(b"xx123456789")[2:]) == 0xE3069283


def test_loads_only_the_c_extension() -> None:
    # The package's __init__ costs ~35 ms of start-up (importlib.metadata, a CLI module).
    code = "import sys, tidelog.records.crc; print('crc32c' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
