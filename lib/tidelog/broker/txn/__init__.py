"""The transaction coordinator and the partition side of transactions, on the event loop.

- :mod:`~tidelog.broker.txn.store`: ``__transaction_state`` (Kafka's formats).
- :mod:`~tidelog.broker.txn.markers`: commit/abort markers onto partitions, here or on
  their leaders (WriteTxnMarkers).
- :mod:`~tidelog.broker.txn.coordinator`: the state machine's I/O (InitProducerId,
  AddPartitionsToTxn, AddOffsetsToTxn, EndTxn, timeouts, failover).
- :mod:`~tidelog.broker.txn.handlers`: the wire handlers.
"""
