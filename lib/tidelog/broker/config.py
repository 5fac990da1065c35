"""The broker's settings (``logd``): defaults, TOML file, ``TIDELOG_*`` variables, flags.

Every setting has one name used everywhere: the TOML key, the attribute of
:class:`BrokerConfig`, the environment variable ``TIDELOG_`` + NAME in capitals and the flag
``--name-with-dashes``. Sources apply in increasing precedence::

    defaults  <  config file (--config or TIDELOG_CONFIG)  <  TIDELOG_* variables  <  flags

TOML layout: a setting may be written at the top level or in its section (``[network]``,
``[topics]``, ``[log]``, ``[groups]``); sections only group related keys for readers. The
topic config defaults of the ``[log]`` section map onto storage's
:class:`~tidelog.storage.config.LogConfig` (:meth:`BrokerConfig.log_config`) and onto Kafka's
topic config names (:data:`TOPIC_DEFAULTS`). ``man 5 tidelog.toml`` documents every key.

Errors: anything wrong raises :class:`ConfigError` naming where the value came from
(``FILE:LINE``, the variable, or the flag), what is wrong, and for an unknown name the closest
known one. An unknown ``TIDELOG_*`` variable is an error only when it looks like a typo of a
setting (other tidelog programs read variables such as ``TIDELOG_BOOTSTRAP``). No I/O beyond
reading the config file; nothing is created on disk here.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tidelog.broker.addresses import HostPort as HostPort
from tidelog.broker.addresses import parse_host_port as parse_host_port
from tidelog.errors import TidelogError
from tidelog.storage.config import LogConfig

if TYPE_CHECKING:
    from tidelog.broker.listeners import ListenerSpec

ENV_PREFIX = "TIDELOG_"
CONFIG_ENV = "TIDELOG_CONFIG"


class ConfigError(TidelogError):
    """A setting that cannot be used; the message names its source."""


# ---------------------------------------------------------------------------------------------
# Value types. A parser takes the raw value (a TOML value, or a string from the environment or
# a flag) and returns the typed value or raises ValueError with the reason.


def _int(low: int, high: int = (1 << 63) - 1) -> Callable[[object], int]:
    def parse(raw: object) -> int:
        if isinstance(raw, bool):
            raise ValueError(f"expected an integer, got {str(raw).lower()}")
        if isinstance(raw, str):
            try:
                raw = int(raw.strip(), 10)
            except ValueError:
                raise ValueError(f"{raw!r} is not an integer") from None
        if not isinstance(raw, int):
            raise ValueError(f"expected an integer, got {type(raw).__name__}")
        if not low <= raw <= high:
            raise ValueError(f"{raw} is outside [{low}, {high}]")
        return raw

    return parse


_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def _bool(raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
        return raw.strip().lower() in _TRUE
    raise ValueError(f"{raw!r} is not a boolean (true/false, yes/no, on/off, 1/0)")


def _ratio(raw: object) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise ValueError(f"expected a number, got {type(raw).__name__}")
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{raw!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{value} is outside [0, 1]")
    return value


def _str(raw: object) -> str:
    if not isinstance(raw, str):
        raise ValueError(f"expected a string, got {type(raw).__name__}")
    return raw


def _choice(*choices: str) -> Callable[[object], str]:
    def parse(raw: object) -> str:
        text = _str(raw)
        if text not in choices:
            raise ValueError(f"{text!r} is not one of {', '.join(choices)}")
        return text

    return parse


def _address(raw: object) -> HostPort:
    if isinstance(raw, HostPort):
        return raw
    return parse_host_port(_str(raw))


def _optional_address(raw: object) -> HostPort | None:
    if raw is None or raw == "":
        return None
    return _address(raw)


def _optional_path(raw: object) -> Path | None:
    if raw is None or raw == "":
        return None
    return _path(raw)


def _listeners(raw: object) -> str:
    """Checked and kept as text (``BrokerConfig.listeners_specs`` builds the listeners)."""
    from tidelog.broker.listeners import parse_listeners

    return ",".join(f"{n}://{HostPort(h, p)}" for n, (h, p) in parse_listeners(_str(raw)).items())


def _protocol_map(raw: object) -> str:
    from tidelog.broker.listeners import parse_protocol_map

    return ",".join(f"{n}:{p}" for n, p in parse_protocol_map(_str(raw)).items())


SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


def _mechanisms(raw: object) -> str:
    parts = [p.strip().upper() for p in _str(raw).split(",") if p.strip()]
    unknown = [p for p in parts if p not in SASL_MECHANISMS]
    if unknown or not parts:
        raise ValueError(
            f"{raw!r} is not a list of SASL mechanisms ({', '.join(SASL_MECHANISMS)})")
    return ",".join(dict.fromkeys(parts))


def parse_quorum(text: str) -> tuple[tuple[int, HostPort], ...]:
    """``1@HOST:PORT,2@HOST:PORT``: the controller voters, by node id (empty: this node alone)."""
    voters: list[tuple[int, HostPort]] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        node, sep, addr = part.partition("@")
        if not sep or not node.strip().isdigit():
            raise ValueError(f"{part!r} is not ID@HOST:PORT")
        voters.append((int(node), parse_host_port(addr.strip())))
    ids = [v for v, _ in voters]
    if len(set(ids)) != len(ids):
        raise ValueError(f"a voter id is listed twice in {text!r}")
    return tuple(voters)


def _quorum(raw: object) -> str:
    """Checked and kept as text (``BrokerConfig.voters`` parses it)."""
    return ",".join(f"{v}@{a}" for v, a in parse_quorum(_str(raw)))


def _roles(raw: object) -> str:
    parts = sorted({p.strip() for p in _str(raw).split(",") if p.strip()})
    if not parts or set(parts) - {"broker", "controller"}:
        raise ValueError(f"{raw!r} is not broker, controller or broker,controller")
    return ",".join(parts)


def _path(raw: object) -> Path:
    if isinstance(raw, Path):
        return raw
    text = _str(raw)
    if not text:
        raise ValueError("the path is empty")
    return Path(text).expanduser()


def default_data_dir(env: Mapping[str, str]) -> Path:
    """``$XDG_DATA_HOME/tidelog``, or ``~/.local/share/tidelog`` when that is unset."""
    xdg = env.get("XDG_DATA_HOME", "")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path("~/.local/share").expanduser()
    return base / "tidelog"


# ---------------------------------------------------------------------------------------------
# The settings table.


@dataclasses.dataclass(frozen=True, slots=True)
class Setting:
    name: str
    section: str  # "" for top level
    parse: Callable[[object], Any]
    default: Any
    doc: str
    #: The Kafka topic config this broker default stands for, if any.
    topic_config: str | None = None

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


_I32 = (1 << 31) - 1
_I64 = (1 << 63) - 1

SETTINGS: tuple[Setting, ...] = (
    Setting("node_id", "", _int(0, _I32), 1, "this broker's id in the cluster"),
    Setting("data_dir", "", _path, None, "where logs and the metadata log are kept"),
    Setting(
        "log_level", "", _choice("debug", "info", "warning", "error", "critical"), "info",
        "the least severe event logged on stderr",
    ),
    Setting(
        "roles", "", _roles, "broker,controller",
        "what this node runs: broker, controller, or both",
    ),
    Setting(
        "quorum", "quorum", _quorum, "",
        "the controller voters, ID@HOST:PORT,... (empty: this node is the only voter)",
    ),
    Setting(
        "broker_heartbeat_interval_ms", "quorum", _int(10, _I32), 250,
        "how often a broker heartbeats to the active controller",
    ),
    Setting(
        "broker_session_timeout_ms", "quorum", _int(100, _I32), 3000,
        "a broker without a heartbeat for this long is fenced",
    ),
    Setting(
        "metadata_log_max_record_bytes_between_snapshots", "quorum", _int(1024, _I64),
        20971520,
        "record bytes the metadata log takes before a snapshot is written and the log trimmed",
    ),
    Setting("listen", "network", _address, HostPort("127.0.0.1", 9092), "address to listen on"),
    Setting(
        "controller_listen", "network", _optional_address, None,
        "address controllers listen on for the quorum (default: this node's --quorum entry)",
    ),
    Setting(
        "advertised_listen", "network", _optional_address, None,
        "address clients are told to connect to (default: the listen address)",
    ),
    Setting(
        "metrics_listen", "network", _optional_address, None,
        "address of the HTTP listener for /metrics, /healthz and /readyz (default: off)",
    ),
    Setting(
        "listeners", "network", _listeners, "",
        "more listeners, NAME://HOST:PORT,... (the listen address is the PLAINTEXT one)",
    ),
    Setting(
        "advertised_listeners", "network", _listeners, "",
        "addresses clients are told per listener, NAME://HOST:PORT,... (default: bound address)",
    ),
    Setting(
        "listener_security_protocol_map", "network", _protocol_map,
        "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL",
        "what each listener speaks: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL",
    ),
    Setting(
        "max_request_size", "network", _int(1024, _I32), 104857600,
        "largest request frame accepted, in bytes",
    ),
    Setting("max_connections", "network", _int(1, _I32), 1000, "open client connections"),
    Setting(
        "max_connections_per_ip", "network", _int(1, _I32), 500,
        "open client connections from one address",
    ),
    Setting(
        "queued_max_request_bytes", "network", _int(-1, _I64), 524288000,
        "request bytes being read or served broker-wide before reading waits (-1: no bound)",
    ),
    Setting(
        "connections_max_idle_ms", "network", _int(1, _I64), 600000,
        "a connection without requests for this long is closed",
    ),
    Setting(
        "max_inflight_per_connection", "network", _int(1, 1 << 16), 16,
        "requests read ahead from one connection before its answers are sent",
    ),
    Setting(
        "ssl_certificate_location", "security", _optional_path, None,
        "PEM certificate (chain) of the TLS listeners",
    ),
    Setting(
        "ssl_key_location", "security", _optional_path, None,
        "PEM private key of that certificate (default: in the certificate file)",
    ),
    Setting(
        "ssl_ca_location", "security", _optional_path, None,
        "PEM CA certificates that client certificates must chain to (mTLS)",
    ),
    Setting(
        "ssl_client_auth", "security", _choice("none", "requested", "required"), "none",
        "whether TLS clients must present a certificate (mTLS)",
    ),
    Setting(
        "sasl_enabled_mechanisms", "security", _mechanisms, "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
        "SASL mechanisms the SASL listeners offer",
    ),
    Setting(
        "connection_failed_authentication_delay_ms", "security", _int(0, 60000), 100,
        "how long a refused authentication waits before its answer and the close",
    ),
    Setting(
        "authorizer", "security", _choice("none", "standard"), "none",
        "ACL checks on the named listeners: none, or standard (Kafka's StandardAuthorizer)",
    ),
    Setting(
        "super_users", "security", _str, "",
        "principals allowed everything, User:NAME;User:OTHER",
    ),
    Setting(
        "allow_everyone_if_no_acl_found", "security", _bool, False,
        "allow a request on a resource that no ACL names",
    ),
    Setting("auto_create_topics", "topics", _bool, True, "create topics on first use"),
    Setting("num_partitions", "topics", _int(1, 100_000), 1, "partitions of a new topic"),
    Setting(
        "default_replication_factor", "topics", _int(1, 32767), 1, "replicas of a new topic"
    ),
    Setting(
        "log_segment_bytes", "log", _int(14, _I32), 1073741824, "size at which a segment rolls",
        "segment.bytes",
    ),
    Setting(
        "log_segment_ms", "log", _int(1, _I64), 604800000, "age at which a segment rolls",
        "segment.ms",
    ),
    Setting(
        "log_retention_ms", "log", _int(-1, _I64), 604800000,
        "age after which segments are deleted; -1 keeps them forever", "retention.ms",
    ),
    Setting(
        "log_retention_bytes", "log", _int(-1, _I64), -1,
        "partition size above which old segments are deleted; -1 for no limit",
        "retention.bytes",
    ),
    Setting(
        "log_cleanup_policy", "log",
        _choice("delete", "compact", "delete,compact", "compact,delete"), "delete",
        "what retention does with old segments", "cleanup.policy",
    ),
    Setting(
        "log_cleaner_enable", "log", _bool, True,
        "run the log cleaner, which compacts topics with cleanup.policy compact",
    ),
    Setting(
        "log_cleaner_dedupe_buffer_size", "log", _int(1024, _I64), 134217728,
        "memory of the cleaner's key map; a log with more dirty keys takes several passes",
    ),
    Setting(
        "log_cleaner_io_max_bytes_per_second", "log", _int(0, _I64), 0,
        "bytes per second the cleaner may read plus write; 0 sets no limit",
    ),
    Setting(
        "log_cleaner_backoff_ms", "log", _int(1, _I64), 15000,
        "how long the cleaner sleeps when no log needs cleaning",
    ),
    Setting(
        "log_cleaner_min_cleanable_ratio", "log", _ratio, 0.5,
        "dirty share of a log's bytes above which it is cleaned", "min.cleanable.dirty.ratio",
    ),
    Setting(
        "log_cleaner_delete_retention_ms", "log", _int(0, _I64), 86400000,
        "how long a tombstone stays after the cleaner first saw it", "delete.retention.ms",
    ),
    Setting(
        "log_cleaner_min_compaction_lag_ms", "log", _int(0, _I64), 0,
        "records younger than this are not compacted", "min.compaction.lag.ms",
    ),
    Setting(
        "log_cleaner_max_compaction_lag_ms", "log", _int(1, _I64), _I64,
        "records older than this are compacted whatever the dirty ratio",
        "max.compaction.lag.ms",
    ),
    Setting(
        "message_max_bytes", "log", _int(0, _I32), 1048588, "largest record batch accepted",
        "max.message.bytes",
    ),
    Setting(
        "log_message_timestamp_type", "log", _choice("CreateTime", "LogAppendTime"),
        "CreateTime", "whose clock stamps records", "message.timestamp.type",
    ),
    Setting(
        "min_insync_replicas", "log", _int(1, _I32), 1,
        "in-sync replicas an acks=all write needs", "min.insync.replicas",
    ),
    Setting(
        "log_index_size_max_bytes", "log", _int(4, _I32), 10485760,
        "size of a segment's offset index file", "segment.index.bytes",
    ),
    Setting(
        "log_index_interval_bytes", "log", _int(0, _I32), 4096,
        "bytes between offset index entries", "index.interval.bytes",
    ),
    Setting(
        "log_flush", "log", _choice("always", "interval", "never"), "always",
        "when appended data is fdatasync'ed (see FLUSH POLICY)",
    ),
    Setting(
        "log_flush_interval_ms", "log", _int(1, _I64), 1000,
        "period of the background flush when log_flush = interval",
    ),
    Setting(
        "log_retention_check_interval_ms", "log", _int(1, _I64), 300000,
        "how often retention looks for segments to delete",
    ),
    Setting(
        "group_initial_rebalance_delay_ms", "groups", _int(0, _I32), 3000,
        "wait for more members before the first rebalance of an empty group",
    ),
    Setting(
        "group_min_session_timeout_ms", "groups", _int(1, _I32), 6000,
        "smallest session timeout a consumer may ask for",
    ),
    Setting(
        "group_max_session_timeout_ms", "groups", _int(1, _I32), 1800000,
        "largest session timeout a consumer may ask for",
    ),
    Setting(
        "offsets_topic_num_partitions", "groups", _int(1, 100_000), 50,
        "partitions of __consumer_offsets (fixed once it exists)",
    ),
    Setting(
        "offsets_topic_replication_factor", "groups", _int(1, 32767), 3,
        "replicas of __consumer_offsets (at most the brokers registered when it is created)",
    ),
    Setting(
        "offsets_retention_minutes", "groups", _int(1, _I32), 10080,
        "how long committed offsets of an empty group are kept",
    ),
    Setting(
        "transaction_state_log_num_partitions", "transactions", _int(1, 100_000), 50,
        "partitions of __transaction_state (fixed once it exists)",
    ),
    Setting(
        "transaction_state_log_replication_factor", "transactions", _int(1, 32767), 3,
        "replicas of __transaction_state (at most the brokers registered when it is created)",
    ),
    Setting(
        "transaction_max_timeout_ms", "transactions", _int(1, _I32), 900000,
        "the largest transaction.timeout.ms a transactional producer may ask for",
    ),
    Setting(
        "replica_lag_time_max_ms", "replication", _int(100, _I32), 10000,
        "an in-sync follower that has not caught up for this long leaves the ISR",
    ),
    Setting(
        "replica_fetch_wait_max_ms", "replication", _int(1, _I32), 500,
        "how long a follower's fetch waits at the leader for new records",
    ),
    Setting(
        "replica_fetch_max_bytes", "replication", _int(1024, _I32), 1048576,
        "bytes a follower fetches per partition and request",
    ),
    Setting(
        "replica_fetch_response_max_bytes", "replication", _int(1024, _I32), 10485760,
        "bytes a follower fetches per request",
    ),
    Setting(
        "unclean_leader_election_enable", "replication", _bool, False,
        "elect a replica outside the ISR when no in-sync replica is left (loses data)",
        "unclean.leader.election.enable",
    ),
    Setting(
        "auto_leader_rebalance_enable", "replication", _bool, True,
        "move leadership back to the preferred replica once it is in sync",
    ),
    Setting(
        "leader_imbalance_check_interval_ms", "replication", _int(100, _I64), 30000,
        "how often the controller moves leadership back to preferred replicas",
    ),
    Setting(
        "controlled_shutdown_timeout_ms", "replication", _int(0, _I32), 5000,
        "how long SIGTERM waits for leadership to move away before the broker stops",
    ),
)  # fmt: skip

SETTINGS_BY_NAME: Mapping[str, Setting] = {s.name: s for s in SETTINGS}
SECTIONS: tuple[str, ...] = (
    "network", "security", "topics", "log", "groups", "transactions", "quorum", "replication")

#: Kafka topic config name -> broker setting name, for the broker-level topic defaults.
TOPIC_DEFAULTS: Mapping[str, str] = {
    s.topic_config: s.name for s in SETTINGS if s.topic_config is not None
}


def _suggest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


# ---------------------------------------------------------------------------------------------
# The configuration.


@dataclasses.dataclass(frozen=True)
class BrokerConfig:
    """Every broker setting, resolved. Build with :meth:`load`; see the module docstring."""

    node_id: int = 1
    data_dir: Path = dataclasses.field(default_factory=lambda: default_data_dir(os.environ))
    log_level: str = "info"
    roles: str = "broker,controller"
    quorum: str = ""
    broker_heartbeat_interval_ms: int = 250
    broker_session_timeout_ms: int = 3000
    metadata_log_max_record_bytes_between_snapshots: int = 20971520
    listen: HostPort = HostPort("127.0.0.1", 9092)  # noqa: RUF009 (a frozen dataclass)
    controller_listen: HostPort | None = None
    advertised_listen: HostPort | None = None
    metrics_listen: HostPort | None = None
    listeners: str = ""
    advertised_listeners: str = ""
    listener_security_protocol_map: str = (
        "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL")
    max_request_size: int = 104857600
    max_connections: int = 1000
    max_connections_per_ip: int = 500
    queued_max_request_bytes: int = 524288000
    connections_max_idle_ms: int = 600000
    max_inflight_per_connection: int = 16
    ssl_certificate_location: Path | None = None
    ssl_key_location: Path | None = None
    ssl_ca_location: Path | None = None
    ssl_client_auth: str = "none"
    sasl_enabled_mechanisms: str = "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512"
    connection_failed_authentication_delay_ms: int = 100
    authorizer: str = "none"
    super_users: str = ""
    allow_everyone_if_no_acl_found: bool = False
    auto_create_topics: bool = True
    num_partitions: int = 1
    default_replication_factor: int = 1
    log_segment_bytes: int = 1073741824
    log_segment_ms: int = 604800000
    log_retention_ms: int = 604800000
    log_retention_bytes: int = -1
    log_cleanup_policy: str = "delete"
    log_cleaner_enable: bool = True
    log_cleaner_dedupe_buffer_size: int = 134217728
    log_cleaner_io_max_bytes_per_second: int = 0
    log_cleaner_backoff_ms: int = 15000
    log_cleaner_min_cleanable_ratio: float = 0.5
    log_cleaner_delete_retention_ms: int = 86400000
    log_cleaner_min_compaction_lag_ms: int = 0
    log_cleaner_max_compaction_lag_ms: int = (1 << 63) - 1
    message_max_bytes: int = 1048588
    log_message_timestamp_type: str = "CreateTime"
    min_insync_replicas: int = 1
    log_index_size_max_bytes: int = 10485760
    log_index_interval_bytes: int = 4096
    log_flush: str = "always"
    log_flush_interval_ms: int = 1000
    log_retention_check_interval_ms: int = 300000
    group_initial_rebalance_delay_ms: int = 3000
    group_min_session_timeout_ms: int = 6000
    group_max_session_timeout_ms: int = 1800000
    offsets_topic_num_partitions: int = 50
    offsets_topic_replication_factor: int = 3
    offsets_retention_minutes: int = 10080
    transaction_state_log_num_partitions: int = 50
    transaction_state_log_replication_factor: int = 3
    transaction_max_timeout_ms: int = 900000
    replica_lag_time_max_ms: int = 10000
    replica_fetch_wait_max_ms: int = 500
    replica_fetch_max_bytes: int = 1048576
    replica_fetch_response_max_bytes: int = 10485760
    unclean_leader_election_enable: bool = False
    auto_leader_rebalance_enable: bool = True
    leader_imbalance_check_interval_ms: int = 30000
    controlled_shutdown_timeout_ms: int = 5000
    #: Where each setting's value came from ("default", "FILE:LINE", "TIDELOG_X", "--flag").
    sources: Mapping[str, str] = dataclasses.field(default_factory=dict, compare=False)

    @property
    def advertised(self) -> HostPort:
        """The address clients are told: ``advertised_listen``, else ``listen``."""
        return self.advertised_listen if self.advertised_listen is not None else self.listen

    def listener_specs(self) -> tuple[ListenerSpec, ...]:
        """The listeners beyond the primary ``listen`` one (raises ValueError)."""
        from tidelog.broker.listeners import build

        return build(self.listeners, self.advertised_listeners,
                     self.listener_security_protocol_map)

    @property
    def is_broker(self) -> bool:
        return "broker" in self.roles.split(",")

    @property
    def is_controller(self) -> bool:
        return "controller" in self.roles.split(",")

    @property
    def voters(self) -> dict[int, HostPort]:
        """The controller voters by node id (empty: this node alone, no quorum traffic)."""
        return dict(parse_quorum(self.quorum))

    @property
    def is_cluster(self) -> bool:
        """Whether the quorum involves other nodes (a ``--quorum`` was given)."""
        return bool(self.quorum)

    @property
    def controller_address(self) -> HostPort | None:
        """Where this node listens for quorum traffic (None: it does not)."""
        if not self.is_controller:
            return None
        if self.controller_listen is not None:
            return self.controller_listen
        return self.voters.get(self.node_id)

    @property
    def metadata_log_dir(self) -> Path:
        return self.data_dir / "__cluster_metadata-0"

    def topic_defaults(self) -> dict[str, str]:
        """The broker's topic config defaults under Kafka's topic config names."""
        def text(value: object) -> str:
            return str(value).lower() if isinstance(value, bool) else str(value)

        return {topic: text(getattr(self, name)) for topic, name in TOPIC_DEFAULTS.items()}

    def log_config(self) -> LogConfig:
        """The LogConfig a topic without overrides gets on this broker."""
        return LogConfig.from_properties(self.topic_defaults())

    @classmethod
    def load(
        cls,
        config_path: str | os.PathLike[str] | None = None,
        env: Mapping[str, str] | None = None,
        overrides: Mapping[str, object] | None = None,
    ) -> BrokerConfig:
        """Resolve every setting from defaults, the file, ``env`` and ``overrides``.

        ``config_path`` None falls back to ``$TIDELOG_CONFIG``, and to no file when that is
        unset. ``env`` defaults to ``os.environ``. ``overrides`` maps setting names to flag
        values; None values mean "flag not given". Raises ConfigError.
        """
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        sources: dict[str, str] = {s.name: "default" for s in SETTINGS}
        if config_path is None and env.get(CONFIG_ENV):
            config_path = env[CONFIG_ENV]
        if config_path is not None:
            _read_file(Path(config_path), values, sources)
        _read_env(env, values, sources)
        _read_overrides(overrides or {}, values, sources)
        if "data_dir" not in values:
            values["data_dir"] = default_data_dir(env)
        config = cls(**values, sources=sources)
        config._check()
        return config

    def _check_quorum(self) -> None:
        """Roles and voters must fit together (misconfiguration is refused at start)."""
        src = self.sources.get
        voters = self.voters
        if not self.quorum:
            if self.roles != "broker,controller":
                raise ConfigError(
                    f"{src('roles')}: roles = {self.roles} needs a quorum of controllers: "
                    "set quorum (--quorum ID@HOST:PORT,...)"
                )
            return
        if self.is_controller and self.node_id not in voters:
            raise ConfigError(
                f"{src('quorum')}: node {self.node_id} runs a controller but is not a voter "
                f"in quorum ({', '.join(str(v) for v in voters)})"
            )
        if not self.is_controller and self.node_id in voters:
            raise ConfigError(
                f"{src('roles')}: node {self.node_id} is a voter in quorum but roles = "
                f"{self.roles} runs no controller"
            )
        if self.is_controller and self.controller_listen is not None:
            mine = voters[self.node_id]
            if self.controller_listen.port != mine.port:
                raise ConfigError(
                    f"{src('controller_listen')}: controller_listen {self.controller_listen} "
                    f"is not this node's quorum address {mine}"
                )
        if self.broker_heartbeat_interval_ms * 2 > self.broker_session_timeout_ms:
            raise ConfigError(
                f"{src('broker_session_timeout_ms')}: broker_session_timeout_ms must be at "
                "least twice broker_heartbeat_interval_ms"
            )

    def _check(self) -> None:
        """Rules across settings, with the source of the value at fault."""
        src = self.sources.get
        self._check_quorum()
        if self.advertised_listen is None and self.listen.is_wildcard:
            raise ConfigError(
                f"{src('listen')}: listen = {self.listen} is a wildcard address, which clients "
                "cannot connect to: set advertised_listen too"
            )
        if self.advertised_listen is not None:
            if self.advertised_listen.is_wildcard:
                raise ConfigError(
                    f"{src('advertised_listen')}: advertised_listen = {self.advertised_listen} "
                    "is a wildcard address, which clients cannot connect to"
                )
            if self.advertised_listen.port == 0:
                raise ConfigError(
                    f"{src('advertised_listen')}: advertised_listen needs a real port, not 0"
                )
        try:
            specs = self.listener_specs()
        except ValueError as exc:
            raise ConfigError(f"{src('listeners')}: {exc}") from None
        if any(spec.uses_tls for spec in specs) and self.ssl_certificate_location is None:
            raise ConfigError(
                f"{src('listeners')}: a TLS listener needs ssl_certificate_location")
        if self.ssl_client_auth != "none" and self.ssl_ca_location is None:
            raise ConfigError(
                f"{src('ssl_client_auth')}: ssl_client_auth = {self.ssl_client_auth} needs "
                "ssl_ca_location")
        if self.group_min_session_timeout_ms > self.group_max_session_timeout_ms:
            raise ConfigError(
                f"{src('group_min_session_timeout_ms')}: group_min_session_timeout_ms "
                f"({self.group_min_session_timeout_ms}) exceeds group_max_session_timeout_ms "
                f"({self.group_max_session_timeout_ms}, {src('group_max_session_timeout_ms')})"
            )
        if self.queued_max_request_bytes == 0:
            raise ConfigError(
                f"{src('queued_max_request_bytes')}: queued_max_request_bytes must be -1 (no "
                "bound) or positive: with 0 no request that spans two reads could ever be read"
            )
        if self.message_max_bytes > self.max_request_size:
            raise ConfigError(
                f"{src('message_max_bytes')}: message_max_bytes ({self.message_max_bytes}) "
                f"exceeds max_request_size ({self.max_request_size}); no such batch could arrive"
            )
        try:
            self.log_config()
        except TidelogError as exc:
            raise ConfigError(f"topic defaults: {exc}") from None


def _apply(
    setting: Setting, raw: object, where: str, values: dict[str, Any], sources: dict[str, str]
) -> None:
    try:
        values[setting.name] = setting.parse(raw)
    except ValueError as exc:
        raise ConfigError(f"{where}: bad value for {setting.name}: {exc}") from None
    sources[setting.name] = where


def _line_of(text: str, section: str, key: str) -> int | None:
    """The line where ``key`` is assigned within ``section`` ("" = top level), if found."""
    current = ""
    pattern = re.compile(rf"""^\s*(?:{re.escape(key)}|"{re.escape(key)}"|'{re.escape(key)}')\s*=""")
    for number, line in enumerate(text.splitlines(), 1):
        header = re.match(r"^\s*\[\s*([^\]]*?)\s*\]", line)
        if header:
            current = header.group(1).strip("\"'")
        elif current == section and pattern.match(line):
            return number
    return None


def _read_file(path: Path, values: dict[str, Any], sources: dict[str, str]) -> None:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: the config file is not UTF-8 text") from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None

    def where(section: str, key: str) -> str:
        line = _line_of(text, section, key)
        return f"{path}:{line}" if line else f"{path}"

    seen: dict[str, str] = {}
    names = list(SETTINGS_BY_NAME)
    for key, value in document.items():
        if isinstance(value, dict):
            if key not in SECTIONS:
                raise ConfigError(
                    f"{path}: unknown section [{key}]"
                    f"{_suggest(key, list(SECTIONS))}; sections are {', '.join(SECTIONS)}"
                )
            for sub, sub_value in value.items():
                _file_key(sub, sub_value, key, where(key, sub), seen, values, sources, names)
        else:
            _file_key(key, value, "", where("", key), seen, values, sources, names)


def _file_key(
    key: str,
    value: object,
    section: str,
    at: str,
    seen: dict[str, str],
    values: dict[str, Any],
    sources: dict[str, str],
    names: list[str],
) -> None:
    setting = SETTINGS_BY_NAME.get(key)
    if setting is None:
        place = f"[{section}] " if section else ""
        raise ConfigError(f"{at}: unknown setting {place}{key}{_suggest(key, names)}")
    if section and setting.section != section:
        home = f"[{setting.section}]" if setting.section else "the top level"
        raise ConfigError(f"{at}: {key} belongs in {home}, not [{section}]")
    if key in seen:
        raise ConfigError(f"{at}: {key} is set twice (also at {seen[key]})")
    if isinstance(value, dict | list):
        raise ConfigError(f"{at}: {key} must be a single value, not a {type(value).__name__}")
    seen[key] = at
    _apply(setting, value, at, values, sources)


def _read_env(env: Mapping[str, str], values: dict[str, Any], sources: dict[str, str]) -> None:
    env_names = {s.env: s for s in SETTINGS}
    for var in sorted(env):
        if not var.startswith(ENV_PREFIX) or var == CONFIG_ENV:
            continue
        setting = env_names.get(var)
        if setting is None:
            # Other programs' variables are fine; a near miss of ours is a typo.
            close = difflib.get_close_matches(var, list(env_names), n=1, cutoff=0.85)
            if close:
                raise ConfigError(f"{var}: unknown setting (did you mean {close[0]}?)")
            continue
        _apply(setting, env[var], var, values, sources)


def _read_overrides(
    overrides: Mapping[str, object], values: dict[str, Any], sources: dict[str, str]
) -> None:
    for name, raw in overrides.items():
        setting = SETTINGS_BY_NAME.get(name)
        if setting is None:
            flag = "--" + name.replace("_", "-")
            flags = [s.flag for s in SETTINGS]
            raise ConfigError(f"{flag}: unknown setting{_suggest(flag, flags)}")
        if raw is None:
            continue
        _apply(setting, raw, setting.flag, values, sources)


def _self_check() -> None:
    # The settings table and the dataclass must agree, or a documented default would lie.
    fields = {f.name: f for f in dataclasses.fields(BrokerConfig) if f.name != "sources"}
    if set(fields) != set(SETTINGS_BY_NAME):
        raise AssertionError("BrokerConfig fields and SETTINGS differ")
    for setting in SETTINGS:
        if setting.name != "data_dir" and fields[setting.name].default != setting.default:
            raise AssertionError(f"default of {setting.name} differs from SETTINGS")


_self_check()
