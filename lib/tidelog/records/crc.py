"""CRC32C (Castagnoli), the checksum of Kafka record batch v2.

Backed by the C package ``crc32c``, which accepts any buffer (bytes, bytearray, memoryview)
without copying. Measured against ``google-crc32c`` on this machine class (2026-11): equal speed
(about 4.5 GB/s at 1 KiB, 23 GB/s at 1 MiB), but google-crc32c only takes ``bytes``, which would
force a copy of every batch on the broker's produce path.

Only the package's C extension is loaded, not its ``__init__``: that one imports
``importlib.metadata`` and a command-line module, about 35 ms of every program's start-up
(design.md: programs start fast). Should the package's layout change, the plain import is the
fallback, so a new release costs start-up time, never correctness.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
from collections.abc import Callable

BytesLike = bytes | bytearray | memoryview

_EXTENSION = "_crc32c"


def _load() -> Callable[[BytesLike, int], int]:
    spec = importlib.util.find_spec("crc32c")  # locates the package without running it
    locations = list(spec.submodule_search_locations or []) if spec else []
    for directory in locations:
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = os.path.join(directory, _EXTENSION + suffix)
            if not os.path.exists(path):
                continue
            name = f"crc32c.{_EXTENSION}"
            loader = importlib.machinery.ExtensionFileLoader(name, path)
            ext_spec = importlib.util.spec_from_file_location(name, path, loader=loader)
            if ext_spec is None:
                continue
            module = importlib.util.module_from_spec(ext_spec)
            loader.exec_module(module)
            function: Callable[[BytesLike, int], int] = module.crc32c
            return function
    import crc32c as package

    fallback: Callable[[BytesLike, int], int] = package.crc32c
    return fallback


_crc32c = _load()


def crc32c(data: BytesLike, value: int = 0) -> int:
    """Return the CRC32C of ``data`` as an unsigned 32-bit int, continuing from ``value``."""
    return _crc32c(data, value)
