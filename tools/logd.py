"""logd: the tidelog daemon: a Kafka-compatible broker and/or metadata controller.

The command line and its help live here; the broker is :mod:`tidelog.broker`. Every setting of
``man 5 tidelog.toml`` is also a flag (``--name-with-dashes``); flags beat ``TIDELOG_*``
variables, which beat the ``--config`` file, which beats the defaults. A bad setting prints one
line naming its source and exits 2. See man/logd.8.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from tidelog.cli.app import make_app

NAME = "logd"

app = make_app("Run the tidelog broker: a Kafka-compatible commit log server.")

_LEVELS = ["debug", "info", "warning", "error", "critical"]
#: The values --roles takes (completion offers them; the config module checks them).
ROLES = ("broker,controller", "broker", "controller")


@app.command()
def serve(
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", metavar="DIR", show_default=False,
                     help="Where logs and the metadata log are kept "
                     "(default: $XDG_DATA_HOME/tidelog or ~/.local/share/tidelog)."),
    ] = None,
    listen: Annotated[
        str | None,
        typer.Option("--listen", metavar="HOST:PORT", show_default=False,
                     help="Address to listen on (default 127.0.0.1:9092; port 0 picks one)."),
    ] = None,
    node_id: Annotated[
        int | None,
        typer.Option("--node-id", metavar="N", show_default=False,
                     help="This broker's id (default 1)."),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", metavar="FILE", show_default=False,
                     help="TOML config file (see tidelog.toml(5)); default $TIDELOG_CONFIG."),
    ] = None,
    log_level: Annotated[
        str | None,
        typer.Option("--log-level", metavar="LEVEL", show_default=False,
                     autocompletion=lambda: list(_LEVELS),
                     help="Least severe event logged on stderr: " + ", ".join(_LEVELS) + "."),
    ] = None,
    advertised_listen: Annotated[
        str | None,
        typer.Option("--advertised-listen", metavar="HOST:PORT", show_default=False,
                     help="Address clients are told to connect to."),
    ] = None,
    metrics_listen: Annotated[
        str | None,
        typer.Option("--metrics-listen", metavar="HOST:PORT", show_default=False,
                     help="Serve /metrics, /healthz and /readyz over HTTP here "
                     "(default: off; port 0 picks one)."),
    ] = None,
    listeners: Annotated[
        str | None,
        typer.Option("--listeners", metavar="NAME://HOST:PORT,...", show_default=False,
                     help="More listeners, each speaking what listener_security_protocol_map "
                          "says (SSL, SASL_SSL, ...)."),
    ] = None,
    advertised_listeners: Annotated[
        str | None,
        typer.Option("--advertised-listeners", metavar="NAME://HOST:PORT,...",
                     show_default=False,
                     help="Addresses clients are told per listener (default: where bound)."),
    ] = None,
    max_request_size: Annotated[
        int | None, typer.Option("--max-request-size", metavar="BYTES", show_default=False,
                                 help="Largest request frame accepted."),
    ] = None,
    max_connections: Annotated[
        int | None, typer.Option("--max-connections", metavar="N", show_default=False,
                                 help="Client connections served at once."),
    ] = None,
    max_connections_per_ip: Annotated[
        int | None, typer.Option("--max-connections-per-ip", metavar="N", show_default=False,
                                 help="Client connections served at once from one address."),
    ] = None,
    queued_max_request_bytes: Annotated[
        int | None, typer.Option("--queued-max-request-bytes", metavar="BYTES",
                                 show_default=False,
                                 help="Request bytes read broker-wide before reading waits."),
    ] = None,
    connections_max_idle_ms: Annotated[
        int | None, typer.Option("--connections-max-idle-ms", metavar="MS", show_default=False,
                                 help="Close connections idle this long."),
    ] = None,
    max_inflight_per_connection: Annotated[
        int | None, typer.Option("--max-inflight-per-connection", metavar="N",
                                 show_default=False,
                                 help="Requests read ahead from one connection."),
    ] = None,
    auto_create_topics: Annotated[
        str | None, typer.Option("--auto-create-topics", metavar="BOOL", show_default=False,
                                 help="Create topics on first use (true/false)."),
    ] = None,
    num_partitions: Annotated[
        int | None, typer.Option("--num-partitions", metavar="N", show_default=False,
                                 help="Partitions of a new topic."),
    ] = None,
    default_replication_factor: Annotated[
        int | None, typer.Option("--default-replication-factor", metavar="N",
                                 show_default=False, help="Replicas of a new topic."),
    ] = None,
    log_segment_bytes: Annotated[
        int | None, typer.Option("--log-segment-bytes", metavar="BYTES", show_default=False,
                                 help="Size at which a segment rolls."),
    ] = None,
    log_segment_ms: Annotated[
        int | None, typer.Option("--log-segment-ms", metavar="MS", show_default=False,
                                 help="Age at which a segment rolls."),
    ] = None,
    log_retention_ms: Annotated[
        int | None, typer.Option("--log-retention-ms", metavar="MS", show_default=False,
                                 help="Age after which segments are deleted (-1: never)."),
    ] = None,
    log_retention_bytes: Annotated[
        int | None, typer.Option("--log-retention-bytes", metavar="BYTES", show_default=False,
                                 help="Partition size above which old segments go (-1: none)."),
    ] = None,
    log_cleanup_policy: Annotated[
        str | None, typer.Option("--log-cleanup-policy", metavar="POLICY", show_default=False,
                                 help="delete, compact or both."),
    ] = None,
    message_max_bytes: Annotated[
        int | None, typer.Option("--message-max-bytes", metavar="BYTES", show_default=False,
                                 help="Largest record batch accepted."),
    ] = None,
    log_message_timestamp_type: Annotated[
        str | None, typer.Option("--log-message-timestamp-type", metavar="TYPE",
                                 show_default=False, help="CreateTime or LogAppendTime."),
    ] = None,
    min_insync_replicas: Annotated[
        int | None, typer.Option("--min-insync-replicas", metavar="N", show_default=False,
                                 help="In-sync replicas an acks=all write needs."),
    ] = None,
    log_index_size_max_bytes: Annotated[
        int | None, typer.Option("--log-index-size-max-bytes", metavar="BYTES",
                                 show_default=False, help="Size of a segment's offset index."),
    ] = None,
    log_index_interval_bytes: Annotated[
        int | None, typer.Option("--log-index-interval-bytes", metavar="BYTES",
                                 show_default=False, help="Bytes between index entries."),
    ] = None,
    log_flush: Annotated[
        str | None, typer.Option("--log-flush", metavar="POLICY", show_default=False,
                                 help="always, interval or never (see tidelog.toml(5))."),
    ] = None,
    log_flush_interval_ms: Annotated[
        int | None, typer.Option("--log-flush-interval-ms", metavar="MS", show_default=False,
                                 help="Period of the background flush (log_flush=interval)."),
    ] = None,
    log_retention_check_interval_ms: Annotated[
        int | None, typer.Option("--log-retention-check-interval-ms", metavar="MS",
                                 show_default=False,
                                 help="How often retention deletes old segments."),
    ] = None,
    group_initial_rebalance_delay_ms: Annotated[
        int | None, typer.Option("--group-initial-rebalance-delay-ms", metavar="MS",
                                 show_default=False, help="First rebalance delay of a group."),
    ] = None,
    group_min_session_timeout_ms: Annotated[
        int | None, typer.Option("--group-min-session-timeout-ms", metavar="MS",
                                 show_default=False, help="Smallest consumer session timeout."),
    ] = None,
    group_max_session_timeout_ms: Annotated[
        int | None, typer.Option("--group-max-session-timeout-ms", metavar="MS",
                                 show_default=False, help="Largest consumer session timeout."),
    ] = None,
    offsets_topic_num_partitions: Annotated[
        int | None, typer.Option("--offsets-topic-num-partitions", metavar="N",
                                 show_default=False, help="Partitions of __consumer_offsets."),
    ] = None,
    offsets_topic_replication_factor: Annotated[
        int | None, typer.Option("--offsets-topic-replication-factor", metavar="N",
                                 show_default=False, help="Replicas of __consumer_offsets."),
    ] = None,
    roles: Annotated[
        str | None, typer.Option("--roles", metavar="ROLES", show_default=False,
                                 autocompletion=lambda: list(ROLES),
                                 help="broker, controller, or broker,controller (default)."),
    ] = None,
    quorum: Annotated[
        str | None, typer.Option("--quorum", metavar="ID@HOST:PORT,...", show_default=False,
                                 help="The controller voters (default: this node alone)."),
    ] = None,
    controller_listen: Annotated[
        str | None, typer.Option("--controller-listen", metavar="HOST:PORT",
                                 show_default=False,
                                 help="Address for quorum traffic (default: from --quorum)."),
    ] = None,
    broker_heartbeat_interval_ms: Annotated[
        int | None, typer.Option("--broker-heartbeat-interval-ms", metavar="MS",
                                 show_default=False, help="Broker heartbeat period."),
    ] = None,
    broker_session_timeout_ms: Annotated[
        int | None, typer.Option("--broker-session-timeout-ms", metavar="MS",
                                 show_default=False,
                                 help="Fence a broker silent this long."),
    ] = None,
    offsets_retention_minutes: Annotated[
        int | None, typer.Option("--offsets-retention-minutes", metavar="MIN",
                                 show_default=False, help="Lifetime of an empty group's offsets."),
    ] = None,
) -> None:
    """Run the tidelog broker in the foreground until SIGTERM or SIGINT, logging on stderr.

    Exit status: 0 clean shutdown, 1 the broker could not start or failed, 2 bad configuration
    or usage.
    """
    # Every parameter but --config is a setting of the same name (None: flag not given).
    overrides: dict[str, object] = dict(locals())
    del overrides["config"]

    from tidelog.broker.config import BrokerConfig, ConfigError

    try:
        cfg = BrokerConfig.load(config, overrides=overrides)
    except ConfigError as exc:
        typer.echo(f"{NAME}: {exc}", err=True)
        raise SystemExit(2) from None

    from tidelog.broker.daemon import run

    raise SystemExit(run(cfg))


def main() -> None:
    """Console-script entry point."""
    app(prog_name=NAME)


if __name__ == "__main__":
    main()
