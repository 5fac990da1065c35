"""The ``logd`` process: logging, start-up, periodic work, signals and clean shutdown.

Start-up order: bind the listening socket first (a port in use fails fast, before any file is
touched), then open the log dir and the metadata log (:meth:`BrokerCore.start`), then (with
``--quorum``) start the quorum connections (:class:`~tidelog.broker.quorum.cluster.ClusterNode`;
a node the quorum refuses as misconfigured stops with status 1), then accept.
When ``listen`` has port 0 the kernel picks one and it is also the advertised port. The extra
``listeners`` are bound right after (same rule for port 0), each logged as ``listener NAME
(PROTOCOL) on HOST:PORT``; a TLS listener's certificate is loaded before anything else starts.
Before it, a warning per way the PLAINTEXT ``listen`` address undoes the security settings
(:func:`~tidelog.broker.listeners.plain_listener_warnings`: SASL listeners without an
authorizer, User:ANONYMOUS a super user, followers that will be refused). The line
``listening on HOST:PORT`` on stderr, last, tells scripts and tests the broker is ready.

The log cleaner (:class:`~tidelog.storage.cleaner.LogCleaner`, ``log_cleaner_*`` settings)
is its own subsystem on its own worker thread: started once the logs are open, stopped (a
running pass abandoned before its next install) before the logs close.

Periodic work on the event loop: retention every ``log_retention_check_interval_ms``,
checkpoints every :data:`CHECKPOINT_INTERVAL_S`, expiry of committed offsets
every :data:`OFFSETS_RETENTION_CHECK_S`; with ``log_flush = interval`` a background
flush every ``log_flush_interval_ms`` (on a worker thread).

SIGTERM and SIGINT: in a cluster, first a controlled shutdown (the active controller moves
this broker's leaderships to other in-sync replicas, at most ``controlled_shutdown_timeout_ms``),
then stop accepting, finish the requests already read, stop the replica fetchers, flush every
log, write the checkpoints and the clean-shutdown marker (``LogManager.shutdown``), exit 0. A second
signal during shutdown is ignored; shutdown is bounded by the drain timeout of the server.

Logs go to stderr, one line per event: ``TIME LEVEL LOGGER: MESSAGE`` (a traceback is folded
onto its event's line). SIGUSR1 dumps the
stacks of every thread to stderr (for diagnosing a stuck broker).
"""

from __future__ import annotations

import asyncio
import dataclasses
import faulthandler
import io
import ipaddress
import logging
import resource
import signal
import socket
import ssl
import sys
from collections.abc import Awaitable, Callable

from tidelog.broker.config import BrokerConfig, HostPort
from tidelog.broker.core import BrokerCore
from tidelog.broker.listeners import (
    ListenerError,
    ListenerSpec,
    plain_listener_warnings,
    ssl_context,
    with_port,
)
from tidelog.broker.metrics.notify import notify
from tidelog.broker.metrics.service import Served, start_observability
from tidelog.broker.quorum import ops
from tidelog.broker.quorum.cluster import ClusterNode
from tidelog.broker.server import Server, bind
from tidelog.broker.txn.coordinator import TIMEOUT_CHECK_S
from tidelog.storage.cleaner import CleanerConfig, LogCleaner

log = logging.getLogger("tidelog.broker")

CHECKPOINT_INTERVAL_S = 60.0  # Kafka's log.flush.offset.checkpoint.interval.ms
OFFSETS_RETENTION_CHECK_S = 600.0  # Kafka's offsets.retention.check.interval.ms


class OneLineFormatter(logging.Formatter):
    """Keeps every event on one line: a traceback's lines are joined with `` | ``."""

    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).replace("\n", " | ")


def setup_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(OneLineFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, level.upper()))


def run(config: BrokerConfig) -> int:
    """Run the broker until SIGTERM/SIGINT; returns the exit status."""
    setup_logging(config.log_level)
    # SIGUSR1 prints every thread's stack on stderr: a stuck broker can be diagnosed live.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    _raise_open_files_limit()
    return asyncio.run(_main(config))


