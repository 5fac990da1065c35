"""The idempotent producer table: retries answered with their offsets, gaps and old epochs
refused, unknown producers accepted at any sequence, sequences wrapping at 2**31."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from tidelog.broker.producer_state import CACHED_BATCHES, ProducerStateTable
from tidelog.protocol.errors import ErrorCode
from tidelog.records.batch_header import BatchHeader


def header(pid: int, epoch: int, seq: int, count: int, base_offset: int = 0) -> BatchHeader:
    return BatchHeader(
        base_offset=base_offset, batch_length=100, partition_leader_epoch=0, magic=2, crc=0,
        attributes=0, last_offset_delta=count - 1, base_timestamp=0, max_timestamp=0,
        producer_id=pid, producer_epoch=epoch, base_sequence=seq, records_count=count,
    )


def test_non_idempotent_batches_always_append() -> None:
    table = ProducerStateTable()
    h = header(-1, -1, -1, 3)
    assert table.check([h]).error == ErrorCode.NONE
    table.record([h], -1)
    assert len(table) == 0


def test_sequence_rules() -> None:
    table = ProducerStateTable()
    first = header(7, 0, 5, 2, base_offset=10)  # unknown producer: any sequence is accepted
    assert table.check([first]).duplicate is None
    table.record([first], -1)
    again = table.check([header(7, 0, 5, 2)])
    assert again.duplicate is not None and again.duplicate.first_offset == 10
    assert table.check([header(7, 0, 8, 1)]).error == ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER
    assert table.check([header(7, 0, 7, 1)]).error == ErrorCode.NONE
    assert table.check([header(7, 1, 3, 1)]).error == ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER
    assert table.check([header(7, 1, 0, 1)]).error == ErrorCode.NONE
    newer = header(7, 1, 0, 1, base_offset=12)
    table.record([newer], -1)
    assert table.check([header(7, 0, 7, 1)]).error == ErrorCode.INVALID_PRODUCER_EPOCH
    # Several batches in one request must follow each other.
    ok = [header(7, 1, 1, 2), header(7, 1, 3, 1)]
    assert table.check(ok).error == ErrorCode.NONE
    gap = [header(7, 1, 1, 2), header(7, 1, 4, 1)]
    assert table.check(gap).error == ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER
    mixed = [header(7, 1, 1, 1), header(8, 0, 0, 1)]
    assert table.check(mixed).error == ErrorCode.INVALID_RECORD


def test_sequence_wraps_at_2_pow_31() -> None:
    table = ProducerStateTable()
    table.record([header(1, 0, (1 << 31) - 2, 2)], -1)
    assert table.check([header(1, 0, 0, 1)]).error == ErrorCode.NONE


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(1, 5), min_size=1, max_size=20), st.data())
def test_only_recent_batches_are_answered_as_duplicates(
    counts: list[int], data: st.DataObject
) -> None:
    table = ProducerStateTable()
    seq, offset, sent = 0, 0, []
    for n in counts:
        h = header(3, 0, seq, n, base_offset=offset)
        assert table.check([h]).error == ErrorCode.NONE
        table.record([h], -1)
        sent.append(h)
        seq, offset = seq + n, offset + n
    i = data.draw(st.integers(0, len(sent) - 1))
    verdict = table.check([header(3, 0, sent[i].base_sequence, sent[i].records_count)])
    if i >= len(sent) - CACHED_BATCHES:
        assert verdict.duplicate is not None
        assert verdict.duplicate.first_offset == sent[i].base_offset
    else:
        assert verdict.error == ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER
