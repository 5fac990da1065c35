"""TLS and SASL with unmodified clients: kcat, confluent-kafka, kafka-python and aiokafka over
SSL (and mutual TLS) and over SASL_SSL with SCRAM-SHA-512/256 and PLAIN; users made through
AlterUserScramCredentials; wrong passwords and unauthenticated requests refused; fuzzed SASL
frames before authentication neither crash the broker nor grow its memory.

One broker for the module, with the PLAINTEXT listener plus SSL, SASL_SSL and SASL_PLAINTEXT
listeners (``ssl_client_auth = requested``: a client certificate is checked when sent).
Certificates are made here with the ``openssl`` command (.ci/run installs it), never committed.
"""

from __future__ import annotations

import asyncio
import random
import re
import shutil
import socket
import ssl
import struct
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from compat_common import TIMEOUT
from kafka_wire import WireClient
from logd_harness import Logd
from tidelog.protocol import RequestHeader, encode_request, join_parts

PASSWORD = "alice-secret"
DELAY_MS = 100  # the broker's default connection_failed_authentication_delay_ms


def _openssl(*args: str, cwd: Path) -> None:
    exe = shutil.which("openssl")
    assert exe, "openssl is not installed (.ci/run installs it with apt-get)"
    subprocess.run([exe, *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_certificates(d: Path) -> None:
    """A CA, a broker certificate for 127.0.0.1, a client certificate (CN=alice) signed by the
    CA, and a self-signed client certificate the CA does not know."""
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
             "ca.pem", "-days", "2", "-subj", "/CN=tidelog-test-ca", cwd=d)
    (d / "san.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name, subject, ext in (("broker", "/CN=localhost", ["-extfile", "san.cnf"]),
                               ("client", "/O=tidelog/CN=alice", [])):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out",
                 f"{name}.csr", "-subj", subject, cwd=d)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", *ext, cwd=d)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "rogue.key", "-out",
             "rogue.pem", "-days", "2", "-subj", "/CN=rogue", cwd=d)


class Secured:
    def __init__(self, broker: Logd, certs: Path) -> None:
        self.broker = broker
        self.certs = certs
        found = dict(re.findall(r"listener (\w+) \(\w+\) on 127\.0\.0\.1:(\d+)", broker.log()))
        self.ports = {name: int(port) for name, port in found.items()}

    def address(self, listener: str) -> str:
        return f"127.0.0.1:{self.ports[listener]}"

    @property
    def ca(self) -> str:
        return str(self.certs / "ca.pem")


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secured]:
    tmp = tmp_path_factory.mktemp("security")
    certs = tmp / "certs"
    certs.mkdir()
    make_certificates(certs)
    broker = Logd(tmp, "--listeners",
                  "SSL://127.0.0.1:0,SASL_SSL://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0",
                  env={"TIDELOG_SSL_CERTIFICATE_LOCATION": str(certs / "broker.pem"),
                       "TIDELOG_SSL_KEY_LOCATION": str(certs / "broker.key"),
                       "TIDELOG_SSL_CA_LOCATION": str(certs / "ca.pem"),
                       "TIDELOG_SSL_CLIENT_AUTH": "requested"}).start()
    try:
        _add_users(broker.bootstrap)
        yield Secured(broker, certs)
        assert broker.stop() == 0, broker.log()
    finally:
        broker.kill()
        print(broker.log())


def _add_users(bootstrap: str) -> None:
    """alice (SCRAM-SHA-512 and -256) and bob (SCRAM-SHA-256), through confluent-kafka's
    AdminClient on the PLAINTEXT listener."""
    from confluent_kafka.admin import (
        AdminClient,
        ScramCredentialInfo,
        ScramMechanism,
        UserScramCredentialUpsertion,
    )

    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.alter_user_scram_credentials([
        UserScramCredentialUpsertion(
            "alice", ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192), PASSWORD.encode()),
        UserScramCredentialUpsertion(
            "alice", ScramCredentialInfo(ScramMechanism.SCRAM_SHA_256, 4096), PASSWORD.encode()),
        UserScramCredentialUpsertion(
            "bob", ScramCredentialInfo(ScramMechanism.SCRAM_SHA_256, 4096), b"bob-secret"),
    ])
    for future in futures.values():
        future.result(timeout=TIMEOUT)