def _log_tasks() -> None:
    tasks = asyncio.all_tasks()
    lines = [f"{len(tasks)} tasks (SIGUSR2):"]
    for task in tasks:
        out = io.StringIO()
        task.print_stack(limit=8, file=out)
        lines.append(out.getvalue().rstrip())
    log.warning("\n".join(lines))


def _raise_open_files_limit() -> None:
    """Lift the soft limit on open files to the hard one, as brokers do: every connection,
    segment, index and in-flight fetch region holds a descriptor."""
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft != hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (OSError, ValueError) as exc:
        log.warning("cannot raise the open files limit: %s", exc)


async def _every(seconds: float, work: Callable[[], Awaitable[None]]) -> None:
    while True:
        await asyncio.sleep(seconds)
        try:
            await work()
        except Exception:
            log.exception("periodic work failed")


def _periodic(core: BrokerCore) -> list[asyncio.Task[None]]:
    loop = asyncio.get_running_loop()
    config = core.config

    async def flush() -> None:
        await loop.run_in_executor(None, core.flush_all)

    async def retention() -> None:
        core.run_retention()

    async def checkpoint() -> None:
        core.checkpoint()

    tasks = [
        asyncio.create_task(_every(config.log_retention_check_interval_ms / 1000, retention)),
        asyncio.create_task(_every(CHECKPOINT_INTERVAL_S, checkpoint)),
        asyncio.create_task(_every(OFFSETS_RETENTION_CHECK_S, core.groups.expire_offsets_task)),
        asyncio.create_task(_every(TIMEOUT_CHECK_S, core.txns.timeout_task)),
    ]
    if config.log_flush == "interval":
        tasks.append(asyncio.create_task(_every(config.log_flush_interval_ms / 1000, flush)))
    return tasks


async def _main(config: BrokerConfig) -> int:
    try:
        sock = bind(config.listen.host, config.listen.port)
    except OSError as exc:
        log.error("cannot listen on %s: %s", config.listen, exc.strerror or exc)
        return 1
    port = sock.getsockname()[1]
    if config.listen.port == 0:
        config = dataclasses.replace(config, listen=HostPort(config.listen.host, int(port)))
    try:
        extra = _bind_listeners(config)
    except (OSError, ListenerError) as exc:
        sock.close()
        log.error("%s", exc)
        return 1
    core = BrokerCore(config)
    core.listeners = tuple(spec for spec, _, _ in extra)
    holder = Served()
    try:
        observer = await start_observability(core, holder)
    except OSError as exc:
        sock.close()
        _close_listeners(extra)
        log.error("cannot listen on %s for metrics: %s", config.metrics_listen,
                  exc.strerror or exc)
        return 1
    try:
        core.start()
    except Exception as exc:
        sock.close()
        await observer.stop()
        _close_listeners(extra)
        log.error("cannot start: %s", exc)
        return 1
    cleaner = start_cleaner(core)
    cluster = None
    if config.is_cluster:
        cluster = ClusterNode(core, ops.BUILDERS)
        core.cluster = cluster
        try:
            await cluster.start()
        except OSError as exc:
            sock.close()
            _close_listeners(extra)
            log.error("cannot listen on %s: %s", config.controller_address,
                      exc.strerror or exc)
            await observer.stop()
            await loop_shutdown(core, cleaner)
            return 1
    if cluster is not None:
        core.replicas.alter_partition = cluster.alter_partition
    replica_checks = asyncio.create_task(core.replicas.run())
    server = Server(core, sock)
    holder.server = server
    server.start()
    servers = [Server(core, s, spec, context, pool=server.pool) for spec, s, context in extra]
    for extra_server in servers:
        extra_server.start()
    # The handlers go in before the ready line: a script that sends SIGTERM as soon as it
    # reads "listening on" must get a clean shutdown, not the signal's default death.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # SIGUSR2 logs every task's stack: where a stuck shutdown or request is waiting (the
    # threads' stacks of SIGUSR1 show only the loop's select).
    loop.add_signal_handler(signal.SIGUSR2, _log_tasks)
    for warning in plain_listener_warnings(
            str(config.listen), _is_loopback(config.listen.host), core.listeners,
            core.authorizer is not None,
            core.authorizer.super_users if core.authorizer is not None else frozenset(),
            config.is_cluster):
        log.warning("%s", warning)
    for spec in core.listeners:
        log.info("listener %s (%s) on %s:%d, advertised as %s:%d", spec.name, spec.protocol,
                 spec.host, spec.port, spec.advertised_host, spec.advertised_port)
    log.info(
        "node %d (%s) of cluster %s: data in %s, listening on %s",
        config.node_id, config.roles, core.cluster_id or "(joining)", config.data_dir,
        config.listen,
    )
    periodic = _periodic(core)
    periodic.append(asyncio.create_task(observer.notify_when_ready()))
    waits = [asyncio.create_task(stop.wait())]
    if cluster is not None:
        waits.append(asyncio.create_task(cluster.failed.wait()))
    await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    for w in waits:
        w.cancel()
    failed = cluster is not None and cluster.failed.is_set()
    log.info("shutting down")
    notify("STOPPING=1")
    if cluster is not None and config.is_broker and not failed:
        await cluster.controlled_shutdown(config.controlled_shutdown_timeout_ms / 1000)
    for task in periodic:
        task.cancel()
    replica_checks.cancel()
    await asyncio.gather(server.stop(), *(s.stop() for s in servers))
    await observer.stop()
    await core.replicas.stop()
    if cluster is not None:
        await cluster.stop()
    await loop.run_in_executor(None, cleaner.stop)
    await loop.run_in_executor(None, core.shutdown)
    if failed:
        assert cluster is not None
        log.error("stopped: %s", cluster.failure)
        return 1
    log.info("stopped cleanly")
    return 0


