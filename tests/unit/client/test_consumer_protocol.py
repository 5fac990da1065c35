"""The consumer protocol's payloads and assignors: Kafka's bytes, round trips, malformed
input, and assignments that give every partition to exactly one subscribed member."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tidelog.client.consumer_protocol import (
    ASSIGNORS,
    decode_assignment,
    decode_subscription,
    encode_assignment,
    encode_subscription,
    range_assign,
    roundrobin_assign,
)
from tidelog.client.errors import ClientError


def test_subscription_and_assignment_bytes() -> None:
    assert encode_subscription(["t"]) == bytes.fromhex("0000 00000001 0001 74 ffffffff")
    assert encode_assignment({"t": [1, 0]}) == bytes.fromhex(
        "0000 00000001 0001 74 00000002 00000000 00000001 ffffffff")
    assert decode_subscription(encode_subscription(["a", "b"])) == ["a", "b"]
    assert decode_assignment(encode_assignment({"a": [2], "b": [0, 1]})) == {
        "a": [2], "b": [0, 1]}
    assert decode_assignment(b"") == {}
    # A v1 subscription (owned partitions after user data) reads the same topics.
    v1 = bytes.fromhex("0001 00000001 0001 74 ffffffff 00000000")
    assert decode_subscription(v1) == ["t"]


@pytest.mark.parametrize("raw", [b"\x00", bytes.fromhex("0000 00000005 0001"),
                                 bytes.fromhex("0000 00000001 0009 74")])
def test_malformed_payloads_raise_client_error(raw: bytes) -> None:
    with pytest.raises(ClientError):
        decode_subscription(raw)
    with pytest.raises(ClientError):
        decode_assignment(raw)


def test_range_gives_contiguous_runs_first_members_one_more() -> None:
    got = range_assign({"b": ["t"], "a": ["t"], "c": ["t", "u"]}, {"t": 7, "u": 2})
    assert got == {"a": {"t": [0, 1, 2]}, "b": {"t": [3, 4]}, "c": {"t": [5, 6], "u": [0, 1]}}


def test_roundrobin_deals_partitions_in_turn() -> None:
    got = roundrobin_assign({"m1": ["t"], "m2": ["t"]}, {"t": 5})
    assert got == {"m1": {"t": [0, 2, 4]}, "m2": {"t": [1, 3]}}
    assert roundrobin_assign({"m1": ["t"], "m2": ["u"]}, {"t": 2, "u": 1}) == {
        "m1": {"t": [0, 1]}, "m2": {"u": [0]}}


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.sampled_from(["m1", "m2", "m3", "m4"]),
                       st.lists(st.sampled_from(["t", "u", "v"]), min_size=1, unique=True),
                       min_size=1),
       st.dictionaries(st.sampled_from(["t", "u", "v"]), st.integers(0, 12)),
       st.sampled_from(sorted(ASSIGNORS)))
def test_every_partition_goes_to_exactly_one_subscriber(
        subs: dict[str, list[str]], counts: dict[str, int], name: str) -> None:
    plan = ASSIGNORS[name](subs, counts)
    assert set(plan) == set(subs)
    owners: dict[tuple[str, int], str] = {}
    for member, assignment in plan.items():
        for topic, parts in assignment.items():
            assert topic in subs[member]
            for p in parts:
                assert (topic, p) not in owners
                owners[(topic, p)] = member
    wanted = {(t, p) for ts in subs.values() for t in ts for p in range(counts.get(t, 0))}
    assert set(owners) == wanted
