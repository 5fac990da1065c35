"""SCRAM (RFC 5802/7677) and PLAIN on the server side, the SCRAM credential records, and the
rules of AlterUserScramCredentials, without a broker."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tidelog.broker.sasl import credentials, plain
from tidelog.broker.sasl.scram import ScramError, ScramServer, keys, salted_password
from tidelog.metadata.image import EMPTY_IMAGE
from tidelog.metadata.records import (
    RemoveUserScramCredentialRecord,
    UserScramCredentialRecord,
    decode_record,
    encode_record,
)

# RFC 7677 section 3: user "user", password "pencil".
SALT = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")
CLIENT_FIRST = b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
SERVER_NONCE_PART = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
SERVER_FIRST = (b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                b"s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")
CLIENT_FINAL = (b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                b"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
SERVER_FINAL = b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="


def _credential(password: bytes, hash_name: str = "sha256", salt: bytes = SALT,
                iterations: int = 4096) -> tuple[bytes, bytes, bytes, int]:
    stored, server = keys(hash_name, salted_password(hash_name, password, salt, iterations))
    return salt, stored, server, iterations


def _server(password: bytes = b"pencil") -> ScramServer:
    cred = _credential(password)
    return ScramServer("SCRAM-SHA-256", lambda u: cred if u == "user" else None,
                       nonce=lambda: SERVER_NONCE_PART)


def test_rfc7677_exchange() -> None:
    server = _server()
    assert server.step(CLIENT_FIRST) == SERVER_FIRST
    assert not server.done
    assert server.step(CLIENT_FINAL) == SERVER_FINAL
    assert server.done and server.user == "user"


def test_wrong_password_is_refused() -> None:
    server = _server(b"not-pencil")
    server.step(CLIENT_FIRST)
    with pytest.raises(ScramError, match="wrong password"):
        server.step(CLIENT_FINAL)


def test_unknown_user_is_refused_at_once() -> None:
    with pytest.raises(ScramError, match="no sha256 SCRAM credential"):
        _server().step(b"n,,n=mallory,r=abc")


def test_librdkafka_repeated_client_nonce_is_accepted_as_kafka_does() -> None:
    # librdkafka sends its nonce again before the combined one; Kafka checks endsWith.
    server = _server()
    server.step(CLIENT_FIRST)
    nonce = "rOprNGfwEbeRWgbNEkqO" + "rOprNGfwEbeRWgbNEkqO" + SERVER_NONCE_PART
    without_proof = f"c=biws,r={nonce}"
    salted = salted_password("sha256", b"pencil", SALT, 4096)
    auth = b"n=user,r=rOprNGfwEbeRWgbNEkqO," + SERVER_FIRST + b"," + without_proof.encode()
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    sig = hmac.digest(hashlib.sha256(client_key).digest(), auth, "sha256")
    proof = base64.b64encode(bytes(a ^ b for a, b in zip(client_key, sig, strict=True)))
    assert server.step(without_proof.encode() + b",p=" + proof).startswith(b"v=")


@pytest.mark.parametrize("final", [
    CLIENT_FINAL.replace(b"r=rOpr", b"r=XOpr"),  # another nonce
    CLIENT_FINAL.replace(b"c=biws", b"c=eSws"),  # channel binding flag changed
    CLIENT_FINAL.split(b",p=")[0],  # no proof
    CLIENT_FINAL[:-8] + b"=",  # proof of the wrong length
    CLIENT_FINAL.replace(b"p=dHzb", b"p=!!!!"),  # not base64
])
def test_tampered_final_messages_are_refused(final: bytes) -> None:
    server = _server()
    server.step(CLIENT_FIRST)
    with pytest.raises(ScramError):
        server.step(final)


@pytest.mark.parametrize("first", [
    b"p=tls-unique,,n=user,r=abc",  # channel binding asked
    b"n,,r=abc,n=user",
    b"n,,n=user",
    b"n,,n=us=er,r=abc",
    b"n,a=other,n=user,r=abc",
    b"n,,n=user,r=abc,m=ext",
    b"\xff\xfe",
    b"",
])
def test_malformed_first_messages_are_refused(first: bytes) -> None:
    with pytest.raises(ScramError):
        _server().step(first)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=200), min_size=1, max_size=3))
def test_any_bytes_fail_cleanly(messages: list[bytes]) -> None:
    server = _server()
    try:
        for message in messages:
            server.step(message)
    except ScramError:
        pass


def test_plain_checks_against_the_scram_credential() -> None:
    creds = {("alice", 2): _credential(b"s3cret", "sha512")}
    lookup = lambda u, m: creds.get((u, m))  # noqa: E731
    user, password = plain.parse(b"\0alice\0s3cret")
    plain.check(user, password, lookup)
    with pytest.raises(ScramError, match="wrong password"):
        plain.check("alice", b"guess", lookup)
    with pytest.raises(ScramError, match="no credential"):
        plain.check("bob", b"s3cret", lookup)


@pytest.mark.parametrize("message", [
    b"alice\0s3cret", b"\0\0s3cret", b"\0alice\0", b"other\0alice\0pw", b"\0\xff\0pw",
    b"\0a\0" + b"x" * 5000,
])
def test_plain_malformed(message: bytes) -> None:
    with pytest.raises(ScramError):
        plain.parse(message)


def test_credential_records_round_trip() -> None:
    salt, stored, server, iterations = _credential(b"pw")
    record = UserScramCredentialRecord("alice", 1, salt, stored, server, iterations)
    assert decode_record(encode_record(record)) == record
    assert decode_record(encode_record(RemoveUserScramCredentialRecord("alice", 1))) == (
        RemoveUserScramCredentialRecord("alice", 1))
    image = EMPTY_IMAGE.apply(record)
    assert image.scram_credentials[("alice", 1)] == record
    assert not image.apply(RemoveUserScramCredentialRecord("alice", 1)).scram_credentials


def _upsert(name: str, mechanism: int = 2, iterations: int = 4096) -> dict[str, object]:
    salted = salted_password("sha512", b"pw", b"salt", iterations)
    return credentials.upsertion_args(name, mechanism, iterations, b"salt", salted)


def test_alter_rules() -> None:
    records, refused = credentials.build(EMPTY_IMAGE, {
        "upsertions": [_upsert("ok"), _upsert("few", iterations=1000),
                       _upsert("odd", mechanism=9), _upsert("twice"), _upsert("twice"),
                       _upsert("")],
        "deletions": [{"name": "ghost", "mechanism": 1}],
    })
    assert [(type(r).__name__, r.name) for r in records] == [
        ("UserScramCredentialRecord", "ok")]
    assert {u: why[0] for u, why in refused.items()} == {
        "few": "UNACCEPTABLE_CREDENTIAL", "odd": "UNSUPPORTED_SASL_MECHANISM",
        "twice": "DUPLICATE_RESOURCE", "": "UNACCEPTABLE_CREDENTIAL",
        "ghost": "RESOURCE_NOT_FOUND",
    }
    # The stored keys are those a client deriving from the password would prove.
    record = records[0]
    assert isinstance(record, UserScramCredentialRecord)
    stored, _ = keys("sha512", salted_password("sha512", b"pw", b"salt", 4096))
    assert record.stored_key == stored
    image = EMPTY_IMAGE.apply_all(records)
    again, refused = credentials.build(image, {"deletions": [{"name": "ok", "mechanism": 2}]})
    assert not refused and again == [RemoveUserScramCredentialRecord("ok", 2)]
