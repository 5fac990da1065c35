"""The group APIs on the wire, at every version logd serves: a single-member group goes
through FindCoordinator, JoinGroup (MEMBER_ID_REQUIRED from v4), SyncGroup, Heartbeat,
OffsetCommit, OffsetFetch, ListGroups, DescribeGroups, LeaveGroup and DeleteGroups; and the
coordinator's state survives a restart of logd (committed offsets and group metadata are read
back from __consumer_offsets)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kafka_wire import WireClient
from logd_harness import Logd
from tidelog.protocol import SUPPORTED_VERSIONS, ApiKey
from tidelog.protocol.errors import ErrorCode as E

K = ApiKey
ENV = {"TIDELOG_GROUP_INITIAL_REBALANCE_DELAY_MS": "0"}


def versions(key: ApiKey) -> range:
    lo, hi = SUPPORTED_VERSIONS[key]
    return range(lo, hi + 1)


@pytest.fixture(scope="module")
def glogd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Logd]:
    broker = Logd(tmp_path_factory.mktemp("groups"), "--num-partitions", "2", env=ENV).start()
    yield broker
    try:
        assert broker.stop() == 0, broker.log()
    finally:
        broker.kill()


def offset_fetch(c: WireClient, v: int, group: str, topic: str) -> dict[int, int]:
    topics = [{"name": topic, "partition_indexes": [0, 1]}]
    res = c.request(K.OFFSET_FETCH, v, {"group_id": group, "topics": topics,
                                         "groups": [{"group_id": group, "topics": topics}]})
    parts = res.groups[0].topics[0].partitions if v >= 8 else res.topics[0].partitions
    assert all(p.error_code == 0 for p in parts)
    return {p.partition_index: p.committed_offset for p in parts}


def join(c: WireClient, v: int, group: str, member_id: str = "") -> Any:
    return c.request(K.JOIN_GROUP, v, {
        "group_id": group, "session_timeout_ms": 10_000, "rebalance_timeout_ms": 10_000,
        "member_id": member_id, "group_instance_id": None, "protocol_type": "consumer",
        "protocols": [{"name": "range", "metadata": b"meta"}]})


@pytest.mark.parametrize("v", versions(K.JOIN_GROUP))
def test_a_group_at_every_version(glogd: Logd, v: int) -> None:
    group = f"wire-{v}"
    with WireClient(glogd.bootstrap) as c:
        c.request(K.METADATA, 1, {"topics": [{"name": "wt"}]})  # auto-creates 2 partitions
        fv = min(v, SUPPORTED_VERSIONS[K.FIND_COORDINATOR][1])
        found = c.request(K.FIND_COORDINATOR, fv, {"key": group, "key_type": 0,
                                                  "coordinator_keys": [group]})
        port = found.coordinators[0].port if fv >= 4 else found.port
        assert port == glogd.port
        res = join(c, v, group)
        if v >= 4:
            assert res.error_code == E.MEMBER_ID_REQUIRED
            res = join(c, v, group, res.member_id)
        assert res.error_code == 0 and res.generation_id == 1
        assert res.leader == res.member_id and [m.metadata for m in res.members] == [b"meta"]
        member, gen = res.member_id, res.generation_id
        sv = min(v, SUPPORTED_VERSIONS[K.SYNC_GROUP][1])
        sync = c.request(K.SYNC_GROUP, sv, {
            "group_id": group, "generation_id": gen, "member_id": member,
            "protocol_type": "consumer", "protocol_name": "range",
            "assignments": [{"member_id": member, "assignment": b"mine"}]})
        assert (sync.error_code, sync.assignment) == (0, b"mine")
        hv = min(v, SUPPORTED_VERSIONS[K.HEARTBEAT][1])
        hb = c.request(K.HEARTBEAT, hv, {"group_id": group, "generation_id": gen,
                                         "member_id": member})
        assert hb.error_code == 0
        cv = max(min(v + 2, SUPPORTED_VERSIONS[K.OFFSET_COMMIT][1]), 2)
        commit = c.request(K.OFFSET_COMMIT, cv, {
            "group_id": group, "generation_id_or_member_epoch": gen, "member_id": member,
            "topics": [{"name": "wt", "partitions": [
                {"partition_index": 1, "committed_offset": 42, "committed_metadata": "m"}]}]})
        assert commit.topics[0].partitions[0].error_code == 0
        ov = max(min(v + 2, SUPPORTED_VERSIONS[K.OFFSET_FETCH][1]), 1)
        assert offset_fetch(c, ov, group, "wt") == {0: -1, 1: 42}
        listed = c.request(K.LIST_GROUPS, min(v, 5), {})
        assert group in {g.group_id for g in listed.groups}
        desc = c.request(K.DESCRIBE_GROUPS, min(v, 6), {"groups": [group]}).groups[0]
        assert (desc.group_state, desc.protocol_data) == ("Stable", "range")
        assert [(m.member_id, m.member_assignment) for m in desc.members] == [(member, b"mine")]
        lv = min(v, SUPPORTED_VERSIONS[K.LEAVE_GROUP][1])
        left = c.request(K.LEAVE_GROUP, lv, {"group_id": group, "member_id": member,
                                             "members": [{"member_id": member}]})
        assert left.error_code == 0
        dv = min(v, 2)
        deleted = c.request(K.DELETE_GROUPS, dv, {"groups_names": [group, "no-such"]})
        assert [(r.group_id, r.error_code) for r in deleted.results] == [
            (group, 0), ("no-such", E.GROUP_ID_NOT_FOUND)]
        assert offset_fetch(c, ov, group, "wt") == {0: -1, 1: -1}


def test_groups_and_offsets_survive_a_restart(tmp_path: Path) -> None:
    logd = Logd(tmp_path, env=ENV).start()
    try:
        with WireClient(logd.bootstrap) as c:
            c.request(K.METADATA, 1, {"topics": [{"name": "rt"}]})
            c.request(K.FIND_COORDINATOR, 0, {"key": "keep"})
            res = join(c, 5, "keep")
            res = join(c, 5, "keep", res.member_id)  # after MEMBER_ID_REQUIRED
            member, gen = res.member_id, res.generation_id
            c.request(K.SYNC_GROUP, 3, {"group_id": "keep", "generation_id": gen,
                                        "member_id": member,
                                        "assignments": [{"member_id": member,
                                                         "assignment": b"a"}]})
            c.request(K.OFFSET_COMMIT, 7, {
                "group_id": "keep", "generation_id_or_member_epoch": gen,
                "member_id": member, "topics": [{"name": "rt", "partitions": [
                    {"partition_index": 0, "committed_offset": 7,
                     "committed_metadata": None}]}]})
        logd.stop()
        logd.start()
        with WireClient(logd.bootstrap) as c:
            assert offset_fetch(c, 5, "keep", "rt")[0] == 7
            hb = c.request(K.HEARTBEAT, 3, {"group_id": "keep", "generation_id": gen,
                                            "member_id": member})
            assert hb.error_code == 0, logd.log()  # the member carries on
            desc = c.request(K.DESCRIBE_GROUPS, 4, {"groups": ["keep"]}).groups[0]
            assert desc.group_state == "Stable"
            assert [m.member_assignment for m in desc.members] == [b"a"]
        assert "loaded 1 groups" in logd.log(), logd.log()
    finally:
        logd.stop()
        logd.kill()
