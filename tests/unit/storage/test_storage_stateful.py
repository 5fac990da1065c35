"""A Hypothesis state machine drives a PartitionLog and a plain list model side by side.

Tiny segment and index sizes make segments roll often; every rule is followed by invariant
checks (log start and end offsets, reads at the start). Reads check exact bytes and offsets.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from storage_batches import make_batch
from tidelog.records.batch_header import iter_batches
from tidelog.storage.config import LogConfig
from tidelog.storage.errors import OffsetOutOfRangeError
from tidelog.storage.handles import HandleCache
from tidelog.storage.log import PartitionLog

CONFIG = LogConfig(
    segment_bytes=400,
    index_interval_bytes=90,
    segment_index_bytes=48,
    retention_bytes=900,
    retention_ms=-1,
)


class LogMachine(RuleBasedStateMachine):
    @initialize()
    def setup(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="tidelog-stateful-"))
        self.cache = HandleCache(8)
        self.plog = PartitionLog.open(self.tmp / "t-0", CONFIG, handle_cache=self.cache)
        #: (base offset, next offset, bytes) of every batch in the log, in order.
        self.model: list[tuple[int, int, bytes]] = []
        self.start = 0
        self.end = 0
        self.tag = 0

    def teardown(self) -> None:
        if hasattr(self, "tmp"):
            self.cache.close_all()
            shutil.rmtree(self.tmp, ignore_errors=True)

    @rule(
        sizes=st.lists(
            st.tuples(st.integers(1, 5), st.integers(0, 150)), min_size=1, max_size=4
        )
    )
    def append(self, sizes: list[tuple[int, int]]) -> None:
        buf = bytearray()
        for count, payload in sizes:
            self.tag += 1
            buf += make_batch(count, payload=payload, tag=self.tag, timestamp=1000 + self.tag)
        info = self.plog.append(buf, leader_epoch=1)
        assert info.first_offset == self.end
        for _, h in iter_batches(buf):
            start = h.base_offset
            self.model.append((start, h.next_offset, bytes(buf[0:0]) + self._slice(buf, h)))
        self.end = self.model[-1][1]
        assert info.last_offset == self.end - 1

    @staticmethod
    def _slice(buf: bytearray, h: object) -> bytes:
        for pos, hh in iter_batches(buf):
            if hh == h:
                return bytes(buf[pos : pos + hh.size])
        raise AssertionError("batch not found")

    def _batches_from(self, offset: int) -> list[tuple[int, int, bytes]]:
        i = next(i for i, b in enumerate(self.model) if b[1] > offset)
        return self.model[i:]

    @rule(data=st.data(), max_bytes=st.integers(1, 700), bounded=st.booleans())
    def read(self, data: st.DataObject, max_bytes: int, bounded: bool) -> None:
        offset = data.draw(st.integers(self.start, self.end))
        max_offset = data.draw(st.integers(self.start, self.end + 2)) if bounded else None
        with self.plog.read(offset, max_bytes, max_offset=max_offset) as region:
            got = region.read_bytes()
        if offset == self.end or (max_offset is not None and offset >= max_offset):
            assert got == b""
            return
        expected = self._batches_from(offset)
        if max_offset is not None and expected[0][1] > max_offset:
            assert got == b""  # the first batch straddles max_offset
            return
        assert region.first_offset == expected[0][0]
        # A prefix of whole batches from the one holding the offset.
        n, total = 0, 0
        while n < len(expected) and total < len(got):
            total += len(expected[n][2])
            n += 1
        assert got == b"".join(b for _, _, b in expected[:n])
        if max_offset is not None:
            assert all(nxt <= max_offset for _, nxt, _ in expected[:n])
        assert n >= 1
        assert len(got) <= max(max_bytes, len(expected[0][2]))

    @rule()
    def roll(self) -> None:
        self.plog.roll()

    @rule()
    def retention(self) -> None:
        self.plog.delete_old_segments()
        new_start = self.plog.log_start_offset
        assert new_start >= self.start
        self.start = new_start
        self.model = [b for b in self.model if b[1] > self.start]
        assert self.plog.size_in_bytes >= sum(len(b[2]) for b in self.model)

    @rule(data=st.data())
    def advance_start(self, data: st.DataObject) -> None:
        offset = data.draw(st.integers(self.start, self.end))
        self.plog.advance_log_start_offset(offset)
        self.start = offset
        self.model = [b for b in self.model if b[1] > self.start]

    @precondition(lambda self: self.end > self.start)
    @rule(data=st.data())
    def truncate(self, data: st.DataObject) -> None:
        offset = data.draw(st.integers(self.start, self.end))
        self.plog.truncate_to(offset)
        kept = [b for b in self.model if b[1] <= offset]
        cut = [b for b in self.model if b[1] > offset]
        self.model = kept
        if cut:
            self.end = min(offset, cut[0][0])
        if self.end < self.start:
            # The batch holding the log start offset went: the log restarts empty there.
            self.end = self.start
            self.model = []
        assert self.plog.log_end_offset == self.end

    @rule()
    def flush(self) -> None:
        assert self.plog.flush() == self.end

    @rule(clean=st.booleans(), torn=st.binary(max_size=30))
    def reopen(self, clean: bool, torn: bytes) -> None:
        if clean:
            self.plog.close()
            rp = self.plog.recovery_point
        else:
            rp = self.plog.recovery_point  # whatever was flushed; the rest is re-validated
            self.plog.release_handles()
            if torn:
                active = max((self.tmp / "t-0").glob("*.log"))
                with open(active, "ab") as f:
                    f.write(torn)
        self.plog = PartitionLog.open(
            self.tmp / "t-0",
            CONFIG,
            recovery_point=rp,
            log_start_offset=self.start,
            clean_shutdown=clean,
            handle_cache=self.cache,
        )
        if not clean:
            assert self.plog.recovery_report.bytes_truncated in (0, len(torn))

    @invariant()
    def offsets_agree(self) -> None:
        if not hasattr(self, "plog"):
            return
        assert self.plog.log_start_offset == self.start
        assert self.plog.log_end_offset == self.end
        assert self.plog.recovery_point <= self.end
        if self.end > self.start:
            with self.plog.read(self.start, 1) as region:
                assert region.first_offset == self._batches_from(self.start)[0][0]
        try:
            self.plog.read(self.end + 1, 10)
        except OffsetOutOfRangeError:
            pass
        else:
            raise AssertionError("read past the end did not fail")


LogMachine.TestCase.settings = settings(
    max_examples=25, stateful_step_count=30, deadline=None
)
TestPartitionLogStateMachine = LogMachine.TestCase