def _is_loopback(host: str) -> bool:
    """Whether only this machine reaches ``host`` (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name: assume others resolve it too


_Bound = tuple[ListenerSpec, socket.socket, ssl.SSLContext | None]


def _bind_listeners(config: BrokerConfig) -> list[_Bound]:
    """Bind every extra listener (and load the TLS certificate once for all that need it)."""
    specs = config.listener_specs()
    context = None
    if any(spec.uses_tls for spec in specs):
        context = ssl_context(config.ssl_certificate_location, config.ssl_key_location,
                              config.ssl_ca_location, config.ssl_client_auth)
    bound: list[_Bound] = []
    try:
        for spec in specs:
            try:
                sock = bind(spec.host, spec.port)
            except OSError as exc:
                raise OSError(f"cannot listen on {spec.host}:{spec.port} (listener "
                              f"{spec.name}): {exc.strerror or exc}") from None
            bound.append((with_port(spec, int(sock.getsockname()[1])), sock,
                          context if spec.uses_tls else None))
    except BaseException:
        _close_listeners(bound)
        raise
    return bound


def _close_listeners(bound: list[_Bound]) -> None:
    for _, sock, _ in bound:
        sock.close()


def start_cleaner(core: BrokerCore) -> LogCleaner:
    """The log cleaner over the broker's log dir (not started when log_cleaner_enable is off).
    Kept on the core (``core.cleaner``) for the cleaner's view in describe answers."""
    c = core.config
    cleaner = LogCleaner(
        core.logs.log_dir,
        core.logs.logs,
        CleanerConfig(
            enable=c.log_cleaner_enable,
            dedupe_buffer_size=c.log_cleaner_dedupe_buffer_size,
            io_max_bytes_per_second=float(c.log_cleaner_io_max_bytes_per_second),
            backoff_ms=c.log_cleaner_backoff_ms,
        ),
    )
    cleaner.start()
    core.cleaner = cleaner
    return cleaner


async def loop_shutdown(core: BrokerCore, cleaner: LogCleaner | None = None) -> None:
    loop = asyncio.get_running_loop()
    if cleaner is not None:
        await loop.run_in_executor(None, cleaner.stop)
    await loop.run_in_executor(None, core.shutdown)
