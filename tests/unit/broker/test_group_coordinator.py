"""The group coordinator in process (a real BrokerCore in a temporary dir, no sockets): the
classic protocol's transitions, sessions, static members, offsets, persistence and expiry."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tidelog.broker.config import BrokerConfig
from tidelog.broker.core import BrokerCore
from tidelog.broker.groups import GroupCoordinator, GroupState
from tidelog.broker.groups.group import JoinResult
from tidelog.protocol.errors import ErrorCode as E

PROTOCOLS = [("range", b"sub-r"), ("roundrobin", b"sub-rr")]


def make_core(path: Path) -> BrokerCore:
    config = BrokerConfig.load(env={}, overrides={
        "data_dir": str(path), "group_initial_rebalance_delay_ms": 0,
        "group_min_session_timeout_ms": 50, "offsets_topic_num_partitions": 3})
    core = BrokerCore(config)
    core.start()
    if core.image.topic("t") is None:
        core.create_topic("t", 4, 1, {})
    return core


@pytest.fixture
def core(tmp_path: Path) -> Iterator[BrokerCore]:
    broker = make_core(tmp_path)
    yield broker
    broker.shutdown()


def run(body: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(asyncio.wait_for(body(), 10))


async def join(gc: GroupCoordinator, member_id: str = "", *, group: str = "g",
               instance: str | None = None, session: int = 10_000, version: int = 5,
               protocols: list[tuple[str, bytes]] | None = None) -> JoinResult:
    return await gc.join(group, member_id, instance, "cli", session, 30_000, "consumer",
                         protocols or PROTOCOLS, version)


async def join_new(gc: GroupCoordinator, **kw: Any) -> JoinResult:
    """Join as a new member, following MEMBER_ID_REQUIRED like a v4+ client."""
    first = await join(gc, **kw)
    if first.error == E.MEMBER_ID_REQUIRED:
        return await join(gc, first.member_id, **kw)
    return first


def test_two_members_join_sync_and_get_their_assignments(core: BrokerCore) -> None:
    gc = core.groups

    async def body() -> None:
        a = await join_new(gc)
        assert a.error == 0 and a.generation == 1 and a.leader == a.member_id
        assert [m[0] for m in a.members] == [a.member_id]
        assert a.protocol == "range"
        assert (await gc.sync("g", 1, a.member_id, None, None, None,
                              {a.member_id: b"all"})).assignment == b"all"
        assert gc.groups["g"].state is GroupState.STABLE
        # A second member: the first learns of the rebalance by heartbeat and rejoins.
        b_task = asyncio.ensure_future(join_new(gc))
        await asyncio.sleep(0.05)
        assert gc.heartbeat("g", 1, a.member_id, None) == E.REBALANCE_IN_PROGRESS
        a2 = await join(gc, a.member_id)
        b = await b_task
        assert a2.generation == b.generation == 2
        assert a2.leader == a.member_id and len(a2.members) == 2 and b.members == ()
        sync_b = asyncio.ensure_future(gc.sync("g", 2, b.member_id, None, None, None, {}))
        await asyncio.sleep(0.01)
        assert not sync_b.done()  # waits for the leader's assignment
        sa = await gc.sync("g", 2, a.member_id, None, "consumer", "range",
                           {a.member_id: b"A", b.member_id: b"B"})
        assert (sa.assignment, (await sync_b).assignment) == (b"A", b"B")
        assert gc.heartbeat("g", 2, b.member_id, None) == 0
        assert gc.heartbeat("g", 1, b.member_id, None) == E.ILLEGAL_GENERATION
        assert gc.heartbeat("g", 2, "nobody", None) == E.UNKNOWN_MEMBER_ID

    run(body)


def test_protocol_choice_and_inconsistent_members(core: BrokerCore) -> None:
    gc = core.groups

    async def body() -> None:
        a = await join_new(gc, protocols=[("roundrobin", b""), ("range", b"")])
        assert a.protocol == "roundrobin"
        other = await join(gc, protocols=[("sticky", b"")])
        assert other.error == E.INCONSISTENT_GROUP_PROTOCOL
        bad = await gc.join("g", "", None, "c", 10, 1000, "consumer", PROTOCOLS, 5)
        assert bad.error == E.INVALID_SESSION_TIMEOUT
        assert (await join(gc, "ghost")).error == E.UNKNOWN_MEMBER_ID

    run(body)


def test_leave_and_session_expiry_rebalance_the_group(core: BrokerCore) -> None:
    gc = core.groups

    async def body() -> None:
        a = await join_new(gc, session=100)
        await gc.sync("g", a.generation, a.member_id, None, None, None, {})
        code, errors = gc.leave("g", [(a.member_id, None)])
        assert (code, errors) == (0, [0])
        await asyncio.sleep(0.01)
        group = gc.groups["g"]
        assert group.state is GroupState.EMPTY and group.generation == 2
        b = await join_new(gc, session=100)
        await gc.sync("g", b.generation, b.member_id, None, None, None, {})
        await asyncio.sleep(0.3)  # no heartbeats: the session expires
        assert group.state is GroupState.EMPTY and not group.members
        assert gc.leave("g", [("ghost", None)]) == (0, [E.UNKNOWN_MEMBER_ID])

    run(body)


def test_static_member_rejoins_without_rebalance_and_fences_the_old_id(
        core: BrokerCore) -> None:
    gc = core.groups

    async def body() -> None:
        a = await join_new(gc, instance="i-1")
        assert a.error == 0
        await gc.sync("g", a.generation, a.member_id, "i-1", None, None, {a.member_id: b"x"})
        again = await join(gc, "", instance="i-1")  # restarted: new member id, same instance
        assert again.error == 0 and again.generation == a.generation
        assert again.member_id != a.member_id and again.leader == again.member_id
        assert (await gc.sync("g", a.generation, again.member_id, "i-1", None, None, {})
                ).assignment == b"x"
        assert gc.heartbeat("g", a.generation, a.member_id, "i-1") == E.FENCED_INSTANCE_ID
        assert gc.groups["g"].state is GroupState.STABLE

    run(body)


def test_offsets_commit_fetch_and_refusals(core: BrokerCore) -> None:
    gc = core.groups

    async def body() -> None:
        # A group without members accepts commits at generation -1 (admin tools).
        assert await gc.commit("g", -1, "", None, [("t", 0, 5, -1, "meta"),
                                                   ("nope", 0, 1, -1, None),
                                                   ("t", 1, 9, -1, "x" * 5000)]) == [
            0, E.UNKNOWN_TOPIC_OR_PARTITION, E.OFFSET_METADATA_TOO_LARGE]
        assert gc.fetch("g", [("t", [0, 1])]) == [("t", [(0, 5, -1, "meta", 0),
                                                         (1, -1, -1, "", 0)])]
        assert gc.fetch("g", None) == [("t", [(0, 5, -1, "meta", 0)])]
        assert await gc.commit("none", 3, "m", None, [("t", 0, 1, -1, None)]) == [
            E.ILLEGAL_GENERATION]
        a = await join_new(gc)
        assert await gc.commit("g", -1, "", None, [("t", 0, 1, -1, None)]) == [
            E.UNKNOWN_MEMBER_ID]  # members now: admin commits refused
        assert await gc.commit("g", a.generation, a.member_id, None,
                               [("t", 0, 1, -1, None)]) == [E.REBALANCE_IN_PROGRESS]
        await gc.sync("g", a.generation, a.member_id, None, None, None, {})
        assert await gc.commit("g", a.generation, a.member_id, None,
                               [("t", 0, 7, 2, None)]) == [0]
        assert await gc.delete_group("g") == E.NON_EMPTY_GROUP
        gc.leave("g", [(a.member_id, None)])
        await asyncio.sleep(0.01)
        assert await gc.delete_group("g") == 0
        assert gc.fetch("g", None) == []
        assert await gc.delete_group("g") == E.GROUP_ID_NOT_FOUND

    run(body)


def test_offset_delete_refuses_subscribed_topics(core: BrokerCore) -> None:
    gc = core.groups
    sub = b"\x00\x00" b"\x00\x00\x00\x01" b"\x00\x01t" b"\xff\xff\xff\xff"

    async def body() -> None:
        await gc.commit("g", -1, "", None, [("t", 0, 5, -1, None)])
        a = await join_new(gc, protocols=[("range", sub)])
        await gc.sync("g", a.generation, a.member_id, None, None, None, {})
        code, parts = await gc.delete_offsets("g", [("t", [0])])
        assert (code, parts) == (0, [("t", [(0, E.GROUP_SUBSCRIBED_TO_TOPIC)])])
        gc.leave("g", [(a.member_id, None)])
        await asyncio.sleep(0.01)
        assert await gc.delete_offsets("g", [("t", [0])]) == (0, [("t", [(0, 0)])])
        assert gc.fetch("g", None) == []
        assert (await gc.delete_offsets("zz", []))[0] == E.GROUP_ID_NOT_FOUND

    run(body)


def test_state_is_reloaded_from_consumer_offsets(tmp_path: Path) -> None:
    core = make_core(tmp_path)

    async def first() -> tuple[str, int]:
        gc = core.groups
        await gc.commit("kept", -1, "", None, [("t", 2, 11, -1, "m")])
        await gc.commit("gone", -1, "", None, [("t", 0, 1, -1, None)])
        assert await gc.delete_group("gone") == 0
        a = await join_new(gc, group="live")
        await gc.sync("live", a.generation, a.member_id, None, None, None,
                      {a.member_id: b"asg"})
        await gc.commit("live", a.generation, a.member_id, None, [("t", 1, 3, -1, None)])
        return a.member_id, a.generation

    member_id, generation = run(first)
    core.shutdown()
    core = make_core(tmp_path)
    try:
        gc = core.groups
        assert set(gc.groups) == {"kept", "live"}
        assert gc.fetch("kept", None) == [("t", [(2, 11, -1, "m", 0)])]
        live = gc.groups["live"]
        assert live.state is GroupState.STABLE and live.generation == generation
        assert live.members[member_id].assignment == b"asg"

        async def second() -> None:
            # The member carries on after the restart as if nothing happened.
            assert gc.heartbeat("live", generation, member_id, None) == 0
            assert (await gc.sync("live", generation, member_id, None, None, None, {})
                    ).assignment == b"asg"

        run(second)
    finally:
        core.shutdown()


def test_offsets_of_empty_groups_expire_after_the_retention(core: BrokerCore) -> None:
    gc = core.groups
    retention = core.config.offsets_retention_minutes * 60_000

    async def body() -> None:
        await gc.commit("old", -1, "", None, [("t", 0, 5, -1, None)])
        a = await join_new(gc, group="busy")
        await gc.sync("busy", a.generation, a.member_id, None, None, None, {})
        await gc.commit("busy", a.generation, a.member_id, None, [("t", 1, 5, -1, None)])
        now = gc.groups["old"].offsets[("t", 0)].commit_timestamp
        assert await gc.expire_offsets(now + retention - 1) == 0
        assert await gc.expire_offsets(now + retention + 1000) == 1
        assert "old" not in gc.groups  # nothing left: the group goes too
        assert gc.fetch("busy", None) == [("t", [(1, 5, -1, "", 0)])]  # has members: kept

    run(body)
