"""Kafka's error codes: one table of code, name, retriable flag and message.

``ErrorCode`` is an IntEnum, so a member is the int that goes on the wire
(``error_code=ErrorCode.NOT_LEADER_OR_FOLLOWER``) and also carries ``retriable`` (a client may
retry the same request after refreshing metadata or waiting) and ``message`` (a short
description for logs and tools). Codes follow Apache Kafka's ``Errors`` numbering (-1 ..
133); an unknown code from a newer peer maps to :func:`error_name` ``UNKNOWN_<code>``.
The messages are tidelog's own words.
"""

from __future__ import annotations

from enum import IntEnum


class ErrorCode(IntEnum):
    retriable: bool
    message: str

    def __new__(cls, code: int, retriable: bool, message: str) -> ErrorCode:
        member = int.__new__(cls, code)
        member._value_ = code
        member.retriable = retriable
        member.message = message
        return member

    UNKNOWN_SERVER_ERROR = -1, False, "The server hit an unexpected error."
    NONE = 0, False, ""
    OFFSET_OUT_OF_RANGE = 1, False, "The requested offset is outside the log's range."
    CORRUPT_MESSAGE = 2, True, "A record failed its CRC or size check, or is otherwise corrupt."
    UNKNOWN_TOPIC_OR_PARTITION = 3, True, "This server does not host this topic-partition."
    INVALID_FETCH_SIZE = 4, False, "The requested fetch size is invalid."
    LEADER_NOT_AVAILABLE = 5, True, "The partition has no leader right now (election running)."
    NOT_LEADER_OR_FOLLOWER = 6, True, "This server is neither leader nor follower of the partition."
    REQUEST_TIMED_OUT = 7, True, "The request timed out."
    BROKER_NOT_AVAILABLE = 8, False, "The broker is not available."
    REPLICA_NOT_AVAILABLE = 9, True, "The replica is not available for the partition."
    MESSAGE_TOO_LARGE = 10, False, "The request holds a batch larger than the server accepts."
    STALE_CONTROLLER_EPOCH = 11, False, "The request came from an old controller."
    OFFSET_METADATA_TOO_LARGE = 12, False, "The committed offset's metadata is too large."
    NETWORK_EXCEPTION = 13, True, "The server disconnected before a response arrived."
    COORDINATOR_LOAD_IN_PROGRESS = 14, True, "The coordinator is still loading its state."
    COORDINATOR_NOT_AVAILABLE = 15, True, "The coordinator is not available."
    NOT_COORDINATOR = 16, True, "This server is not the coordinator for the key."
    INVALID_TOPIC_EXCEPTION = 17, False, "The topic name is invalid or the topic is internal."
    RECORD_LIST_TOO_LARGE = 18, False, "The batch exceeds the segment size."
    NOT_ENOUGH_REPLICAS = 19, True, "Fewer in-sync replicas than min.insync.replicas."
    NOT_ENOUGH_REPLICAS_AFTER_APPEND = 20, True, "Written, but too few in-sync replicas."
    INVALID_REQUIRED_ACKS = 21, False, "The acks value is invalid."
    ILLEGAL_GENERATION = 22, False, "The group generation is not current."
    INCONSISTENT_GROUP_PROTOCOL = 23, False, "The member's protocols do not match the group's."
    INVALID_GROUP_ID = 24, False, "The group id is invalid."
    UNKNOWN_MEMBER_ID = 25, False, "The coordinator does not know this member."
    INVALID_SESSION_TIMEOUT = 26, False, "The session timeout is outside the allowed range."
    REBALANCE_IN_PROGRESS = 27, False, "The group is rebalancing; rejoin."
    INVALID_COMMIT_OFFSET_SIZE = 28, False, "The committing offset data size is invalid."
    TOPIC_AUTHORIZATION_FAILED = 29, False, "Not authorized to access the topic."
    GROUP_AUTHORIZATION_FAILED = 30, False, "Not authorized to access the group."
    CLUSTER_AUTHORIZATION_FAILED = 31, False, "Not authorized for this cluster action."
    INVALID_TIMESTAMP = 32, False, "A record timestamp is outside the accepted range."
    UNSUPPORTED_SASL_MECHANISM = 33, False, "The SASL mechanism is not enabled."
    ILLEGAL_SASL_STATE = 34, False, "The request is not valid in the SASL state."
    UNSUPPORTED_VERSION = 35, False, "The API version is not supported."
    TOPIC_ALREADY_EXISTS = 36, False, "The topic already exists."
    INVALID_PARTITIONS = 37, False, "The number of partitions is invalid."
    INVALID_REPLICATION_FACTOR = 38, False, "The replication factor is invalid."
    INVALID_REPLICA_ASSIGNMENT = 39, False, "The replica assignment is invalid."
    INVALID_CONFIG = 40, False, "The configuration is invalid."
    NOT_CONTROLLER = 41, True, "This server is not the active controller."
    INVALID_REQUEST = 42, False, "The request is malformed or breaks the protocol."
    UNSUPPORTED_FOR_MESSAGE_FORMAT = 43, False, "The message format does not support this."
    POLICY_VIOLATION = 44, False, "The request violates a configured policy."
    OUT_OF_ORDER_SEQUENCE_NUMBER = 45, False, "The producer sequence number is out of order."
    DUPLICATE_SEQUENCE_NUMBER = 46, False, "The producer sent a duplicate sequence number."
    INVALID_PRODUCER_EPOCH = 47, False, "The producer epoch is older than the current one."
    INVALID_TXN_STATE = 48, False, "The transaction state does not allow this."
    INVALID_PRODUCER_ID_MAPPING = 49, False, "No producer id is mapped to the transactional id."
    INVALID_TRANSACTION_TIMEOUT = 50, False, "The transaction timeout exceeds the maximum."
    CONCURRENT_TRANSACTIONS = 51, True, "Another transaction operation is in progress."
    TRANSACTION_COORDINATOR_FENCED = 52, False, "A newer transaction coordinator exists."
    TRANSACTIONAL_ID_AUTHORIZATION_FAILED = 53, False, "Not authorized for the transactional id."
    SECURITY_DISABLED = 54, False, "Security features are disabled."
    OPERATION_NOT_ATTEMPTED = 55, False, "Not attempted because another part of the batch failed."
    KAFKA_STORAGE_ERROR = 56, True, "A disk error on the server."
    LOG_DIR_NOT_FOUND = 57, False, "The log directory does not exist."
    SASL_AUTHENTICATION_FAILED = 58, False, "SASL authentication failed."
    UNKNOWN_PRODUCER_ID = 59, False, "The producer id is unknown to the broker."
    REASSIGNMENT_IN_PROGRESS = 60, False, "A partition reassignment is in progress."
    DELEGATION_TOKEN_AUTH_DISABLED = 61, False, "Delegation token authentication is disabled."
    DELEGATION_TOKEN_NOT_FOUND = 62, False, "The delegation token does not exist."
    DELEGATION_TOKEN_OWNER_MISMATCH = 63, False, "The principal does not own the token."
    DELEGATION_TOKEN_REQUEST_NOT_ALLOWED = 64, False, "Token requests are not allowed here."
    DELEGATION_TOKEN_AUTHORIZATION_FAILED = 65, False, "Not authorized for delegation tokens."
    DELEGATION_TOKEN_EXPIRED = 66, False, "The delegation token has expired."
    INVALID_PRINCIPAL_TYPE = 67, False, "The principal type is not supported."
    NON_EMPTY_GROUP = 68, False, "The group is not empty."
    GROUP_ID_NOT_FOUND = 69, False, "The group does not exist."
    FETCH_SESSION_ID_NOT_FOUND = 70, True, "The fetch session id was not found."
    INVALID_FETCH_SESSION_EPOCH = 71, True, "The fetch session epoch is invalid."
    LISTENER_NOT_FOUND = 72, True, "The leader has no endpoint for this listener."
    TOPIC_DELETION_DISABLED = 73, False, "Topic deletion is disabled."
    FENCED_LEADER_EPOCH = 74, True, "The request's leader epoch is older than the broker's."
    UNKNOWN_LEADER_EPOCH = 75, True, "The request's leader epoch is newer than the broker's."
    UNSUPPORTED_COMPRESSION_TYPE = 76, False, "The consumer does not support the codec."
    STALE_BROKER_EPOCH = 77, False, "The broker epoch has changed."
    OFFSET_NOT_AVAILABLE = 78, True, "The leader's high watermark has not caught up yet."
    MEMBER_ID_REQUIRED = 79, False, "Rejoin with the member id the coordinator assigned."
    PREFERRED_LEADER_NOT_AVAILABLE = 80, True, "The preferred leader is not available."
    GROUP_MAX_SIZE_REACHED = 81, False, "The group has reached its maximum size."
    FENCED_INSTANCE_ID = 82, False, "Another member with this group.instance.id joined."
    ELIGIBLE_LEADERS_NOT_AVAILABLE = 83, True, "No eligible leader for the partition."
    ELECTION_NOT_NEEDED = 84, True, "The leader election is not needed."
    NO_REASSIGNMENT_IN_PROGRESS = 85, False, "No partition reassignment is in progress."
    GROUP_SUBSCRIBED_TO_TOPIC = 86, False, "The group is subscribed to the topic."
    INVALID_RECORD = 87, False, "A record failed the broker's validation."
    UNSTABLE_OFFSET_COMMIT = 88, True, "There are unstable offsets for the partition."
    THROTTLING_QUOTA_EXCEEDED = 89, True, "The throttling quota is exceeded."
    PRODUCER_FENCED = 90, False, "A newer producer with the same transactional id exists."
    RESOURCE_NOT_FOUND = 91, False, "The resource does not exist."
    DUPLICATE_RESOURCE = 92, False, "The resource is duplicated in the request."
    UNACCEPTABLE_CREDENTIAL = 93, False, "The credential is not acceptable."
    INCONSISTENT_VOTER_SET = 94, False, "The voter set does not match the quorum's."
    INVALID_UPDATE_VERSION = 95, False, "The update version is invalid."
    FEATURE_UPDATE_FAILED = 96, False, "The feature update could not be applied."
    PRINCIPAL_DESERIALIZATION_FAILURE = 97, False, "The principal could not be deserialized."
    SNAPSHOT_NOT_FOUND = 98, False, "The snapshot does not exist."
    POSITION_OUT_OF_RANGE = 99, False, "The position is outside the snapshot's range."
    UNKNOWN_TOPIC_ID = 100, True, "This server does not host this topic id."
    DUPLICATE_BROKER_REGISTRATION = 101, False, "The broker id is already registered."
    BROKER_ID_NOT_REGISTERED = 102, False, "The broker id is not registered."
    INCONSISTENT_TOPIC_ID = 103, True, "The topic id does not match the log's."
    INCONSISTENT_CLUSTER_ID = 104, False, "The cluster id does not match."
    TRANSACTIONAL_ID_NOT_FOUND = 105, False, "The transactional id does not exist."
    FETCH_SESSION_TOPIC_ID_ERROR = 106, True, "The fetch session saw inconsistent topic ids."
    INELIGIBLE_REPLICA = 107, False, "The new ISR holds an ineligible replica."
    NEW_LEADER_ELECTED = 108, False, "A new leader was elected; the ISR change was dropped."
    OFFSET_MOVED_TO_TIERED_STORAGE = 109, False, "The offset has moved to tiered storage."
    FENCED_MEMBER_EPOCH = 110, False, "The member epoch is fenced."
    UNRELEASED_INSTANCE_ID = 111, False, "The instance id is still in use by another member."
    UNSUPPORTED_ASSIGNOR = 112, False, "The assignor is not supported by the group."
    STALE_MEMBER_EPOCH = 113, False, "The member epoch is stale."
    MISMATCHED_ENDPOINT_TYPE = 114, False, "The request went to the wrong endpoint type."
    UNSUPPORTED_ENDPOINT_TYPE = 115, False, "This endpoint type does not support the request."
    UNKNOWN_CONTROLLER_ID = 116, False, "The controller id is unknown."
    UNKNOWN_SUBSCRIPTION_ID = 117, False, "The client telemetry subscription id is unknown."
    TELEMETRY_TOO_LARGE = 118, False, "The client telemetry is too large."
    INVALID_REGISTRATION = 119, False, "The controller rejected the registration."
    TRANSACTION_ABORTABLE = 120, False, "The transaction must be aborted."
    INVALID_RECORD_STATE = 121, False, "The record state is invalid for this operation."
    SHARE_SESSION_NOT_FOUND = 122, True, "The share session was not found."
    INVALID_SHARE_SESSION_EPOCH = 123, True, "The share session epoch is invalid."
    FENCED_STATE_EPOCH = 124, False, "The share coordinator state epoch is fenced."
    INVALID_VOTER_KEY = 125, False, "The voter key does not match the receiving replica."
    DUPLICATE_VOTER = 126, False, "The voter is already in the voter set."
    VOTER_NOT_FOUND = 127, False, "The voter is not in the voter set."
    INVALID_REGULAR_EXPRESSION = 128, False, "The regular expression is invalid."
    REBOOTSTRAP_REQUIRED = 129, False, "The client must rebootstrap its metadata."
    STREAMS_INVALID_TOPOLOGY = 130, False, "The streams topology is invalid."
    STREAMS_INVALID_TOPOLOGY_EPOCH = 131, False, "The streams topology epoch is invalid."
    STREAMS_TOPOLOGY_FENCED = 132, False, "The streams topology is fenced."
    SHARE_SESSION_LIMIT_REACHED = 133, True, "The share session limit has been reached."


_BY_CODE: dict[int, ErrorCode] = {int(member): member for member in ErrorCode}


def lookup(code: int) -> ErrorCode | None:
    """The member for ``code``, or None for a code this table does not know."""
    return _BY_CODE.get(code)


def error_name(code: int) -> str:
    """The name of an error code, also for codes newer than this table."""
    member = _BY_CODE.get(code)
    return member.name if member is not None else f"UNKNOWN_{code}"


def is_retriable(code: int) -> bool:
    member = _BY_CODE.get(code)
    return member is not None and member.retriable
