"""Observability as the daemon runs it: counters installed, the metrics listener, readiness.

:func:`start_observability` (called by the daemon before the logs open, so a metrics port in
use fails fast like the Kafka port) binds ``metrics_listen`` when it is set, gives the core
and its replica manager a :class:`~tidelog.broker.metrics.counters.BrokerMetrics` (the
hooks on the hot path count only then) and makes storage report flush times. Unset, nothing
listens and nothing is counted; ``/readyz`` and ``sd_notify`` still follow
:func:`~tidelog.broker.metrics.health.readiness`.

:meth:`Observer.notify_when_ready` waits (checking every :data:`READY_CHECK_S`) until the
broker is ready, then logs ``ready`` and sends systemd ``READY=1``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import TYPE_CHECKING

from tidelog.broker.metrics import collect
from tidelog.broker.metrics.counters import BrokerMetrics
from tidelog.broker.metrics.health import readiness
from tidelog.broker.metrics.http import MetricsServer, check_body, metrics_body
from tidelog.broker.metrics.notify import notify
from tidelog.storage import log as storage_log

if TYPE_CHECKING:
    from tidelog.broker.core import BrokerCore
    from tidelog.broker.server import Server

log = logging.getLogger("tidelog.broker.metrics")

READY_CHECK_S = 0.1


@dataclasses.dataclass
class Served:
    """The client listener, once it runs (for connection and in-flight counts)."""

    server: Server | None = None

    def inflight(self) -> int:
        return self.server.inflight if self.server is not None else 0

    def connections(self) -> int:
        return self.server.connection_count if self.server is not None else 0


class Observer:
    def __init__(self, core: BrokerCore, served: Served, http: MetricsServer | None,
                 metrics: BrokerMetrics | None) -> None:
        self.core = core
        self.served = served
        self.http = http
        self.metrics = metrics
        self._started = False

    def _ready_problems(self) -> list[str]:
        core = self.core if self.core.metadata is not None else None
        return readiness(core)

    def scrape(self) -> str:
        assert self.metrics is not None
        return collect.scrape(self.core, self.metrics, inflight=self.served.inflight,
                              connections=self.served.connections,
                              ready=not self._ready_problems())

    async def notify_when_ready(self) -> None:
        while self._ready_problems():
            await asyncio.sleep(READY_CHECK_S)
        log.info("ready")
        notify("READY=1", f"STATUS=serving on {self.core.config.listen}")

    async def stop(self) -> None:
        if self.metrics is not None and self.metrics.flushed in storage_log.flush_observers:
            storage_log.flush_observers.remove(self.metrics.flushed)
        if self.http is not None:
            await self.http.stop()
            self.http = None


async def start_observability(core: BrokerCore, served: Served) -> Observer:
    """Bind and start the metrics listener if configured (OSError: cannot bind)."""
    address = core.config.metrics_listen
    if address is None:
        return Observer(core, served, None, None)
    from tidelog.broker.server import bind

    sock = bind(address.host, address.port, backlog=64)
    metrics = BrokerMetrics()
    observer = Observer(core, served, None, metrics)
    http = MetricsServer(sock, {
        "/metrics": lambda: metrics_body(observer.scrape()),
        "/healthz": lambda: (200, "text/plain; charset=utf-8", b"ok\n"),
        "/readyz": lambda: check_body(observer._ready_problems(), "ready"),
    })
    try:
        await http.start()
    except BaseException:
        sock.close()
        raise
    observer.http = http
    core.metrics = metrics
    core.replicas.metrics = metrics
    storage_log.flush_observers.append(metrics.flushed)
    host, port = http.address
    shown = f"[{host}]" if ":" in host else host
    log.info("metrics on http://%s:%d/metrics", shown, port)
    return observer
