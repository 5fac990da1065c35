"""BrokerConfig: defaults, precedence of file < env < flags, and every error path."""

from __future__ import annotations

from pathlib import Path

import pytest
from tidelog.broker.config import (
    SETTINGS,
    BrokerConfig,
    ConfigError,
    HostPort,
    default_data_dir,
    parse_host_port,
)
from tidelog.errors import TidelogError
from tidelog.storage.config import LogConfig


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tidelog.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _error(*args: object, **kwargs: object) -> str:
    with pytest.raises(ConfigError) as info:
        BrokerConfig.load(*args, **kwargs)  # type: ignore[arg-type]
    return str(info.value)


def test_defaults() -> None:
    config = BrokerConfig.load(None, {"XDG_DATA_HOME": "/srv/data"}, {})
    assert config.node_id == 1
    assert config.listen == HostPort("127.0.0.1", 9092)
    assert config.advertised == config.listen and config.advertised_listen is None
    assert config.data_dir == Path("/srv/data/tidelog")
    assert config.metadata_log_dir == Path("/srv/data/tidelog/__cluster_metadata-0")
    assert (config.num_partitions, config.default_replication_factor) == (1, 1)
    assert config.auto_create_topics is True and config.log_level == "info"
    assert config.offsets_topic_num_partitions == 50 and config.log_flush == "always"
    assert config.log_config() == LogConfig()
    assert all(source == "default" for source in config.sources.values())


def test_default_data_dir() -> None:
    assert default_data_dir({"XDG_DATA_HOME": "/x"}) == Path("/x/tidelog")
    home = Path("~/.local/share/tidelog").expanduser()
    assert default_data_dir({}) == home
    assert default_data_dir({"XDG_DATA_HOME": "relative"}) == home


def test_precedence(tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        'node_id = 2\nlog_level = "debug"\n\n[network]\nlisten = "127.0.0.2:9000"\n'
        "max_connections = 7\n\n[log]\nlog_retention_ms = 1000\n",
    )
    env = {"TIDELOG_NODE_ID": "3", "TIDELOG_MAX_CONNECTIONS": "8", "TIDELOG_BOOTSTRAP": "x:1"}
    config = BrokerConfig.load(path, env, {"node_id": 4, "log_level": None})
    assert config.node_id == 4 and config.sources["node_id"] == "--node-id"
    assert (
        config.max_connections == 8
        and config.sources["max_connections"] == "TIDELOG_MAX_CONNECTIONS"
    )
    assert config.log_level == "debug" and config.sources["log_level"] == f"{path}:2"
    assert config.listen == HostPort("127.0.0.2", 9000) and config.sources["listen"] == f"{path}:5"
    assert config.log_retention_ms == 1000 and config.log_config().retention_ms == 1000
    assert config.sources["num_partitions"] == "default"


def test_config_path_from_env(tmp_path: Path) -> None:
    path = _file(tmp_path, "num_partitions = 6\n")
    assert BrokerConfig.load(None, {"TIDELOG_CONFIG": str(path)}).num_partitions == 6
    # An explicit path wins over the variable.
    other = tmp_path / "other.toml"
    other.write_text("num_partitions = 9\n")
    assert BrokerConfig.load(other, {"TIDELOG_CONFIG": str(path)}).num_partitions == 9


def test_keys_at_top_level_or_in_their_section(tmp_path: Path) -> None:
    flat = _file(tmp_path, 'listen = "[::1]:9093"\nauto_create_topics = false\n')
    config = BrokerConfig.load(flat, {})
    assert config.listen == HostPort("::1", 9093) and str(config.listen) == "[::1]:9093"
    assert config.auto_create_topics is False


def test_env_and_flag_strings_are_parsed(tmp_path: Path) -> None:
    env = {
        "TIDELOG_AUTO_CREATE_TOPICS": "no",
        "TIDELOG_DATA_DIR": str(tmp_path / "d"),
        "TIDELOG_ADVERTISED_LISTEN": "broker.example:19092",
        "TIDELOG_LOG_MESSAGE_TIMESTAMP_TYPE": "LogAppendTime",
    }
    config = BrokerConfig.load(None, env, {"num_partitions": "3", "auto_create_topics": "on"})
    assert config.auto_create_topics is True and config.num_partitions == 3
    assert config.data_dir == tmp_path / "d"
    assert config.advertised == HostPort("broker.example", 19092)
    assert config.log_config().log_append_time
    assert config.topic_defaults()["message.timestamp.type"] == "LogAppendTime"