def kcat(bootstrap: str, *args: str, stdin: bytes | None = None,
         ok: bool = True) -> subprocess.CompletedProcess[bytes]:
    exe = shutil.which("kcat")
    assert exe, "kcat is not installed (.ci/run installs it with apt-get)"
    result = subprocess.run([exe, "-b", bootstrap, *args], input=stdin, capture_output=True,
                            timeout=TIMEOUT, check=False)
    if ok:
        assert result.returncode == 0, result.stderr.decode()
    return result


def _scram_kcat(s: Secured, password: str = PASSWORD) -> list[str]:
    return ["-X", "security.protocol=SASL_SSL", "-X", f"ssl.ca.location={s.ca}",
            "-X", "sasl.mechanisms=SCRAM-SHA-512", "-X", "sasl.username=alice",
            "-X", f"sasl.password={password}"]


def test_kcat_over_tls_sees_the_tls_listener_in_metadata(secured: Secured) -> None:
    tls = ["-X", "security.protocol=SSL", "-X", f"ssl.ca.location={secured.ca}"]
    addr = secured.address("SSL")
    kcat(addr, *tls, "-P", "-t", "tls-kcat", stdin=b"one\ntwo\nthree\n")
    out = kcat(addr, *tls, "-C", "-t", "tls-kcat", "-e", "-q").stdout
    assert out.splitlines() == [b"one", b"two", b"three"]
    listing = kcat(addr, *tls, "-L").stdout.decode()
    assert f"broker 1 at {addr}" in listing  # each listener advertises itself
    # The same data through the PLAINTEXT listener, which advertises its own address.
    plain = kcat(secured.broker.bootstrap, "-L").stdout.decode()
    assert f"broker 1 at {secured.broker.bootstrap}" in plain


def test_kcat_without_tls_on_the_tls_port_fails(secured: Secured) -> None:
    result = kcat(secured.address("SSL"), "-L", "-m", "3", ok=False)
    assert result.returncode != 0


def test_confluent_kafka_over_mutual_tls(secured: Secured) -> None:
    from confluent_kafka import Consumer, Producer

    conf = {"bootstrap.servers": secured.address("SSL"), "security.protocol": "SSL",
            "ssl.ca.location": secured.ca,
            "ssl.certificate.location": str(secured.certs / "client.pem"),
            "ssl.key.location": str(secured.certs / "client.key")}
    producer = Producer(conf)
    for i in range(10):
        producer.produce("mtls-ck", f"m{i}".encode())
    assert producer.flush(TIMEOUT) == 0
    consumer = Consumer({**conf, "group.id": "mtls-g", "auto.offset.reset": "earliest"})
    consumer.subscribe(["mtls-ck"])
    got: list[bytes] = []
    deadline = time.monotonic() + TIMEOUT
    while len(got) < 10 and time.monotonic() < deadline:
        msg = consumer.poll(1.0)
        if msg is not None and msg.error() is None:
            got.append(msg.value())
    consumer.close()
    assert got == [f"m{i}".encode() for i in range(10)]


