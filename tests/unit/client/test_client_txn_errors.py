"""How the transactional producer sorts a broker's answers (tidelog.client.transactions):
fenced and fatal ones end the producer, abortable ones the transaction, retriable ones are
tried again, as Kafka's producer sorts them."""

from __future__ import annotations

import pytest
from tidelog.client.errors import BrokerError
from tidelog.client.transactions import (
    AbortableTransactionError,
    FatalTransactionError,
    ProducerFenced,
    classify,
)
from tidelog.protocol.errors import ErrorCode as E


@pytest.mark.parametrize("code", [E.PRODUCER_FENCED, E.INVALID_PRODUCER_EPOCH,
                                  E.TRANSACTION_COORDINATOR_FENCED])
def test_fenced(code: E) -> None:
    assert isinstance(classify(code, "x"), ProducerFenced)


@pytest.mark.parametrize("code", [E.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, E.INVALID_TXN_STATE,
                                  E.INVALID_TRANSACTION_TIMEOUT])
def test_fatal(code: E) -> None:
    error = classify(code, "x")
    assert isinstance(error, FatalTransactionError) and not isinstance(error, ProducerFenced)


@pytest.mark.parametrize("code", [E.ILLEGAL_GENERATION, E.UNKNOWN_MEMBER_ID,
                                  E.FENCED_INSTANCE_ID, E.UNKNOWN_PRODUCER_ID,
                                  E.INVALID_PRODUCER_ID_MAPPING, E.TRANSACTION_ABORTABLE])
def test_abortable(code: E) -> None:
    assert isinstance(classify(code, "x"), AbortableTransactionError)


@pytest.mark.parametrize("code", [E.COORDINATOR_NOT_AVAILABLE, E.NOT_COORDINATOR,
                                  E.COORDINATOR_LOAD_IN_PROGRESS, E.CONCURRENT_TRANSACTIONS])
def test_retriable(code: E) -> None:
    error = classify(code, "add t/0")
    assert isinstance(error, BrokerError) and error.retriable and "add t/0" in str(error)