def test_listen_port_zero_is_allowed() -> None:
    assert BrokerConfig.load(None, {}, {"listen": "127.0.0.1:0"}).listen.port == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("node_id = \n", "not valid TOML"),
        ("node_idd = 1\n", ":1: unknown setting node_idd (did you mean node_id?)"),
        (
            '[network]\nlisen = "a:1"\n',
            ":2: unknown setting [network] lisen (did you mean listen?)",
        ),
        ('[netwrk]\nlisten = "a:1"\n', "unknown section [netwrk] (did you mean network?)"),
        ('[log]\nlisten = "a:1"\n', ":2: listen belongs in [network], not [log]"),
        ("[log]\nnode_id = 1\n", "node_id belongs in the top level"),
        ('listen = "a:1"\n[network]\nlisten = "b:2"\n', ":3: listen is set twice (also at"),
        ('node_id = "one"\n', ":1: bad value for node_id: 'one' is not an integer"),
        ("node_id = true\n", "expected an integer, got true"),
        ("node_id = -1\n", "outside"),
        ("node_id = 1.5\n", "expected an integer, got float"),
        ("node_id = [1]\n", "must be a single value"),
        ("auto_create_topics = 1\n", "is not a boolean"),
        ('log_level = "loud"\n', "'loud' is not one of debug, info"),
        ('listen = "nohost"\n', "is not HOST:PORT"),
        ('listen = "a:70000"\n', "port 70000 is above 65535"),
        ("listen = 9092\n", "expected a string"),
        ('data_dir = ""\n', "the path is empty"),
        ("log_segment_bytes = 10\n", "outside [14,"),
        ('[log]\nlog_cleanup_policy = "forever"\n', ":2: bad value for log_cleanup_policy"),
    ],
)
def test_file_errors(tmp_path: Path, text: str, expected: str) -> None:
    path = _file(tmp_path, text)
    message = _error(path, {})
    assert str(path) in message
    assert expected in message


def test_file_cannot_be_read(tmp_path: Path) -> None:
    assert "cannot read the config file" in _error(tmp_path / "missing.toml", {})
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe")
    assert "not UTF-8" in _error(binary, {})


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"TIDELOG_NODE_ID": "x"}, "TIDELOG_NODE_ID: bad value for node_id"),
        ({"TIDELOG_LISTEN": "localhost"}, "TIDELOG_LISTEN: bad value for listen"),
        (
            {"TIDELOG_LISTENN": "a:1"},
            "TIDELOG_LISTENN: unknown setting (did you mean TIDELOG_LISTEN?)",
        ),
        ({"TIDELOG_NUM_PARTITION": "2"}, "did you mean TIDELOG_NUM_PARTITIONS?"),
        ({"TIDELOG_CONFIG": "/nonexistent/t.toml"}, "cannot read the config file"),
    ],
)
def test_env_errors(env: dict[str, str], expected: str) -> None:
    assert expected in _error(None, env)


def test_unrelated_tidelog_variables_are_ignored() -> None:
    BrokerConfig.load(None, {"TIDELOG_BOOTSTRAP": "h:1", "TIDELOG_FORMAT": "json", "OTHER": "1"})


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"node_idd": 1}, "--node-idd: unknown setting (did you mean --node-id?)"),
        ({"listen": "bad"}, "--listen: bad value for listen"),
        ({"max_request_size": 5}, "--max-request-size: bad value"),
    ],
)
def test_flag_errors(overrides: dict[str, object], expected: str) -> None:
    assert expected in _error(None, {}, overrides)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"listen": "0.0.0.0:9092"}, "--listen: listen = 0.0.0.0:9092 is a wildcard"),
        ({"listen": "[::]:9092"}, "wildcard"),
        ({"advertised_listen": "0.0.0.0:1"}, "--advertised-listen: advertised_listen"),
        ({"advertised_listen": "h:0"}, "needs a real port"),
        (
            {"group_min_session_timeout_ms": 10, "group_max_session_timeout_ms": 5},
            "--group-min-session-timeout-ms: group_min_session_timeout_ms (10) exceeds",
        ),
        ({"message_max_bytes": 2000, "max_request_size": 1500}, "exceeds max_request_size"),
    ],
)
def test_cross_setting_errors(overrides: dict[str, object], expected: str) -> None:
    assert expected in _error(None, {}, overrides)


def test_wildcard_listen_with_advertised_is_fine() -> None:
    config = BrokerConfig.load(
        None, {}, {"listen": "0.0.0.0:9092", "advertised_listen": "10.1.2.3:9092"}
    )
    assert config.advertised == HostPort("10.1.2.3", 9092)


def test_parse_host_port() -> None:
    assert parse_host_port("localhost:1") == HostPort("localhost", 1)
    assert parse_host_port("[fe80::1]:2") == HostPort("fe80::1", 2)
    for bad in ["", ":1", "h:", "h:x", "::1:9092", "h:1:2", "h :1", "h:123456"]:
        with pytest.raises(ValueError):
            parse_host_port(bad)


def test_config_error_is_a_tidelog_error() -> None:
    assert issubclass(ConfigError, TidelogError)


def test_every_setting_has_env_and_flag_names() -> None:
    names = {s.name for s in SETTINGS}
    for required in [
        "node_id",
        "listen",
        "advertised_listen",
        "data_dir",
        "num_partitions",
        "default_replication_factor",
        "auto_create_topics",
        "log_level",
        "log_segment_bytes",
        "log_retention_ms",
        "log_flush",
        "max_request_size",
        "max_connections",
        "max_inflight_per_connection",
        "group_initial_rebalance_delay_ms",
        "offsets_topic_num_partitions",
        "offsets_retention_minutes",
    ]:
        assert required in names
    for setting in SETTINGS:
        assert setting.env == "TIDELOG_" + setting.name.upper()
        assert setting.flag == "--" + setting.name.replace("_", "-")