def _tls_handshake(s: Secured, cert: str | None) -> None:
    context = ssl.create_default_context(cafile=s.ca)
    if cert is not None:
        context.load_cert_chain(str(s.certs / f"{cert}.pem"), str(s.certs / f"{cert}.key"))
    with socket.create_connection(("127.0.0.1", s.ports["SSL"]), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        # TLS 1.3 reports a refused client certificate on the first read, not in the handshake.
        tls.sendall(_frame(18, 0, {}))
        size = struct.unpack(">i", _read_exact(tls, 4))[0]
        assert size > 0


def test_client_certificates_are_checked_when_sent(secured: Secured) -> None:
    _tls_handshake(secured, None)  # requested, not required
    _tls_handshake(secured, "client")
    with pytest.raises((ssl.SSLError, ConnectionError)):
        _tls_handshake(secured, "rogue")  # not signed by the CA


def test_scram_users_are_described_without_secrets(secured: Secured) -> None:
    from confluent_kafka.admin import AdminClient, ScramMechanism

    admin = AdminClient({"bootstrap.servers": secured.broker.bootstrap})
    futures = admin.describe_user_scram_credentials(["alice", "bob"])
    described = {user: f.result(timeout=TIMEOUT) for user, f in futures.items()}
    alice = sorted((i.mechanism, i.iterations) for i in described["alice"].scram_credential_infos)
    assert [i.iterations for i in described["bob"].scram_credential_infos] == [4096]
    assert alice == [(ScramMechanism.SCRAM_SHA_256, 4096), (ScramMechanism.SCRAM_SHA_512, 8192)]
    with pytest.raises(Exception, match=r"RESOURCE_NOT_FOUND|does not exist|no SCRAM"):
        admin.describe_user_scram_credentials(["nobody"])["nobody"].result(timeout=TIMEOUT)


def test_kcat_over_sasl_ssl_scram_sha_512(secured: Secured) -> None:
    addr = secured.address("SASL_SSL")
    kcat(addr, *_scram_kcat(secured), "-P", "-t", "scram-kcat", stdin=b"a\nb\n")
    out = kcat(addr, *_scram_kcat(secured), "-C", "-t", "scram-kcat", "-e", "-q").stdout
    assert out.splitlines() == [b"a", b"b"]
    started = time.monotonic()
    wrong = kcat(addr, *_scram_kcat(secured, "guess"), "-L", "-m", "5", ok=False)
    assert wrong.returncode != 0
    assert b"Authentication failed" in wrong.stderr
    assert time.monotonic() - started >= DELAY_MS / 1000


def test_confluent_kafka_over_sasl_ssl_scram_sha_256(secured: Secured) -> None:
    from confluent_kafka import Consumer, Producer

    conf = {"bootstrap.servers": secured.address("SASL_SSL"), "security.protocol": "SASL_SSL",
            "ssl.ca.location": secured.ca, "sasl.mechanisms": "SCRAM-SHA-256",
            "sasl.username": "bob", "sasl.password": "bob-secret"}
    producer = Producer(conf)
    for i in range(5):
        producer.produce("scram-ck", f"r{i}".encode())
    assert producer.flush(TIMEOUT) == 0
    consumer = Consumer({**conf, "group.id": "scram-g", "auto.offset.reset": "earliest"})
    consumer.subscribe(["scram-ck"])
    got: list[bytes] = []
    deadline = time.monotonic() + TIMEOUT
    while len(got) < 5 and time.monotonic() < deadline:
        msg = consumer.poll(1.0)
        if msg is not None and msg.error() is None:
            got.append(msg.value())
    consumer.close()
    assert got == [f"r{i}".encode() for i in range(5)]


def test_kafka_python_scram_sha_512_and_plain(secured: Secured) -> None:
    from kafka import KafkaConsumer, KafkaProducer
    from kafka.errors import KafkaError

    scram = dict(bootstrap_servers=secured.address("SASL_SSL"), security_protocol="SASL_SSL",
                 ssl_cafile=secured.ca, sasl_mechanism="SCRAM-SHA-512",
                 sasl_plain_username="alice", sasl_plain_password=PASSWORD)
    producer = KafkaProducer(**scram)
    producer.send("scram-kp", b"kp-1").get(timeout=TIMEOUT)
    producer.close()
    plain = dict(bootstrap_servers=secured.address("SASL_PLAINTEXT"),
                 security_protocol="SASL_PLAINTEXT", sasl_mechanism="PLAIN",
                 sasl_plain_username="alice", sasl_plain_password=PASSWORD)
    consumer = KafkaConsumer("scram-kp", auto_offset_reset="earliest", **plain)
    got: list[bytes] = []
    deadline = time.monotonic() + TIMEOUT
    while not got and time.monotonic() < deadline:
        for records in consumer.poll(1000).values():
            got += [r.value for r in records]
    consumer.close()
    assert got == [b"kp-1"]
    # A refused login: kafka-python retries its bootstrap until this timeout (default 30 s).
    with pytest.raises(KafkaError, match="bootstrap"):
        KafkaProducer(**{**plain, "sasl_plain_password": "guess"},
                      bootstrap_timeout_ms=3000).close()


def test_aiokafka_over_sasl_ssl_scram_sha_512(secured: Secured) -> None:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    from aiokafka.helpers import create_ssl_context

    async def main() -> list[bytes]:
        conf = dict(bootstrap_servers=secured.address("SASL_SSL"), security_protocol="SASL_SSL",
                    ssl_context=create_ssl_context(cafile=secured.ca),
                    sasl_mechanism="SCRAM-SHA-512", sasl_plain_username="alice",
                    sasl_plain_password=PASSWORD)
        producer = AIOKafkaProducer(**conf)
        await producer.start()
        try:
            for i in range(3):
                await producer.send_and_wait("scram-aio", f"a{i}".encode())
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer("scram-aio", auto_offset_reset="earliest", **conf)
        await consumer.start()
        got: list[bytes] = []
        try:
            deadline = time.monotonic() + TIMEOUT
            while len(got) < 3 and time.monotonic() < deadline:
                for records in (await consumer.getmany(timeout_ms=1000)).values():
                    got += [r.value for r in records]
        finally:
            await consumer.stop()
        return got

    assert asyncio.run(main()) == [b"a0", b"a1", b"a2"]


# -- the protocol, byte by byte ----------------------------------------------------------------


def _frame(api_key: int, version: int, body: dict[str, object]) -> bytes:
    payload = join_parts(encode_request(RequestHeader(api_key, version, 7, "sec-test"), body))
    return struct.pack(">i", len(payload)) + payload


def _read_exact(sock: socket.socket | ssl.SSLSocket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed by the broker")
        data += chunk
    return data


def _closed(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def test_requests_before_authentication_close_the_connection(secured: Secured) -> None:
    with WireClient(secured.address("SASL_PLAINTEXT")) as client:
        assert client.request(18, 3, {"client_software_name": "t",
                                      "client_software_version": "1"}).error_code == 0
        client.send_raw(_frame(3, 12, {"topics": None, "allow_auto_topic_creation": False}))
        assert _closed(client.sock)


def test_handshake_rules_and_a_refused_password(secured: Secured) -> None:
    with WireClient(secured.address("SASL_PLAINTEXT")) as client:
        answer = client.request(17, 1, {"mechanism": "GSSAPI"})
        assert answer.error_code == 33  # UNSUPPORTED_SASL_MECHANISM
        assert answer.mechanisms == ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
        assert client.request(17, 1, {"mechanism": "PLAIN"}).error_code == 0
        assert client.request(17, 1, {"mechanism": "PLAIN"}).error_code == 34  # ILLEGAL_SASL_STATE
        started = time.monotonic()
        refused = client.request(36, 2, {"auth_bytes": b"\0alice\0guess"})
        assert refused.error_code == 58  # SASL_AUTHENTICATION_FAILED
        assert time.monotonic() - started >= DELAY_MS / 1000
        assert _closed(client.sock)
    with WireClient(secured.address("SASL_PLAINTEXT")) as client:
        assert client.request(17, 1, {"mechanism": "PLAIN"}).error_code == 0
        ok = client.request(36, 2, {"auth_bytes": f"\0alice\0{PASSWORD}".encode()})
        assert ok.error_code == 0
        meta = client.request(3, 12, {"topics": None, "allow_auto_topic_creation": False})
        assert [b.port for b in meta.brokers] == [secured.ports["SASL_PLAINTEXT"]]
    # The PLAINTEXT listener has no SASL exchange to run.
    with WireClient(secured.broker.bootstrap) as client:
        assert client.request(17, 1, {"mechanism": "PLAIN"}).error_code == 34


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_fuzzed_sasl_frames_before_authentication(secured: Secured) -> None:
    """Random SASL tokens, random frames and truncated ones: each connection is answered or
    closed, the broker keeps serving, and its memory stays put."""
    rng = random.Random(16)
    addr = ("127.0.0.1", secured.ports["SASL_PLAINTEXT"])
    assert secured.broker.proc is not None
    pid = secured.broker.proc.pid

    def one_round(n: int) -> None:
        for i in range(n):
            with socket.create_connection(addr, timeout=10) as sock:
                kind = i % 3
                mechanism = rng.choice(["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
                if kind == 0:  # a handshake, then a random token
                    sock.sendall(_frame(17, 1, {"mechanism": mechanism}))
                    _read_exact(sock, struct.unpack(">i", _read_exact(sock, 4))[0])
                    token = rng.randbytes(rng.randrange(0, 300))
                    sock.sendall(_frame(36, rng.choice([0, 1, 2]), {"auth_bytes": token}))
                elif kind == 1:  # garbage that claims to be a frame
                    body = rng.randbytes(rng.randrange(0, 200))
                    sock.sendall(struct.pack(">i", len(body)) + body)
                else:  # a SaslAuthenticate cut short
                    frame = _frame(36, 2, {"auth_bytes": rng.randbytes(50)})
                    sock.sendall(frame[: rng.randrange(5, len(frame))])
                    sock.shutdown(socket.SHUT_WR)
                sock.settimeout(10)
                try:
                    while sock.recv(65536):
                        pass
                except (ConnectionResetError, TimeoutError):
                    pass

    one_round(30)  # warm up: allocator pools, caches
    before = _rss_kib(pid)
    one_round(150)
    growth = _rss_kib(pid) - before
    assert growth < 20 * 1024, f"RSS grew {growth} KiB over 150 fuzzed connections"
    assert secured.broker.running
    with WireClient(secured.broker.bootstrap) as client:  # still serving
        assert client.request(18, 0, {}).error_code == 0
    log = secured.broker.log()
    assert "Traceback" not in log
    # 50 refused authentications above, at most 10 lines a minute each kind (rate-limited)
    assert log.count("authentication refused") <= 25
    assert log.count("closing connection from") <= 25



# -- tidelog's own programs ---------------------------------------------------------------------


def _program(name: str, *args: str, stdin: bytes | None = None
             ) -> subprocess.CompletedProcess[bytes]:
    exe = shutil.which(name)
    assert exe, f"{name} is not installed (pip install -e .)"
    return subprocess.run([exe, *args], input=stdin, capture_output=True, timeout=TIMEOUT,
                          check=False)


def test_programs_over_sasl_ssl_with_kcat_properties(secured: Secured, tmp_path: Path) -> None:
    addr = secured.address("SASL_SSL")
    props = ["-X", "security.protocol=SASL_SSL", "-X", "sasl.mechanism=SCRAM-SHA-512",
             "-X", "sasl.username=alice", "-X", f"sasl.password={PASSWORD}",
             "-X", f"ssl.ca.location={secured.ca}"]
    done = _program("log-produce", "-b", addr, "-t", "cli-sec", *props, stdin=b"x\ny\n")
    assert done.returncode == 0, done.stderr.decode()
    read = _program("log-consume", "-b", addr, "-t", "cli-sec", "-e", *props)
    assert read.returncode == 0 and read.stdout.splitlines() == [b"x", b"y"], read.stderr
    # Kafka's --command-config file, with the password in sasl.jaas.config
    config = tmp_path / "client.properties"
    config.write_text(
        "# as kafka-topics takes it\nsecurity.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\n"
        "sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required "
        f'username="alice" password="{PASSWORD}";\n')
    listed = _program("log-topics", "-b", secured.address("SASL_PLAINTEXT"), "list",
                      "--command-config", str(config))
    assert listed.returncode == 0 and b"cli-sec" in listed.stdout.splitlines(), listed.stderr
    wrong = _program("log-topics", "-b", addr, "list", *props[:-4], "-X", "sasl.password=no",
                     "-X", f"ssl.ca.location={secured.ca}", "--timeout", "5")
    assert wrong.returncode == 1 and b"SASL authentication failed" in wrong.stderr
    usage = _program("log-topics", "-b", addr, "list", "-X", "security.protocol=TLS")
    assert usage.returncode == 2 and b"security.protocol 'TLS'" in usage.stderr
