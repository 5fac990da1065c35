"""A node of a multi-node cluster: quorum I/O, broker registration, fencing, forwarding.

:class:`ClusterNode` runs next to :class:`~tidelog.broker.core.BrokerCore` when ``logd`` is
given ``--quorum``. It wires the node's :class:`MetadataQuorum` to the
:class:`QuorumTransport`, ticks Raft every :data:`TICK_S` (catching up after a stall, so a
paused leader cannot lead on stale time), and serves the quorum RPCs:

* ``register`` / ``heartbeat`` (broker -> active controller): the controller commits a
  ``RegisterBrokerRecord`` (unfenced) for a new incarnation or a fenced broker that is back,
  and notes the heartbeat time. A broker-role node registers once its image has caught up
  and then heartbeats every ``broker_heartbeat_interval_ms``.
* Fencing (on the active controller, every :data:`FENCE_CHECK_S`): an unfenced broker
  without a heartbeat for ``broker_session_timeout_ms``, or whose quorum connection closed
  and that sent no heartbeat for two heartbeat intervals since (a dead process), is
  re-registered with ``fenced=True`` and, in the same batch, leaves every ISR and loses its
  leaderships to in-sync replicas (:mod:`tidelog.metadata.elections`). A new leader gives
  every broker a full session before fencing it (heartbeat times are not replicated).
  Unfencing (the next heartbeat) gives leaderless partitions back to it. A broker that
  registers as a new process while the metadata still knows it registers fenced, and its
  leaderships move first: it may have lost what it had not flushed.
* ``alter_partition`` (leader -> active controller): Kafka's AlterPartition for one
  partition, fenced by leader and partition epochs; ``controlled_shutdown`` (SIGTERM): the
  broker is fenced and its leaderships move before it stops.
* Preferred leaders: every ``leader_imbalance_check_interval_ms`` the active controller
  gives leadership back to preferred replicas that are in sync again.
* ``op`` (any node -> active controller): an admin change (:mod:`tidelog.broker.quorum.ops`)
  whose records the controller computes on its image, proposes and waits to commit; the
  caller then waits until its own image has applied the same offset, so a client that
  created a topic through any broker sees it in that broker's Metadata at once.
* ``describe_quorum``: the leader's view of the quorum (``log-quorum``).

Admin changes on the controller are checked and proposed against the working image (the
committed image plus every proposal in flight) in one synchronous step, so they pipeline
without conflicting; a proposal that another leader's entries replaced is reported as lost,
never as done. Errors reach the caller as RpcError carrying the
Kafka error name.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from tidelog.broker.listeners import endpoint_args, endpoints_from
from tidelog.broker.liveness import ListenerProbe
from tidelog.broker.quorum.metadata_quorum import (
    TICK_S,
    LeaderNotReadyError,
    MetadataQuorum,
    NotCommittedError,
)
from tidelog.broker.quorum.transport import QuorumTransport, RpcError
from tidelog.broker.services import Broker
from tidelog.metadata import elections
from tidelog.metadata.errors import ControllerError, KafkaErrors
from tidelog.metadata.image import MetadataImage
from tidelog.metadata.records import ClusterIdRecord, Endpoint, MetadataRecord, RegisterBrokerRecord
from tidelog.raft.errors import NotLeaderError
from tidelog.raft.messages import Message
from tidelog.raft.progress import ReplicaStatus

log = logging.getLogger("tidelog.quorum")

FENCE_CHECK_S = 0.25
#: How long the controller waits for a lost broker's listener to accept or refuse.
PROBE_S = 0.2
#: After a lost connection, an accepting listener is tried again this often, for this long;
#: later only at every fence check (FENCE_CHECK_S) until the grace or a heartbeat ends it.
PROBE_AGAIN_S = 0.05
PROBE_WINDOW_S = 1.0
#: How long a forwarded change may take (leader election included) before the client hears
#: REQUEST_TIMED_OUT.
OP_TIMEOUT_S = 10.0
LEADER_WAIT_S = 5.0
#: How long a forwarded change waits before asking again after NOT_CONTROLLER.
RETRY_S = 0.1


class NotControllerError(ControllerError):
    """No active controller could take the change (Kafka's NOT_CONTROLLER, retriable)."""

    def __init__(self, message: str, name: str = "NOT_CONTROLLER", code: int = 41) -> None:
        super(ControllerError, self).__init__(f"{name}: {message}")
        self.error_name = name
        self.error_code = code
        self.detail = message


def _error_from(exc: RpcError) -> ControllerError:
    if hasattr(KafkaErrors, exc.code):
        return ControllerError(exc.code, str(exc))
    if exc.code == "REQUEST_TIMED_OUT":
        return NotControllerError(str(exc), "REQUEST_TIMED_OUT", 7)
    return NotControllerError(str(exc))


OpFn = Callable[[Broker, MetadataImage, dict[str, Any]], tuple[list[MetadataRecord], Any]]
Ops = Mapping[str, OpFn]


class ClusterNode:
    """Quorum traffic, registration and fencing of one node; see the module docstring."""

    def __init__(self, core: Broker, ops: Ops) -> None:
        self.core = core
        self.config = core.config
        assert core.metadata is not None
        self.quorum = core.metadata
        self._ops = ops
        self.incarnation = uuid.uuid4()
        self.transport = QuorumTransport(
            core.node_id,
            self.config.voters,
            self.config.quorum,
            on_message=self._on_message,
            on_rpc=self._serve,
            on_refused=self._refused,
            cluster_id=lambda: self.quorum.image.cluster_id,
            on_disconnect=self._disconnected,
        )
        self.quorum.set_send(self.transport.send)
        self.failed = asyncio.Event()
        self.failure = ""
        self._tasks: list[asyncio.Task[None]] = []
        self._heartbeats: dict[int, float] = {}
        self._led_epoch: int | None = None
        self._last_rebalance = time.monotonic()
        #: Brokers whose quorum connection closed, and when (cleared by their next heartbeat).
        self._lost: dict[int, float] = {}
        #: When each broker's last heartbeat reached this node (not reset by a new epoch).
        self._beats: dict[int, float] = {}
        #: Fresh answers each time: the fence loop looks again PROBE_AGAIN_S later.
        self._probe = ListenerProbe(PROBE_S, cache_s=0.0)
        self._check_now = asyncio.Event()
        self._broker_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.transport.start(self.config.controller_address)
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._tick_loop()))
        if self.config.is_controller:
            self._tasks.append(loop.create_task(self._fence_loop()))
        if self.config.is_broker:
            self._broker_task = loop.create_task(self._broker_loop())
            self._tasks.append(self._broker_task)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self.quorum.node.is_leader:
            self.quorum.node.resign()
            self.quorum.drain()
            await asyncio.sleep(0.05)  # let EndQuorumEpoch leave before the sockets close
        await self.transport.close()

    def _on_message(self, msg: Message) -> None:
        if self.failed.is_set():
            return
        try:
            self.quorum.step(msg)
        except Exception:
            # metadata this node cannot persist or apply: it must not go on serving it
            log.exception("metadata quorum failed on a message from node %d", msg.src)
            self.fail("the metadata quorum failed")

    def _disconnected(self, peer: int) -> None:
        self._lost[peer] = time.monotonic()
        if not self.failed.is_set():
            try:
                self.quorum.peer_lost(peer)  # a follower of a dead leader campaigns soon
            except Exception:
                log.exception("metadata quorum failed")
                self.fail("the metadata quorum failed")
        self._check_now.set()  # the fence loop looks at once, not at its next period

    def _refused(self, reason: str) -> None:
        self.fail(f"refused by the quorum: {reason}")

    def fail(self, reason: str) -> None:
        """Stop this node: it cannot take part in the cluster (misconfiguration)."""
        if not self.failed.is_set():
            self.failure = reason
            log.error("%s", reason)
            self.failed.set()

    # -- time ------------------------------------------------------------------------------

    async def _tick_loop(self) -> None:
        next_tick = time.monotonic()
        while True:
            next_tick += TICK_S
            delay = next_tick - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            now = time.monotonic()
            # catch up after a stall: one tick per interval elapsed
            while next_tick <= now:
                try:
                    self.quorum.tick()
                except Exception:
                    log.exception("metadata quorum failed")
                    self.fail("the metadata quorum failed")
                    return
                if next_tick + TICK_S > now:
                    break
                next_tick += TICK_S
            node = self.quorum.node
            if node.is_leader and self._led_epoch != node.epoch:
                self._check_now.set()  # a new active controller fences the dead at once

    # -- controller side -------------------------------------------------------------------

    async def _fence_loop(self) -> None:
        timeout = self.config.broker_session_timeout_ms / 1000
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._check_now.wait(), FENCE_CHECK_S)
            self._check_now.clear()
            node = self.quorum.node
            if not node.is_leader:
                self._led_epoch = None
                continue
            if not self.quorum.leader_ready:
                continue  # its image may still lack the previous leader's last entries
            if self.quorum.image.cluster_id is None and self.quorum.applied >= node.high_watermark:
                # the first leader of a new cluster names it (its own data dir's cluster id)
                with contextlib.suppress(Exception):
                    await self._commit(
                        [ClusterIdRecord(self.core.logs.meta_properties["cluster.id"])])
                continue
            now = time.monotonic()
            if self._led_epoch != node.epoch:
                self._led_epoch = node.epoch
                self._heartbeats = dict.fromkeys(self.quorum.image.brokers, now)
            # two heartbeats, and at least half a second: a loaded machine delays heartbeats
            grace = max(2 * self.config.broker_heartbeat_interval_ms / 1000, 0.5)
            for bid, b in sorted(self.quorum.image.brokers.items()):
                seen = self._heartbeats.setdefault(bid, now)
                if b.fenced:
                    continue
                lost = self._lost.get(bid)
                gone = lost is not None and lost > self._beats.get(bid, 0.0) and \
                    bid != self.core.node_id and not self.transport.connected(bid)
                quiet = now - lost if lost is not None else 0.0
                if now - seen > timeout:
                    log.warning("fencing broker %d: no heartbeat for %.1f s", bid, now - seen)
                elif gone and quiet > grace:
                    # A process that dies closes its sockets at once: its connection closed
                    # and no heartbeat came since, for the grace. (A hung or
                    # cut-off broker keeps its connection and waits for the session timeout.)
                    log.warning("fencing broker %d: its connection closed %.1f s ago and no "
                                "heartbeat came since", bid, quiet)
                elif gone:
                    # Sooner still: nothing listens on its client address any more, so the
                    # process is gone (a live broker, even a hung one, keeps its listener).
                    if not await self._refuses(b.endpoints):
                        if quiet < PROBE_WINDOW_S:
                            # a process being killed may close its quorum socket before its
                            # listener: look again shortly
                            asyncio.get_running_loop().call_later(PROBE_AGAIN_S,
                                                                  self._check_now.set)
                        continue
                    log.warning("fencing broker %d: its connection closed and its client "
                                "listener refuses connections", bid)
                else:
                    continue
                self._lost.pop(bid, None)
                with contextlib.suppress(Exception):
                    await self._commit(self._fence(bid))
            every = self.config.leader_imbalance_check_interval_ms / 1000
            if self.config.auto_leader_rebalance_enable and now - self._last_rebalance > every:
                self._last_rebalance = now
                moves = elections.preferred_leaders(self.quorum.working_image)
                if moves:
                    log.info("moving leadership of %d partitions back to preferred replicas",
                             len(moves))
                    with contextlib.suppress(Exception):
                        await self._commit(list(moves))

    async def _refuses(self, endpoints: tuple[Endpoint, ...]) -> bool:
        """Whether a broker's client listener refuses a TCP connection (an accepted one, a
        timeout or any other error proves nothing)."""
        if not endpoints:
            return False
        return await self._probe.refuses(endpoints[0].host, endpoints[0].port)

    def lost_peers(self, now: float, window_s: float) -> set[int]:
        """Nodes whose quorum connection closed less than ``window_s`` ago and that have not
        sent a heartbeat since (what Metadata answers take as a hint: tidelog.broker.liveness)."""
        return {b for b, t in self._lost.items()
                if now - t < window_s and t > self._beats.get(b, 0.0)}

    def _fence(self, bid: int) -> list[MetadataRecord]:
        """Records that fence broker ``bid`` and move its leaderships to in-sync replicas."""
        image = self.quorum.working_image
        b = image.brokers[bid]
        records: list[MetadataRecord] = [RegisterBrokerRecord(
            bid, b.incarnation_id, b.broker_epoch, b.endpoints, b.rack, True)]
        records += elections.without_broker(
            image, bid, unclean_default=self.config.unclean_leader_election_enable)
        return records

    async def _commit(self, records: list[MetadataRecord]) -> int:
        """Propose ``records`` (on the leader) and wait until they are applied here.

        Checking and proposing is one synchronous step against the working image (which
        includes every proposal in flight), so concurrent changes pipeline without
        conflicting; only the wait for the commit is shared."""
        try:
            last = self.quorum.propose(records)
        except (NotLeaderError, LeaderNotReadyError) as exc:  # stepped down / not ready yet
            raise RpcError(str(exc)) from None
        epoch = self.quorum.node.epoch
        try:
            await self.quorum.wait_applied(last + 1, OP_TIMEOUT_S, epoch)
        except TimeoutError:
            raise RpcError("the change was not committed in time", "REQUEST_TIMED_OUT") from None
        except NotCommittedError as exc:
            raise RpcError(str(exc)) from None
        return last + 1

    async def _serve(self, peer: int, op: str, args: dict[str, Any]) -> dict[str, Any]:
        if op == "describe_quorum":
            return self.describe()
        if not self.quorum.node.is_leader:
            raise RpcError(f"node {self.core.node_id} is not the active controller")
        try:
            # changes are checked against the working image: only once it holds every entry
            # a previous leader left in the log (see MetadataQuorum.leader_ready)
            await self.quorum.wait_leader_ready(OP_TIMEOUT_S)
        except (NotLeaderError, TimeoutError):
            raise RpcError(f"node {self.core.node_id} is not ready to act as the active "
                           "controller yet") from None
        if op == "heartbeat":
            return await self._heartbeat(args)
        if op == "register":
            return await self._register(args)
        if op == "op":
            fn = self._ops.get(str(args.get("op")))
            if fn is None:
                raise RpcError(f"unknown operation {args.get('op')!r}", "INVALID_REQUEST")
            records, result = fn(self.core, self.quorum.working_image,
                                 dict(args.get("args") or {}))
            if not records:
                return {"result": result, "offset": self.quorum.applied}
            return {"result": result, "offset": await self._commit(records)}
        raise RpcError(f"unknown rpc {op!r}", "INVALID_REQUEST")

    async def _register(self, args: dict[str, Any]) -> dict[str, Any]:
        bid = int(args["broker"])
        self._heartbeats[bid] = self._beats[bid] = time.monotonic()
        self._lost.pop(bid, None)
        image = self.quorum.working_image
        # A broker that comes back as a new process may have lost what it had not flushed:
        # it registers fenced and its leaderships move (new epochs) before it takes part
        # again; its next heartbeat unfences it. A broker new to the cluster starts unfenced.
        incarnation = uuid.UUID(str(args["incarnation"]))
        known = image.brokers.get(bid)
        if known is not None and known.incarnation_id == incarnation:
            # the same process again (its image had not caught up): nothing changes
            return {"offset": self.quorum.applied}
        returning = known is not None
        record = RegisterBrokerRecord(
            bid, incarnation, self.quorum.next_offset,
            (Endpoint("PLAINTEXT", str(args["host"]), int(args["port"])),
             *endpoints_from(args.get("listeners"))), None, returning,
        )
        records: list[MetadataRecord] = [record]
        if returning:
            records += elections.without_broker(
                image, bid, unclean_default=self.config.unclean_leader_election_enable)
        offset = await self._commit(records)
        log.info("broker %d registered (epoch %d)", bid, record.broker_epoch)
        return {"offset": offset}

    async def _heartbeat(self, args: dict[str, Any]) -> dict[str, Any]:
        bid = int(args["broker"])
        b = self.quorum.image.brokers.get(bid)
        if b is None or str(b.incarnation_id) != str(args["incarnation"]):
            raise RpcError(f"broker {bid} is not registered", "STALE_BROKER_EPOCH")
        self._heartbeats[bid] = self._beats[bid] = time.monotonic()
        self._lost.pop(bid, None)
        if b.fenced:
            log.info("unfencing broker %d", bid)
            records: list[MetadataRecord] = [RegisterBrokerRecord(
                bid, b.incarnation_id, b.broker_epoch, b.endpoints, b.rack, False)]
            records += elections.with_broker(
                self.quorum.working_image, bid,
                unclean_default=self.config.unclean_leader_election_enable)
            await self._commit(records)
        return {"offset": self.quorum.applied}

    # -- broker side -----------------------------------------------------------------------

    async def _call(self, op: str, args: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Run ``op`` on the active controller (this node when it leads)."""
        deadline = time.monotonic() + min(timeout, LEADER_WAIT_S)
        leader = self.quorum.leader_id
        while leader is None and time.monotonic() < deadline:
            await asyncio.sleep(TICK_S)
            leader = self.quorum.leader_id
        if leader is None:
            raise RpcError("no active controller is known")
        if leader == self.core.node_id:
            return await self._serve(leader, op, args)
        result: dict[str, Any] = await self.transport.rpc(leader, op, args, timeout)
        return result

    async def _broker_loop(self) -> None:
        adv = self.config.advertised
        interval = self.config.broker_heartbeat_interval_ms / 1000
        me = self.core.node_id
        while True:
            try:
                b = self.quorum.image.brokers.get(me)
                if b is None or b.incarnation_id != self.incarnation:
                    await self._call("register", {
                        "broker": me, "incarnation": str(self.incarnation),
                        "host": adv.host, "port": adv.port,
                        "listeners": endpoint_args(self.core.listeners),
                    }, OP_TIMEOUT_S)
                else:
                    await self._call("heartbeat", {
                        "broker": me, "incarnation": str(self.incarnation)}, interval * 2)
            except (RpcError, ControllerError, TimeoutError) as exc:
                log.debug("broker %d: heartbeat failed: %s", me, exc)
            except Exception:
                log.exception("broker %d: heartbeat failed", me)
            await asyncio.sleep(interval)

    async def submit(self, op: str, args: dict[str, Any]) -> Any:
        """Run an admin change on the active controller; return once applied here too.

        NOT_CONTROLLER (the node asked does not lead, is not ready yet, or none is known: a
        metadata election is under way) is retried until :data:`OP_TIMEOUT_S`, as Kafka's
        forwarding manager does: librdkafka's admin client passes it to the application
        (found when a loaded machine's quorum changed leader under an ElectLeaders)."""
        deadline = time.monotonic() + OP_TIMEOUT_S
        while True:
            try:
                reply = await self._call("op", {"op": op, "args": args},
                                         max(deadline - time.monotonic(), TICK_S))
                break
            except RpcError as exc:
                if exc.code != "NOT_CONTROLLER" or time.monotonic() + RETRY_S >= deadline:
                    raise _error_from(exc) from None
                log.debug("%s: %s; asking again", op, exc)
                await asyncio.sleep(RETRY_S)
        try:
            await self.quorum.wait_applied(int(reply["offset"]), OP_TIMEOUT_S)
        except TimeoutError:
            raise NotControllerError("the change was not applied in time",
                                     "REQUEST_TIMED_OUT", 7) from None
        return reply.get("result")

    async def alter_partition(self, args: dict[str, Any]) -> None:
        """AlterPartition (Kafka's API 56) for one partition this broker leads: the
        controller checks the leader and partition epochs and commits the new ISR."""
        await self.submit("alter_partition", args)

    async def controlled_shutdown(self, timeout: float) -> None:
        """Before stopping: stop heartbeating, have the controller move this broker's
        leaderships away, and wait (at most ``timeout`` s) until the metadata shows it."""
        if self._broker_task is not None:
            self._broker_task.cancel()
        me = self.core.node_id

        def leads_nothing() -> bool:
            return not any(
                part.leader == me
                for topic in self.quorum.image.topics_by_id.values()
                for part in topic.partitions.values()
            )

        if timeout <= 0 or leads_nothing():
            return
        deadline = time.monotonic() + timeout
        try:
            await asyncio.wait_for(self.submit("controlled_shutdown", {"broker": me}), timeout)
        except Exception as exc:
            log.warning("controlled shutdown not acknowledged: %s", exc)
            return
        while not leads_nothing() and time.monotonic() < deadline:
            await asyncio.sleep(TICK_S)
        log.info("controlled shutdown: leadership moved to other replicas")

    # -- quorum description ----------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        """This node's view of the quorum (with replication progress on the leader)."""
        return describe_quorum(self.quorum)

    async def describe_leader(self) -> dict[str, Any]:
        """The active controller's view (this node's own when no leader answers)."""
        leader = self.quorum.leader_id
        if leader is not None and leader != self.core.node_id:
            try:
                result: dict[str, Any] = await self.transport.rpc(
                    leader, "describe_quorum", {}, 3.0)
                return result
            except RpcError as exc:
                log.debug("describe_quorum on node %d failed: %s", leader, exc)
        return self.describe()


def describe_quorum(quorum: MetadataQuorum) -> dict[str, Any]:
    """A node's view of its quorum as ``log-quorum`` shows it (times in epoch milliseconds,
    -1 unknown; replication progress only on the leader)."""
    st = quorum.status()
    now = time.time()

    def when(tick: int | None) -> int:
        return -1 if tick is None else int((now - (st.tick - tick) * TICK_S) * 1000)

    def replica(r: ReplicaStatus) -> dict[str, Any]:
        known = r.log_end_offset >= 0
        return {"node_id": r.node_id, "log_end_offset": r.log_end_offset,
                "lag": max(0, st.log_end_offset - r.log_end_offset) if known else -1,
                "last_fetch_ms": when(r.last_fetch_tick),
                "last_caught_up_ms": when(r.last_caught_up_tick)}

    return {
        "cluster_id": quorum.image.cluster_id or "",
        "node_id": st.node_id, "role": st.role,
        "leader_id": -1 if st.leader_id is None else st.leader_id,
        "leader_epoch": st.epoch, "high_watermark": st.high_watermark,
        "log_end_offset": st.log_end_offset,
        "max_follower_lag": st.max_follower_lag,
        "voters": [replica(r) for r in st.voters],
        "observers": [replica(r) for r in st.observers],
    }
