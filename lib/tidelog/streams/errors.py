"""The one error stream processing raises on purpose: :class:`StreamsError`.

It covers a topology that cannot run (an operator used where it cannot be, co-partitioned topics
with different partition counts), a record a source cannot deserialize (named by topic,
partition and offset: the application stops before committing past it, so nothing is lost) and
output the producer could not write (nothing after it is committed).
"""

from __future__ import annotations

from tidelog.errors import TidelogError


class StreamsError(TidelogError):
    """A stream-processing application cannot go on (the message says why)."""


class MissingTopicError(StreamsError):
    """A topic the application reads does not exist (Kafka Streams'
    MissingSourceTopicException)."""
