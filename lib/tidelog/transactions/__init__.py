"""Transactions as pure data: the coordinator's per-transactional-id state (Kafka's
TransactionMetadata and its states) and the record formats of ``__transaction_state``.

Sans-I/O: nothing here reads a clock, a file or a socket; the broker's transaction
coordinator (:mod:`tidelog.broker.txn`) drives it.
"""
