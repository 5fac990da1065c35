"""AlterUserScramCredentials as metadata records, checked the way Kafka checks them.

The handler turns each upsertion's salted password into StoredKey and ServerKey at once (the
salted password goes no further: only the keys reach the controller and the metadata log).
:func:`build` is a pure function of the controller's image and the request, run on the
active controller in a cluster (a builder of :mod:`tidelog.broker.quorum.ops`) and in process
on a single node. Per user, Kafka's rules: a user named twice in one request (by a deletion
and an upsertion of the same mechanism, or twice in either) is DUPLICATE_RESOURCE; an unknown
mechanism is UNSUPPORTED_SASL_MECHANISM; iterations outside [4096, 16384], an empty name or
an empty salt or password is UNACCEPTABLE_CREDENTIAL; deleting a credential that does not
exist is RESOURCE_NOT_FOUND. A user with any error changes nothing; the others are applied.
"""

from __future__ import annotations

import base64
from typing import Any

from tidelog.broker.sasl.scram import (
    MAX_ITERATIONS,
    MECHANISMS,
    MIN_ITERATIONS,
    NAMES_BY_ID,
    keys,
)
from tidelog.metadata.image import MetadataImage
from tidelog.metadata.records import (
    MetadataRecord,
    RemoveUserScramCredentialRecord,
    UserScramCredentialRecord,
)

#: user -> (error name, message), for the users refused; absent users succeeded.
Refusals = dict[str, tuple[str, str]]


def upsertion_args(name: str, mechanism: int, iterations: int, salt: bytes,
                   salted: bytes) -> dict[str, Any]:
    """One upsertion as the builder takes it (JSON: bytes as base64, keys not the password)."""
    # an unknown mechanism is refused by build(); its keys are never used
    hash_name = MECHANISMS[NAMES_BY_ID.get(mechanism, "SCRAM-SHA-256")][0]
    stored, server = keys(hash_name, salted) if salted else (b"", b"")

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode("ascii")

    return {"name": name, "mechanism": mechanism, "iterations": iterations,
            "salt": b64(salt), "stored_key": b64(stored), "server_key": b64(server)}


def build(image: MetadataImage, args: dict[str, Any]) -> tuple[list[MetadataRecord], Refusals]:
    deletions: list[dict[str, Any]] = list(args.get("deletions") or [])
    upsertions: list[dict[str, Any]] = list(args.get("upsertions") or [])
    refused: Refusals = {}
    seen: set[tuple[str, int]] = set()
    for item in [*deletions, *upsertions]:
        key = (str(item["name"]), int(item["mechanism"]))
        if key in seen:
            refused[key[0]] = ("DUPLICATE_RESOURCE",
                               f"a credential of user {key[0]} is altered twice")
        seen.add(key)
    for item in [*deletions, *upsertions]:
        name, mechanism = str(item["name"]), int(item["mechanism"])
        if name in refused:
            continue
        if not name:
            refused[name] = ("UNACCEPTABLE_CREDENTIAL", "the user name is empty")
        elif mechanism not in NAMES_BY_ID:
            refused[name] = ("UNSUPPORTED_SASL_MECHANISM", f"unknown SCRAM mechanism {mechanism}")
    for item in deletions:
        name, mechanism = str(item["name"]), int(item["mechanism"])
        if name not in refused and (name, mechanism) not in image.scram_credentials:
            refused[name] = ("RESOURCE_NOT_FOUND",
                             f"user {name} has no {NAMES_BY_ID[mechanism]} credential")
    for item in upsertions:
        name, iterations = str(item["name"]), int(item["iterations"])
        if name in refused:
            continue
        if not MIN_ITERATIONS <= iterations <= MAX_ITERATIONS:
            refused[name] = ("UNACCEPTABLE_CREDENTIAL",
                             f"iterations {iterations} is outside [{MIN_ITERATIONS}, "
                             f"{MAX_ITERATIONS}]")
        elif not item["salt"] or not item["stored_key"]:
            refused[name] = ("UNACCEPTABLE_CREDENTIAL", "the salt or the password is empty")
    records: list[MetadataRecord] = []
    for item in deletions:
        if str(item["name"]) not in refused:
            records.append(RemoveUserScramCredentialRecord(str(item["name"]),
                                                           int(item["mechanism"])))
    for item in upsertions:
        if str(item["name"]) not in refused:
            records.append(UserScramCredentialRecord(
                str(item["name"]), int(item["mechanism"]), base64.b64decode(item["salt"]),
                base64.b64decode(item["stored_key"]), base64.b64decode(item["server_key"]),
                int(item["iterations"])))
    return records, refused
