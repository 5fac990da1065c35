"""SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677), the server side, sans-I/O.

A credential is the salted form Kafka keeps: salt, iteration count, StoredKey = H(ClientKey)
and ServerKey, where ClientKey = HMAC(SaltedPassword, "Client Key"), ServerKey =
HMAC(SaltedPassword, "Server Key") and SaltedPassword = PBKDF2(password, salt, iterations);
the password itself is never stored. :class:`ScramServer` runs one exchange: the client-first
message gets the server-first message (the client's nonce extended with ours, the salt and
iterations), the client-final message is checked by recomputing the client's proof and gets
the server-final message (``v=`` signature) so the client knows the server holds the key too.

Channel binding is not offered (``n,,`` or ``y,,``); an authorization id, if given, must be
the user itself. Anything malformed or a proof that does not match raises :class:`ScramError`
(the caller answers SASL_AUTHENTICATION_FAILED); nothing else escapes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Callable

from tidelog.errors import TidelogError

#: Mechanism name -> (hashlib name, Kafka's ScramMechanism id).
MECHANISMS = {"SCRAM-SHA-256": ("sha256", 1), "SCRAM-SHA-512": ("sha512", 2)}
NAMES_BY_ID = {mech_id: name for name, (_, mech_id) in MECHANISMS.items()}
#: Kafka's bounds on the iteration count of a stored credential.
MIN_ITERATIONS, MAX_ITERATIONS = 4096, 16384


class ScramError(TidelogError):
    """The SCRAM exchange failed (the message is for the log, not the client)."""


def keys(hash_name: str, salted_password: bytes) -> tuple[bytes, bytes]:
    """(StoredKey, ServerKey) of a salted password."""
    client_key = hmac.digest(salted_password, b"Client Key", hash_name)
    stored_key = hashlib.new(hash_name, client_key).digest()
    return stored_key, hmac.digest(salted_password, b"Server Key", hash_name)


def salted_password(hash_name: str, password: bytes, salt: bytes, iterations: int) -> bytes:
    return hashlib.pbkdf2_hmac(hash_name, password, salt, iterations)


def _attributes(message: str) -> list[tuple[str, str]]:
    out = []
    for part in message.split(","):
        if len(part) < 2 or part[1] != "=":
            raise ScramError(f"malformed SCRAM attribute {part[:20]!r}")
        out.append((part[0], part[2:]))
    return out


def _username(text: str) -> str:
    # RFC 5802: "," and "=" travel as =2C and =3D; any other "=" is malformed.
    if "=" in text.replace("=2C", "").replace("=3D", ""):
        raise ScramError("malformed SCRAM user name")
    return text.replace("=2C", ",").replace("=3D", "=")


def _b64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error:
        raise ScramError("malformed base64 in a SCRAM message") from None


Credential = tuple[bytes, bytes, bytes, int]  # salt, stored key, server key, iterations
#: Looks a user's credential up for this mechanism (None: no such user or credential).
Lookup = Callable[[str], Credential | None]


class ScramServer:
    def __init__(
        self, mechanism: str, lookup: Lookup, nonce: Callable[[], str] | None = None
    ) -> None:
        self.hash_name = MECHANISMS[mechanism][0]
        #: Makes the server's part of the nonce (tests pin it to replay RFC 7677's example).
        self._make_nonce = nonce or (lambda: secrets.token_urlsafe(18))
        self._lookup = lookup
        self._stage = 0
        self.user: str | None = None
        self._credential: Credential | None = None
        self._nonce = ""
        self._auth_prefix = ""
        self._gs2 = ""

    @property
    def done(self) -> bool:
        return self._stage == 2

    def step(self, message: bytes) -> bytes:
        """The answer to one client message; raises ScramError."""
        try:
            text = message.decode("utf-8")
        except UnicodeDecodeError:
            raise ScramError("a SCRAM message is not UTF-8") from None
        if self._stage == 0:
            return self._first(text)
        if self._stage == 1:
            return self._final(text)
        raise ScramError("the SCRAM exchange is already complete")

    def _first(self, text: str) -> bytes:
        flag, sep, rest = text.partition(",")
        authzid, sep2, bare = rest.partition(",")
        if not sep or not sep2 or flag not in ("n", "y"):
            raise ScramError("unsupported SCRAM GS2 header (channel binding is not offered)")
        attrs = _attributes(bare)
        if len(attrs) < 2 or attrs[0][0] != "n" or attrs[1][0] != "r" or not attrs[1][1]:
            raise ScramError("malformed SCRAM client-first message")
        user = _username(attrs[0][1])
        if authzid and _username(authzid.removeprefix("a=")) != user:
            raise ScramError(f"authorization id {authzid!r} is not the user {user!r}")
        if any(key == "m" for key, _ in attrs[2:]):
            raise ScramError("unsupported mandatory SCRAM extension")
        credential = self._lookup(user)
        if credential is None:
            raise ScramError(f"no {self.hash_name} SCRAM credential for user {user!r}")
        salt, _, _, iterations = credential
        self.user, self._credential = user, credential
        self._nonce = attrs[1][1] + self._make_nonce()
        server_first = (f"r={self._nonce},s={base64.b64encode(salt).decode('ascii')},"
                        f"i={iterations}")
        self._auth_prefix = f"{bare},{server_first}"
        self._gs2 = f"{flag},{authzid},"
        self._stage = 1
        return server_first.encode("ascii")

    def _final(self, text: str) -> bytes:
        without_proof, sep, proof_text = text.rpartition(",p=")
        if not sep:
            raise ScramError("the SCRAM client-final message has no proof")
        attrs = dict(_attributes(without_proof))
        if _b64(attrs.get("c", "")) != self._gs2.encode("utf-8"):
            raise ScramError("SCRAM channel binding does not match the client-first message")
        # Kafka accepts a nonce that *ends with* the server's: librdkafka sends its own nonce
        # again in front of the combined one, and Kafka's users depend on that leniency.
        if not attrs.get("r", "").endswith(self._nonce):
            raise ScramError("the SCRAM nonce does not match")
        assert self._credential is not None
        _, stored_key, server_key, _ = self._credential
        auth_message = f"{self._auth_prefix},{without_proof}".encode()
        signature = hmac.digest(stored_key, auth_message, self.hash_name)
        proof = _b64(proof_text)
        if len(proof) != len(signature):
            raise ScramError("the SCRAM proof has the wrong length")
        client_key = bytes(a ^ b for a, b in zip(proof, signature, strict=True))
        if not hmac.compare_digest(hashlib.new(self.hash_name, client_key).digest(), stored_key):
            raise ScramError(f"wrong password for user {self.user!r}")
        self._stage = 2
        server_signature = hmac.digest(server_key, auth_message, self.hash_name)
        return b"v=" + base64.b64encode(server_signature)
