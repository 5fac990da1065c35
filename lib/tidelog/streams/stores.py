"""State stores: bytes -> bytes maps on local disk (RocksDB through rocksdict) or in memory.

A store holds one partition of one operator's state (a count per key, a table's rows, the
windows of a windowed aggregate). Keys and values are bytes; the operators own the encodings.
:class:`RocksStore` keeps a RocksDB database in its own directory; :class:`MemoryStore` is a
dict with the same interface (tests, and state too small to be worth a database).

Layout under an application's state directory (Kafka Streams' ``state.dir`` idea)::

    STATE_DIR/APP_ID/SUB_PARTITION/STORE/        the RocksDB files
    STATE_DIR/APP_ID/SUB_PARTITION/STORE.checkpoint   {"offset": N}

Checkpoint: the changelog offset up to which the store on disk is known to hold every write
(written after the producer acknowledged them all). On start a store restores from its
changelog from there (:mod:`tidelog.streams.restore`); with no checkpoint it is wiped and
restored from the changelog's start. The checkpoint is replaced atomically (write, fsync,
rename), so a crash leaves the old one or the new one, never a torn file.

Crash behaviour: RocksDB runs without its write-ahead log (as in Kafka Streams: the changelog
is the durable copy), so a killed process loses the writes since the last flush, which every
checkpoint follows; RocksDB may also have flushed some later ones on its own. Restoring from
the checkpoint rewrites every key the changelog has since then, and the input records behind
any write the changelog lacks are processed again (their offsets were not committed):
at-least-once.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import orjson

if TYPE_CHECKING:
    from rocksdict import Rdict


class KeyValueStore(Protocol):
    """What an operator may do with its state."""

    def get(self, key: bytes) -> bytes | None: ...

    def put(self, key: bytes, value: bytes | None) -> None:
        """Set ``key``; a None value deletes it."""

    def put_all(self, items: Iterable[tuple[bytes, bytes | None]]) -> None:
        """Many puts at once (a restore: one write batch)."""

    def items(self, prefix: bytes = b"") -> Iterator[tuple[bytes, bytes]]:
        """Every (key, value) whose key starts with ``prefix``, in key order."""

    def flush(self) -> None: ...

    def close(self) -> None: ...

    def wipe(self) -> None:
        """Forget everything (the store is rebuilt from its changelog)."""


class MemoryStore:
    """A KeyValueStore in a dict (ordered by key only when iterated)."""

    def __init__(self) -> None:
        self.data: dict[bytes, bytes] = {}

    def get(self, key: bytes) -> bytes | None:
        return self.data.get(key)

    def put(self, key: bytes, value: bytes | None) -> None:
        if value is None:
            self.data.pop(key, None)
        else:
            self.data[key] = value

    def put_all(self, items: Iterable[tuple[bytes, bytes | None]]) -> None:
        for key, value in items:
            self.put(key, value)

    def items(self, prefix: bytes = b"") -> Iterator[tuple[bytes, bytes]]:
        for key in sorted(self.data):
            if key.startswith(prefix):
                yield key, self.data[key]

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def wipe(self) -> None:
        self.data.clear()


class RocksStore:
    """A KeyValueStore in a RocksDB database at ``path`` (created when missing)."""

    def __init__(self, path: Path) -> None:
        from rocksdict import Options  # imported late: programs start fast

        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._options = Options(raw_mode=True)
        self._options.create_if_missing(True)
        self._db = self._open()

    def _open(self) -> Rdict:
        from rocksdict import Rdict, WriteOptions

        db = Rdict(str(self.path), options=self._options)
        # No write-ahead log, as Kafka Streams runs RocksDB: the changelog is what makes the
        # state durable, and flush() (before every checkpoint) writes the memtables out.
        write = WriteOptions()
        # A property at run time; rocksdict's stubs call it a method.
        write.disable_wal = True  # type: ignore[method-assign,assignment]
        db.set_write_options(write)
        return db

    def get(self, key: bytes) -> bytes | None:
        value = self._db.get(key)
        assert value is None or isinstance(value, bytes)
        return value

    def put(self, key: bytes, value: bytes | None) -> None:
        if value is None:
            self._db.delete(key)
        else:
            self._db[key] = value

    def put_all(self, items: Iterable[tuple[bytes, bytes | None]]) -> None:
        from rocksdict import WriteBatch

        batch = WriteBatch(raw_mode=True)
        for key, value in items:
            if value is None:
                batch.delete(key)
            else:
                batch.put(key, value)
        self._db.write(batch)

    def items(self, prefix: bytes = b"") -> Iterator[tuple[bytes, bytes]]:
        for key, value in self._db.items(from_key=prefix):
            # raw mode: keys and values are bytes (the stubs say any storable type)
            assert isinstance(key, bytes) and isinstance(value, bytes)
            if not key.startswith(prefix):
                return
            yield key, value

    def flush(self) -> None:
        self._db.flush()

    def close(self) -> None:
        self._db.close()

    def wipe(self) -> None:
        from rocksdict import Rdict

        self._db.close()
        Rdict.destroy(str(self.path), self._options)
        shutil.rmtree(self.path, ignore_errors=True)
        self._db = self._open()


def read_checkpoint(path: Path) -> int | None:
    """The offset in a checkpoint file, or None when there is none (or it is unreadable:
    then the store is rebuilt, which is always safe)."""
    try:
        offset = orjson.loads(path.read_bytes())["offset"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return offset if isinstance(offset, int) and offset >= 0 else None


def write_checkpoint(path: Path, offset: int) -> None:
    """Replace the checkpoint at ``path`` atomically and durably."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as f:
        f.write(orjson.dumps({"offset": offset}))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def remove_checkpoint(path: Path) -> None:
    path.unlink(missing_ok=True)
