"""ACL authorization (``authorizer = "standard"``) with unmodified clients: produce, consume,
describe and delete refused without ACLs and allowed with them, a prefixed ACL, Metadata
hiding what a user may not describe, and CreateAcls/DescribeAcls/DeleteAcls from
confluent-kafka's and kafka-python's admin clients.

One broker for the module: a SASL_PLAINTEXT listener with the authorizer, ``super_users =
User:admin;User:ANONYMOUS``: users are made on the PLAINTEXT listener, whose clients are
User:ANONYMOUS (a super user here, as Kafka's docs tell for a PLAINTEXT inter-broker listener;
tests/integration/test_plain_listener_security.py checks the default, ANONYMOUS refused).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
from compat_common import TIMEOUT
from logd_harness import Logd


class Cluster:
    def __init__(self, broker: Logd) -> None:
        self.broker = broker
        port = re.search(r"listener SASL_PLAINTEXT \(\w+\) on 127\.0\.0\.1:(\d+)", broker.log())
        assert port
        self.sasl = f"127.0.0.1:{port.group(1)}"

    def conf(self, user: str) -> dict[str, str]:
        return {"bootstrap.servers": self.sasl, "security.protocol": "SASL_PLAINTEXT",
                "sasl.mechanisms": "SCRAM-SHA-256", "sasl.username": user,
                "sasl.password": f"{user}-pw"}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    from confluent_kafka.admin import (
        AdminClient,
        ScramCredentialInfo,
        ScramMechanism,
        UserScramCredentialUpsertion,
    )

    broker = Logd(tmp_path_factory.mktemp("acl"), "--listeners", "SASL_PLAINTEXT://127.0.0.1:0",
                  env={"TIDELOG_AUTHORIZER": "standard",
                       "TIDELOG_SUPER_USERS": "User:admin;User:ANONYMOUS"}).start()
    try:
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        futures = admin.alter_user_scram_credentials([
            UserScramCredentialUpsertion(
                user, ScramCredentialInfo(ScramMechanism.SCRAM_SHA_256, 4096),
                f"{user}-pw".encode())
            for user in ("admin", "alice", "bob")
        ])
        for future in futures.values():
            future.result(timeout=TIMEOUT)
        yield Cluster(broker)
        assert broker.stop() == 0, broker.log()
    finally:
        broker.kill()
        print(broker.log())


def _admin(c: Cluster, user: str) -> Any:
    from confluent_kafka.admin import AdminClient

    return AdminClient(c.conf(user))


def _create_topics(c: Cluster, *names: str) -> None:
    from confluent_kafka.admin import NewTopic

    admin = _admin(c, "admin")  # kept alive until the futures are done
    for future in admin.create_topics([NewTopic(n, 1, 1) for n in names]).values():
        future.result(timeout=TIMEOUT)


def _allow(c: Cluster, user: str, rtype: Any, name: str, *ops: Any, prefixed: bool = False
           ) -> None:
    from confluent_kafka.admin import AclBinding, AclPermissionType, ResourcePatternType

    pattern = ResourcePatternType.PREFIXED if prefixed else ResourcePatternType.LITERAL
    bindings = [AclBinding(rtype, name, pattern, f"User:{user}", "*", op,
                           AclPermissionType.ALLOW) for op in ops]
    admin = _admin(c, "admin")
    for future in admin.create_acls(bindings).values():
        future.result(timeout=TIMEOUT)


def _produce(c: Cluster, user: str, topic: str, n: int = 3) -> list[Any]:
    from confluent_kafka import Producer

    producer = Producer({**c.conf(user), "message.timeout.ms": 10_000})
    errors: list[Any] = []
    for i in range(n):
        producer.produce(topic, f"v{i}".encode(), on_delivery=lambda e, m: errors.append(e))
    producer.flush(TIMEOUT)
    return errors


def _consume(c: Cluster, user: str, topic: str, group: str, n: int) -> tuple[list[bytes], Any]:
    from confluent_kafka import Consumer

    consumer = Consumer({**c.conf(user), "group.id": group, "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    got: list[bytes] = []
    error = None
    deadline = time.monotonic() + TIMEOUT
    while len(got) < n and error is None and time.monotonic() < deadline:
        msg = consumer.poll(1.0)
        if msg is None:
            continue
        if msg.error() is not None:
            error = msg.error()
        else:
            got.append(msg.value())
    consumer.close()
    return got, error


def test_nothing_is_allowed_without_acls(cluster: Cluster) -> None:
    from confluent_kafka import KafkaError

    _create_topics(cluster, "orders")
    errors = _produce(cluster, "alice", "orders")
    assert {e.code() for e in errors} == {KafkaError.TOPIC_AUTHORIZATION_FAILED}
    got, error = _consume(cluster, "alice", "orders", "alice-g", 1)
    assert not got and error is not None
    assert error.code() in (KafkaError.GROUP_AUTHORIZATION_FAILED,
                            KafkaError.TOPIC_AUTHORIZATION_FAILED)
    assert "orders" not in _admin(cluster, "alice").list_topics(timeout=TIMEOUT).topics
    assert "orders" in _admin(cluster, "admin").list_topics(timeout=TIMEOUT).topics
    alice = _admin(cluster, "alice")
    with pytest.raises(Exception, match="AUTHORIZATION_FAILED"):
        alice.delete_topics(["orders"])["orders"].result(timeout=TIMEOUT)


def test_acls_allow_produce_consume_and_describe(cluster: Cluster) -> None:
    from confluent_kafka.admin import AclOperation, ResourceType

    _create_topics(cluster, "ledger")
    _allow(cluster, "alice", ResourceType.TOPIC, "ledger", AclOperation.WRITE, AclOperation.READ)
    _allow(cluster, "alice", ResourceType.GROUP, "ledger-g", AclOperation.READ)
    assert _produce(cluster, "alice", "ledger") == [None, None, None]
    got, error = _consume(cluster, "alice", "ledger", "ledger-g", 3)
    assert error is None and got == [b"v0", b"v1", b"v2"]
    assert "ledger" in _admin(cluster, "alice").list_topics(timeout=TIMEOUT).topics
    # bob has no ACL: same topic, refused
    assert {e.code() for e in _produce(cluster, "bob", "ledger", 1)} != {None}
    # DELETE is not implied by READ/WRITE; with it, alice deletes the topic
    alice = _admin(cluster, "alice")
    with pytest.raises(Exception, match="AUTHORIZATION_FAILED"):
        alice.delete_topics(["ledger"])["ledger"].result(timeout=TIMEOUT)
    _allow(cluster, "alice", ResourceType.TOPIC, "ledger", AclOperation.DELETE)
    alice.delete_topics(["ledger"])["ledger"].result(timeout=TIMEOUT)


def test_a_prefixed_acl_with_kcat(cluster: Cluster) -> None:
    from confluent_kafka.admin import AclOperation, ResourceType

    _create_topics(cluster, "pay-in", "payroll")
    _allow(cluster, "bob", ResourceType.TOPIC, "pay-", AclOperation.WRITE, AclOperation.READ,
           prefixed=True)
    exe = shutil.which("kcat")
    assert exe, "kcat is not installed (.ci/run installs it with apt-get)"
    auth = ["-X", "security.protocol=SASL_PLAINTEXT", "-X", "sasl.mechanisms=SCRAM-SHA-256",
            "-X", "sasl.username=bob", "-X", "sasl.password=bob-pw"]

    def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([exe, "-b", cluster.sasl, *auth, *args], input=stdin,
                              capture_output=True, timeout=TIMEOUT, check=False)

    assert run("-P", "-t", "pay-in", stdin=b"p1\np2\n").returncode == 0
    out = run("-C", "-t", "pay-in", "-e", "-q")
    assert out.returncode == 0 and out.stdout.splitlines() == [b"p1", b"p2"]
    refused = run("-P", "-t", "payroll", stdin=b"no\n")
    assert b"authorization failed" in refused.stderr.lower()
    listing = run("-L").stdout.decode()
    assert '"pay-in"' in listing and '"payroll"' not in listing


def test_acl_apis_from_kafka_python(cluster: Cluster) -> None:
    from kafka.admin import (
        ACL,
        ACLFilter,
        ACLOperation,
        ACLPermissionType,
        ACLResourcePatternType,
        KafkaAdminClient,
        ResourcePattern,
        ResourcePatternFilter,
        ResourceType,
    )

    conf = dict(bootstrap_servers=cluster.sasl, security_protocol="SASL_PLAINTEXT",
                sasl_mechanism="SCRAM-SHA-256")
    admin = KafkaAdminClient(sasl_plain_username="admin", sasl_plain_password="admin-pw", **conf)
    acl = ACL("User:carol", "*", ACLOperation.READ, ACLPermissionType.ALLOW,
              ResourcePattern(ResourceType.TOPIC, "audit-"))
    result = admin.create_acls([acl])
    assert not result["failed"], result
    everything = ACLFilter(None, None, ACLOperation.ANY, ACLPermissionType.ANY,
                           ResourcePatternFilter(ResourceType.TOPIC, None,
                                                 ACLResourcePatternType.ANY))
    listed, _ = admin.describe_acls(everything)
    assert [a.principal for a in listed if a.resource_pattern.resource_name == "audit-"] == [
        "User:carol"]
    carol = ACLFilter("User:carol", None, ACLOperation.ANY, ACLPermissionType.ANY,
                      ResourcePatternFilter(ResourceType.ANY, None, ACLResourcePatternType.ANY))
    deleted = admin.delete_acls([carol])
    assert [len(matches) for _, matches, _ in deleted] == [1]
    assert all(a.principal != "User:carol" for a in admin.describe_acls(everything)[0])
    admin.close()
    # alice may not change ACLs: CLUSTER_AUTHORIZATION_FAILED
    alice = KafkaAdminClient(sasl_plain_username="alice", sasl_plain_password="alice-pw", **conf)
    failed = alice.create_acls([acl])["failed"]
    assert "ClusterAuthorizationFailed" in repr(failed), failed
    alice.close()


def test_authorized_operations_are_the_principals(cluster: Cluster) -> None:
    """confluent-kafka asks for authorized operations: with an authorizer they are what the
    ACLs allow the asking principal (READ implies DESCRIBE), a super user gets them all."""
    from confluent_kafka import TopicCollection
    from confluent_kafka.admin import AclOperation, ResourceType

    _create_topics(cluster, "ops-t")
    _allow(cluster, "alice", ResourceType.TOPIC, "ops-t", AclOperation.READ)

    def topic_ops(user: str) -> set[Any]:
        admin = _admin(cluster, user)
        described = admin.describe_topics(TopicCollection(["ops-t"]),
                                          include_authorized_operations=True)
        return set(described["ops-t"].result(timeout=TIMEOUT).authorized_operations)

    assert topic_ops("alice") == {AclOperation.READ, AclOperation.DESCRIBE}
    assert len(topic_ops("admin")) == 8
    alice = _admin(cluster, "alice")  # kept alive until the future is done
    cluster_ops = alice.describe_cluster(
        include_authorized_operations=True).result(timeout=TIMEOUT).authorized_operations
    assert not cluster_ops  # alice has no ACL on the cluster
