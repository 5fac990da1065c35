"""Errors of the metadata layer.

:class:`MetadataError` means a metadata record is malformed or does not fit the image it is
applied to. :class:`ControllerError` is a refused admin request; it carries the Kafka error
name and code so the protocol layer can answer with them unchanged.
"""

from __future__ import annotations

from tidelog.errors import TidelogError


class MetadataError(TidelogError):
    """A malformed metadata record, or one that contradicts the image it is applied to."""


class KafkaErrors:
    """The Kafka error codes that controller operations can answer with (name -> code)."""

    UNKNOWN_TOPIC_OR_PARTITION = 3
    NOT_LEADER_OR_FOLLOWER = 6
    INVALID_TOPIC_EXCEPTION = 17
    TOPIC_ALREADY_EXISTS = 36
    INVALID_PARTITIONS = 37
    INVALID_REPLICATION_FACTOR = 38
    INVALID_REPLICA_ASSIGNMENT = 39
    INVALID_CONFIG = 40
    INVALID_REQUEST = 42
    FENCED_LEADER_EPOCH = 74
    PREFERRED_LEADER_NOT_AVAILABLE = 80
    ELIGIBLE_LEADERS_NOT_AVAILABLE = 83
    ELECTION_NOT_NEEDED = 84
    NO_REASSIGNMENT_IN_PROGRESS = 85
    INVALID_UPDATE_VERSION = 95
    UNKNOWN_TOPIC_ID = 100
    INELIGIBLE_REPLICA = 107


class ControllerError(MetadataError):
    """A controller operation refused with a Kafka error.

    ``error_name`` is Kafka's name (e.g. ``"TOPIC_ALREADY_EXISTS"``) and ``error_code`` its
    numeric code (36), so a request handler can put both in its response.
    """

    def __init__(self, error_name: str, message: str) -> None:
        super().__init__(f"{error_name}: {message}")
        self.error_name = error_name
        self.error_code: int = getattr(KafkaErrors, error_name)
        self.detail = message
