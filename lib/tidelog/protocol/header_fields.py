"""The decoded fields of request and response headers: plain values, no codec.

A leaf module, so that errors carrying a parsed header (:mod:`tidelog.protocol.exceptions`)
and the header codec (:mod:`tidelog.protocol.header`, which re-exports these) need not import
each other.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RequestHeader:
    api_key: int
    api_version: int
    correlation_id: int
    client_id: str | None = None


@dataclass(frozen=True, slots=True)
class ResponseHeader:
    correlation_id: int
