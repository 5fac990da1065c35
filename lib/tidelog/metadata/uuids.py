"""Kafka-style UUIDs (topic ids, incarnation ids) and their text form.

Kafka shows a UUID as the URL-safe base64 of its 16 bytes without padding: 22 characters.
Two values are reserved as Kafka reserves them: the all-zero UUID means "no id" and the UUID
whose integer value is 1 names the metadata topic; :func:`random_uuid` never returns either,
nor one whose text starts with ``-`` (it would read as a command-line flag).
Parsing is strict: anything but the canonical 22-character form raises MetadataError.
"""

from __future__ import annotations

import base64
import binascii
import uuid

from tidelog.metadata.errors import MetadataError

ZERO_UUID = uuid.UUID(int=0)
METADATA_TOPIC_ID = uuid.UUID(int=1)


def uuid_to_str(value: uuid.UUID) -> str:
    """The 22-character base64url text of ``value``."""
    return base64.urlsafe_b64encode(value.bytes).rstrip(b"=").decode("ascii")


def uuid_from_str(text: str) -> uuid.UUID:
    """Parse the 22-character base64url form; raise MetadataError on anything else."""
    if len(text) != 22:
        raise MetadataError(f"UUID {text!r} is not 22 base64url characters")
    try:
        raw = base64.b64decode(text + "==", altchars=b"-_", validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MetadataError(f"UUID {text!r} is not valid base64url: {exc}") from None
    value = uuid.UUID(bytes=raw)
    if uuid_to_str(value) != text:
        # Non-zero padding bits in the last character: not the canonical form.
        raise MetadataError(f"UUID {text!r} is not in canonical form")
    return value


def random_uuid() -> uuid.UUID:
    """A random UUID that is neither reserved nor shown with a leading ``-``."""
    while True:
        value = uuid.uuid4()
        if value not in (ZERO_UUID, METADATA_TOPIC_ID) and not uuid_to_str(value).startswith("-"):
            return value
