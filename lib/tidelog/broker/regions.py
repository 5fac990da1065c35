"""Record bytes that travel from a segment file to a socket without becoming Python objects.

:class:`RegionPart` wraps a storage :class:`~tidelog.storage.region.FileRegion` so the protocol
encoder can place it in a response's records field (it only needs ``len()``) and the connection
can ``sendfile`` it (``fileno()``, ``position``). The part owns the region's descriptor: the
connection closes every part after sending the response, or when the response is dropped.
"""

from __future__ import annotations

from collections.abc import Iterable

from tidelog.storage.region import FileRegion


class RegionPart:
    __slots__ = ("region",)

    def __init__(self, region: FileRegion) -> None:
        self.region = region

    def __len__(self) -> int:
        return self.region.length

    def fileno(self) -> int:
        return self.region.fileno()

    @property
    def position(self) -> int:
        return self.region.position

    def __bytes__(self) -> bytes:
        # For join_parts in tests and tools; the broker sends regions with sendfile.
        return self.region.read_bytes()

    def close(self) -> None:
        self.region.close()


def close_parts(parts: Iterable[object]) -> None:
    """Release the descriptors of every region part in ``parts``."""
    for part in parts:
        if isinstance(part, RegionPart):
            part.close()
