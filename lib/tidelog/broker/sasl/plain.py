"""SASL PLAIN (RFC 4616): ``authzid NUL user NUL password`` in one message, the server side.

tidelog keeps no plaintext passwords: PLAIN checks the password against the user's SCRAM
credential (SHA-512 if the user has one, else SHA-256) by salting it the same way, so one
AlterUserScramCredentials serves both mechanisms. PLAIN sends the password itself; use it on
SASL_SSL only. Malformed messages and wrong passwords raise
:class:`~tidelog.broker.sasl.scram.ScramError`.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable

from tidelog.broker.sasl.scram import MECHANISMS, Credential, ScramError, keys, salted_password

MAX_MESSAGE = 4096


def parse(message: bytes) -> tuple[str, bytes]:
    """(user, password) of a PLAIN message."""
    if len(message) > MAX_MESSAGE:
        raise ScramError("the PLAIN message is too long")
    parts = message.split(b"\0")
    if len(parts) != 3 or not parts[1] or not parts[2]:
        raise ScramError("malformed PLAIN message")
    try:
        authzid, user = parts[0].decode("utf-8"), parts[1].decode("utf-8")
    except UnicodeDecodeError:
        raise ScramError("the PLAIN user name is not UTF-8") from None
    if authzid and authzid != user:
        raise ScramError(f"authorization id {authzid!r} is not the user {user!r}")
    return user, parts[2]


def check(
    user: str, password: bytes, lookup: Callable[[str, int], Credential | None]
) -> None:
    """Raise ScramError unless ``password`` is the user's (``lookup(user, mechanism id)``).

    Costs one PBKDF2 of the credential's iterations: run it off the event loop."""
    for name in ("SCRAM-SHA-512", "SCRAM-SHA-256"):
        hash_name, mech_id = MECHANISMS[name]
        credential = lookup(user, mech_id)
        if credential is None:
            continue
        salt, stored_key, _, iterations = credential
        stored, _ = keys(hash_name, salted_password(hash_name, password, salt, iterations))
        if hmac.compare_digest(stored, stored_key):
            return
        raise ScramError(f"wrong password for user {user!r}")
    raise ScramError(f"no credential for user {user!r}")
