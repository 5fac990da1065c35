"""Liveness and readiness of a broker, as ``/healthz`` and ``/readyz`` answer them.

Live (``/healthz``): the process runs its event loop (whoever answers is live).

Ready (``/readyz``), every condition true:

* the log dir and the metadata log are loaded (:meth:`BrokerCore.start` returned);
* in a cluster, a broker is registered with the active controller and unfenced, and acts on
  the roles the metadata gives it (``ReplicaManager.taking_roles``);
* the metadata is caught up: a quorum leader is known and this node has applied every entry
  it knows to be committed (the image is not behind the quorum's high watermark).

A single node is ready once started: it is its own quorum. :func:`readiness` says which
condition fails, for the answer's body and the log. Pure reads of the core's state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tidelog.broker.core import BrokerCore


def readiness(core: BrokerCore | None) -> list[str]:
    """What keeps the broker from being ready (empty: ready)."""
    if core is None or core.metadata is None:
        return ["the log dir and metadata log are not loaded yet"]
    if not core.config.is_cluster:
        return []
    waiting = []
    if core.config.is_broker and not core.replicas.taking_roles:
        waiting.append("not registered and unfenced with the active controller yet")
    quorum = core.metadata
    status = quorum.status()
    if status.leader_id is None:
        waiting.append("no metadata quorum leader known")
    elif quorum.applied < status.high_watermark:
        waiting.append(f"metadata applied to offset {quorum.applied} of "
                       f"{status.high_watermark} committed")
    return waiting
